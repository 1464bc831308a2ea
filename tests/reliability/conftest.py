"""The reliability session's scenario table.

Each scenario test calls ``record(name, tried, numbers)``; the terminal
summary prints one line per scenario with pass/fail from the test outcome,
then a summary. The table is also written to
``tests/reliability/results.json`` for RELIABILITY.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

_ROWS: dict[str, dict[str, Any]] = {}


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Any:
    """``record(tried="...", **numbers)`` for the current scenario."""

    def _record(tried: str, **numbers: Any) -> None:
        _ROWS[request.node.nodeid] = {"scenario": request.node.name, "tried": tried, "numbers": numbers,
                                      "passed": None}

    return _record


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" or (rep.when == "setup" and rep.failed):
        row = _ROWS.setdefault(item.nodeid, {"scenario": item.name, "tried": "", "numbers": {}, "passed": None})
        row["passed"] = rep.passed if not rep.skipped else None
        if rep.skipped:
            row["tried"] = row["tried"] or "skipped"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _ROWS:
        return
    tr = terminalreporter
    tr.write_sep("=", "rlwatch reliability scenarios")
    tr.write_line(f"{'scenario':44} {'result':7} what was tried / numbers")
    ok = bad = skipped = 0
    for row in _ROWS.values():
        result = {True: "PASS", False: "FAIL", None: "SKIP"}[row["passed"]]
        ok += row["passed"] is True
        bad += row["passed"] is False
        skipped += row["passed"] is None
        numbers = ", ".join(f"{k}={_fmt(v)}" for k, v in row["numbers"].items())
        tr.write_line(f"{row['scenario'][:44]:44} {result:7} {row['tried']}")
        if numbers:
            tr.write_line(f"{'':52} {numbers}")
    tr.write_line(f"summary: {ok} passed, {bad} failed, {skipped} skipped")
    out = Path(__file__).parent / "results.json"
    try:
        out.write_text(json.dumps(list(_ROWS.values()), indent=1, default=str))
    except OSError:
        pass


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
