"""Fixtures shared by every package's tests.

The autouse `_no_swallowed_errors` fixture is the test-side half of the
never-raise contract: production code swallows internal errors at its
boundaries, and here every swallowed error fails the test, unless the test
is marked ``@pytest.mark.expect_internal_error``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rlwatch import guard


@pytest.fixture(autouse=True)
def _no_swallowed_errors(request: pytest.FixtureRequest) -> Iterator[list[tuple[str, BaseException]]]:
    caught: list[tuple[str, BaseException]] = []

    def listener(where: str, exc: BaseException) -> None:
        caught.append((where, exc))

    guard.add_listener(listener)
    try:
        yield caught
    finally:
        guard.remove_listener(listener)
    if caught and request.node.get_closest_marker("expect_internal_error") is None:
        where, exc = caught[0]
        pytest.fail(f"rlwatch swallowed an internal error in {where}: {type(exc).__name__}: {exc}", pytrace=False)


@pytest.fixture
def swallowed(_no_swallowed_errors: list[tuple[str, BaseException]]) -> list[tuple[str, BaseException]]:
    """The internal errors swallowed so far in this test (for expect_internal_error tests)."""
    return _no_swallowed_errors


@pytest.fixture(autouse=True)
def _isolated_monitors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Every test runs in its own folder (./rlwatch_logs lands there) with no
    # stray RLWATCH_* settings from the developer's shell.
    for key in list(os.environ):
        if key.startswith("RLWATCH_") and key != "RLWATCH_TEST_PLUGINS_INSTALLED":
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    yield
    from rlwatch import logsink
    from rlwatch.api import _reset_for_tests

    _reset_for_tests()
    # rlwatch's own log records are handled on a background thread: deliver this test's
    # records while this test's log capture is still in place, not into the next test's.
    logsink.flush(2.0)


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """A fresh log directory."""
    d = tmp_path / "logs"
    d.mkdir()
    return d


@pytest.fixture
def db_path(log_dir: Path) -> Path:
    """The SQLite path inside `log_dir`."""
    return log_dir / "metrics.db"


@pytest.fixture
def rlwatch_cmd() -> str:
    """The installed `rlwatch` console script of the interpreter running the tests."""
    import shutil
    import sys

    beside = Path(sys.executable).parent / "rlwatch"
    return str(beside) if beside.exists() else (shutil.which("rlwatch") or "rlwatch")


@pytest.fixture
def obeying_permissions() -> Callable[[Path], Callable[[], None] | None]:
    """``check(read_only_dir)`` -> a ``preexec_fn`` under which subprocesses obey file permissions.

    Root ignores ``chmod``: as root, the subprocess drops CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH from its capability bounding set before it starts, so
    a 0555 folder and a 0444 file are as read-only to it as to any user.
    ``check`` proves it by trying to create a file in `read_only_dir` under
    that ``preexec_fn``, and skips the test when the write still succeeds.
    """
    preexec: Callable[[], None] | None = None
    if os.geteuid() == 0:
        import ctypes

        # Resolved here, in the parent: the child only calls it (no imports or loading after fork).
        prctl = ctypes.CDLL(None, use_errno=True).prctl

        def drop_capabilities() -> None:
            for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
                prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP; a failure shows in the probe below

        preexec = drop_capabilities

    def check(read_only_dir: Path) -> Callable[[], None] | None:
        import subprocess
        import sys

        probe = read_only_dir / "write-probe"
        out = subprocess.run([sys.executable, "-c", "import sys; open(sys.argv[1], 'w').close()", str(probe)],
                             preexec_fn=preexec, capture_output=True, timeout=60)
        if out.returncode == 0:
            probe.unlink()
            pytest.skip("chmod has no effect here (root whose DAC capabilities cannot be dropped)")
        return preexec

    return check
