/* Loaded in <head> of the run page, before plotly.js: start fetching the
 * run's data at once, so the server reads it while the browser is still
 * compiling the 5 MB chart library. run.js picks up these promises. */
"use strict";
(function () {
  if (window.performance && performance.mark) performance.mark("rlwatch-boot");
  var runId = new URLSearchParams(window.location.search).get("run");
  if (runId === null) return;
  function get(path) {
    return fetch(path, { cache: "no-store", credentials: "same-origin" }).then(function (resp) {
      return resp.json().then(function (body) {
        if (!resp.ok) throw new Error(body && body.error ? body.error : resp.status + " " + resp.statusText);
        return body;
      });
    });
  }
  var q = "?run=" + encodeURIComponent(runId);
  window.RLW_BOOT = {
    runId: runId,
    run: get("/api/run" + q),
    metrics: get("/api/metrics" + q + "&points=" + 2000),
    alerts: get("/api/alerts" + q),
  };
  // Keep an early failure from being reported as unhandled; run.js shows it.
  Object.keys(window.RLW_BOOT).forEach(function (k) {
    var p = window.RLW_BOOT[k];
    if (p && p.catch) p.catch(function () {});
  });
})();
