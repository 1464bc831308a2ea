"""`rlwatch report`: one self-contained HTML file describing a run.

The file holds everything it needs: plotly.js (from the installed ``plotly``
package, the optional extra ``rlwatch-core[dashboard]``), the dashboard's own
chart code, the stylesheet, and the run's data as a JSON block. It opens
offline in any browser and can be attached to a bug report or an email. A
Content-Security-Policy in the file forbids every network request, so opening
it never reaches out anywhere.

The charts are drawn by the same code and from the same (downsampled) series
as the dashboard's run page, so a report and the dashboard show the same
points and the same alert markers.
"""

from __future__ import annotations

import html
import os
import re
import time
from pathlib import Path
from typing import Any

from rlwatch._version import __version__
from rlwatch.dashboard import data
from rlwatch.dashboard.assets import plotly_js_path, read_text
from rlwatch.dashboard.downsample import DEFAULT_MAX_POINTS

REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'"
)
"""No request of any kind may leave an opened report."""


def default_filename(run_id: str) -> str:
    """``rlwatch-report-<run>.html`` with the run id made safe for a file name."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("._")[:80] or "run"
    return f"rlwatch-report-{safe}.html"


def report_data(reader: data.Reader, run_id: str, max_points: int = DEFAULT_MAX_POINTS) -> dict[str, Any]:
    """Everything the report draws, as one JSON-ready dict.

    Raises:
        rlwatch.dashboard.data.NotFound: No run with this id.
    """
    return {
        "run": data.run_payload(reader, run_id),
        "metrics": data.metrics_payload(reader, run_id, max_points=max_points),
        "alerts": data.alerts_payload(reader, run_id)["alerts"],
        "diagnosis": data.diagnosis_payload(reader, run_id),
        "generated_at": time.time(),
        "rlwatch_version": __version__,
    }


def _script_safe(source: str) -> str:
    # Inline <script> ends at the first "</script"; no well-formed JS needs
    # that sequence outside a string, where "<\/" means the same thing.
    return re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE)


def _json_block(payload: Any) -> str:
    # JSON inside HTML: escape the characters that could end the element or
    # start markup; JSON.parse reads the \u escapes back as the same text.
    text = data.dumps(payload)
    for char in ("<", ">", "&", "\u2028", "\u2029"):
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def render_report(payload: dict[str, Any]) -> str:
    """The complete HTML document for `payload` (see `report_data`)."""
    run_id = str(payload["run"]["run_id"])
    scripts = [
        plotly_js_path().read_text(encoding="utf-8"),
        read_text("common.js"),
        read_text("charts.js"),
        read_text("report.js"),
    ]
    parts = [
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        f'<meta http-equiv="Content-Security-Policy" content="{REPORT_CSP}">\n',
        '<meta name="referrer" content="no-referrer">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>rlwatch report · {html.escape(run_id)}</title>\n",
        f"<style>\n{read_text('style.css')}\n</style>\n</head>\n<body>\n",
        '<main id="app"><p class="muted">Loading the charts… (this report needs JavaScript)</p></main>\n',
        f'<script type="application/json" id="rlwatch-data">{_json_block(payload)}</script>\n',
    ]
    parts.extend(f"<script>\n{_script_safe(src)}\n</script>\n" for src in scripts)
    parts.append("</body>\n</html>\n")
    return "".join(parts)


def write_report(reader: data.Reader, run_id: str, output: str | os.PathLike[str]) -> int:
    """Write the report of `run_id` to `output`; returns its size in bytes.

    Raises:
        rlwatch.dashboard.data.NotFound: No run with this id.
        rlwatch.dashboard.assets.MissingExtra: plotly is not installed.
        OSError: The file cannot be written.
    """
    document = render_report(report_data(reader, run_id)).encode("utf-8")
    path = Path(output)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(document)
    os.replace(tmp, path)  # never leave a half-written report behind
    return len(document)
