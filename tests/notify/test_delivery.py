"""Retries, backoff, Retry-After and the circuit breaker, measured on a real local server."""

from __future__ import annotations

import itertools
import random
import threading
import time

import pytest
from rlwatch_notify.http import HttpEndpoint, parse_retry_after
from rlwatch_notify.retry import Attempt, CircuitBreaker, RetryPolicy, deliver

FAST = RetryPolicy(max_attempts=4, backoff_base=0.1, backoff_max=0.4, jitter=0.5)


def endpoint(server, policy=FAST, timeout=2.0, breaker=None, path="/hook/T000/SECRETPATH"):
    return HttpEndpoint("test", server.url(path), timeout=timeout, policy=policy, breaker=breaker)


def gaps(requests):
    return [b.received_at - a.received_at for a, b in itertools.pairwise(requests)]


def test_backoff_grows_exponentially_within_jitter_bounds():
    policy = RetryPolicy(backoff_base=1.0, backoff_max=5.0, jitter=0.5)
    rng = random.Random(7)
    for index, ceiling in enumerate([1.0, 2.0, 4.0, 5.0, 5.0]):
        delays = [policy.backoff(index, rng) for _ in range(200)]
        assert all(ceiling * 0.5 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling * 0.3  # the jitter is real


def test_parse_retry_after_seconds_and_http_date():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)


def test_5xx_is_retried_with_backoff_then_delivered(http_server):
    http_server.reply(500)
    http_server.reply(503)
    delivery = endpoint(http_server).send_json(b'{"a":1}')
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    requests = http_server.wait_for(3)
    first, second = gaps(requests)
    # base 0.1 s doubling, 50 % jitter: [0.05, 0.1] then [0.1, 0.2] (+ slack for a busy machine)
    assert 0.05 <= first <= 0.1 + 0.4
    assert 0.1 <= second <= 0.2 + 0.4
    assert all(r.body == b'{"a":1}' and r.method == "POST" for r in requests)


def test_5xx_until_attempts_run_out_fails_with_count(http_server):
    for _ in range(4):
        http_server.reply(502, body=b"bad gateway")
    delivery = endpoint(http_server).send_json(b"{}")
    assert delivery.status == "failed"
    assert delivery.attempts == 4
    assert "HTTP 502" in delivery.detail and "gave up after 4 tries" in delivery.detail
    assert len(http_server.requests) == 4


def test_429_waits_for_retry_after(http_server):
    http_server.reply(429, headers={"Retry-After": "1"})
    delivery = endpoint(http_server).send_json(b"{}")
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    (gap,) = gaps(http_server.wait_for(2))
    assert gap >= 0.95  # the server's wait, not our 0.1 s backoff


def test_429_with_too_long_retry_after_gives_up(http_server):
    http_server.reply(429, headers={"Retry-After": "3600"})
    delivery = endpoint(http_server).send_json(b"{}")
    assert delivery.status == "failed" and delivery.attempts == 1
    assert "Retry-After" in delivery.detail


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_other_4xx_is_not_retried(http_server, status):
    http_server.reply(status, body=b"no_service")
    delivery = endpoint(http_server).send_json(b"{}")
    assert delivery.status == "failed" and delivery.attempts == 1
    assert delivery.detail == f"HTTP {status} (no_service)"
    time.sleep(0.3)
    assert len(http_server.requests) == 1


def test_redirect_is_not_followed(http_server):
    http_server.reply(301, headers={"Location": "http://127.0.0.1:1/elsewhere"})
    delivery = endpoint(http_server).send_json(b"{}")
    assert delivery.status == "failed" and delivery.detail.startswith("HTTP 301")


def test_slow_response_times_out_and_is_retried(http_server):
    http_server.hang(2.0)
    started = time.monotonic()
    delivery = endpoint(http_server, timeout=0.3).send_json(b"{}")
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert time.monotonic() - started < 1.5  # we did not wait for the slow answer


def test_dropped_connection_is_retried(http_server):
    http_server.drop()
    http_server.drop()
    delivery = endpoint(http_server).send_json(b"{}")
    assert (delivery.status, delivery.attempts) == ("delivered", 3)


def test_connection_refused_fails_after_retries_without_leaking_url():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ep = HttpEndpoint("test", f"http://127.0.0.1:{port}/services/T0/B0/VERYSECRETTOKEN", timeout=0.5, policy=FAST)
    delivery = ep.send_json(b"{}")
    assert delivery.status == "failed" and delivery.attempts == 4
    assert delivery.detail.startswith("ConnectionError")
    assert "VERYSECRETTOKEN" not in delivery.detail


def test_circuit_opens_after_threshold_and_probes_after_cooldown(http_server):
    breaker = CircuitBreaker("test", threshold=3, cooldown=0.5)
    ep = endpoint(http_server, policy=RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_max=0.01), breaker=breaker)
    for _ in range(3):
        http_server.reply(500)
    first = ep.send_json(b"{}")  # 2 failed tries
    second = ep.send_json(b"{}")  # 1 more: the breaker opens mid-delivery
    assert (first.status, first.attempts) == ("failed", 2)
    assert second.status == "failed" and "circuit open" in second.detail
    assert breaker.state == "open"
    paused = ep.send_json(b"{}")
    assert (paused.status, paused.attempts, paused.detail) == ("failed", 0, "circuit open")
    assert len(http_server.requests) == 3  # nothing went out while paused

    time.sleep(0.55)
    http_server.reply(500)  # the probe fails: paused again, for longer
    probe = ep.send_json(b"{}")
    assert (probe.status, probe.attempts) == ("failed", 1)
    assert breaker.state == "open"
    time.sleep(0.55)
    assert ep.send_json(b"{}").status == "failed"  # cooldown doubled to 1 s: still paused
    assert len(http_server.requests) == 4

    time.sleep(0.5)
    recovered = ep.send_json(b"{}")  # the probe succeeds: closed again
    assert (recovered.status, recovered.attempts) == ("delivered", 1)
    assert breaker.state == "closed"


def test_close_interrupts_a_backoff_wait(http_server):
    http_server.reply(500)
    ep = endpoint(http_server, policy=RetryPolicy(max_attempts=3, backoff_base=20.0, backoff_max=20.0, jitter=0.0))
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("d", ep.send_json(b"{}")))
    worker.start()
    http_server.wait_for(1)
    time.sleep(0.1)
    started = time.monotonic()
    ep.close()
    worker.join(5)
    assert time.monotonic() - started < 2
    assert result["d"].status == "failed" and "closed" in result["d"].detail


def test_deliver_counts_only_tries_made():
    outcomes = iter([Attempt(False, True, "HTTP 503"), Attempt(True, detail="HTTP 200")])
    breaker = CircuitBreaker("x", threshold=10)
    delivery = deliver(lambda: next(outcomes), RetryPolicy(backoff_base=0.01), breaker, threading.Event())
    assert (delivery.status, delivery.attempts, delivery.detail) == ("delivered", 2, "HTTP 200")


def test_breaker_state_machine_with_own_clock():
    now = [0.0]
    breaker = CircuitBreaker("x", threshold=2, cooldown=10, max_cooldown=25, clock=lambda: now[0])
    breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert not breaker.allow() and breaker.state == "open"
    now[0] = 10.0
    assert breaker.state == "half-open" and breaker.allow()
    breaker.record_failure()  # failed probe: 20 s now
    now[0] = 29.0
    assert not breaker.allow()
    now[0] = 30.0
    assert breaker.allow()
    breaker.record_failure()  # capped at 25 s
    now[0] = 54.9
    assert not breaker.allow()
    now[0] = 55.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed"


def test_503_retry_after_is_honoured(http_server):
    http_server.reply(503, headers={"Retry-After": "1"})
    delivery = endpoint(http_server).send_json(b"{}")
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    (gap,) = gaps(http_server.wait_for(2))
    assert gap >= 0.95
