/* Comparison view: one metric overlaid across several runs. */
"use strict";
(function () {
  var POINTS = 2000;
  var COLORS = ["#2f6fdb", "#e4572e", "#29a36a", "#8e44ad", "#f0a202", "#17becf", "#7f7f7f", "#bcbd22"];
  var app = document.getElementById("app");
  var q = RLW.query();
  var state = { runs: [], selected: new Set(q.getAll("run")), metric: q.get("metric") || "", info: {} };

  RLW.header("compare");
  RLW.clear(app);
  app.appendChild(RLW.el("h1", { text: "Compare runs" }));
  var picker = RLW.el("div", { class: "card runpick", id: "run-picker" });
  var metricSelect = RLW.el("select", { id: "metric-select", onchange: function () { state.metric = metricSelect.value; draw(); } });
  var showAlerts = RLW.el("input", { type: "checkbox", id: "show-alerts", checked: true, onchange: function () { draw(); } });
  app.appendChild(picker);
  app.appendChild(RLW.el("div", { class: "toolbar", style: "margin-top:10px" }, [
    RLW.el("label", { text: "Metric " }, [metricSelect]),
    RLW.el("label", {}, [showAlerts, " show alerts"]),
  ]));
  var chartCard = RLW.el("div", { class: "chart-card" });
  var chart = RLW.el("div", { class: "chart big", id: "compare-chart" });
  var note = RLW.el("p", { class: "sub", id: "compare-note" });
  chartCard.appendChild(note);
  chartCard.appendChild(chart);
  app.appendChild(chartCard);

  function saveUrl() {
    var qs = new URLSearchParams();
    state.selected.forEach(function (id) { qs.append("run", id); });
    if (state.metric) qs.set("metric", state.metric);
    history.replaceState(null, "", "/compare?" + qs.toString());
  }

  function renderPicker() {
    RLW.clear(picker);
    if (!state.runs.length) picker.appendChild(RLW.el("p", { class: "empty", text: "No runs in this database." }));
    state.runs.forEach(function (run) {
      var box = RLW.el("input", { type: "checkbox", dataset: { runId: run.run_id }, onchange: function () {
        if (box.checked) state.selected.add(run.run_id); else state.selected.delete(run.run_id);
        refreshMetrics().then(draw);
      } });
      box.checked = state.selected.has(run.run_id);
      picker.appendChild(RLW.el("label", {}, [box, " ", run.run_id, " ", RLW.badge(run.status || "unknown", run.status)]));
    });
  }

  /* Metric choices: the union of the selected runs' metrics. */
  function refreshMetrics() {
    var ids = Array.from(state.selected);
    return Promise.all(ids.map(function (id) {
      if (state.info[id]) return state.info[id];
      return RLW.api("run", { run: id }).then(function (info) { state.info[id] = info; return info; });
    })).then(function (infos) {
      var names = [];
      infos.forEach(function (info) {
        info.metric_names.forEach(function (n) { if (names.indexOf(n) < 0) names.push(n); });
      });
      RLW.clear(metricSelect);
      names.forEach(function (n) { metricSelect.appendChild(RLW.el("option", { value: n, text: n })); });
      if (names.indexOf(state.metric) < 0) state.metric = names[0] || "";
      metricSelect.value = state.metric;
    });
  }

  function draw() {
    saveUrl();
    var ids = Array.from(state.selected);
    if (!ids.length || !state.metric) {
      note.textContent = ids.length ? "The selected runs have no metrics." : "Pick runs to compare.";
      Plotly.purge(chart);
      document.body.dataset.ready = "1";
      return Promise.resolve();
    }
    note.textContent = "Loading…";
    return Promise.all(ids.map(function (id) {
      return Promise.all([
        RLW.api("metrics", { run: id, name: state.metric, points: POINTS }),
        showAlerts.checked ? RLW.api("alerts", { run: id }) : Promise.resolve({ alerts: [] }),
      ]);
    })).then(function (res) {
      var traces = [];
      res.forEach(function (pair, i) {
        var s = pair[0].series[state.metric] || { x: [], y: [], n: 0 };
        var color = COLORS[i % COLORS.length];
        traces.push({ type: "scatter", mode: "lines", x: s.x, y: s.y, name: RLW.plotText(ids[i]), meta: "curve",
          line: { color: color, width: 1.4 }, hovertemplate: RLW.plotText(ids[i]) + "<br>step %{x}<br>%{y:.5g}<extra></extra>" });
        var mine = RLW.alertsFor(state.metric, RLW.sentAlerts(pair[1].alerts));
        if (mine.length) {
          traces.push({ type: "scatter", mode: "markers", name: RLW.plotText(ids[i] + " alerts"), meta: "alerts",
            x: mine.map(function (a) { return a.step; }),
            y: mine.map(function (a) { var y = a.charts[state.metric]; return typeof y === "number" ? y : RLW.curveValueAt(s, a.step); }),
            text: mine.map(function (a) { return RLW.plotText(ids[i]) + "<br>" + RLW.alertHover(a); }),
            hovertemplate: "%{text}<extra></extra>", hoverlabel: { align: "left" },
            marker: { color: color, size: 11, symbol: mine.map(function (a) { return (RLW.SEVERITY_STYLE[a.severity] || RLW.SEVERITY_STYLE.warning).symbol; }),
              line: { color: "#000", width: 1 } } });
        }
      });
      note.textContent = state.metric + " across " + ids.length + " run(s)";
      return Plotly.react(chart, traces, {
        margin: { l: 60, r: 12, t: 10, b: 40 }, hovermode: "closest", showlegend: true,
        legend: { orientation: "h", y: -0.15 }, xaxis: { title: { text: "step" } },
      }, RLW.PLOT_CONFIG);
    }).then(function () { document.body.dataset.ready = "1"; })
      .catch(function (err) { RLW.showError(note, err); });
  }

  RLW.api("runs").then(function (body) {
    state.runs = body.runs;
    var known = new Set(state.runs.map(function (r) { return r.run_id; }));
    state.selected.forEach(function (id) { if (!known.has(id)) state.selected.delete(id); });
    renderPicker();
    return refreshMetrics();
  }).then(draw).catch(function (err) { RLW.showError(app, err); });
})();
