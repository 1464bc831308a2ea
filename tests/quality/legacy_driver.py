"""Replay the quality suite through rlwatch 0.5.1 (run by ITS interpreter).

``rlwatch`` 0.5.1 from PyPI has the same import name as this tree, so it
lives in its own virtualenv and this script runs there, as a subprocess of
``quality_suite.py``. It reads the runs the suite wrote (one .npz per run:
steps, a steps x metrics array of scalars, the rewards arrays), feeds each
through 0.5.1's own ``RLWatch.log_step`` with a temporary log directory, and
writes the alerts that 0.5.1 returned (after its own cooldown) as JSON:
``{run name: [[detector, severity, step], ...]}``.

Usage: python legacy_driver.py index.json out.json
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile

import numpy as np


def main() -> int:
    """Replay every run listed in the index; write the alerts."""
    index_path, out_path = sys.argv[1], sys.argv[2]
    index = json.loads(open(index_path).read())
    names = index["scalars"]

    import rlwatch
    import rlwatch.alerts as legacy_alerts
    from rlwatch.config import RLWatchConfig
    from rlwatch.core import RLWatch

    assert rlwatch.__version__ == "0.5.1", rlwatch.__version__
    # its console channel prints a rich panel per alert: not wanted here
    legacy_alerts._log_alert_console = lambda alert, run_id: None  # type: ignore[attr-defined]
    known = {
        "entropy",
        "kl_divergence",
        "reward_mean",
        "reward_std",
        "advantage_std",
        "loss",
        "learning_rate",
        "clip_fraction",
        "grad_norm",
    }
    out: dict[str, list[list[object]]] = {}
    with tempfile.TemporaryDirectory(prefix="rlwatch051-") as tmp:
        for i, entry in enumerate(index["runs"]):
            data = np.load(entry["path"])
            cfg = RLWatchConfig(run_id=f"r{i}", framework="manual")
            cfg.storage.log_dir = os.path.join(tmp, f"r{i}")
            mon = RLWatch(cfg)
            mon.start()
            alerts: list[list[object]] = []
            for step, row, rewards in zip(data["steps"], data["scalars"], data["rewards"], strict=True):
                kwargs = {}
                extra = {}
                for name, value in zip(names, row, strict=True):
                    v = float(value)
                    if name in known:
                        kwargs[name] = v
                    elif not math.isnan(v):
                        extra[name] = v
                got = mon.log_step(int(step), rewards=rewards.ravel(), **kwargs, **extra)
                for a in got or ():
                    alerts.append([a.detector, a.severity, int(a.step)])
            try:
                mon.stop()
            except Exception:
                pass
            out[entry["name"]] = alerts
    with open(out_path, "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
