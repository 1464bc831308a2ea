/* rlwatch charts: one plotly chart per metric, with alert markers and the
 * reference levels (thresholds, baselines) detectors reported. Used by the
 * dashboard's run page and by the offline report, so both draw the same. */
"use strict";
var RLW = window.RLW || {};
window.RLW = RLW;

RLW.SEVERITY_STYLE = {
  warning: { color: "#d98a00", symbol: "triangle-down", size: 11 },
  critical: { color: "#c62828", symbol: "diamond", size: 12 },
};

RLW.PLOT_CONFIG = {
  displaylogo: false,
  responsive: true,
  showLink: false,
  showSendToCloud: false,
  modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
};

/* Wrap raw text at about `width` characters, escape each line for plotly. */
RLW.wrapPlotText = function (text, width) {
  var words = String(text === null || text === undefined ? "" : text).split(/\s+/);
  var lines = [];
  var line = "";
  words.forEach(function (w) {
    if (line && (line + " " + w).length > width) { lines.push(line); line = w; } else line = line ? line + " " + w : w;
  });
  if (line) lines.push(line);
  return lines.map(RLW.plotText).join("<br>");
};

RLW.alertHover = function (a) {
  var head = "<b>" + RLW.plotText(String(a.severity).toUpperCase() + " " + a.detector) + "</b> at step " +
    RLW.plotText(a.step);
  var parts = [head, RLW.wrapPlotText(a.message, 80)];
  if (a.recommendation) parts.push("<i>What to do:</i> " + RLW.wrapPlotText(a.recommendation, 80));
  if (a.status === "suppressed") parts.push("<i>" + RLW.plotText("suppressed: " + (a.reason || "")) + "</i>");
  return parts.join("<br>");
};

/* y of the curve at `step` (last point at or before it), for markers whose
 * alert carried no finite value of this metric. */
RLW.curveValueAt = function (series, step) {
  var xs = series.x || [];
  var lo = 0;
  var hi = xs.length - 1;
  if (hi < 0) return 0;
  if (step <= xs[0]) return series.y[0];
  while (lo < hi) {
    var mid = (lo + hi + 1) >> 1;
    if (xs[mid] <= step) lo = mid; else hi = mid - 1;
  }
  return series.y[lo];
};

/* Alerts that concern this metric, and alerts that concern no chart at all. */
RLW.alertsFor = function (name, alerts) {
  return (alerts || []).filter(function (a) {
    return a.charts && Object.prototype.hasOwnProperty.call(a.charts, name);
  });
};
RLW.unplacedAlerts = function (alerts, chartNames) {
  return (alerts || []).filter(function (a) {
    return !chartNames.some(function (n) { return a.charts && Object.prototype.hasOwnProperty.call(a.charts, n); });
  });
};

/* All plotly traces of one metric chart; trace 0 is always the curve. */
RLW.metricTraces = function (name, series, alerts) {
  var traces = [{
    type: "scatter", mode: "lines", x: series.x, y: series.y, name: RLW.plotText(name),
    line: { color: "#2f6fdb", width: 1.4 }, meta: "curve",
    hovertemplate: "step %{x}<br>%{y:.5g}<extra></extra>",
  }];
  var mine = RLW.alertsFor(name, alerts);
  ["warning", "critical"].forEach(function (sev) {
    var list = mine.filter(function (a) { return a.severity === sev; });
    if (!list.length) return;
    var style = RLW.SEVERITY_STYLE[sev];
    traces.push({
      type: "scatter", mode: "markers", name: sev + " alerts", meta: "alerts-" + sev,
      x: list.map(function (a) { return a.step; }),
      y: list.map(function (a) {
        var y = a.charts[name];
        return typeof y === "number" ? y : RLW.curveValueAt(series, a.step);
      }),
      text: list.map(RLW.alertHover),
      customdata: list.map(function (a) { return a.alert_id; }),
      hovertemplate: "%{text}<extra></extra>",
      hoverlabel: { align: "left" },
      marker: { color: style.color, symbol: style.symbol, size: style.size, line: { color: "#fff", width: 1 } },
    });
  });
  RLW.varyingReferences(mine).forEach(function (ref) {
    traces.push({
      type: "scatter", mode: "markers", name: RLW.plotText(ref.key), meta: "reference",
      x: ref.x, y: ref.y, marker: { symbol: "line-ew-open", size: 22, color: "#6b7785", line: { width: 2 } },
      hovertemplate: RLW.plotText(ref.key) + " %{y:.5g} (step %{x})<extra></extra>",
    });
  });
  return traces;
};

/* Reference levels (keys like "threshold", "baseline") reported by alerts:
 * a level that is the same in every alert is a fixed threshold, drawn as a
 * horizontal line; one that moves is drawn as a dash at each alert. */
RLW.referenceGroups = function (alerts) {
  var groups = {};
  alerts.forEach(function (a) {
    Object.keys(a.references || {}).forEach(function (key) {
      var label = a.detector + " " + key;
      (groups[label] = groups[label] || { key: label, x: [], y: [] });
      groups[label].x.push(a.step);
      groups[label].y.push(a.references[key]);
    });
  });
  return Object.keys(groups).map(function (k) { return groups[k]; });
};
RLW.fixedReferences = function (alerts) {
  return RLW.referenceGroups(alerts).filter(function (g) {
    return g.y.every(function (v) { return v === g.y[0]; });
  });
};
RLW.varyingReferences = function (alerts) {
  return RLW.referenceGroups(alerts).filter(function (g) {
    return !g.y.every(function (v) { return v === g.y[0]; });
  });
};

RLW.metricLayout = function (name, alerts, unplaced) {
  var shapes = [];
  var annotations = [];
  RLW.fixedReferences(RLW.alertsFor(name, alerts)).forEach(function (ref) {
    shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, yref: "y", y0: ref.y[0], y1: ref.y[0],
      line: { color: "#6b7785", width: 1, dash: "dash" } });
    annotations.push({ xref: "paper", x: 1, xanchor: "right", yref: "y", y: ref.y[0], yanchor: "bottom",
      text: RLW.plotText(ref.key + " " + RLW.fmtNum(ref.y[0])), showarrow: false,
      font: { size: 10, color: "#5d6875" } });
  });
  (unplaced || []).forEach(function (a) {
    var style = RLW.SEVERITY_STYLE[a.severity] || RLW.SEVERITY_STYLE.warning;
    shapes.push({ type: "line", xref: "x", x0: a.step, x1: a.step, yref: "paper", y0: 0, y1: 1,
      line: { color: style.color, width: 1, dash: "dot" } });
  });
  return {
    margin: { l: 56, r: 12, t: 8, b: 32 },
    xaxis: { zeroline: false, automargin: true },
    yaxis: { zeroline: false, automargin: true, exponentformat: "e" },
    showlegend: false,
    hovermode: "closest",
    shapes: shapes,
    annotations: annotations,
    uirevision: "keep",
  };
};

/* Draw (or redraw) the chart of `name` into `div`. */
RLW.drawMetricChart = function (div, name, series, alerts, unplaced) {
  var layout = RLW.metricLayout(name, alerts, unplaced);
  var current = div.layout && div.layout.xaxis;
  if (current && current.autorange === false && current.range) {
    layout.xaxis.range = current.range.slice();
    layout.xaxis.autorange = false;
  }
  return Plotly.react(div, RLW.metricTraces(name, series, alerts), layout, RLW.PLOT_CONFIG);
};

/* A card with a heading (metric name as text) and an empty chart div. */
RLW.chartCard = function (name, subtitle) {
  var chart = RLW.el("div", { class: "chart", dataset: { metric: name } });
  var sub = RLW.el("p", { class: "sub", text: subtitle || "" });
  var card = RLW.el("div", { class: "chart-card" }, [RLW.el("h3", { text: name }), sub, chart]);
  return { card: card, chart: chart, sub: sub };
};

RLW.seriesSubtitle = function (s) {
  if (!s) return "no data";
  return s.downsampled ? s.x.length + " of " + s.n + " points (min/max per bucket; zoom for full resolution)"
    : s.n + " points";
};
