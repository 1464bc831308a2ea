"""The dashboard's HTTP server: standard library only, GET only, read-only.

Pages are static HTML shells that fetch JSON from ``/api/...`` and draw it
with plotly.js served from the installed ``plotly`` package; nothing from the
database is ever spliced into HTML on the server. Each request opens its own
read-only `StoreReader` (SQLite connections are per thread, and
`ThreadingHTTPServer` gives each request a thread), so a training process can
keep writing the same file.

Bound to 127.0.0.1 unless told otherwise. While bound to loopback, requests
whose ``Host`` header is not a loopback name are refused, so a web page on
another origin cannot reach the dashboard through DNS rebinding.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rlwatch._version import __version__
from rlwatch.dashboard import data, export
from rlwatch.dashboard.assets import STATIC_DIR, plotly_js_path
from rlwatch.dashboard.cache import PayloadCache, metrics_key, run_state
from rlwatch.dashboard.downsample import DEFAULT_MAX_POINTS
from rlwatch.dashboard.inflight import SHUTDOWN_WAIT_SECONDS, InFlight
from rlwatch.errors import StoreError

logger = logging.getLogger("rlwatch")

PAGES: dict[str, str] = {
    "/": "index.html",
    "/run": "run.html",
    "/compare": "compare.html",
    "/timeline": "timeline.html",
}
"""URL path -> HTML shell in ``static/``."""

CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

# Everything comes from this origin; plotly needs inline styles (it sets
# them on the chart nodes) and data: images for its toolbar icons.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

MAX_POINTS_LIMIT = 50_000
"""Upper bound of the ``points`` query parameter (protects the browser)."""

STEP_LIMIT = 2**63 - 1
"""``start``/``end`` beyond +-this are refused: steps are SQLite 64-bit integers."""

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """The name part of a ``Host`` header: ``"[::1]:8501"`` -> ``"::1"``."""
    host = host_header.strip()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class DashboardServer(ThreadingHTTPServer):
    """A `ThreadingHTTPServer` that knows the database and the plotly bundle."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], db_path: str | Path, plotly_js: Path) -> None:
        """Bind ``address`` and serve the store at ``db_path`` (a SQLite file or a team-store URL) read-only."""
        self.db_path = str(db_path)
        self.plotly_js = Path(plotly_js)
        self.loopback_only = is_loopback(address[0])
        self.cache = PayloadCache()
        self.store_problems: set[str] = set()
        """Store errors already logged: a polling page would repeat the same one every few seconds."""
        self.inflight = InFlight()  # answers and warm-up in progress, waited for at shutdown
        super().__init__(address, DashboardHandler)

    def warm(self, max_runs: int = 3) -> threading.Thread:
        """Compute the overview of the most recently updated runs in the background.

        The common first click (the newest run) is then served from memory
        instead of waiting for SQLite; errors only mean a cold first load.
        """

        def work() -> None:
            from rlwatch.stores import open_store

            try:
                with self.inflight.working(), open_store(self.db_path) as reader:
                    for info in reader.runs()[:max_runs]:
                        if self.inflight.stopping.is_set():
                            return
                        key = run_state(info) + metrics_key(None, None, None, DEFAULT_MAX_POINTS)
                        self.cache.get_or_compute(
                            key, lambda: _encode(data.metrics_payload(reader, info.run_id))  # noqa: B023
                        )
            except Exception:
                logger.debug("dashboard: cache warm-up failed", exc_info=True)

        thread = threading.Thread(target=work, name="rlwatch-dashboard-warm", daemon=True)
        thread.start()
        return thread

    @property
    def url(self) -> str:
        """The base URL to open in a browser."""
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}/"


class HTTPError(Exception):
    """Raised by a route to answer with an error status and a JSON message."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class DashboardHandler(BaseHTTPRequestHandler):
    """Routes GET requests to pages, static files and the JSON API."""

    server: DashboardServer
    server_version = f"rlwatch-dashboard/{__version__}"
    protocol_version = "HTTP/1.1"

    # -- methods -------------------------------------------------------------

    def do_GET(self) -> None:
        """Answer a GET request."""
        self._handle(send_body=True)

    def do_HEAD(self) -> None:
        """Answer a HEAD request (GET without the body)."""
        self._handle(send_body=False)

    def _refuse_method(self) -> None:
        # Nothing writes: every other verb is refused before any routing.
        error = {"error": "only GET is allowed"}
        self._send_json(error, HTTPStatus.METHOD_NOT_ALLOWED, True, {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method

    def log_message(self, format: str, *args: Any) -> None:
        """Send the access log to the ``rlwatch`` logger at debug level."""
        logger.debug("dashboard %s - %s", self.address_string(), format % args)

    # -- routing -------------------------------------------------------------

    def _handle(self, send_body: bool) -> None:
        with self.server.inflight.working():
            self._answer(send_body)

    def _answer(self, send_body: bool) -> None:
        started = time.perf_counter()
        try:
            self._check_host()
            url = urlsplit(self.path)
            query = {k: v for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            path = url.path
            if path in PAGES:
                self._send_file(STATIC_DIR / PAGES[path], send_body, cache=False)
            elif path == "/static/plotly.min.js":
                self._send_file(self.server.plotly_js, send_body, cache=True)
            elif path.startswith("/static/"):
                self._send_file(self._static(path[len("/static/") :]), send_body, cache=False)
            elif path.startswith("/api/"):
                self._api(path[len("/api/") :], query, send_body)
            elif path == "/favicon.ico":
                self._send_bytes(b"", "image/x-icon", HTTPStatus.NO_CONTENT, send_body, cache=True)
            else:
                raise HTTPError(HTTPStatus.NOT_FOUND, "no such page")
        except HTTPError as exc:
            self._send_json({"error": exc.message}, exc.status, send_body)
        except StoreError as exc:
            # The file is damaged, replaced or newer than this rlwatch: the user's data, not a bug here.
            # 503: nothing is wrong with the request, the store cannot serve it (the page shows the message).
            self._log_store_problem(str(exc))
            self._send_json({"error": str(exc)}, HTTPStatus.SERVICE_UNAVAILABLE, send_body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away (page reload mid-poll); nothing to answer
        except Exception:
            logger.exception("dashboard: error answering %s", self.path)
            error = {"error": "internal error (see the dashboard's log)"}
            self._send_json(error, HTTPStatus.INTERNAL_SERVER_ERROR, send_body)
        finally:
            logger.debug("dashboard %s took %.1f ms", self.path, 1000 * (time.perf_counter() - started))

    def _check_host(self) -> None:
        if not self.server.loopback_only:
            return
        if not is_loopback(host_name(self.headers.get("Host") or "")):
            raise HTTPError(HTTPStatus.FORBIDDEN, "the dashboard answers only to loopback host names")

    def _static(self, name: str) -> Path:
        # Only plain file names that exist in the package's static folder.
        if "/" in name or "\\" in name or name.startswith("."):
            raise HTTPError(HTTPStatus.NOT_FOUND, "no such file")
        path = STATIC_DIR / name
        if not path.is_file():
            raise HTTPError(HTTPStatus.NOT_FOUND, "no such file")
        return path

    def _api(self, route: str, query: dict[str, list[str]], send_body: bool) -> None:
        from rlwatch.redaction import redact_url
        from rlwatch.stores import open_store

        if route == "health":
            health = {"ok": True, "version": __version__, "db": redact_url(self.server.db_path)}
            self._send_json(health, HTTPStatus.OK, send_body)
            return
        reader = open_store(self.server.db_path)
        try:
            if route == "runs":
                payload: Any = data.runs_payload(reader)
            elif route == "run":
                payload = data.run_payload(reader, _required(query, "run"))
            elif route == "diagnosis":
                run_id = _required(query, "run")
                payload = self._cached(
                    reader, run_id, ("diagnosis",), lambda: _encode(data.diagnosis_payload(reader, run_id))
                )
            elif route == "metrics":
                payload = self._metrics(reader, query)
            elif route == "alerts":
                only = _optional(query, "run")
                if only is not None and reader.run(only) is None:
                    raise data.NotFound(only)
                payload = data.alerts_payload(reader, only)
            elif route == "export":
                self._export(reader, query, send_body)
                return
            else:
                raise HTTPError(HTTPStatus.NOT_FOUND, "no such API endpoint")
        except data.NotFound as exc:
            raise HTTPError(HTTPStatus.NOT_FOUND, f"no run {exc.args[0]!r} in this database") from exc
        finally:
            reader.close()
        self._send_json(payload, HTTPStatus.OK, send_body)

    def _cached(self, reader: Any, run_id: str, what: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        info = reader.run(run_id)
        if info is None:
            raise data.NotFound(run_id)
        return self.server.cache.get_or_compute(run_state(info) + what, compute)

    def _metrics(self, reader: Any, query: dict[str, list[str]]) -> bytes:
        run_id = _required(query, "run")
        names = query.get("name") or None
        points = _int(query, "points", DEFAULT_MAX_POINTS)
        if not 4 <= points <= MAX_POINTS_LIMIT:
            raise HTTPError(HTTPStatus.BAD_REQUEST, f"points must be between 4 and {MAX_POINTS_LIMIT}")
        start = _int(query, "start", None)
        end = _int(query, "end", None)
        key = metrics_key(names, start, end, points)
        result: bytes = self._cached(
            reader,
            run_id,
            key,
            lambda: _encode(data.metrics_payload(reader, run_id, names=names, start=start, end=end, max_points=points)),
        )
        return result

    def _export(self, reader: Any, query: dict[str, list[str]], send_body: bool) -> None:
        run_id = _required(query, "run")
        fmt = _optional(query, "format") or "csv"
        if fmt not in ("csv", "jsonl"):
            raise HTTPError(HTTPStatus.BAD_REQUEST, "format must be csv or jsonl")
        chunks = export.export_chunks(reader, run_id, fmt)
        first = next(chunks)  # raises NotFound before any header is sent
        safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)[:80] or "run"
        ctype = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson; charset=utf-8"
        self.send_response(HTTPStatus.OK)
        self._common_headers(ctype, cache=False)
        self.send_header("Content-Disposition", f'attachment; filename="{safe_name}.{fmt}"')
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if not send_body:
            return
        try:
            self._write_chunks(_prepend(first, chunks))
        except StoreError as exc:
            # Damage met after the 200 went out: end the connection without the final chunk, so the
            # download is seen as incomplete instead of ending in an error page spliced into the file.
            self._log_store_problem(f"export of {run_id!r} stopped: {exc}")
            self.close_connection = True

    def _log_store_problem(self, message: str) -> None:
        # One warning line per distinct problem (no traceback: the file is at fault, not the code).
        first = message not in self.server.store_problems
        self.server.store_problems.add(message)
        logger.log(logging.WARNING if first else logging.DEBUG, "dashboard: %s", message)

    # -- responses -----------------------------------------------------------

    def _write_chunks(self, chunks: Iterable[str]) -> None:
        for text in chunks:
            body = text.encode("utf-8")
            if body:
                self.wfile.write(f"{len(body):x}\r\n".encode("ascii") + body + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def _common_headers(self, content_type: str, cache: bool) -> None:
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "max-age=86400" if cache else "no-store")

    def _send_bytes(
        self,
        body: bytes,
        content_type: str,
        status: HTTPStatus,
        send_body: bool,
        cache: bool = False,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self._common_headers(content_type, cache)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)

    def _send_json(
        self, payload: Any, status: HTTPStatus, send_body: bool, extra: dict[str, str] | None = None
    ) -> None:
        body = payload if isinstance(payload, bytes) else _encode(payload)
        self._send_bytes(body, "application/json; charset=utf-8", status, send_body, extra=extra)

    def _send_file(self, path: Path, send_body: bool, cache: bool) -> None:
        ctype = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
        self._send_bytes(path.read_bytes(), ctype, HTTPStatus.OK, send_body, cache=cache)


def _encode(payload: Any) -> bytes:
    return data.dumps(payload).encode("utf-8")


def _prepend(first: str, rest: Iterable[str]) -> Iterable[str]:
    yield first
    yield from rest


def _optional(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def _required(query: dict[str, list[str]], key: str) -> str:
    value = _optional(query, key)
    if value is None:
        raise HTTPError(HTTPStatus.BAD_REQUEST, f"missing query parameter {key!r}")
    return value


def _int(query: dict[str, list[str]], key: str, default: int | None) -> Any:
    """A whole-number query parameter (``10``, ``10.0``, ``1e3``), else 400 (``abc``, ``inf``, ``1e309``, ``2.5``)."""
    value = _optional(query, key)
    if value is None or value == "":
        return default
    bad = HTTPError(HTTPStatus.BAD_REQUEST, f"{key} must be a whole number, not {value[:40]!r}")
    try:
        number = int(value)
    except ValueError:
        try:
            as_float = float(value)
        except ValueError:
            raise bad from None
        if not as_float.is_integer():  # also false for inf and nan
            raise bad from None
        number = int(as_float)
    if not -STEP_LIMIT - 1 <= number <= STEP_LIMIT:
        raise HTTPError(HTTPStatus.BAD_REQUEST, f"{key} is out of range: {value[:40]!r}")
    return number


def make_server(db_path: str | Path, host: str = "127.0.0.1", port: int = 8501) -> DashboardServer:
    """Create (and bind) a dashboard server; call ``serve_forever()`` on it.

    Args:
        db_path: The SQLite file, or a team-store URL, to show (opened read-only per request).
        host: Interface to bind; anything but loopback exposes the runs to
            the network (the CLI warns).
        port: TCP port; 0 picks a free one (see ``server.url``).

    Raises:
        rlwatch.dashboard.assets.MissingExtra: plotly is not installed.
        FileNotFoundError: ``db_path`` does not exist.
        OSError: The address cannot be bound.
    """
    from rlwatch.stores import is_url

    location = str(db_path)
    if not is_url(location) and not Path(location).is_file():
        raise FileNotFoundError(f"no rlwatch database at {location}")
    return DashboardServer((host, port), location, plotly_js_path())


def serve(
    db_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 8501,
    on_ready: Callable[[DashboardServer], None] | None = None,
) -> None:
    """Serve until interrupted (Ctrl+C returns normally)."""
    server = make_server(db_path, host, port)
    server.warm()
    try:
        if on_ready is not None:
            on_ready(server)
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if not server.inflight.wait_idle(SHUTDOWN_WAIT_SECONDS):
            logger.warning("rlwatch dashboard: stopped with answers in progress after %.0f s", SHUTDOWN_WAIT_SECONDS)
