"""Email channel against a real local SMTP server (aiosmtpd): plain, STARTTLS + auth, implicit TLS."""

from __future__ import annotations

import pytest
from rlwatch.config import ConfigError
from rlwatch_notify.channels.email import EmailChannel
from rlwatch_notify.config import EmailConfig
from rlwatch_notify.format import TEST_FLAG

pytest.importorskip("aiosmtpd")


def config(server, fast, **changes):
    values = dict(
        smtp_host=server.host, smtp_port=server.port, security="none", from_addr="rlwatch@lab.example",
        to=["oncall@lab.example", "me@lab.example"], **fast,
    )
    values.update(changes)
    cfg = EmailConfig(**values)
    cfg.validate()
    return cfg


def parts(message):
    return {part.get_content_type(): part.get_payload(decode=True).decode() for part in message.walk()
            if not part.is_multipart()}


def test_multipart_message_to_several_recipients(smtp_factory, make_alert, context, fast):
    server = smtp_factory()
    delivery = EmailChannel(config(server, fast)).send(make_alert(), context)
    assert (delivery.status, delivery.attempts, delivery.detail) == ("delivered", 1, "accepted")
    ((recipients, message),) = server.messages
    assert recipients == ["oncall@lab.example", "me@lab.example"]
    assert message["Subject"] == "[rlwatch] CRITICAL loss_nan at step 120 (run grpo-qwen-7)"
    assert message["From"] == "rlwatch@lab.example"
    assert message["To"] == "oncall@lab.example, me@lab.example"
    assert message["X-RLWatch-Severity"] == "critical"
    assert message.get_content_type() == "multipart/alternative"
    bodies = parts(message)
    assert set(bodies) == {"text/plain", "text/html"}
    assert "Recommended action:" in bodies["text/plain"] and "loss" in bodies["text/plain"]
    assert "NaN" in bodies["text/plain"]
    # alert text is escaped in HTML, never markup
    assert "&lt;angle&gt;" in bodies["text/html"] and "<angle>" not in bodies["text/html"]


def test_starttls_with_auth(smtp_factory, tls_files, make_alert, context, fast):
    server = smtp_factory(tls_context=tls_files["server_context"], users={"rlwatch": "hunter2-pass"})
    cfg = config(server, fast, security="starttls", username="rlwatch", password="hunter2-pass",
                 ca_file=tls_files["ca_file"])
    delivery = EmailChannel(cfg).send(make_alert(), context)
    assert delivery.status == "delivered", delivery.detail
    assert server.logins == ["rlwatch"]
    assert len(server.messages) == 1


def test_wrong_password_is_not_retried(smtp_factory, tls_files, make_alert, context, fast):
    server = smtp_factory(tls_context=tls_files["server_context"], users={"rlwatch": "hunter2-pass"})
    cfg = config(server, fast, security="starttls", username="rlwatch", password="wrong-password",
                 ca_file=tls_files["ca_file"])
    delivery = EmailChannel(cfg).send(make_alert(), context)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.detail == "SMTP 535"
    assert "wrong-password" not in str(EmailChannel(cfg).describe())


def test_untrusted_certificate_is_refused(smtp_factory, tls_files, make_alert, context, fast):
    server = smtp_factory(tls_context=tls_files["server_context"])
    delivery = EmailChannel(config(server, fast, security="starttls")).send(make_alert(), context)  # system CAs only
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "certificate" in delivery.detail
    assert server.messages == []


def test_starttls_required_but_not_offered_never_sends_in_clear(smtp_factory, make_alert, context, fast):
    server = smtp_factory()  # no TLS at all
    delivery = EmailChannel(config(server, fast, security="starttls")).send(make_alert(), context)
    assert delivery.status == "failed" and "STARTTLS" in delivery.detail
    assert server.messages == []


def test_implicit_tls(smtp_factory, tls_files, make_alert, context, fast):
    server = smtp_factory(tls_context=tls_files["server_context"], implicit_tls=True)
    cfg = config(server, fast, security="ssl", ca_file=tls_files["ca_file"])
    delivery = EmailChannel(cfg).send(make_alert(), context)
    assert delivery.status == "delivered", delivery.detail
    assert len(server.messages) == 1


def test_server_down_is_retried_then_fails(make_alert, context, fast):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = EmailConfig(smtp_host="127.0.0.1", smtp_port=port, security="none", from_addr="a@b.example",
                      to=["c@d.example"], max_attempts=3, **fast)
    delivery = EmailChannel(cfg).send(make_alert(), context)
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert "ConnectionRefusedError" in delivery.detail


def test_test_message_is_marked(smtp_factory, make_alert, context, fast):
    server = smtp_factory()
    context.extra[TEST_FLAG] = True
    EmailChannel(config(server, fast)).send(make_alert(), context)
    message = server.messages[0][1]
    assert message["Subject"].startswith("[rlwatch] [TEST] ")
    assert "no action is needed" in parts(message)["text/plain"]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"to": []}, "at least one recipient"),
        ({"smtp_host": ""}, "smtp_host is required"),
        ({"to": ["not-an-address"]}, "invalid address"),
        ({"from_addr": ""}, "from_addr is required"),
        ({"security": "tls"}, "security must be one of"),
        ({"password": "pw-only"}, "username is empty"),
    ],
)
def test_misconfiguration_is_a_clear_error(changes, error):
    values = dict(smtp_host="smtp.example.org", from_addr="a@b.example", to=["c@d.example"])
    values.update(changes)
    with pytest.raises(ConfigError, match=error):
        EmailConfig(**values).validate()


def test_comma_separated_recipients_and_default_ports():
    cfg = EmailConfig(smtp_host="h", to=["a@x.example, b@y.example", "c@z.example"])
    assert cfg.recipients() == ["a@x.example", "b@y.example", "c@z.example"]
    assert cfg.port() == 587
    assert EmailConfig(security="ssl").port() == 465
    assert EmailConfig(security="none").port() == 25


def test_line_breaks_in_run_id_cannot_inject_headers(smtp_factory, make_alert, context, fast):
    server = smtp_factory()
    alert = make_alert(run_id="run-1\r\nBcc: attacker@evil.example")
    assert EmailChannel(config(server, fast)).send(alert, context).status == "delivered"
    ((recipients, message),) = server.messages
    assert recipients == ["oncall@lab.example", "me@lab.example"]
    assert message["Bcc"] is None
    assert message["X-RLWatch-Run"] == "run-1 Bcc: attacker@evil.example"
