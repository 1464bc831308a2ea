"""Contract: rlwatch-core imports no network library, and the demo runs with the network blocked."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import rlwatch

FORBIDDEN = {"socket", "ssl", "http.client", "urllib.request", "smtplib", "requests", "urllib3", "httpx",
             "aiohttp", "ftplib", "telnetlib", "xmlrpc.client", "asyncio.streams"}
ALLOWED_EXCEPTION = {"http.server", "socketserver"}  # the local dashboard, bound to 127.0.0.1 by default
PACKAGE = Path(rlwatch.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_no_network_imports_in_core() -> None:
    offenders = []
    files = list(PACKAGE.rglob("*.py"))
    assert len(files) > 20
    for path in files:
        for name in _imports(path):
            if name in ALLOWED_EXCEPTION:
                continue
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                rel = path.relative_to(PACKAGE)
                if not (str(rel).startswith("dashboard") and name in ALLOWED_EXCEPTION):
                    offenders.append(f"{rel}: {name}")
    assert not offenders, offenders


BLOCKER = '''
import socket
_real = socket.socket.connect
def _guard(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")):
        return _real(self, address)
    raise OSError("outbound connection blocked by test: %r" % (address,))
socket.socket.connect = _guard
'''


def test_demo_runs_with_outbound_connections_blocked(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-m", "rlwatch", "demo", "--delay", "0", "--log-dir", str(tmp_path / "l")],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "blocked by test" not in out.stderr
    assert (tmp_path / "l" / "metrics.db").exists()


def test_import_is_light() -> None:
    """`import rlwatch` defers numpy and scipy (import-time budget, see benchmarks)."""
    out = subprocess.run([sys.executable, "-c", "import sys, rlwatch; print(sorted(m for m in ('numpy', 'scipy', "
                          "'yaml') if m in sys.modules))"], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
