"""Email channel: one multipart (plain text + HTML) message per alert over SMTP.

Connection security: ``starttls`` (default: plain connection upgraded with
STARTTLS before login; refuses to go on if the server cannot), ``ssl``
(implicit TLS, usually port 465) or ``none`` (local relays only). Server
certificates are verified against the system store, or ``ca_file``.

Retries follow `rlwatch_notify.retry`: network errors, timeouts and SMTP 4xx
replies are retried; 5xx replies (bad credentials, rejected recipients) are
not. One message goes to all recipients; if the server refuses some of them
the delivery still counts, and the detail says how many were refused.
"""

from __future__ import annotations

import html
import smtplib
import ssl
import threading
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from rlwatch.alerts import Alert
from rlwatch.channels.base import Channel, Delivery, RunContext

from rlwatch_notify import format as fmt
from rlwatch_notify.channels.common import circuit_breaker, retry_policy
from rlwatch_notify.config import EmailConfig
from rlwatch_notify.redact import register_secret
from rlwatch_notify.retry import Attempt, deliver


def _html_body(alert: Alert, context: RunContext) -> str:
    colour = f"#{fmt.SEVERITY_COLOURS.get(alert.severity, fmt.SEVERITY_COLOURS['info']):06x}"
    esc = html.escape
    rows = "".join(
        f"<tr><td style='padding:2px 12px 2px 0'><code>{esc(name)}</code></td>"
        f"<td style='text-align:right'><code>{esc(value)}</code></td></tr>"
        for name, value in fmt.metric_lines(alert)
    )
    facts = "".join(f"<li>{esc(line)}</li>" for line in fmt.run_facts(alert, context))
    parts = [
        "<!doctype html><html><body style='font-family:sans-serif'>",
        f"<h2 style='color:{colour};margin:0 0 8px'>{esc(fmt.title(alert, context))}</h2>",
        f"<p>{esc(alert.message)}</p>",
    ]
    if alert.recommendation:
        parts.append(f"<h3>Recommended action</h3><p>{esc(alert.recommendation)}</p>")
    if rows:
        parts.append(f"<h3>Metric values</h3><table>{rows}</table>")
    parts.append(f"<ul style='color:#555'>{facts}</ul>")
    if fmt.is_test(context):
        parts.append(
            "<p><em>This is a test alert sent by <code>rlwatch notify-test</code>; no action is needed.</em></p>"
        )
    parts.append("</body></html>")
    return "".join(parts)


def _one_line(text: str) -> str:
    # A line break in a header value would be an error (or, worse, a new header).
    return " ".join(text.split())


def build_message(config: EmailConfig, alert: Alert, context: RunContext) -> EmailMessage:
    """The email for one alert: subject, addresses, text and HTML parts."""
    message = EmailMessage()
    subject = fmt.title(alert, context)
    message["Subject"] = _one_line(f"{config.subject_prefix} {subject}")
    message["From"] = config.from_addr.strip()
    message["To"] = ", ".join(config.recipients())
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="rlwatch.local")
    message["X-RLWatch-Run"] = _one_line(alert.run_id or context.run_id)
    message["X-RLWatch-Severity"] = _one_line(alert.severity)
    message.set_content(fmt.plain_text(alert, context))
    message.add_alternative(_html_body(alert, context), subtype="html")
    return message


class EmailChannel(Channel):
    """Sends alerts by SMTP to one or more recipients."""

    def __init__(self, config: EmailConfig) -> None:
        super().__init__("email", config.min_severity)
        self.config = config
        self.policy = retry_policy(config)
        self.breaker = circuit_breaker("email", config)
        self._stop = threading.Event()
        if config.password:
            register_secret(config.password)

    def send(self, alert: Alert, context: RunContext) -> Delivery:
        """Build the message and deliver it with retries."""
        message = build_message(self.config, alert, context)
        return deliver(lambda: self._try_once(message), self.policy, self.breaker, self._stop)

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.config.ca_file or None)

    def _try_once(self, message: EmailMessage) -> Attempt:
        config = self.config
        host, port, timeout = config.smtp_host.strip(), config.port(), config.timeout
        try:
            server: smtplib.SMTP
            if config.security == "ssl":
                server = smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._ssl_context())
            else:
                server = smtplib.SMTP(host, port, timeout=timeout)
            with server:
                server.ehlo()
                if config.security == "starttls":
                    # starttls() raises SMTPNotSupportedError when the server
                    # does not offer it: never fall back to sending in clear.
                    server.starttls(context=self._ssl_context())
                    server.ehlo()
                if config.username:
                    server.login(config.username, config.password)
                refused = server.send_message(message, to_addrs=config.recipients())
        except smtplib.SMTPNotSupportedError:
            return Attempt(False, retryable=False, detail="server does not support STARTTLS or AUTH")
        except smtplib.SMTPRecipientsRefused as exc:
            return Attempt(False, retryable=False, detail=f"all {len(exc.recipients)} recipients refused")
        except smtplib.SMTPResponseException as exc:
            # 4xx: temporary (greylisting, busy); 5xx: permanent (auth, policy).
            code = exc.smtp_code
            return Attempt(False, retryable=400 <= code < 500, detail=f"SMTP {code}")
        except ssl.SSLCertVerificationError:
            return Attempt(False, retryable=False, detail="TLS certificate verification failed")
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            return Attempt(False, retryable=True, detail=type(exc).__name__)
        if refused:
            return Attempt(True, detail=f"{len(refused)} of {len(config.recipients())} recipients refused")
        return Attempt(True, detail="accepted")

    def describe(self) -> dict[str, Any]:
        """Server, security mode and recipient count; never the password."""
        info = super().describe()
        info.update(
            smtp_host=self.config.smtp_host,
            smtp_port=self.config.port(),
            security=self.config.security,
            auth=bool(self.config.username),
            recipients=len(self.config.recipients()),
            circuit=self.breaker.state,
        )
        return info

    def close(self) -> None:
        """Interrupt any backoff wait."""
        self._stop.set()
