"""Every copy-paste config in docs/channels/*.md loads, validates and builds its channel."""

from __future__ import annotations

import json
import pathlib
import re

import pytest
from rlwatch.alerts import Alert
from rlwatch.channels.base import RunContext
from rlwatch.config import load_config
from rlwatch_notify.plugin import build_channels

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "channels"
_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def yaml_blocks():
    for page in sorted(DOCS.glob("*.md")):
        for index, block in enumerate(_BLOCK.findall(page.read_text())):
            if block.lstrip().startswith(("alerts:", "# rlwatch.yaml")):
                yield pytest.param(block, id=f"{page.stem}-{index}")


def test_every_channel_has_a_page():
    assert {p.stem for p in DOCS.glob("*.md")} >= {"slack", "discord", "email", "webhook", "pagerduty"}


@pytest.mark.parametrize("block", list(yaml_blocks()))
def test_documented_config_works(block, tmp_path):
    path = tmp_path / "rlwatch.yaml"
    path.write_text(block)
    config = load_config(str(path), env={"ALERTS_TOKEN": "t", "OPSGENIE_API_KEY": "k"})
    (channel,) = build_channels(config)
    alert = Alert("loss_nan", "critical", 1840, 'Loss "is" NaN', {"loss": float("nan"), "grad_norm": 412.7},
                  "Restart.", run_id="r", timestamp=1.0e9, alert_id=7)
    payload = getattr(channel, "payload", None)
    if payload is not None:
        body = json.dumps(payload(alert, RunContext(run_id="r", host="h")), allow_nan=False, default=str)
        assert json.loads(body)
