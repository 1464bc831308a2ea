/* Alert timeline: every alert of every run on one time axis, plus a table. */
"use strict";
(function () {
  var REFRESH_MS = 5000;
  var app = document.getElementById("app");
  var state = { alerts: [], severity: "", filter: "", suppressed: false };

  RLW.header("timeline");
  RLW.clear(app);
  app.appendChild(RLW.el("h1", { text: "Alert timeline" }));
  var sevSelect = RLW.el("select", { id: "severity-filter", onchange: function () { state.severity = sevSelect.value; render(); } },
    [["", "all severities"], ["critical", "critical"], ["warning", "warning"]].map(function (o) {
      return RLW.el("option", { value: o[0], text: o[1] });
    }));
  var search = RLW.el("input", { type: "search", placeholder: "Filter by run, detector, message…", size: 40,
    oninput: function () { state.filter = search.value.toLowerCase(); render(); } });
  var suppressedBox = RLW.el("input", { type: "checkbox", id: "show-suppressed",
    onchange: function () { state.suppressed = suppressedBox.checked; render(); } });
  app.appendChild(RLW.el("div", { class: "toolbar" }, [sevSelect, search,
    RLW.el("label", {}, [suppressedBox, " include suppressed repeats"])]));
  var chartCard = RLW.el("div", { class: "chart-card" });
  var chart = RLW.el("div", { class: "chart big", id: "timeline-chart" });
  chartCard.appendChild(chart);
  app.appendChild(chartCard);
  app.appendChild(RLW.el("h2", { text: "All alerts" }));
  var tableBox = RLW.el("div", { id: "timeline-table" });
  app.appendChild(tableBox);

  function shown() {
    return state.alerts.filter(function (a) {
      if (!state.suppressed && a.status === "suppressed") return false;
      if (state.severity && a.severity !== state.severity) return false;
      if (!state.filter) return true;
      return [a.run_id, a.detector, a.message].some(function (v) {
        return String(v || "").toLowerCase().indexOf(state.filter) >= 0;
      });
    });
  }

  function render() {
    var list = shown();
    var traces = ["warning", "critical"].map(function (sev) {
      var mine = list.filter(function (a) { return a.severity === sev; });
      var style = RLW.SEVERITY_STYLE[sev];
      return { type: "scatter", mode: "markers", name: sev, meta: "alerts-" + sev,
        x: mine.map(function (a) { return new Date(a.created_at * 1000); }),
        y: mine.map(function (a) { return RLW.plotText(a.run_id); }),
        text: mine.map(function (a) { return RLW.plotText(a.run_id) + "<br>" + RLW.alertHover(a); }),
        hovertemplate: "%{text}<extra></extra>", hoverlabel: { align: "left" },
        marker: { color: style.color, symbol: style.symbol, size: style.size } };
    });
    var runs = new Set(list.map(function (a) { return a.run_id; }));
    var height = Math.max(260, 80 + 28 * runs.size);
    chart.style.height = height + "px";
    Plotly.react(chart, traces, {
      margin: { l: 20, r: 12, t: 10, b: 40 }, hovermode: "closest", showlegend: true,
      xaxis: { type: "date", title: { text: "time" } },
      yaxis: { type: "category", automargin: true },
      height: height,
      uirevision: "keep",
    }, RLW.PLOT_CONFIG);
    var sorted = list.slice().sort(function (a, b) { return (b.created_at || 0) - (a.created_at || 0); });
    RLW.clear(tableBox).appendChild(RLW.alertTable(sorted, { withRun: true, withTime: true }));
    document.body.dataset.ready = "1";
  }

  function refresh() {
    return RLW.api("alerts").then(function (body) {
      var changed = body.alerts.length !== state.alerts.length;
      state.alerts = body.alerts;
      if (changed || !document.body.dataset.ready) render();
      RLW.setLive("updated " + RLW.fmtTime(Date.now() / 1000));
    }).catch(function (err) { RLW.showError(tableBox, err); });
  }

  refresh();
  setInterval(function () { if (!document.hidden) refresh(); }, REFRESH_MS);
})();
