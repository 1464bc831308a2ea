"""Generic webhook: default schema, safe templates, HMAC signature, method and headers."""

from __future__ import annotations

import hashlib
import hmac
import json

import jsonschema
import pytest
from rlwatch.config import ConfigError
from rlwatch_notify.channels.webhook import SCHEMA, WebhookChannel, default_body, sign
from rlwatch_notify.config import WebhookConfig
from rlwatch_notify.template import FIELDS, TemplateError, compile_template, render

# The default body, as documented in docs/channels/webhook.md.
DEFAULT_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": list(FIELDS),
    "properties": {
        "schema": {"const": SCHEMA},
        "event": {"enum": ["alert", "test"]},
        "test": {"type": "boolean"},
        "title": {"type": "string"},
        "text": {"type": "string"},
        "alert_id": {"type": "integer"},
        "run_id": {"type": "string"},
        "detector": {"type": "string"},
        "severity": {"enum": ["warning", "critical"]},
        "severity_label": {"type": "string"},
        "step": {"type": "integer"},
        "message": {"type": "string"},
        "recommendation": {"type": "string"},
        "metric_values": {"type": "object", "additionalProperties": {"type": ["number", "null"]}},
        "timestamp": {"type": "number"},
        "time": {"type": "string"},
        "host": {"type": "string"},
        "framework": {"type": "string"},
    },
}


def channel(server, fast, **changes):
    return WebhookChannel(WebhookConfig(url=server.url("/hooks/abc?token=QUERYSECRET"), **fast, **changes))


def test_default_body_matches_documented_schema(http_server, make_alert, context, fast):
    assert channel(http_server, fast).send(make_alert(), context).status == "delivered"
    request = http_server.wait_for(1)[0]
    assert (request.method, request.path) == ("POST", "/hooks/abc?token=QUERYSECRET")
    body = request.json()  # strict: a NaN token would fail here
    jsonschema.validate(body, DEFAULT_BODY)
    assert body["metric_values"] == {"loss": None, "grad_norm": None, "last_finite_loss": 0.412}
    assert body["message"].endswith('"quotes" & <angle> brackets')
    assert body["time"] == "2025-11-26T06:42:13Z" and body["event"] == "alert"
    assert "X-RLWatch-Signature" not in request.headers


def test_method_and_headers_with_env_reference(http_server, make_alert, context, fast, monkeypatch):
    monkeypatch.setenv("TEST_GENIE_KEY", "genie-123456")
    ch = channel(http_server, fast, method="PUT",
                 headers={"Authorization": "GenieKey ${env:TEST_GENIE_KEY}", "X-Team": "rl"})
    ch.send(make_alert(), context)
    request = http_server.wait_for(1)[0]
    assert request.method == "PUT"
    assert request.header("Authorization") == "GenieKey genie-123456"
    assert request.header("X-Team") == "rl"
    info = ch.describe()
    assert info["headers"] == {"Authorization": "***", "X-Team": "***"}
    assert "genie-123456" not in str(info) and "QUERYSECRET" not in str(info)


def test_hmac_signature_over_exact_body(http_server, make_alert, context, fast):
    channel(http_server, fast, secret="s3cr3t-shared").send(make_alert(), context)
    request = http_server.wait_for(1)[0]
    expected = "sha256=" + hmac.new(b"s3cr3t-shared", request.body, hashlib.sha256).hexdigest()
    assert request.header("X-RLWatch-Signature") == expected
    assert sign("s3cr3t-shared", request.body) == expected


def test_custom_signature_header(http_server, make_alert, context, fast):
    ch = channel(http_server, fast, secret="s3cr3t-shared", signature_header="X-Hub-Signature-256")
    ch.send(make_alert(), context)
    assert http_server.wait_for(1)[0].header("X-Hub-Signature-256").startswith("sha256=")


def test_template_keeps_types_and_stays_valid_json(http_server, make_alert, context, fast):
    template = json.dumps({
        "text": "${severity}: ${message} (step ${step}, loss ${metric_values.loss})",
        "step": "${step}",
        "loss": "${metric_values.loss}",
        "last": "${metric_values.last_finite_loss}",
        "missing": "${metric_values.nope}",
        "metrics": "${metric_values}",
        "priority": "${severity_label}",
        "literal": "$${not_a_field}",
        "nested": [{"${detector}": "${run_id}"}],
    })
    ch = channel(http_server, fast, template=template, severity_labels={"critical": "P1", "warning": "P3"})
    ch.send(make_alert(message='He said "stop"\nthen \\ left }{'), context)
    body = http_server.wait_for(1)[0].json()
    assert body["text"] == 'critical: He said "stop"\nthen \\ left }{ (step 120, loss NaN)'
    assert body["step"] == 120
    assert body["loss"] is None and body["missing"] is None
    assert body["last"] == 0.412
    assert body["metrics"] == {"loss": None, "grad_norm": None, "last_finite_loss": 0.412}
    assert body["priority"] == "P1"
    assert body["literal"] == "${not_a_field}"
    assert body["nested"] == [{"loss_nan": "grpo-qwen-7"}]


@pytest.mark.parametrize(
    "text",
    [
        "A message with \" quotes, \\ backslashes, \n newlines, \u2028 separators and emoji \U0001F525",
        '"}, "injected": true, "x": {"',
        "${step}",
        "\x00\x01\x1f control characters",
    ],
)
def test_template_rendering_never_breaks_json(make_alert, context, text):
    compiled = compile_template('{"a": "${message}", "b": "pre ${message} post", "c": ["${recommendation}"]}')
    body = default_body(make_alert(message=text, recommendation=text), context)
    rendered = json.loads(json.dumps(render(compiled, body), allow_nan=False))
    assert rendered["a"] == text
    assert rendered["b"] == f"pre {text} post"
    assert set(rendered) == {"a", "b", "c"}


@pytest.mark.parametrize(
    ("template", "error"),
    [
        ('{"step": ${step}}', "not valid JSON"),
        ('{"x": "${no_such_field}"}', "unknown field"),
        ('{"x": "${run_id.sub}"}', "unknown field"),
        ('{"x": NaN}', "not valid JSON"),
        ('{"x": "${}"}', "malformed"),
    ],
)
def test_bad_templates_are_rejected(template, error):
    with pytest.raises(TemplateError, match=error):
        compile_template(template)
    with pytest.raises(ConfigError, match=r"alerts\.webhook\.template"):
        WebhookConfig(url="https://example.org/hook", template=template).validate()


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"url": "ftp://example.org/x"}, "scheme"),
        ({"url": "https:///nohost"}, "no host"),
        ({"url": "https://exa mple.org/x"}, "whitespace"),
        ({"method": "GET"}, "method"),
        ({"headers": {"Bad Header": "x"}}, "header name"),
        ({"headers": {"X-A": "a\r\nInjected: 1"}}, "single line"),
    ],
)
def test_invalid_webhook_config(changes, error):
    values = {"url": "https://example.org/hook"}
    values.update(changes)
    with pytest.raises(ConfigError, match=error) as info:
        WebhookConfig(**values).validate()
    assert "example.org/x" not in str(info.value)  # the URL itself is never echoed
