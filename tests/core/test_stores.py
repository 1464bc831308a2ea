"""Stores by location: `open_store`, and the two team-store hooks (opened stores, replicators).

The plugins here are real, small stores: a URL scheme that reads an SQLite
file, and a replicator that copies the spool to another SQLite file when it
stops. rlwatch-postgres implements the same hooks against PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import rlwatch
from rlwatch import hookimpl, plugins
from rlwatch.errors import ConfigError, StoreError
from rlwatch.storage.reader import StoreReader
from rlwatch.stores import is_url, open_store


class MirrorStorePlugin:
    """``mirror:///path/to/file.db`` opens that SQLite file (``rlwatch_open_store``)."""

    @hookimpl
    def rlwatch_open_store(self, url: str) -> Any:
        if not url.startswith("mirror://"):
            return None
        return StoreReader(url[len("mirror://"):])


class CopyReplicator:
    """Copies the spool to a second SQLite file when stopped (a stand-in team store that is real)."""

    def __init__(self, spool: str, target: str) -> None:
        self.spool, self.target = spool, target
        self.stops = 0

    def stop(self, timeout: float) -> None:
        self.stops += 1
        src = sqlite3.connect(self.spool)
        dst = sqlite3.connect(self.target)
        src.backup(dst)
        src.close()
        dst.close()

    def status(self) -> dict[str, Any]:
        return {"target": self.target, "stops": self.stops}


class CopyPlugin:
    """``copy:///path.db`` starts a `CopyReplicator` (``rlwatch_replicator``)."""

    def __init__(self) -> None:
        self.made: list[CopyReplicator] = []
        self.lock = threading.Lock()

    @hookimpl
    def rlwatch_replicator(self, url: str, spool_path: str) -> Any:
        if not url.startswith("copy://"):
            return None
        with self.lock:
            rep = CopyReplicator(spool_path, url[len("copy://"):])
            self.made.append(rep)
            return rep


@pytest.fixture
def registered() -> Any:
    made: list[str] = []

    def register(plugin: Any, name: str) -> Any:
        plugins.register(plugin, name=name)
        made.append(name)
        return plugin

    yield register
    for name in made:
        plugins.unregister(name)


def test_paths_and_urls_are_told_apart() -> None:
    assert not is_url("./rlwatch_logs/metrics.db") and not is_url("C:/runs/metrics.db")
    assert is_url("postgresql://db.internal/rlwatch") and is_url("file:///tmp/x.db")


def test_open_store_reads_a_plugin_url_with_the_same_api(registered: Any, log_dir: Path, db_path: Path) -> None:
    registered(MirrorStorePlugin(), "mirror")
    m = rlwatch.attach(log_dir=str(log_dir), run_id="r")
    for i in range(5):
        m.log_step(i, loss=1.0)
    m.stop()
    with open_store(f"mirror://{db_path}") as store:
        assert [r.run_id for r in store.runs()] == ["r"]
        assert list(store.metrics("r")["loss"]) == [1.0] * 5
    with open_store(f"file://{db_path}") as store:
        assert store.run("r") is not None


def test_a_url_no_plugin_reads_is_one_clear_error() -> None:
    with pytest.raises(StoreError, match=r"no installed plugin reads postgresql:// stores \(pip install "
                                         r"rlwatch-postgres\): postgresql://\*\*\*@db/x"):
        open_store("postgresql://user:hunter2@db/x")


def test_replicator_is_shared_per_spool_and_stopped_by_the_last_monitor(
    registered: Any, log_dir: Path, tmp_path: Path
) -> None:
    plugin = registered(CopyPlugin(), "copy")
    target = tmp_path / "team.db"
    a = rlwatch.RLWatch(rlwatch.load_config(None, {"run_id": "a", "log_dir": str(log_dir),
                                                    "storage": {"url": f"copy://{target}"}})).start()
    b = rlwatch.RLWatch(rlwatch.load_config(None, {"run_id": "b", "log_dir": str(log_dir),
                                                    "storage": {"url": f"copy://{target}"}})).start()
    for i in range(3):
        a.log_step(i, loss=1.0)
        b.log_step(i, loss=2.0)
    a.stop()
    assert len(plugin.made) == 1 and plugin.made[0].stops == 0
    b.stop()
    assert plugin.made[0].stops == 1
    with StoreReader(str(target)) as team:
        assert sorted(r.run_id for r in team.runs()) == ["a", "b"]


def test_storage_url_without_a_plugin_fails_at_attach(log_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"no installed plugin handles 'nosuch' URLs"):
        rlwatch.attach(log_dir=str(log_dir), run_id="x", storage={"url": "nosuch://user:pw@host/db"})


def test_cli_db_url_without_plugin_says_what_to_install(rlwatch_cmd: str, tmp_path: Path) -> None:
    out = subprocess.run([rlwatch_cmd, "runs", "--db", "postgresql://u:secretpw@db.example/rl"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 3
    assert "pip install rlwatch-postgres" in out.stderr and "secretpw" not in out.stderr + out.stdout
    assert "Traceback" not in out.stderr
