"""PagerDuty Events API v2: trigger payloads, stable dedup keys, resolve on a clean finish."""

from __future__ import annotations

import jsonschema
import pytest
from rlwatch.config import ConfigError
from rlwatch_notify.channels.pagerduty import PagerDutyChannel, dedup_key
from rlwatch_notify.config import PagerDutyConfig
from rlwatch_notify.format import TEST_FLAG

ROUTING_KEY = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12"

# developer.pagerduty.com/docs/events-api-v2/trigger-events (and resolve-events).
PD_EVENT = {
    "type": "object",
    "required": ["routing_key", "event_action"],
    "additionalProperties": False,
    "properties": {
        "routing_key": {"type": "string", "minLength": 1},
        "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {"type": "string", "maxLength": 255},
        "client": {"type": "string"},
        "client_url": {"type": "string"},
        "links": {"type": "array"},
        "images": {"type": "array"},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "additionalProperties": False,
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                "source": {"type": "string", "minLength": 1},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"},
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {"type": "object"},
            },
        },
    },
    "if": {"properties": {"event_action": {"const": "trigger"}}},
    "then": {"required": ["payload"]},
    "else": {"required": ["dedup_key"]},
}


def channel(server, fast, **changes):
    config = PagerDutyConfig(routing_key=ROUTING_KEY, events_url=server.url("/v2/enqueue"), **fast, **changes)
    config.validate()
    return PagerDutyChannel(config)


def test_trigger_event_payload(http_server, make_alert, context, fast):
    http_server.default.status = 202
    http_server.default.body = b'{"status":"success","message":"Event processed","dedup_key":"x"}'
    ch = channel(http_server, fast, component="qwen-0.5b", group="rl-team")
    delivery = ch.send(make_alert(), context)
    assert (delivery.status, delivery.detail) == ("delivered", "HTTP 202")
    request = http_server.wait_for(1)[0]
    assert (request.method, request.path) == ("POST", "/v2/enqueue")
    assert request.header("Content-Type") == "application/json"
    event = request.json()
    jsonschema.validate(event, PD_EVENT)
    assert event["routing_key"] == ROUTING_KEY and event["event_action"] == "trigger"
    assert event["dedup_key"] == "rlwatch:grpo-qwen-7:loss_nan"
    payload = event["payload"]
    assert payload["severity"] == "critical" and payload["class"] == "loss_nan"
    assert payload["source"] == "gpu-node-3"
    assert (payload["component"], payload["group"]) == ("qwen-0.5b", "rl-team")
    assert payload["custom_details"]["metric_values"]["loss"] is None
    assert payload["summary"].startswith("CRITICAL loss_nan at step 120 (run grpo-qwen-7): Loss is NaN")


def test_dedup_key_is_stable_per_run_and_detector(http_server, make_alert, context, fast):
    ch = channel(http_server, fast)
    ch.send(make_alert(step=10), context)
    ch.send(make_alert(step=20, alert_id=9), context)
    ch.send(make_alert(detector="kl_explosion"), context)
    keys = [r.json()["dedup_key"] for r in http_server.wait_for(3)]
    assert keys[0] == keys[1] != keys[2]
    assert len(dedup_key("r" * 400, "loss_nan")) <= 255
    assert dedup_key("r" * 400, "a") != dedup_key("r" * 400, "b")


def test_clean_finish_resolves_every_incident_of_the_run(http_server, make_alert, context, fast):
    ch = channel(http_server, fast)
    ch.send(make_alert(), context)
    ch.send(make_alert(detector="kl_explosion"), context)
    ch.run_finished(context, "finished")
    events = [r.json() for r in http_server.wait_for(4)]
    resolves = [e for e in events if e["event_action"] == "resolve"]
    for event in resolves:
        jsonschema.validate(event, PD_EVENT)
    assert sorted(e["dedup_key"] for e in resolves) == [
        "rlwatch:grpo-qwen-7:kl_explosion", "rlwatch:grpo-qwen-7:loss_nan"]
    ch.run_finished(context, "finished")  # nothing left to resolve
    assert len(http_server.requests) == 4


@pytest.mark.parametrize(("status", "resolve"), [("crashed", True), ("finished", False)])
def test_no_resolve_on_crash_or_when_disabled(http_server, make_alert, context, fast, status, resolve):
    ch = channel(http_server, fast, resolve_on_finish=resolve)
    ch.send(make_alert(), context)
    ch.run_finished(context, status)
    assert [r.json()["event_action"] for r in http_server.wait_for(1)] == ["trigger"]


def test_warning_maps_to_pagerduty_warning(http_server, make_alert, context, fast):
    channel(http_server, fast, min_severity="warning").send(make_alert(severity="warning"), context)
    assert http_server.wait_for(1)[0].json()["payload"]["severity"] == "warning"


def test_test_event_is_resolved_right_away(http_server, make_alert, context, fast):
    context.extra[TEST_FLAG] = True
    ch = channel(http_server, fast)
    ch.send(make_alert(), context)
    trigger, resolve = (r.json() for r in http_server.wait_for(2))
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"] and "notify-test" in trigger["dedup_key"]
    assert trigger["payload"]["summary"].startswith("[TEST]")
    ch.run_finished(context, "finished")
    assert len(http_server.requests) == 2


def test_routing_key_never_shown(http_server, fast):
    info = channel(http_server, fast).describe()
    assert ROUTING_KEY not in str(info)
    with pytest.raises(ConfigError) as error:
        PagerDutyConfig(routing_key="short key!").validate()
    assert "short key" not in str(error.value)


def test_default_min_severity_is_critical():
    assert PagerDutyConfig().min_severity == "critical"


def test_resolve_against_a_hanging_endpoint_is_bounded(http_server, make_alert, context, fast):
    import time

    ch = channel(http_server, {**fast, "timeout": 30.0})
    ch.send(make_alert(), context)
    http_server.hang(30.0)
    http_server.hang(30.0)
    ch.endpoint.timeout = 0.3  # stands in for the 5 s cap, to keep the test short
    started = time.monotonic()
    ch.run_finished(context, "finished")
    assert time.monotonic() - started < 3
