/* Run page: one chart per metric with alert markers, live updates while the
 * run writes, zoom to full resolution, the alert table, diagnosis and config. */
"use strict";
(function () {
  var POLL_MS = 2000;
  var IDLE_POLL_MS = 10000;  // finished/crashed runs rarely change (a resumed run does)
  var OVERVIEW_POINTS = 2000;
  var LIVE_POINTS = 50000;
  var app = document.getElementById("app");
  var runId = RLW.query().get("run");
  var state = {
    run: null, alerts: [], overview: {}, charts: {}, order: [], lastStep: null,
    alertTotal: 0, zoom: null, syncing: false, polling: null, zoomToken: 0,
  };

  RLW.mark("rlwatch-scripts");  // plotly.js and our scripts are parsed and running
  RLW.header("runs");
  if (runId === null) { RLW.showError(app, "No run given (open a run from the runs list)."); return; }
  document.title = "rlwatch · " + runId;

  var title = RLW.el("h1", { id: "run-title", text: runId });
  var metaBox = RLW.el("div", { id: "run-meta" });
  var exportBar = RLW.el("div", { class: "toolbar" }, [
    RLW.el("a", { class: "button secondary", id: "export-csv", text: "Export CSV",
      href: "/api/export?run=" + encodeURIComponent(runId) + "&format=csv" }),
    RLW.el("a", { class: "button secondary", id: "export-jsonl", text: "Export JSONL",
      href: "/api/export?run=" + encodeURIComponent(runId) + "&format=jsonl" }),
    RLW.el("a", { class: "button secondary", text: "Compare with other runs",
      href: "/compare?run=" + encodeURIComponent(runId) }),
    RLW.el("button", { class: "secondary", id: "reset-zoom", text: "Reset zoom", onclick: function () { resetZoom(); } }),
  ]);
  var diagBox = RLW.el("div", { id: "diagnosis" }, [RLW.el("p", { class: "muted", text: "Diagnosing…" })]);
  var chartsBox = RLW.el("div", { class: "charts", id: "charts" });
  var alertsBox = RLW.el("div", { id: "alerts" });
  var configBox = RLW.el("div", { id: "config" });
  RLW.clear(app);
  [title, metaBox, exportBar,
    RLW.el("h2", { text: "Metrics" }), chartsBox,
    RLW.el("h2", { text: "Alerts" }), alertsBox,
    RLW.el("h2", { text: "Diagnosis" }), diagBox,
    RLW.el("h2", { text: "Configuration (secrets redacted)" }), configBox].forEach(function (n) { app.appendChild(n); });

  function alertTotal(run) {
    var c = run.alert_counts || {};
    return (c.warning || 0) + (c.critical || 0);
  }

  function renderMeta() {
    RLW.clear(metaBox).appendChild(RLW.runMeta(state.run));
  }

  var showSuppressed = RLW.el("input", { type: "checkbox", id: "show-suppressed", onchange: function () { renderAlerts(); } });
  var suppressedLabel = RLW.el("label", {}, [showSuppressed]);
  var suppressedText = RLW.el("span");
  suppressedLabel.appendChild(suppressedText);

  function renderAlerts() {
    var sent = RLW.sentAlerts(state.alerts);
    var n = state.alerts.length - sent.length;
    suppressedText.textContent = " show " + n + " suppressed repeat(s)";
    RLW.clear(alertsBox);
    if (n) alertsBox.appendChild(RLW.el("div", { class: "toolbar" }, [suppressedLabel]));
    alertsBox.appendChild(RLW.el("p", { class: "muted", text: "Click a row to zoom every chart to that step." }));
    alertsBox.appendChild(RLW.alertTable(showSuppressed.checked ? state.alerts : sent, { onPick: zoomToAlert }));
  }

  function chartNames() { return state.order.slice(); }

  function ensureChart(name) {
    if (state.charts[name]) return state.charts[name];
    var parts = RLW.chartCard(name);
    chartsBox.appendChild(parts.card);
    state.charts[name] = parts;
    state.order.push(name);
    return parts;
  }

  function drawChart(name, series) {
    var parts = ensureChart(name);
    parts.sub.textContent = RLW.seriesSubtitle(series);
    var sent = RLW.sentAlerts(state.alerts);
    var unplaced = RLW.unplacedAlerts(sent, chartNames());
    return RLW.drawMetricChart(parts.chart, name, series, sent, unplaced).then(function () {
      if (!parts.hooked) {
        parts.hooked = true;
        parts.chart.on("plotly_relayout", function (ev) { onRelayout(name, ev); });
      }
    });
  }

  /* Redraw every chart from the current overview (or zoomed) data. */
  function redrawAll() {
    return Promise.all(chartNames().map(function (name) {
      var div = state.charts[name].chart;
      var curve = div.data && div.data[0];
      var series = curve ? { x: curve.x, y: curve.y, n: state.overview[name].n,
        downsampled: state.overview[name].downsampled } : state.overview[name];
      return drawChart(name, series);
    }));
  }

  function loadAll() {
    var boot = window.RLW_BOOT && window.RLW_BOOT.runId === runId ? window.RLW_BOOT : null;
    return Promise.all([
      boot ? boot.run : RLW.api("run", { run: runId }),
      boot ? boot.metrics : RLW.api("metrics", { run: runId, points: OVERVIEW_POINTS }),
      boot ? boot.alerts : RLW.api("alerts", { run: runId }),
    ]).then(function (res) {
      RLW.mark("rlwatch-data");
      state.run = res[0];
      state.alerts = res[2].alerts;
      state.alertTotal = alertTotal(state.run);
      state.lastStep = res[1].last_step;
      renderMeta();
      renderAlerts();
      RLW.clear(configBox).appendChild(RLW.configBlock(state.run.config));
      var names = state.run.metric_names.filter(function (n) { return res[1].series[n]; });
      if (!names.length) chartsBox.appendChild(RLW.el("p", { class: "empty", id: "no-metrics", text: "No metrics logged yet." }));
      names.forEach(function (n) { state.overview[n] = res[1].series[n]; ensureChart(n); });
      return Promise.all(names.map(function (n) { return drawChart(n, state.overview[n]); }));
    }).then(function () {
      RLW.mark("rlwatch-drawn");
      document.body.dataset.ready = "1";
      RLW.setLive(state.run.status === "running" ? "live: polling every " + POLL_MS / 1000 + " s" : state.run.status);
      loadDiagnosis();
      schedulePoll();
    }).catch(function (err) { RLW.showError(app, err); });
  }

  function loadDiagnosis() {
    return RLW.api("diagnosis", { run: runId }).then(function (diag) {
      RLW.clear(diagBox).appendChild(RLW.diagnosisBlock(diag));
    }).catch(function (err) { RLW.showError(diagBox, err); });
  }

  function schedulePoll() {
    var running = !state.run || state.run.status === "running";
    state.polling = setTimeout(poll, running ? POLL_MS : IDLE_POLL_MS);
  }

  /* Live updates: append the steps written since the last poll. */
  function poll() {
    RLW.api("run", { run: runId }).then(function (run) {
      state.run = run;
      renderMeta();
      var jobs = [];
      var newer = run.last_step !== null && (state.lastStep === null || run.last_step > state.lastStep);
      if (newer) jobs.push(appendSteps(state.lastStep === null ? null : state.lastStep + 1));
      if (alertTotal(run) !== state.alertTotal) {
        state.alertTotal = alertTotal(run);
        jobs.push(RLW.api("alerts", { run: runId }).then(function (body) {
          state.alerts = body.alerts;
          renderAlerts();
          loadDiagnosis();
          return redrawAll();
        }));
      }
      RLW.setLive(run.status === "running" ? "live: updated " + RLW.fmtTime(Date.now() / 1000) : run.status);
      return Promise.all(jobs);
    }).catch(function (err) { RLW.setLive("update failed: " + err.message); })
      .then(schedulePoll);
  }

  function appendSteps(start) {
    return RLW.api("metrics", { run: runId, start: start, points: LIVE_POINTS }).then(function (body) {
      if (body.last_step !== null) state.lastStep = Math.max(state.lastStep === null ? -Infinity : state.lastStep, body.last_step);
      var jobs = [];
      Object.keys(body.series).forEach(function (name) {
        var s = body.series[name];
        if (!s.x.length) return;
        var ov = state.overview[name];
        if (!ov) {
          state.overview[name] = s;
          var empty = document.getElementById("no-metrics");
          if (empty) empty.remove();
          jobs.push(drawChart(name, s));
          return;
        }
        ov.x = ov.x.concat(s.x);
        ov.y = ov.y.concat(s.y);
        ov.n += s.n;
        var parts = state.charts[name];
        parts.sub.textContent = RLW.seriesSubtitle(ov);
        jobs.push(Plotly.extendTraces(parts.chart, { x: [s.x], y: [s.y] }, [0]));
      });
      return Promise.all(jobs).then(function () {
        // A long live session appends at full resolution; once a chart holds
        // far more than the overview would, downsample it again.
        var tooMany = Object.keys(state.overview).some(function (n) {
          return state.overview[n].x.length > 3 * OVERVIEW_POINTS;
        });
        return tooMany && !state.zoom ? reloadOverview() : null;
      });
    });
  }

  /* Zoom: all charts share the step range; the range is refetched at full
   * resolution (or downsampled again if it still holds too many points). */
  function onRelayout(source, ev) {
    if (state.syncing) return;
    var lo = ev["xaxis.range[0]"];
    var hi = ev["xaxis.range[1]"];
    if (ev["xaxis.range"]) { lo = ev["xaxis.range"][0]; hi = ev["xaxis.range"][1]; }
    if (ev["xaxis.autorange"]) { resetZoom(); return; }
    if (lo === undefined || hi === undefined) return;
    zoomTo(lo, hi, source);
  }

  function syncRange(update, except) {
    state.syncing = true;
    return Promise.all(chartNames().filter(function (n) { return n !== except; }).map(function (n) {
      return Plotly.relayout(state.charts[n].chart, update);
    })).then(function () { state.syncing = false; }, function () { state.syncing = false; });
  }

  function zoomTo(lo, hi, source) {
    state.zoom = [lo, hi];
    var token = ++state.zoomToken;
    var sync = syncRange({ "xaxis.range": [lo, hi], "xaxis.autorange": false }, source);
    var fetch = RLW.api("metrics", { run: runId, start: Math.floor(lo), end: Math.ceil(hi), points: OVERVIEW_POINTS });
    return Promise.all([sync, fetch]).then(function (res) {
      if (token !== state.zoomToken) return null;
      var body = res[1];
      state.syncing = true;
      return Promise.all(chartNames().map(function (name) {
        var s = body.series[name] || { x: [], y: [], n: 0, downsampled: false };
        state.charts[name].sub.textContent = "zoomed: " + RLW.seriesSubtitle(s);
        return Plotly.restyle(state.charts[name].chart, { x: [s.x], y: [s.y] }, [0]);
      })).then(function () { state.syncing = false; });
    });
  }

  function reloadOverview() {
    return RLW.api("metrics", { run: runId, points: OVERVIEW_POINTS }).then(function (body) {
      state.syncing = true;
      return Promise.all(Object.keys(body.series).map(function (name) {
        var s = body.series[name];
        state.overview[name] = s;
        if (!state.charts[name]) return drawChart(name, s);
        state.charts[name].sub.textContent = RLW.seriesSubtitle(s);
        return Plotly.restyle(state.charts[name].chart, { x: [s.x], y: [s.y] }, [0]);
      })).then(function () { state.syncing = false; }, function () { state.syncing = false; });
    });
  }

  function resetZoom() {
    state.zoom = null;
    state.zoomToken++;
    state.syncing = true;
    return Promise.all(chartNames().map(function (name) {
      var ov = state.overview[name];
      state.charts[name].sub.textContent = RLW.seriesSubtitle(ov);
      var div = state.charts[name].chart;
      return Plotly.restyle(div, { x: [ov.x], y: [ov.y] }, [0]).then(function () {
        return Plotly.relayout(div, { "xaxis.autorange": true, "yaxis.autorange": true });
      });
    })).then(function () { state.syncing = false; }, function () { state.syncing = false; });
  }

  function zoomToAlert(alert) {
    var span = Math.max(50, Math.round(((state.lastStep || 0) + 1) * 0.02));
    chartsBox.scrollIntoView({ behavior: "smooth" });
    return zoomTo(alert.step - span, alert.step + span, null);
  }

  loadAll();
})();
