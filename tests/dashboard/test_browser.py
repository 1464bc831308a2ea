"""The dashboard and the report in a real headless Chromium.

Expected values come from the database itself (through `StoreReader`), and
what is checked is what plotly actually holds and drew (trace data and SVG
nodes), not what our JavaScript meant to do.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
from rlwatch.dashboard import data
from rlwatch.storage import StoreReader

from .build_fixture import XSS_MESSAGE, XSS_METRIC, XSS_RECOMMENDATION, XSS_RUN
from .conftest import (
    HERE,
    LiveServer,
    Recorder,
    check_recorder,
    open_context,
    screenshot,
    start_server,
    watch_page,
)

READY = "body[data-ready='1']"
ENTROPY_ALERT_STEPS = [23, 74, 78, 172]
"""Steps of grpo-collapse's sent entropy alerts (build_fixture.py): the slide is caught by the trend rule as it
starts (warning), re-warned after the cooldown, critical once below half the baseline, and again later."""

# What every chart of the page holds and drew, read from plotly's own state.
CHARTS_JS = """() => Array.from(document.querySelectorAll('.chart[data-metric]')).map(d => {
  const traces = d.data || [];
  const svgTraces = d.querySelectorAll('.scatterlayer .trace');
  const alertIdx = traces.map((t, i) => String(t.meta).startsWith('alerts') ? i : -1).filter(i => i >= 0);
  const line = d.querySelector('.scatterlayer .js-line');
  return {
    metric: d.dataset.metric,
    x: traces.length ? Array.from(traces[0].x) : [],
    markers: alertIdx.flatMap(i => Array.from(traces[i].x)).sort((a, b) => a - b),
    drawnMarkers: alertIdx.reduce((n, i) => n + svgTraces[i].querySelectorAll('.points path').length, 0),
    lineLength: line ? (line.getAttribute('d') || '').length : 0,
    range: d.layout && d.layout.xaxis && d.layout.xaxis.range ? Array.from(d.layout.xaxis.range) : null,
  };
})"""


def run_url(live: LiveServer, run_id: str) -> str:
    return live.url + "run?run=" + quote(run_id, safe="")


def charts(page: Any) -> dict[str, dict[str, Any]]:
    return {c["metric"]: c for c in page.evaluate(CHARTS_JS)}


def expected_charts(db: Path, run_id: str) -> dict[str, dict[str, Any]]:
    """Per metric: the finite steps and the steps of the (sent) alerts on it."""
    with StoreReader(str(db)) as reader:
        names = data.ordered_metric_names(reader.metric_names(run_id))
        cols = reader.metrics(run_id, names)
        alerts = [a for a in data.alerts_payload(reader, run_id)["alerts"] if a["status"] != "suppressed"]
    out = {}
    for name in names:
        finite = np.isfinite(cols[name])
        out[name] = {
            "x": cols["step"][finite].tolist(),
            "markers": sorted(a["step"] for a in alerts if name in a["charts"]),
        }
    return out


def hover_first_marker(page: Any, metric: str) -> str:
    """Hover the first alert marker of a chart; returns the hover label's text."""
    page.evaluate(
        """(metric) => {
          const d = document.querySelector(`.chart[data-metric="${CSS.escape(metric)}"]`);
          const i = d.data.findIndex(t => String(t.meta).startsWith('alerts'));
          Plotly.Fx.hover(d, [{curveNumber: i, pointNumber: 0}]);
        }""",
        metric,
    )
    page.wait_for_selector(".hoverlayer .hovertext")
    return str(page.text_content(".hoverlayer .hovertext"))


def test_runs_list_shows_every_run(page: Any, dashboard: LiveServer, fixture_db: Path) -> None:
    page.goto(dashboard.url)
    page.wait_for_selector(READY)
    with StoreReader(str(fixture_db)) as reader:
        runs = reader.runs()
    rows = page.locator("tr.run-row")
    assert rows.count() == len(runs) == 4
    for run in runs:
        row = page.locator("tr.run-row").filter(has=page.get_by_role("link", name=run.run_id, exact=True))
        assert row.count() == 1
        cells = row.locator("td").all_text_contents()
        assert cells[1] == run.run_id and cells[2] == run.status and cells[4] == str(run.n_steps)
    grpo = page.locator("tr.run-row", has=page.get_by_role("link", name="grpo-collapse", exact=True))
    assert grpo.locator(".alert-counts").text_content() == "3 critical 2 warning"
    screenshot(page, "runs-list")
    page.fill("#run-filter", "ppo")
    assert page.locator("tr.run-row").count() == 1
    page.fill("#run-filter", "")
    page.select_option("#status-filter", "running")
    assert page.locator("tr.run-row").count() == 0
    assert "No run matches" in str(page.text_content("#runs"))


def test_run_page_draws_every_metric_with_alert_markers(page: Any, dashboard: LiveServer, fixture_db: Path) -> None:
    page.goto(run_url(dashboard, "grpo-collapse"))
    page.wait_for_selector(READY)
    page.wait_for_selector("#diagnosis .diagnosis")
    expected = expected_charts(fixture_db, "grpo-collapse")
    drawn = charts(page)
    assert list(drawn) == list(expected) == ["entropy", "kl_divergence", "reward_mean", "loss", "grad_norm"]
    for name, want in expected.items():
        got = drawn[name]
        assert got["x"] == want["x"], name  # every point, at its step (400; 399 for the NaN loss)
        assert got["markers"] == want["markers"], name
        assert got["drawnMarkers"] == len(want["markers"]), name
        assert got["lineLength"] > 10, name  # the curve is drawn (a straight line is short)
    assert drawn["entropy"]["markers"] == ENTROPY_ALERT_STEPS and drawn["loss"]["markers"] == [300]
    # The fixed threshold the detector reported is drawn as a labelled line.
    # (only the first alert reported one: later ones came from a baseline too wide to have a level)
    assert "entropy_collapse warning_below 0.86" in str(page.text_content('.chart[data-metric="entropy"]'))
    assert page.locator("#alerts tbody tr").count() == 5
    assert "grpo-collapse" in str(page.text_content("#config pre"))
    diagnosis = str(page.text_content("#diagnosis"))
    assert "entropy_collapse" in diagnosis and "What to do" in diagnosis
    screenshot(page, "run-page")
    screenshot(page, "run-page-full", full_page=True)
    label = hover_first_marker(page, "entropy")
    assert "WARNING entropy_collapse at step 23" in label and "baseline" in label and "What to do" in label
    screenshot(page, "run-page-alert-hover")


def test_zoom_loads_full_resolution_and_alert_rows_zoom_to_their_step(
    page: Any, dashboard: LiveServer, fixture_db: Path
) -> None:
    page.goto(run_url(dashboard, "long-10k"))
    page.wait_for_selector(READY)
    overview = charts(page)["reward_std"]
    assert len(overview["x"]) <= 2000 and 7777 in overview["x"]
    page.evaluate("""() => Plotly.relayout(document.querySelector('.chart'), {'xaxis.range': [7000, 8000]})""")
    page.wait_for_function("""() => document.querySelector('.chart').data[0].x.length === 1001""", timeout=10_000)
    zoomed = charts(page)["reward_std"]
    assert zoomed["x"] == list(range(7000, 8001))
    page.click("#reset-zoom")
    page.wait_for_function("""() => document.querySelector('.chart').data[0].x.length < 2001""")

    page.goto(run_url(dashboard, "grpo-collapse"))
    page.wait_for_selector(READY)
    page.locator("#alerts tbody tr").first.click()
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('.chart')).every(d =>
             d.layout.xaxis.range && d.layout.xaxis.range[0] <= 23 && d.layout.xaxis.range[1] >= 23
             && d.layout.xaxis.range[1] - d.layout.xaxis.range[0] <= 200)""",
        timeout=10_000,
    )
    screenshot(page, "run-page-zoomed-to-alert")


def test_compare_view_overlays_a_metric_across_runs(page: Any, dashboard: LiveServer) -> None:
    page.goto(dashboard.url + "compare?run=grpo-collapse&run=ppo-healthy&metric=entropy")
    page.wait_for_selector(READY)
    curves = page.evaluate(
        """() => document.getElementById('compare-chart').data
             .map(t => ({meta: t.meta, n: t.x.length, name: t.name}))"""
    )
    assert [(c["meta"], c["n"]) for c in curves] == [("curve", 400), ("alerts", len(ENTROPY_ALERT_STEPS)),
                                                     ("curve", 150)]
    assert page.text_content("#compare-note") == "entropy across 2 run(s)"
    screenshot(page, "compare")
    page.select_option("#metric-select", "reward_mean")
    page.wait_for_function("""() => document.getElementById('compare-note').textContent.startsWith('reward_mean')""")
    assert "metric=reward_mean" in page.url


def test_alert_timeline_shows_every_run_s_alerts(page: Any, dashboard: LiveServer, fixture_db: Path) -> None:
    page.goto(dashboard.url + "timeline")
    page.wait_for_selector(READY)
    with StoreReader(str(fixture_db)) as reader:
        every = reader.alerts()
    sent = [a for a in every if a.status != "suppressed"]
    n_markers = page.evaluate(
        """() => document.getElementById('timeline-chart').data.reduce((n, t) => n + t.x.length, 0)"""
    )
    assert n_markers == len(sent) == 6
    assert page.locator("#timeline-table tbody tr").count() == 6
    screenshot(page, "alert-timeline")
    page.check("#show-suppressed")
    assert page.locator("#timeline-table tbody tr").count() == len(every)


def test_html_payloads_from_the_database_render_as_inert_text(page: Any, dashboard: LiveServer) -> None:
    # Any alert() would be recorded as a dialog and fail the test (see conftest).
    page.goto(dashboard.url)
    page.wait_for_selector(READY)
    assert page.get_by_role("link", name=XSS_RUN, exact=True).count() == 1

    page.goto(run_url(dashboard, XSS_RUN))
    page.wait_for_selector(READY)
    page.wait_for_selector("#diagnosis .diagnosis")
    assert page.text_content("#run-title") == XSS_RUN
    assert XSS_RUN in page.title()
    assert page.locator(".chart-card h3").all_text_contents() == ["entropy", XSS_METRIC]
    cells = page.locator("#alerts tbody td").all_text_contents()
    assert XSS_MESSAGE in cells and XSS_RECOMMENDATION in cells
    label = hover_first_marker(page, XSS_METRIC)
    assert XSS_MESSAGE in label and "alert(4)" in label
    screenshot(page, "xss-run-page")
    for url in (dashboard.url + "compare?run=" + quote(XSS_RUN, safe="") + "&metric=" + quote(XSS_METRIC, safe=""),
                dashboard.url + "timeline"):
        page.goto(url)
        page.wait_for_selector(READY)
        assert XSS_RUN in str(page.text_content("body"))
        inert = page.evaluate(
            """() => ({imgs: document.querySelectorAll('img').length,
                       inline: document.querySelectorAll('script:not([src])').length,
                       raw: document.body.innerHTML.includes('<img src=x')})"""
        )
        assert inert == {"imgs": 0, "inline": 0, "raw": False}, url
    screenshot(page, "xss-timeline")


def test_export_buttons_download_the_run(page: Any, dashboard: LiveServer) -> None:
    page.goto(run_url(dashboard, "ppo-healthy"))
    page.wait_for_selector(READY)
    for button, first in (("#export-csv", "step,wall_time,entropy,reward_mean"), ("#export-jsonl", '{"run_id"')):
        with page.expect_download() as info:
            page.click(button)
        path = info.value.path()
        lines = Path(path).read_text().splitlines()
        assert lines[0].startswith(first) and len(lines) in (150, 151)


def test_live_run_grows_without_reload(browser: Any, tmp_path: Path) -> None:
    log_dir = tmp_path / "live"
    writer = subprocess.Popen([sys.executable, str(HERE / "live_writer.py"), str(log_dir)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert writer.stdin is not None and writer.stdout is not None
    live: LiveServer | None = None
    recorder = Recorder()
    context = open_context(browser, recorder)
    try:
        assert writer.stdout.readline().strip() == "phase1"
        live = start_server(log_dir / "metrics.db")
        page = context.new_page()
        watch_page(page, recorder)
        page.goto(run_url(live, "live-run"))
        page.wait_for_selector(READY)
        page.evaluate("() => { window.__sameDocument = true; }")
        assert len(charts(page)["entropy"]["x"]) == 20 and charts(page)["loss"]["markers"] == []
        screenshot(page, "live-before")

        writer.stdin.write("go\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "phase2"
        started = time.monotonic()
        page.wait_for_function(
            """() => document.querySelector('.chart[data-metric="entropy"]').data[0].x.length === 60""",
            timeout=15_000,
        )
        grew_after = time.monotonic() - started
        # The NaN loss at step 45 raised an alert while the page was open: its marker arrives too.
        page.wait_for_function(
            """() => document.querySelector('.chart[data-metric="loss"]').data
                   .some(t => t.meta === 'alerts-critical')""",
            timeout=15_000,
        )
        got = charts(page)
        assert got["entropy"]["x"] == list(range(60)) and got["reward_mean"]["x"] == list(range(60))
        assert got["loss"]["markers"] == [45] and got["loss"]["drawnMarkers"] == 1
        assert page.locator("#alerts tbody tr", has_text="loss_nan").count() == 1
        assert page.evaluate("() => window.__sameDocument === true")  # no reload happened
        assert grew_after < 6.0, f"new points took {grew_after:.1f} s to appear"
        screenshot(page, "live-after")

        writer.stdin.write("stop\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "stopped"
        page.wait_for_function("""() => document.querySelector('#run-meta').textContent.includes('finished')""",
                               timeout=15_000)
        print(f"live: 40 new steps appeared in the chart {grew_after:.2f} s after they were written")
    finally:
        context.close()
        if writer.poll() is None:
            writer.kill()
        writer.communicate(timeout=10)
        if live is not None:
            live.stop()
    check_recorder(recorder)


def test_report_draws_the_same_charts_offline(
    browser: Any, page: Any, dashboard: LiveServer, fixture_db: Path, tmp_path: Path, rlwatch_cmd: str
) -> None:
    report = tmp_path / "report.html"
    subprocess.run([rlwatch_cmd, "report", "grpo-collapse", "--db", str(fixture_db), "-o", str(report)], check=True,
                   capture_output=True, timeout=120)
    page.goto(run_url(dashboard, "grpo-collapse"))
    page.wait_for_selector(READY)
    in_dashboard = charts(page)

    recorder = Recorder()
    context = open_context(browser, recorder, offline=True)
    try:
        offline = context.new_page()
        watch_page(offline, recorder)
        offline.goto(report.as_uri())
        offline.wait_for_selector(READY)
        in_report = charts(offline)
        assert offline.locator("#alerts > table > tbody > tr").count() == 5
        assert "entropy_collapse" in str(offline.text_content("#diagnosis"))
        assert "grpo-collapse" in str(offline.text_content("#config"))
        screenshot(offline, "report")
        screenshot(offline, "report-full", full_page=True)
    finally:
        context.close()
    check_recorder(recorder)
    assert [r for r in recorder.requests if not r.startswith("file://")] == []
    assert list(in_report) == list(in_dashboard)
    for name, got in in_report.items():
        want = in_dashboard[name]
        assert (got["x"], got["markers"], got["drawnMarkers"]) == (want["x"], want["markers"], want["drawnMarkers"])


@pytest.mark.parametrize("run_id", ["grpo-collapse", "long-10k"])
def test_report_of_a_long_run_is_downsampled_like_the_dashboard(run_id: str, fixture_db: Path) -> None:
    from rlwatch.dashboard.report import report_data

    with StoreReader(str(fixture_db)) as reader:
        payload = report_data(reader, run_id)
    for series in payload["metrics"]["series"].values():
        assert len(series["x"]) <= 2000
