"""Slack channel: Block Kit payload on the wire, checked against Slack's documented limits."""

from __future__ import annotations

import jsonschema
from rlwatch_notify.channels.slack import SlackChannel, escape
from rlwatch_notify.config import SlackConfig
from rlwatch_notify.format import TEST_FLAG

# From api.slack.com/reference/block-kit (blocks, composition objects) and
# api.slack.com/messaging/webhooks: the subset of fields an incoming webhook takes.
_TEXT = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {
        "type": {"enum": ["plain_text", "mrkdwn"]},
        "text": {"type": "string", "minLength": 1, "maxLength": 3000},
        "emoji": {"type": "boolean"},
        "verbatim": {"type": "boolean"},
    },
    "additionalProperties": False,
}
_PLAIN_150 = {**_TEXT, "properties": {**_TEXT["properties"], "type": {"const": "plain_text"},
                                      "text": {"type": "string", "minLength": 1, "maxLength": 150}}}
_FIELD = {**_TEXT, "properties": {**_TEXT["properties"], "text": {"type": "string", "minLength": 1, "maxLength": 2000}}}
SLACK_MESSAGE = {
    "type": "object",
    "required": ["text", "blocks"],
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "channel": {"type": "string"},
        "username": {"type": "string"},
        "icon_emoji": {"type": "string", "pattern": "^:[^:]+:$"},
        "blocks": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "oneOf": [
                    {"type": "object", "required": ["type", "text"], "additionalProperties": False,
                     "properties": {"type": {"const": "header"}, "text": _PLAIN_150, "block_id": {"type": "string"}}},
                    {"type": "object", "required": ["type"], "additionalProperties": False,
                     "anyOf": [{"required": ["text"]}, {"required": ["fields"]}],
                     "properties": {"type": {"const": "section"}, "text": _TEXT,
                                    "fields": {"type": "array", "minItems": 1, "maxItems": 10, "items": _FIELD}}},
                    {"type": "object", "required": ["type", "elements"], "additionalProperties": False,
                     "properties": {"type": {"const": "context"},
                                    "elements": {"type": "array", "minItems": 1, "maxItems": 10, "items": _TEXT}}},
                    {"type": "object", "required": ["type"], "additionalProperties": False,
                     "properties": {"type": {"const": "divider"}}},
                ]
            },
        },
    },
    "additionalProperties": False,
}


def channel(server, fast, **changes):
    return SlackChannel(SlackConfig(webhook_url=server.url("/services/T000/B000/XXXXSECRET"), **fast, **changes))


def test_posts_block_kit_message(http_server, make_alert, context, fast):
    delivery = channel(http_server, fast).send(make_alert(), context)
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    (request,) = http_server.wait_for(1)
    assert request.method == "POST"
    assert request.path == "/services/T000/B000/XXXXSECRET"
    assert request.header("Content-Type") == "application/json"
    assert request.header("User-Agent").startswith("rlwatch-notify/")
    body = request.json()
    jsonschema.validate(body, SLACK_MESSAGE)
    assert body["text"] == "CRITICAL loss_nan at step 120 (run grpo-qwen-7)"
    text = str(body["blocks"])
    assert "Lower the learning rate" in text  # recommended action
    assert "NaN" in text and "inf" in text and "0.412" in text  # metric values, spelled out
    assert "gpu-node-3" in text and "grpo-qwen-7" in text
    # mrkdwn control characters from alert text are escaped, never interpreted
    assert "&lt;angle&gt;" in text and "&amp;" in text and "<angle>" not in text


def test_mentions_and_overrides(http_server, make_alert, context, fast):
    ch = channel(http_server, fast, mention_users=["U012AB3CD", "S0614TZR7"], channel="#rl-alerts",
                 username="rlwatch", icon_emoji=":robot_face:")
    ch.send(make_alert(severity="warning"), context)
    body = http_server.wait_for(1)[0].json()
    jsonschema.validate(body, SLACK_MESSAGE)
    lead = body["blocks"][1]["text"]["text"]
    assert lead.startswith("<@U012AB3CD> <!subteam^S0614TZR7> ")
    assert (body["channel"], body["username"], body["icon_emoji"]) == ("#rl-alerts", "rlwatch", ":robot_face:")


def test_test_message_is_marked_and_mentions_nobody(http_server, make_alert, context, fast):
    context.extra[TEST_FLAG] = True
    channel(http_server, fast, mention_users=["U012AB3CD"]).send(make_alert(), context)
    body = http_server.wait_for(1)[0].json()
    assert body["text"].startswith("[TEST] ")
    assert "<@U012AB3CD>" not in str(body)
    assert "notify-test" in body["blocks"][-1]["elements"][0]["text"]


def test_long_texts_are_cut_to_slack_limits(http_server, make_alert, context, fast):
    alert = make_alert(message="x" * 5000, detector="d" * 300, recommendation="r" * 4000,
                       metric_values={f"m{i}": float(i) for i in range(400)})
    channel(http_server, fast).send(alert, context)
    jsonschema.validate(http_server.wait_for(1)[0].json(), SLACK_MESSAGE)


def test_escape():
    assert escape("a < b & c > d") == "a &lt; b &amp; c &gt; d"


def test_describe_hides_the_webhook_path(http_server, fast):
    info = channel(http_server, fast).describe()
    assert info["url"] == f"http://127.0.0.1:{http_server.port}/***"
    assert "XXXXSECRET" not in str(info)


def test_mention_names_are_rejected():
    import pytest
    from rlwatch.config import ConfigError

    with pytest.raises(ConfigError, match="member id"):
        SlackConfig(webhook_url="https://hooks.slack.com/services/T/B/X", mention_users=["@alice"]).validate()
