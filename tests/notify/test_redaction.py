"""Secrets (webhook URLs, routing keys, passwords, auth headers) never reach logs or printed output."""

from __future__ import annotations

import logging
import socket

import pytest
from rlwatch import logsink
from rlwatch_notify.channels.slack import SlackChannel
from rlwatch_notify.config import SlackConfig
from rlwatch_notify.redact import redact_headers, redact_url, register_secret, scrub


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T0/B0/XYZ", "https://hooks.slack.com/***"),
        ("https://user:pw@example.org:8443/p?q=1", "https://example.org:8443/***"),
        ("https://example.org", "https://example.org"),
        ("https://example.org/", "https://example.org"),
        ("http://[::1]:8080/x", "http://[::1]:8080/***"),
        ("not a url", "***"),
        ("https://example.org:99999999/x", "***"),
        ("", ""),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_redact_headers_and_scrub():
    assert redact_headers({"Authorization": "Bearer abc"}) == {"Authorization": "***"}
    register_secret("tok-0123456789")
    assert scrub("header tok-0123456789 in text") == "header *** in text"
    register_secret("abc")  # too short to be worth scrubbing (it would eat ordinary words)
    assert scrub("abc") == "abc"


def test_debug_logs_of_the_http_library_never_show_the_webhook_path(http_server, make_alert, context, fast, caplog):
    secret_path = "/services/T000/B000/LOGSECRET123"
    channel = SlackChannel(SlackConfig(webhook_url=http_server.url(secret_path), **fast))
    with caplog.at_level(logging.DEBUG):
        channel.send(make_alert(), context)
    logsink.flush()  # rlwatch logs from a background thread
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "POST" in text  # urllib3 did log the request line...
    assert "LOGSECRET123" not in text  # ...with the secret path scrubbed


def test_connection_failure_detail_never_shows_the_url(make_alert, context, fast):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/services/T000/B000/FAILSECRET"
    channel = SlackChannel(SlackConfig(webhook_url=url, max_attempts=1, **fast))
    delivery = channel.send(make_alert(), context)
    assert delivery.status == "failed"
    assert "FAILSECRET" not in delivery.detail and "FAILSECRET" not in str(channel.describe())


def test_error_body_echoing_the_secret_is_scrubbed(http_server, make_alert, context, fast):
    secret_path = "/services/T000/B000/ECHOSECRET1"
    http_server.reply(404, body=f"no route for {secret_path}".encode())
    channel = SlackChannel(SlackConfig(webhook_url=http_server.url(secret_path), **fast))
    delivery = channel.send(make_alert(), context)
    assert delivery.status == "failed" and delivery.detail.startswith("HTTP 404")
    assert "ECHOSECRET1" not in delivery.detail
