"""Real local servers for rlwatch-notify tests: HTTP and SMTP on 127.0.0.1.

`LocalHTTPServer` stands in for Slack, Discord, PagerDuty and any webhook. A
test scripts its answers (`reply`, `hang`, `drop`) and reads back every
request it received, with the time it arrived, so retries and backoff are
measured on the wire, not inferred.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from rlwatch.alerts import Alert
from rlwatch.channels.base import RunContext


@dataclass
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float

    def json(self) -> Any:
        """The body parsed as strict JSON (NaN/Infinity tokens are an error)."""

        def reject(token: str) -> Any:
            raise ValueError(f"non-standard JSON token {token}")

        return json.loads(self.body.decode("utf-8"), parse_constant=reject)

    def header(self, name: str) -> str | None:
        """Header value, case-insensitive."""
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class _Action:
    kind: str  # "reply", "hang", "drop"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    seconds: float = 0.0


class LocalHTTPServer:
    """Threaded HTTP server on 127.0.0.1 with scripted answers.

    Unscripted requests get ``default`` (200 "ok").
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.default = _Action("reply")
        self._script: queue.Queue[_Action] = queue.Queue()
        self._arrived = threading.Condition()
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                record = RecordedRequest(
                    self.command, self.path, dict(self.headers.items()), body, time.monotonic()
                )
                with server._arrived:
                    server.requests.append(record)
                    server._arrived.notify_all()
                try:
                    action = server._script.get_nowait()
                except queue.Empty:
                    action = server.default
                if action.kind == "drop":
                    # Close without a status line: the client sees a dropped connection.
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if action.kind == "hang":
                    server._release.wait(action.seconds)
                try:
                    self.send_response(action.status)
                    for name, value in action.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(action.body)))
                    self.end_headers()
                    self.wfile.write(action.body)
                except OSError:  # the client gave up (timeout) before we answered
                    pass

            do_POST = do_PUT = do_PATCH = do_GET = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="test-http", daemon=True
        )

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._httpd.server_address[1])

    def url(self, path: str = "/") -> str:
        """Full URL for `path` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def reply(self, status: int = 200, body: bytes = b"ok", headers: dict[str, str] | None = None) -> None:
        """Script the next answer."""
        self._script.put(_Action("reply", status, headers or {}, body))

    def hang(self, seconds: float, status: int = 200) -> None:
        """Script the next answer to come after `seconds` (released at shutdown)."""
        self._script.put(_Action("hang", status, seconds=seconds))

    def drop(self) -> None:
        """Script the next request to have its connection closed unanswered."""
        self._script.put(_Action("drop"))

    def wait_for(self, count: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Block until `count` requests arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
                self._arrived.wait(left)
            return list(self.requests)

    def start(self) -> LocalHTTPServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hung handlers and stop."""
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[LocalHTTPServer]:
    """A started `LocalHTTPServer`."""
    server = LocalHTTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def make_alert() -> Any:
    """Factory of realistic alerts."""

    def make(severity: str = "critical", detector: str = "loss_nan", **changes: Any) -> Alert:
        values: dict[str, Any] = {
            "detector": detector,
            "severity": severity,
            "step": 120,
            "message": 'Loss is NaN at step 120 (last finite loss 0.412); "quotes" & <angle> brackets',
            "metric_values": {"loss": float("nan"), "grad_norm": float("inf"), "last_finite_loss": 0.412},
            "recommendation": "Lower the learning rate by 10x and enable gradient clipping (max_norm=1.0).",
            "run_id": "grpo-qwen-7",
            "timestamp": 1_764_139_333.0,
            "alert_id": 3,
        }
        values.update(changes)
        return Alert(**values)

    return make


@pytest.fixture
def context() -> RunContext:
    """A run context as the core builds it."""
    return RunContext(run_id="grpo-qwen-7", framework="trl", host="gpu-node-3", db_path="/tmp/x/metrics.db")


FAST = {"backoff_base": 0.05, "backoff_max": 0.2, "timeout": 2.0}
"""Retry settings that keep tests quick while still exercising backoff."""


@pytest.fixture
def fast() -> dict[str, Any]:
    """Retry settings for channel configs that keep tests quick."""
    return dict(FAST)


@dataclass
class SMTPServer:
    """A running aiosmtpd server and what it received."""

    host: str
    port: int
    messages: list[tuple[list[str], Message]]
    logins: list[str]


class _Store:
    """aiosmtpd handler: keeps each message with its envelope recipients."""

    def __init__(self, messages: list[tuple[list[str], Message]]) -> None:
        self.messages = messages

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def tls_files(tmp_path: Any) -> dict[str, Any]:
    """A throwaway CA, and a server certificate for 127.0.0.1/localhost signed by it."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_context = __import__("ssl").create_default_context(__import__("ssl").Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    return {"ca_file": str(ca_file), "server_context": server_context}


def start_smtp(
    *,
    tls_context: Any = None,
    implicit_tls: bool = False,
    users: dict[str, str] | None = None,
) -> tuple[Any, SMTPServer]:
    """Start an aiosmtpd controller on 127.0.0.1; returns (controller, info)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    messages: list[tuple[list[str], Message]] = []
    logins: list[str] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        if not isinstance(auth_data, LoginPassword) or users is None:
            return AuthResult(success=False, handled=False)
        name, password = auth_data.login.decode(), auth_data.password.decode()
        ok = users.get(name) == password
        if ok:
            logins.append(name)
        return AuthResult(success=ok, handled=False)

    kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": _free_port()}
    if implicit_tls:
        kwargs["ssl_context"] = tls_context
    elif tls_context is not None:
        kwargs["tls_context"] = tls_context
        kwargs["require_starttls"] = True
    if users is not None:
        kwargs["authenticator"] = authenticator
        kwargs["auth_require_tls"] = tls_context is not None
    else:
        kwargs["auth_required"] = False
    controller = Controller(_Store(messages), server_hostname="localhost", **kwargs)
    controller.start()
    return controller, SMTPServer("127.0.0.1", kwargs["port"], messages, logins)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_factory() -> Iterator[Any]:
    """``smtp_factory(tls_context=..., implicit_tls=..., users=...)`` -> `SMTPServer`."""
    controllers: list[Any] = []

    def make(**kwargs: Any) -> SMTPServer:
        controller, info = start_smtp(**kwargs)
        controllers.append(controller)
        return info

    yield make
    for controller in controllers:
        controller.stop()
