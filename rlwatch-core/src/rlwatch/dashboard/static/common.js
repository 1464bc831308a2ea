/* rlwatch dashboard: helpers shared by every page and by the offline report.
 *
 * Rule: nothing that came from the database is ever assigned to innerHTML.
 * DOM text goes through textContent (el() below); text handed to plotly,
 * which understands a few HTML tags, goes through RLW.plotText().
 */
"use strict";
var RLW = window.RLW || {};
window.RLW = RLW;

/* Create an element; children are nodes or strings (strings become text). */
RLW.el = function (tag, attrs, children) {
  var node = document.createElement(tag);
  var key;
  for (key in attrs || {}) {
    if (!Object.prototype.hasOwnProperty.call(attrs, key)) continue;
    var value = attrs[key];
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  (children || []).forEach(function (child) {
    if (child === null || child === undefined) return;
    node.appendChild(typeof child === "string" || typeof child === "number"
      ? document.createTextNode(String(child)) : child);
  });
  return node;
};

/* Escape text for plotly labels: plotly turns a few tags into SVG and decodes
 * entities only inside text nodes, so escaped markup is shown, never parsed. */
RLW.plotText = function (value) {
  return String(value === null || value === undefined ? "" : value)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
};

/* A named point in time for the benchmark's breakdown (performance.mark). */
RLW.mark = function (name) {
  if (window.performance && performance.mark) performance.mark(name);
};

RLW.clear = function (node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
};

RLW.query = function () {
  return new URLSearchParams(window.location.search);
};

/* GET a JSON endpoint of this server. */
RLW.api = function (path, params) {
  var qs = new URLSearchParams();
  Object.keys(params || {}).forEach(function (key) {
    var value = params[key];
    if (value === null || value === undefined) return;
    (Array.isArray(value) ? value : [value]).forEach(function (v) { qs.append(key, String(v)); });
  });
  var url = "/api/" + path + (qs.toString() ? "?" + qs.toString() : "");
  return fetch(url, { cache: "no-store", credentials: "same-origin" }).then(function (resp) {
    return resp.json().then(function (body) {
      if (!resp.ok) throw new Error(body && body.error ? body.error : resp.status + " " + resp.statusText);
      return body;
    });
  });
};

RLW.runUrl = function (runId) { return "/run?run=" + encodeURIComponent(runId); };

RLW.fmtTime = function (seconds) {
  if (seconds === null || seconds === undefined) return "";
  var d = new Date(seconds * 1000);
  if (isNaN(d.getTime())) return "";
  var pad = function (n) { return String(n).padStart(2, "0"); };
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
    pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
};

RLW.fmtAgo = function (seconds) {
  if (!seconds) return "";
  var delta = Math.max(0, Date.now() / 1000 - seconds);
  if (delta < 60) return Math.round(delta) + " s ago";
  if (delta < 3600) return Math.round(delta / 60) + " min ago";
  if (delta < 86400) return (delta / 3600).toFixed(1) + " h ago";
  return (delta / 86400).toFixed(1) + " d ago";
};

RLW.fmtNum = function (value) {
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return String(value);
  var abs = Math.abs(value);
  return abs !== 0 && (abs < 1e-3 || abs >= 1e6) ? value.toExponential(3) : String(+value.toPrecision(5));
};

RLW.badge = function (text, kind) {
  return RLW.el("span", { class: "badge " + (kind || String(text)), text: text });
};

RLW.alertCountBadges = function (counts) {
  var span = RLW.el("span");
  var crit = (counts && counts.critical) || 0;
  var warn = (counts && counts.warning) || 0;
  if (crit) span.appendChild(RLW.badge(crit + " critical", "critical"));
  if (crit && warn) span.appendChild(document.createTextNode(" "));
  if (warn) span.appendChild(RLW.badge(warn + " warning", "warning"));
  if (!crit && !warn) span.appendChild(RLW.el("span", { class: "muted", text: "none" }));
  return span;
};

/* Top bar with navigation; `active` is the page key. */
RLW.header = function (active) {
  var links = [["runs", "/", "Runs"], ["compare", "/compare", "Compare"], ["timeline", "/timeline", "Alert timeline"]];
  var nav = RLW.el("nav", {}, links.map(function (l) {
    return RLW.el("a", { href: l[1], class: l[0] === active ? "active" : null, text: l[2] });
  }));
  var bar = RLW.el("header", { class: "top" }, [
    RLW.el("span", { class: "brand", text: "rlwatch" }), nav,
    RLW.el("span", { class: "live", id: "live-status" }),
  ]);
  document.body.insertBefore(bar, document.body.firstChild);
};

RLW.setLive = function (text) {
  var node = document.getElementById("live-status");
  if (node) node.textContent = text;
};

RLW.showError = function (where, err) {
  RLW.clear(where).appendChild(RLW.el("p", { class: "error", text: String(err && err.message || err) }));
};

/* Alerts that were delivered (not suppressed as repeats by the cooldown). */
RLW.sentAlerts = function (alerts) {
  return (alerts || []).filter(function (a) { return a.status !== "suppressed"; });
};

/* Table of alerts; onPick(alert) is called when a row is clicked. */
RLW.alertTable = function (alerts, opts) {
  opts = opts || {};
  var cols = ["Step", "Severity", "Detector", "Message", "Recommendation", "Status"];
  if (opts.withRun) cols.unshift("Run");
  if (opts.withTime) cols.unshift("Time");
  var thead = RLW.el("thead", {}, [RLW.el("tr", {}, cols.map(function (c) {
    return RLW.el("th", { class: c === "Step" ? "num" : null, text: c });
  }))]);
  var tbody = RLW.el("tbody");
  alerts.forEach(function (a) {
    var cells = [];
    if (opts.withTime) cells.push(RLW.el("td", { text: RLW.fmtTime(a.created_at) }));
    if (opts.withRun) {
      cells.push(RLW.el("td", { class: "wrap" }, [
        opts.linkRuns === false ? a.run_id : RLW.el("a", { href: RLW.runUrl(a.run_id), text: a.run_id })]));
    }
    var status = a.status || "sent";
    cells.push(
      RLW.el("td", { class: "num", text: a.step }),
      RLW.el("td", {}, [RLW.badge(a.severity, a.severity)]),
      RLW.el("td", { text: a.detector }),
      RLW.el("td", { class: "wrap", text: a.message }),
      RLW.el("td", { class: "wrap", text: a.recommendation }),
      RLW.el("td", {}, [RLW.badge(a.reason ? status + " (" + a.reason + ")" : status,
        status === "suppressed" ? "suppressed" : "finished")]));
    var row = RLW.el("tr", { class: opts.onPick ? "clickable" : null,
      dataset: { step: String(a.step), severity: String(a.severity) } }, cells);
    if (opts.onPick) row.addEventListener("click", function () { opts.onPick(a); });
    tbody.appendChild(row);
  });
  if (!alerts.length) {
    tbody.appendChild(RLW.el("tr", {}, [RLW.el("td", { colspan: cols.length, class: "empty", text: "No alerts." })]));
  }
  return RLW.el("table", { class: "alerts" }, [thead, tbody]);
};

/* The run's configuration as pretty JSON text (already redacted by the core). */
RLW.configBlock = function (config) {
  return RLW.el("pre", { class: "config", text: JSON.stringify(config || {}, null, 2) });
};

/* Key facts about a run as label/value pairs. */
RLW.runMeta = function (run) {
  var items = [
    ["Status", RLW.badge(run.status || "unknown", run.status)],
    ["Framework", run.framework || "-"],
    ["Steps", (run.n_steps || 0) + (run.last_step !== null && run.last_step !== undefined ? " (last " + run.last_step + ")" : "")],
    ["Alerts", RLW.alertCountBadges(run.alert_counts)],
    ["Started", RLW.fmtTime(run.started_at)],
    ["Last update", RLW.fmtTime(run.updated_at) + " (" + RLW.fmtAgo(run.updated_at) + ")"],
    ["Ended", run.ended_at ? RLW.fmtTime(run.ended_at) : "-"],
    ["Host", (run.host || "-") + (run.pid ? " pid " + run.pid : "")],
    ["Rank", (run.rank === null || run.rank === undefined ? "-" : run.rank) + " / " + (run.world_size || 1)],
    ["rlwatch", run.rlwatch_version || "-"],
  ];
  if (run.dropped_rows) items.push(["Dropped rows", String(run.dropped_rows)]);
  return RLW.el("div", { class: "meta" }, items.map(function (it) {
    return RLW.el("div", {}, [RLW.el("span", { text: it[0] }), it[1]]);
  }));
};

/* Diagnosis: a short list of findings (built server-side from the data). */
RLW.diagnosisBlock = function (diag) {
  var box = RLW.el("div", { class: "card diagnosis" });
  box.appendChild(RLW.el("p", {}, [RLW.el("strong", { text: diag.verdict || "" })]));
  var list = RLW.el("ul");
  (diag.findings || []).forEach(function (f) {
    var li = RLW.el("li", {}, [RLW.badge(f.severity, f.severity), " ", RLW.el("strong", { text: f.detector }),
      " ", f.summary || ""]);
    if (f.recommendation) li.appendChild(RLW.el("div", { class: "muted", text: "What to do: " + f.recommendation }));
    list.appendChild(li);
  });
  (diag.notes || []).forEach(function (n) { list.appendChild(RLW.el("li", { class: "muted", text: n })); });
  box.appendChild(list);
  if ((diag.metrics || []).length) {
    var head = RLW.el("tr", {}, ["Metric", "Points", "First", "Last", "Min", "Max"].map(function (h, i) {
      return RLW.el("th", { class: i ? "num" : null, text: h });
    }));
    var body = RLW.el("tbody", {}, diag.metrics.map(function (m) {
      return RLW.el("tr", {}, [RLW.el("td", { class: "wrap", text: m.name })].concat(
        [m.n, m.first, m.last, m.min, m.max].map(function (v) {
          return RLW.el("td", { class: "num", text: v === null || v === undefined ? "-" : RLW.fmtNum(v) });
        })));
    }));
    box.appendChild(RLW.el("table", { class: "metric-summary" }, [RLW.el("thead", {}, [head]), body]));
  }
  return box;
};
