/* Runs list: every run in the database, filterable, refreshed every few seconds. */
"use strict";
(function () {
  var REFRESH_MS = 3000;
  var app = document.getElementById("app");
  var state = { runs: [], selected: new Set(), filter: "", status: "" };

  RLW.header("runs");
  RLW.clear(app);
  var search = RLW.el("input", { type: "search", id: "run-filter", placeholder: "Filter by run id, framework, host…",
    size: 40, oninput: function () { state.filter = search.value.toLowerCase(); render(); } });
  var statusSelect = RLW.el("select", { id: "status-filter",
    onchange: function () { state.status = statusSelect.value; render(); } },
    [["", "any status"], ["running", "running"], ["finished", "finished"], ["crashed", "crashed"]].map(function (o) {
      return RLW.el("option", { value: o[0], text: o[1] });
    }));
  var compareBtn = RLW.el("button", { id: "compare-selected", disabled: true, text: "Compare selected",
    onclick: function () {
      var qs = new URLSearchParams();
      state.selected.forEach(function (id) { qs.append("run", id); });
      window.location.href = "/compare?" + qs.toString();
    } });
  var count = RLW.el("span", { class: "muted", id: "run-count" });
  app.appendChild(RLW.el("h1", { text: "Runs" }));
  app.appendChild(RLW.el("div", { class: "toolbar" }, [search, statusSelect, compareBtn, count]));
  var tableBox = RLW.el("div", { id: "runs" });
  app.appendChild(tableBox);

  function matches(run) {
    if (state.status && run.status !== state.status) return false;
    if (!state.filter) return true;
    return [run.run_id, run.framework, run.host, run.status].some(function (v) {
      return String(v || "").toLowerCase().indexOf(state.filter) >= 0;
    });
  }

  function row(run) {
    var box = RLW.el("input", { type: "checkbox", "aria-label": "select for comparison",
      onchange: function () {
        if (box.checked) state.selected.add(run.run_id); else state.selected.delete(run.run_id);
        compareBtn.disabled = state.selected.size < 1;
      } });
    box.checked = state.selected.has(run.run_id);
    return RLW.el("tr", { class: "run-row", dataset: { runId: run.run_id } }, [
      RLW.el("td", {}, [box]),
      RLW.el("td", { class: "wrap" }, [RLW.el("a", { class: "run-link", href: RLW.runUrl(run.run_id), text: run.run_id })]),
      RLW.el("td", {}, [RLW.badge(run.status || "unknown", run.status)]),
      RLW.el("td", { text: run.framework || "-" }),
      RLW.el("td", { class: "num", text: run.n_steps || 0 }),
      RLW.el("td", { class: "num", text: run.last_step === null || run.last_step === undefined ? "-" : run.last_step }),
      RLW.el("td", { title: RLW.fmtTime(run.updated_at), text: RLW.fmtAgo(run.updated_at) }),
      RLW.el("td", { class: "alert-counts" }, [RLW.alertCountBadges(run.alert_counts)]),
      RLW.el("td", { text: RLW.fmtTime(run.started_at) }),
    ]);
  }

  function render() {
    var shown = state.runs.filter(matches);
    count.textContent = shown.length + " of " + state.runs.length + " runs";
    var head = RLW.el("tr", {}, ["", "Run", "Status", "Framework", "Steps", "Last step", "Last update", "Alerts", "Started"]
      .map(function (h) { return RLW.el("th", { class: h === "Steps" || h === "Last step" ? "num" : null, text: h }); }));
    var body = RLW.el("tbody", {}, shown.map(row));
    if (!shown.length) {
      body.appendChild(RLW.el("tr", {}, [RLW.el("td", { colspan: 9, class: "empty",
        text: state.runs.length ? "No run matches the filter." : "No runs in this database yet." })]));
    }
    RLW.clear(tableBox).appendChild(RLW.el("table", { id: "runs-table" }, [RLW.el("thead", {}, [head]), body]));
  }

  function refresh() {
    return RLW.api("runs").then(function (body) {
      state.runs = body.runs;
      render();
      RLW.setLive("updated " + RLW.fmtTime(Date.now() / 1000));
      document.body.dataset.ready = "1";
    }).catch(function (err) { RLW.showError(tableBox, err); });
  }

  refresh();
  setInterval(function () { if (!document.hidden) refresh(); }, REFRESH_MS);
})();
