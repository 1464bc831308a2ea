"""A throwaway PostgreSQL server in a temporary folder, for tests and benchmarks.

`TemporaryCluster` runs the PostgreSQL server binaries installed on the
machine (Debian's ``postgresql`` package puts them in
``/usr/lib/postgresql/<version>/bin``): ``initdb`` a fresh cluster in a
temporary folder, start it on 127.0.0.1 with a free port and its unix socket
in that folder, create a login role with a password and a database it owns,
and remove everything on `close`. It never touches a cluster the machine
already runs. `stop` / `start` / `restart` let a test take the server away and
bring it back on the same port (an outage).

PostgreSQL refuses to run as root, so when the caller is root the server runs
as the ``postgres`` system user (created by the Debian package), or as a
``rlwatch-pg`` system user created with ``useradd`` when there is none.

Example::

    with TemporaryCluster() as cluster:
        url = cluster.url           # postgresql://rlwatch:...@127.0.0.1:PORT/rlwatch
        ...
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

SERVER_USER_FALLBACK = "rlwatch-pg"
"""System user created to run the server when the caller is root and there is no ``postgres`` user."""

TEST_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
"""Durability settings a throwaway test cluster can do without (faster, never for real data)."""


class ClusterUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (install Debian's ``postgresql`` package)."""


def find_server_bin() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres`` (newest version first), or None."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parent.name.split(".")],
        reverse=True,
    )
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for folder in candidates:
        if all(os.access(os.path.join(folder, tool), os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as (None: run as ourselves, we are not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", SERVER_USER_FALLBACK):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER_FALLBACK],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(SERVER_USER_FALLBACK)


class TemporaryCluster:
    """A PostgreSQL cluster of its own, on 127.0.0.1, removed on `close`.

    Args:
        role: Login role created for clients (password authentication over TCP).
        password: Its password (random when None).
        database: Database created for it, owned by it.
        settings: ``postgresql.conf`` settings added to (and overriding) `TEST_SETTINGS`.
        durable: Keep PostgreSQL's default durability (fsync, synchronous commit)
            instead of `TEST_SETTINGS`; for benchmarks that should look like production.

    Raises:
        ClusterUnavailable: No server binaries are installed.
    """

    def __init__(
        self,
        role: str = "rlwatch",
        password: str | None = None,
        database: str = "rlwatch",
        settings: dict[str, str] | None = None,
        durable: bool = False,
    ) -> None:
        bin_dir = find_server_bin()
        if bin_dir is None:
            raise ClusterUnavailable(
                "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found under /usr/lib/postgresql/*/bin "
                "or on PATH; install Debian's postgresql package"
            )
        self.bin_dir = bin_dir
        self.role = role
        self.password = password or "pw-" + secrets.token_hex(12)
        self.database = database
        self.port = _free_port()
        self.host = "127.0.0.1"
        self.admin = "rlwatch_admin"
        self._settings = ({} if durable else dict(TEST_SETTINGS)) | dict(settings or {})
        self._user = _server_user()
        self.root = Path(tempfile.mkdtemp(prefix="rlwatch-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.logfile = self.root / "server.log"
        self._initialised = False
        try:
            os.chmod(self.root, 0o755)
            self.socket_dir.mkdir()
            if self._user is not None:
                for path in (self.root, self.socket_dir):
                    os.chown(path, self._user.pw_uid, self._user.pw_gid)
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    # -- addresses ----------------------------------------------------------------

    @property
    def url(self) -> str:
        """``postgresql://role:password@127.0.0.1:port/database``."""
        return f"postgresql://{self.role}:{self.password}@{self.host}:{self.port}/{self.database}"

    @property
    def url_without_password(self) -> str:
        """The same URL without the password (libpq then looks in PGPASSWORD or .pgpass)."""
        return f"postgresql://{self.role}@{self.host}:{self.port}/{self.database}"

    def admin_url(self, database: str | None = None) -> str:
        """Superuser connection string over the unix socket (trust authentication)."""
        return f"host={self.socket_dir} port={self.port} user={self.admin} dbname={database or self.database}"

    # -- lifecycle ----------------------------------------------------------------

    def _run(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        if self._user is not None:
            kwargs.update(user=self._user.pw_uid, group=self._user.pw_gid, extra_groups=[])
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root), "LC_ALL": "C.UTF-8"}
        proc = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            **kwargs,
        )
        if proc.returncode != 0:
            tail = self.logfile.read_text(errors="replace")[-2000:] if self.logfile.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip()}\n{tail}")
        return proc

    def _initdb(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", self.admin, "-E", "UTF8", "--no-locale", "--no-sync",
            "--auth-local=trust", "--auth-host=scram-sha-256",
        )
        lines = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.socket_dir}'",
            "max_connections = 200",
            "logging_collector = off",
        ]
        lines += [f"{key} = {value}" for key, value in self._settings.items()]
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# rlwatch TemporaryCluster\n" + "\n".join(lines) + "\n")
        self._initialised = True

    def start(self) -> TemporaryCluster:
        """Initialise (the first time) and start the server; returns when it accepts connections."""
        first = not self._initialised
        if first:
            self._initdb()
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "60", "start")
        if first:
            self._create_role()
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect clients cleanly; ``immediate``: like a crash)."""
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, down_seconds: float = 0.0, mode: str = "fast") -> None:
        """Stop, wait `down_seconds`, start again on the same port."""
        self.stop(mode)
        time.sleep(down_seconds)
        self.start()

    @property
    def running(self) -> bool:
        """True while the server's postmaster.pid exists (pg_ctl status would need the server user)."""
        return (self.data / "postmaster.pid").exists()

    def close(self) -> None:
        """Stop the server (immediately) and delete the folder. Safe to call twice."""
        try:
            if self._initialised and self.running:
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> TemporaryCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- setup ----------------------------------------------------------------------

    def _create_role(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_url("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(self.role), sql.Literal(self.password)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(self.database), sql.Identifier(self.role))
            )

    def execute_admin(self, statement: str, database: str | None = None) -> list[tuple[Any, ...]]:
        """Run one statement as the superuser; returns its rows (empty for none)."""
        import psycopg

        with psycopg.connect(self.admin_url(database), autocommit=True) as conn:
            cur = conn.execute(statement)
            return list(cur.fetchall()) if cur.description else []
