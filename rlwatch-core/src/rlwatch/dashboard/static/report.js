/* Offline report: draws the embedded run data with the dashboard's chart code. */
"use strict";
(function () {
  var app = document.getElementById("app");
  var payload;
  try {
    payload = JSON.parse(document.getElementById("rlwatch-data").textContent);
  } catch (err) {
    RLW.showError(app, "The report's data block is damaged: " + err.message);
    return;
  }
  var run = payload.run;
  var series = payload.metrics.series;
  var alerts = payload.alerts;
  RLW.clear(app);
  app.appendChild(RLW.el("h1", { id: "run-title", text: "rlwatch report: " + run.run_id }));
  app.appendChild(RLW.runMeta(run));
  app.appendChild(RLW.el("h2", { text: "Diagnosis" }));
  app.appendChild(RLW.el("div", { id: "diagnosis" }, [RLW.diagnosisBlock(payload.diagnosis)]));
  app.appendChild(RLW.el("h2", { text: "Metrics" }));
  var chartsBox = RLW.el("div", { class: "charts", id: "charts" });
  app.appendChild(chartsBox);
  app.appendChild(RLW.el("h2", { text: "Alerts" }));
  var sent = RLW.sentAlerts(alerts);
  var alertsBox = RLW.el("div", { id: "alerts" }, [RLW.alertTable(sent, {})]);
  if (alerts.length > sent.length) {
    alertsBox.appendChild(RLW.el("details", {}, [
      RLW.el("summary", { text: (alerts.length - sent.length) + " suppressed repeat(s)" }),
      RLW.alertTable(alerts.filter(function (a) { return a.status === "suppressed"; }), {})]));
  }
  app.appendChild(alertsBox);
  app.appendChild(RLW.el("h2", { text: "Configuration (secrets redacted)" }));
  app.appendChild(RLW.el("div", { id: "config" }, [RLW.configBlock(run.config)]));
  app.appendChild(RLW.el("footer", { text: "Generated " + RLW.fmtTime(payload.generated_at) + " by rlwatch " +
    payload.rlwatch_version + ". Self-contained: no network access needed." }));

  var names = run.metric_names.filter(function (n) { return series[n]; });
  if (!names.length) chartsBox.appendChild(RLW.el("p", { class: "empty", text: "No metrics were logged." }));
  var unplaced = RLW.unplacedAlerts(sent, names);
  Promise.all(names.map(function (name) {
    var parts = RLW.chartCard(name, RLW.seriesSubtitle(series[name]));
    chartsBox.appendChild(parts.card);
    return RLW.drawMetricChart(parts.chart, name, series[name], sent, unplaced);
  })).then(function () { document.body.dataset.ready = "1"; },
    function (err) { RLW.showError(chartsBox, err); });
})();
