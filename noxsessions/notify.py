"""Session of rlwatch-notify: channel tests against local servers, then the hanging-endpoint benchmark."""

from __future__ import annotations

import nox

from noxsessions._common import PYTHON, ROOT, TEST_DEPS

NOTIFY_TEST_DEPS = ("jsonschema>=4.18", "aiosmtpd>=1.4.4", "trustme>=1.1")
"""Payload schemas, a real SMTP server, a throwaway CA for STARTTLS/implicit TLS."""


@nox.session(python=PYTHON)
def notify(session: nox.Session) -> None:
    """rlwatch-notify tests (HTTP and SMTP servers on 127.0.0.1 only), then bench_notify."""
    session.install(str(ROOT / "rlwatch-core"), str(ROOT / "rlwatch-notify"), *TEST_DEPS, *NOTIFY_TEST_DEPS)
    session.run("pytest", "tests/notify", "-q", "-p", "no:cacheprovider", *session.posargs)
    # log_step latency must not change while a webhook endpoint hangs (fails on a gross slowdown).
    session.run("python", str(ROOT / "benchmarks" / "bench_notify.py"), "--steps", "5000", "--repeats", "2")
