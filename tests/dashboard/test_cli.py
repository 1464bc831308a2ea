"""`rlwatch dashboard` and `rlwatch report` as a user runs them: the installed command."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

from .build_fixture import XSS_RUN

# Makes `import plotly` (and find_spec) fail exactly as when it is not installed.
BLOCK_PLOTLY = (
    "import sys; sys.modules['plotly'] = None; from rlwatch.cli.main import main; sys.exit(main(sys.argv[1:]))"
)


def _start_dashboard(rlwatch_cmd: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([rlwatch_cmd, "dashboard", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"at (http://\S+/)", line)
    assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, match.group(1)


def _get(url: str, path: str) -> tuple[int, bytes]:
    port = url.split("//")[1].rstrip("/").rsplit(":", 1)[1]
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp.status, resp.read()


def test_dashboard_command_serves_and_stops_cleanly_on_ctrl_c(rlwatch_cmd: str, fixture_db: Path) -> None:
    proc, url = _start_dashboard(rlwatch_cmd, "--db", str(fixture_db), "--port", "0")
    try:
        assert url.startswith("http://127.0.0.1:")
        status, body = _get(url, "/api/runs")
        assert status == 200 and len(json.loads(body)["runs"]) == 4
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "WARNING" not in err


def test_dashboard_warns_before_binding_a_public_interface(rlwatch_cmd: str, fixture_db: Path) -> None:
    proc, _ = _start_dashboard(rlwatch_cmd, "--db", str(fixture_db), "--host", "0.0.0.0", "--port", "0")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    assert "WARNING: binding 0.0.0.0" in err and "no login" in err


def test_dashboard_refuses_a_missing_database_without_creating_it(rlwatch_cmd: str, tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    result = subprocess.run([rlwatch_cmd, "dashboard", "--db", str(missing), "--port", "0"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 3 and "no rlwatch database" in result.stderr
    assert not missing.exists()


def test_without_the_extra_both_commands_say_what_to_install(fixture_db: Path, tmp_path: Path) -> None:
    for args in (["dashboard", "--db", str(fixture_db)], ["report", "grpo-collapse", "--db", str(fixture_db),
                                                           "-o", str(tmp_path / "r.html")]):
        result = subprocess.run([sys.executable, "-c", BLOCK_PLOTLY, *args], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 4, result.stderr
        assert "pip install 'rlwatch-core[dashboard]'" in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_report_is_one_offline_file_with_everything_escaped(rlwatch_cmd: str, fixture_db: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "xss.html"
    result = subprocess.run([rlwatch_cmd, "report", XSS_RUN, "--db", str(fixture_db), "-o", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    # Nothing is fetched: no external src/href in the markup (script bodies are
    # inline code; the browser test records what they request: nothing), and a
    # CSP that forbids any request anyway.
    markup = re.sub(r"<script>.*?</script>", "", text, flags=re.S)
    assert "<script src" not in markup and not re.search(r"(src|href)=[\"']?(https?:)?//", markup)
    assert "default-src 'none'" in text and "connect-src 'none'" in text
    # The payloads exist only escaped (JSON \u003c escapes, HTML entities in the title).
    assert "<img src=x" not in text and "<script>alert(4)" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "\\u003cimg src=x onerror=alert(2)\\u003e" in text


def test_report_defaults(rlwatch_cmd: str, fixture_db: Path, tmp_path: Path) -> None:
    # No run given: the most recent one, into rlwatch-report-<run>.html in the current folder.
    result = subprocess.run([rlwatch_cmd, "report", "--db", str(fixture_db)], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.glob("*.html")] == ["rlwatch-report-long-10k.html"]
    result = subprocess.run([rlwatch_cmd, "report", "nope", "--db", str(fixture_db)], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 3 and "no run 'nope'" in result.stderr
