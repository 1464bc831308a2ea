"""Discord channel: execute-webhook payload with one embed, checked against Discord's documented limits."""

from __future__ import annotations

import jsonschema
from rlwatch_notify.channels.discord import DiscordChannel
from rlwatch_notify.config import DiscordConfig
from rlwatch_notify.format import SEVERITY_COLOURS, TEST_FLAG

# discord.com/developers/docs/resources/webhook#execute-webhook and
# .../resources/message#embed-object (+ embed limits).
_SNOWFLAKE = {"type": "string", "pattern": "^[0-9]+$"}
EMBED = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "title": {"type": "string", "maxLength": 256},
        "description": {"type": "string", "maxLength": 4096},
        "url": {"type": "string"},
        "timestamp": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"},
        "color": {"type": "integer", "minimum": 0, "maximum": 0xFFFFFF},
        "footer": {"type": "object", "required": ["text"], "additionalProperties": False,
                   "properties": {"text": {"type": "string", "maxLength": 2048}, "icon_url": {"type": "string"}}},
        "fields": {"type": "array", "maxItems": 25, "items": {
            "type": "object", "required": ["name", "value"], "additionalProperties": False,
            "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 256},
                           "value": {"type": "string", "minLength": 1, "maxLength": 1024},
                           "inline": {"type": "boolean"}}}},
    },
}
DISCORD_MESSAGE = {
    "type": "object",
    "anyOf": [{"required": ["content"]}, {"required": ["embeds"]}],
    "additionalProperties": False,
    "properties": {
        "content": {"type": "string", "maxLength": 2000},
        "username": {"type": "string", "minLength": 1, "maxLength": 80},
        "avatar_url": {"type": "string"},
        "tts": {"type": "boolean"},
        "embeds": {"type": "array", "maxItems": 10, "items": EMBED},
        "allowed_mentions": {"type": "object", "additionalProperties": False, "properties": {
            "parse": {"type": "array", "items": {"enum": ["roles", "users", "everyone"]}},
            "roles": {"type": "array", "maxItems": 100, "items": _SNOWFLAKE},
            "users": {"type": "array", "maxItems": 100, "items": _SNOWFLAKE},
            "replied_user": {"type": "boolean"}}},
    },
}


def embed_chars(embed):
    """Characters Discord counts toward its 6000-per-message embed limit."""
    fields = sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    return len(embed.get("title", "")) + len(embed.get("description", "")) + len(embed["footer"]["text"]) + fields


def channel(server, fast, **changes):
    return DiscordChannel(DiscordConfig(webhook_url=server.url("/api/webhooks/123/TOKENSECRET"), **fast, **changes))


def test_critical_embed_pings_roles(http_server, make_alert, context, fast):
    ch = channel(http_server, fast, mention_roles=["112233445566"], avatar_url="https://example.org/a.png")
    assert ch.send(make_alert(), context).status == "delivered"
    request = http_server.wait_for(1)[0]
    assert request.method == "POST" and request.path == "/api/webhooks/123/TOKENSECRET"
    body = request.json()
    jsonschema.validate(body, DISCORD_MESSAGE)
    (embed,) = body["embeds"]
    assert embed["color"] == SEVERITY_COLOURS["critical"]
    assert embed["title"] == "CRITICAL loss_nan at step 120 (run grpo-qwen-7)"
    assert embed["timestamp"] == "2025-11-26T06:42:13Z"
    assert body["content"] == "<@&112233445566>"
    assert body["allowed_mentions"] == {"parse": [], "roles": ["112233445566"]}
    assert (body["username"], body["avatar_url"]) == ("rlwatch", "https://example.org/a.png")
    names = [f["name"] for f in embed["fields"]]
    assert names[:3] == ["Run", "Step", "Detector"] and "Recommended action" in names
    assert "loss: NaN" in str(embed["fields"])


def test_warning_is_amber_and_pings_nobody(http_server, make_alert, context, fast):
    channel(http_server, fast, mention_roles=["112233445566"]).send(make_alert(severity="warning"), context)
    body = http_server.wait_for(1)[0].json()
    jsonschema.validate(body, DISCORD_MESSAGE)
    assert body["embeds"][0]["color"] == SEVERITY_COLOURS["warning"]
    assert "content" not in body
    assert body["allowed_mentions"] == {"parse": [], "roles": []}


def test_everyone_in_alert_text_cannot_ping(http_server, make_alert, context, fast):
    channel(http_server, fast).send(make_alert(message="@everyone look"), context)
    body = http_server.wait_for(1)[0].json()
    assert body["allowed_mentions"]["parse"] == []


def test_test_message_pings_nobody(http_server, make_alert, context, fast):
    context.extra[TEST_FLAG] = True
    channel(http_server, fast, mention_roles=["1"]).send(make_alert(), context)
    body = http_server.wait_for(1)[0].json()
    assert "content" not in body and body["embeds"][0]["title"].startswith("[TEST]")


def test_limits_hold_for_huge_alerts(http_server, make_alert, context, fast):
    alert = make_alert(message="m" * 9000, recommendation="r" * 3000,
                       metric_values={f"metric_{i}": i / 7 for i in range(500)})
    channel(http_server, fast).send(alert, context)
    body = http_server.wait_for(1)[0].json()
    jsonschema.validate(body, DISCORD_MESSAGE)
    assert embed_chars(body["embeds"][0]) <= 6000


def test_discord_rate_limit_is_honoured(http_server, make_alert, context, fast):
    http_server.reply(429, body=b'{"retry_after": 0.2}', headers={"Retry-After": "0.2"})
    delivery = channel(http_server, fast).send(make_alert(), context)
    assert (delivery.status, delivery.attempts) == ("delivered", 2)


def test_username_discord_refuses_is_a_config_error():
    import pytest
    from rlwatch.config import ConfigError

    with pytest.raises(ConfigError, match="refused by Discord"):
        DiscordConfig(webhook_url="https://discord.com/api/webhooks/1/x", username="Discord Bot").validate()
