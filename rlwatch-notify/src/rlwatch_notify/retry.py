"""Retries, backoff and the circuit breaker shared by every channel.

A channel turns one try into an `Attempt` (delivered, or failed and whether a
retry could help); `deliver` runs the tries:

* a retryable failure (connection error, timeout, HTTP 5xx, SMTP 4xx) is
  retried after an exponential backoff with jitter, up to
  ``RetryPolicy.max_attempts`` tries in all;
* HTTP 429 waits for the server's ``Retry-After`` instead (a wait longer than
  ``max_retry_after`` gives up rather than holding the queue);
* anything else (HTTP 4xx, bad credentials) fails at once: trying again
  would only repeat the error.

Every try's outcome feeds a `CircuitBreaker`. After ``threshold`` failed
tries in a row it opens: sends then return ``Delivery("failed", 0,
"circuit open")`` immediately, so a dead endpoint does not eat the queue. Once
the cooldown has passed, the next send is a single probe; success closes the
breaker, failure opens it again for twice as long (up to ``max_cooldown``).

All of this runs on the channel's dispatcher thread, never the training
thread, so sleeping here is allowed; sleeps go through a `threading.Event` so
`close()` can cut them short.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from rlwatch.channels.base import Delivery

logger = logging.getLogger("rlwatch.notify")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one delivery is retried.

    Attributes:
        max_attempts: Tries per delivery, the first included (>= 1).
        backoff_base: Delay before the first retry, in seconds; doubles per retry.
        backoff_max: Ceiling for one backoff delay, in seconds.
        jitter: Fraction of each delay that is random (0 = none, 1 = all),
            so many processes hitting one endpoint do not retry in lockstep.
        max_retry_after: Longest ``Retry-After`` honoured; longer gives up.
    """

    max_attempts: int = 4
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 60.0

    def backoff(self, retry_index: int, rng: random.Random) -> float:
        """Delay before retry number `retry_index` (0 for the first retry)."""
        ceiling = min(self.backoff_max, self.backoff_base * (2.0**retry_index))
        return ceiling * (1.0 - self.jitter * rng.random())


@dataclass(frozen=True)
class Attempt:
    """Outcome of one try.

    Attributes:
        ok: The service accepted the message.
        retryable: A later try might succeed (ignored when ``ok``).
        detail: Short, secret-free reason such as ``"HTTP 503"``.
        retry_after: Seconds the service asked us to wait, when it said so.
    """

    ok: bool
    retryable: bool = False
    detail: str = ""
    retry_after: float | None = None


class CircuitBreaker:
    """Pauses a channel that keeps failing, then probes it again.

    Thread-safe: the dispatcher thread sends while `run_finished` may run on
    another thread.

    Args:
        name: Channel name, for log lines.
        threshold: Consecutive failed tries that open the breaker.
        cooldown: Seconds the breaker stays open the first time.
        max_cooldown: Ceiling for the doubling cooldown.
        clock: Monotonic time source (tests pass their own).
    """

    def __init__(
        self,
        name: str,
        threshold: int = 5,
        cooldown: float = 60.0,
        max_cooldown: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.threshold = max(1, threshold)
        self.base_cooldown = cooldown
        self.max_cooldown = max(cooldown, max_cooldown)
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until: float | None = None
        self._cooldown = cooldown
        self._probing = False

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"`` (cooldown over, probe due)."""
        with self._lock:
            if self._open_until is None:
                return "closed"
            if self._probing or self._clock() >= self._open_until:
                return "half-open"
            return "open"

    def allow(self) -> bool:
        """Whether a try may go out now."""
        with self._lock:
            if self._open_until is None:
                return True
            if self._clock() >= self._open_until:
                self._probing = True
                return True
            return False

    def record_success(self) -> None:
        """A try succeeded: close the breaker and forget past failures."""
        with self._lock:
            was_open = self._open_until is not None
            self._failures = 0
            self._open_until = None
            self._probing = False
            self._cooldown = self.base_cooldown
        if was_open:
            logger.warning("rlwatch-notify: channel %s is delivering again", self.name)

    def record_failure(self) -> None:
        """A try failed: count it, and open (or re-open) the breaker if due."""
        with self._lock:
            self._failures += 1
            if self._probing:
                # The probe failed: stay paused, and wait longer next time.
                self._cooldown = min(self.max_cooldown, self._cooldown * 2.0)
                self._open_until = self._clock() + self._cooldown
                self._probing = False
                return
            if self._open_until is None and self._failures >= self.threshold:
                self._open_until = self._clock() + self._cooldown
                opened_for = self._cooldown
            else:
                return
        logger.warning(
            "rlwatch-notify: channel %s failed %d times in a row; pausing it for %.0f s",
            self.name,
            self.threshold,
            opened_for,
        )


def deliver(
    attempt: Callable[[], Attempt],
    policy: RetryPolicy,
    breaker: CircuitBreaker,
    stop: threading.Event,
    rng: random.Random | None = None,
) -> Delivery:
    """Run `attempt` until it succeeds, cannot succeed, or tries run out.

    Args:
        attempt: Makes one try; must not raise for expected network errors.
        policy: Retry limits and backoff.
        breaker: The channel's breaker; consulted before every try.
        stop: Set by `close()`; interrupts a backoff wait and gives up.
        rng: Random source for jitter (tests pass a seeded one).

    Returns:
        The `Delivery` to record: ``delivered`` with the tries used, or
        ``failed`` with the tries used and the last reason.
    """
    rng = rng or random.Random()
    if not breaker.allow():
        return Delivery("failed", 0, "circuit open")
    tries = 0
    while True:
        tries += 1
        result = attempt()
        if result.ok:
            breaker.record_success()
            return Delivery("delivered", tries, result.detail)
        breaker.record_failure()
        if not result.retryable:
            return Delivery("failed", tries, result.detail)
        if tries >= policy.max_attempts:
            return Delivery("failed", tries, f"{result.detail}; gave up after {tries} tries")
        if result.retry_after is not None:
            if result.retry_after > policy.max_retry_after:
                return Delivery(
                    "failed", tries, f"{result.detail}; Retry-After {result.retry_after:.0f} s too long"
                )
            delay = result.retry_after
        else:
            delay = policy.backoff(tries - 1, rng)
        if stop.wait(delay):
            return Delivery("failed", tries, f"{result.detail}; channel closed")
        if not breaker.allow():
            return Delivery("failed", tries, f"{result.detail}; circuit open")
