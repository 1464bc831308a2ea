"""One HTTP endpoint, sent to reliably: the transport of every HTTP channel.

`HttpEndpoint.send` makes one request per try through a `requests.Session`
and classifies the answer for `rlwatch_notify.retry.deliver`:

========================  ==========================================
answer                    what happens
========================  ==========================================
2xx                       delivered
429                       retried after ``Retry-After`` (or backoff)
5xx                       retried after ``Retry-After`` if given, else backoff
other 3xx/4xx             failed at once (redirects are not followed:
                          a webhook that redirects is misconfigured)
timeout, refused, reset   retried with backoff
========================  ==========================================

Failure details name the status or the exception *class* only: requests'
exception messages contain the URL, and the URL is the secret.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Mapping

import requests
from rlwatch.channels.base import Delivery

from rlwatch_notify import redact
from rlwatch_notify._version import __version__
from rlwatch_notify.retry import Attempt, CircuitBreaker, RetryPolicy, deliver

USER_AGENT = f"rlwatch-notify/{__version__}"
"""User-Agent sent with every request."""

# A response body is read only to put a short hint in the delivery detail
# (Slack answers e.g. "no_service"); never read more than this.
_BODY_HINT_CHARS = 60


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date).

    Returns None when the header is absent or unreadable.
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


class HttpEndpoint:
    """An URL plus everything needed to deliver to it.

    Args:
        name: Channel name (for the breaker's log lines).
        url: Target URL; registered as a secret so it never reaches a log.
        method: HTTP method.
        headers: Extra request headers (values are treated as secrets).
        timeout: Seconds allowed to connect, and to wait for each read.
        policy: Retry policy.
        breaker: Circuit breaker; a new one from defaults when omitted.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.method = method.upper()
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.breaker = breaker or CircuitBreaker(name)
        self._stop = threading.Event()
        self._rng = random.Random()
        self._session = requests.Session()
        redact.install_log_scrubber()
        redact.register_url_secrets(url)
        for value in self.headers.values():
            redact.register_secret(value)

    def send_json(
        self,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        policy: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> Delivery:
        """Deliver an already-serialised JSON body with retries.

        Args:
            body: Request body bytes.
            headers: Headers for this request only (e.g. a signature).
            policy: Retry policy for this request only (default: the endpoint's).
            timeout: Per-try timeout for this request only (default: the endpoint's).
        """
        merged = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        merged.update(self.headers)
        merged.update(headers or {})
        return deliver(
            lambda: self._try_once(body, merged, timeout or self.timeout),
            policy or self.policy,
            self.breaker,
            self._stop,
            self._rng,
        )

    def _try_once(self, body: bytes, headers: Mapping[str, str], timeout: float) -> Attempt:
        try:
            response = self._session.request(
                self.method,
                self.url,
                data=body,
                headers=dict(headers),
                timeout=(timeout, timeout),
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            return Attempt(False, retryable=True, detail=type(exc).__name__)
        except requests.ConnectionError as exc:
            return Attempt(False, retryable=True, detail=type(exc).__name__)
        except requests.RequestException as exc:
            return Attempt(False, retryable=False, detail=type(exc).__name__)
        with response:
            return _classify(response)

    def close(self) -> None:
        """Interrupt any backoff wait and release pooled connections."""
        self._stop.set()
        self._session.close()


def _classify(response: requests.Response) -> Attempt:
    code = response.status_code
    detail = f"HTTP {code}"
    if 200 <= code < 300:
        return Attempt(True, detail=detail)
    hint = _body_hint(response)
    if hint:
        detail = f"{detail} {hint}"
    if code == 429 or code >= 500:
        # 429 and 503 usually say how long to wait; other 5xx get the backoff.
        return Attempt(
            False,
            retryable=True,
            detail=detail,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    return Attempt(False, retryable=False, detail=detail)


def _body_hint(response: requests.Response) -> str:
    """First words of an error body, scrubbed of secrets, or ``""``."""
    try:
        text = response.text[:_BODY_HINT_CHARS]
    except (ValueError, LookupError):  # undecodable body or unknown charset: the status says enough
        return ""
    text = " ".join(text.split())
    if not text or text.lstrip().startswith("<"):  # an HTML error page is noise
        return ""
    return "(" + redact.scrub(text) + ")"
