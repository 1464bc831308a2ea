"""`kl_explosion`: KL to the reference policy jumps or runs away.

KL is positive with multiplicative, heavy-tailed noise, and in a healthy run
it grows slowly and smoothly over thousands of steps. So the detector works
on a log scale against a rolling median of the last ``baseline_window``
values: a value is high when it exceeds ``warning_ratio`` x baseline AND
``min_sigmas`` robust log-sigmas above it. Slow growth moves the rolling
median along with it; a jump or a runaway (orders of magnitude within tens
of steps) outpaces it. Isolated single-step spikes are absorbed by the k-of-n
persistence rule. KL values under ``min_kl`` (the first steps, when the
policy still equals the reference) are treated as ``min_kl`` so that growth
from ~0 is not read as an explosion.

Warm-up is counted in training steps (see `rlwatch.detectors.bands`), and
before it ends two values in a row above ``early_ratio`` x the run's first
values and at least ``early_min_kl`` nats above them are critical: a run
that blows up in its first logged steps (KL 0 -> 1.4 within five steps)
is caught there.

A **runaway** (KL multiplying every few steps, the exponential phase of an
explosion) is caught while it climbs, before it reaches ``warning_ratio``
x baseline: the last
``runaway_window`` log values rise steadily (Mann-Kendall z above
``runaway_z``), fast enough to double KL at least every
``runaway_doubling_steps`` training steps (Theil-Sen slope, measured in
training steps so sparse logging does not change it), on two values in a
row, the value is already
``runaway_ratio`` x the median of the window before and at least
``runaway_min_kl``, **and that earlier
window was settled** (no significant rise). The last condition is what real
logs demand: a healthy run's KL climbs just as fast at the start (0.0001 ->
0.01 in 40 steps while the policy leaves the reference); that climb never
started from a settled level, a runaway does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from rlwatch.alerts import Alert
from rlwatch.detectors.bands import BandOptions
from rlwatch.detectors.base import Detector, StepArrays, StepValues
from rlwatch.detectors.trends import TrendWindow
from rlwatch.detectors.wording import k_of_n_rule, level_summary, ratio_alert
from rlwatch.hookspecs import hookimpl
from rlwatch.options import option, require
from rlwatch.stats.trend import mann_kendall_z

RECOMMENDATION = (
    "1) Stop or pause and keep the last checkpoint before the jump; a runaway KL rarely "
    "recovers on its own. "
    "2) Lower the learning rate and/or raise the KL coefficient (beta); check that the "
    "reference model is the intended one and did not change. "
    "3) Tighten the policy update: smaller clip range, fewer PPO/GRPO epochs per batch, "
    "gradient clipping. "
    "4) Check for a reward exploit driving the policy away (reward up while samples degrade)."
)


TINY_KL = 1e-6
"""KL at or below this (0 on the first steps, rounding) carries no trend information."""

SETTLE_EVERY = 32
"""Values between checks of whether KL has settled (and over which it is checked)."""

SETTLED_Z = 2.0
"""KL has settled when the Mann-Kendall |z| of the last `SETTLE_EVERY` values stays below this twice in a row."""


@dataclass
class KLExplosionConfig(BandOptions, warning_ratio=4.0, critical_ratio=10.0, min_sigmas=3.0, baseline_window=64,
                        warning_k=3, warning_n=5, critical_k=2, critical_n=3):
    """Options of the `kl_explosion` detector (the band options are `BandOptions`')."""

    spike_critical_ratio: float = option(
        100.0, "A single value above this multiple of the baseline is critical at once (0 disables)."
    )
    min_kl: float = option(
        0.02, "KL values below this count as this value (nats): tiny early KL does not make tiny thresholds."
    )
    early_ratio: float = option(
        10.0, "Cold start: two values in a row above this multiple of the run's first values ..."
    )
    early_min_kl: float = option(
        0.5, "... and at least this much above them are critical (an early blow-up: 0 -> 1.4 nats in five steps)."
    )
    settled_min_kl: float = option(
        0.002, "Once KL has settled (no significant trend over two checks of its last 32 values), min_kl drops to this."
    )
    runaway_window: int = option(10, "Values the runaway rule looks at; 0 turns it off.")
    runaway_z: float = option(2.5, "The rise must be this significant (Mann-Kendall z above it) ...")
    runaway_doubling_steps: float = option(
        10.0, "... and fast: KL doubling at least every this many training steps ..."
    )
    runaway_ratio: float = option(
        2.0, "... with the value already this multiple of the settled level before the window (a warning) ..."
    )
    runaway_min_kl: float = option(0.02, "... and at least this many nats: a runaway of KL that small is noise.")

    def validate(self) -> None:
        """Raise `rlwatch.errors.ConfigError` for impossible values."""
        super().validate()
        require(
            self.spike_critical_ratio == 0.0 or self.spike_critical_ratio > 1.0,
            "kl_explosion.spike_critical_ratio must be 0 (off) or > 1",
        )
        require(self.min_kl > 0.0, "kl_explosion.min_kl must be > 0")
        require(0.0 < self.settled_min_kl <= self.min_kl, "kl_explosion: need 0 < settled_min_kl <= min_kl")
        require(self.early_ratio == 0.0 or self.early_ratio > 1.0, "kl_explosion.early_ratio must be 0 or > 1")
        require(self.early_min_kl >= 0.0, "kl_explosion.early_min_kl must be >= 0")
        require(self.runaway_window == 0 or self.runaway_window >= 6, "kl_explosion.runaway_window must be 0 or >= 6")
        require(self.runaway_z > 0.0, "kl_explosion.runaway_z must be > 0")
        require(self.runaway_min_kl >= 0.0, "kl_explosion.runaway_min_kl must be >= 0")
        require(self.runaway_doubling_steps > 0.0, "kl_explosion.runaway_doubling_steps must be > 0")
        require(1.0 < self.runaway_ratio <= self.warning_ratio,
                "kl_explosion: need 1 < runaway_ratio <= warning_ratio")


class KLExplosionDetector(Detector[KLExplosionConfig]):
    """KL far above its rolling log-scale baseline, persistently."""

    id: ClassVar[str] = "kl_explosion"
    config_class = KLExplosionConfig
    metrics: ClassVar[tuple[str, ...]] = ("kl_divergence",)
    arrays: ClassVar[tuple[str, ...]] = ()
    missing_hint: ClassVar[str] = (
        "no kl_divergence logged; GRPO logs KL only when beta > 0 (TRL: 'kl'); PPO "
        "trainers log an approximate KL; or pass kl_divergence=... to log_step"
    )

    def __init__(self, config: KLExplosionConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self._watch = cfg.rising_watch(
            spike_critical=cfg.spike_critical_ratio, reference_floor=cfg.min_kl, early_ratio=cfg.early_ratio,
            early_min_delta=cfg.early_min_kl,
        )
        self._recent = TrendWindow(cfg.runaway_window, log_scale=True, keep_before=True)
        self._log_ratio = math.log(cfg.runaway_ratio)
        self._pending = False
        self._settled_checks = 0
        self._min_rate = math.log(2.0) / cfg.runaway_doubling_steps  # log-KL per training step

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Consume one step's KL (absent or non-finite: ignored)."""
        x = values.get("kl_divergence")
        if x is None or x - x != 0.0:
            return None
        raw = x
        if x < TINY_KL:
            # exact zeros of the first steps, and negative k1-estimator values
            x = TINY_KL
        w = self._watch
        sev = w.observe(x, step)
        if w.live and w.count % SETTLE_EVERY == 0:
            self._settle()
        if self.config.runaway_window and raw > TINY_KL:
            self._recent.push(raw, step)
            if sev == 0 and w.live:
                doubling, level = self._runaway(raw)
                if doubling:
                    return [self._runaway_alert(step, raw, doubling, level)]
        if sev == 0:
            return None
        rule = k_of_n_rule(self.config, sev) if w.live else "two values in a row, at the start of the run"
        return [self._alert(step, x, sev, rule)]

    def _settle(self) -> None:
        """Lower the KL floor once KL has settled; raise it again while it trends (checked every 32 values).

        The floor keeps the early climb away from the reference policy (0.0001 -> 0.01 in real runs) from
        reading as an explosion; a run whose KL has held a low level for a whole window has no such climb,
        and there a jump from 0.003 to 0.03 nats is as real as one from 0.03 to 0.3.
        """
        import numpy as np  # deferred: keeps `import rlwatch` light

        cfg, w = self.config, self._watch
        recent = np.log(np.asarray(w.values()[-SETTLE_EVERY:], dtype=np.float64))
        z = mann_kendall_z(recent)
        settled = abs(z) < SETTLED_Z
        self._settled_checks = self._settled_checks + 1 if settled else 0
        floor = cfg.settled_min_kl if self._settled_checks >= 2 else cfg.min_kl
        if floor != w.reference_floor:
            w.reference_floor = floor
            w.refresh_edges()

    def _runaway(self, x: float) -> tuple[float, float]:
        """The runaway rule: (KL's doubling time in training steps, the earlier level) when it holds, else (0, 0).

        O(1) unless the value is already `runaway_ratio` x the oldest value of the window.
        """
        cfg, recent = self.config, self._recent
        log_x = math.log(x)
        gate = log_x - recent.first >= self._log_ratio and x >= cfg.runaway_min_kl
        pending, self._pending = self._pending, False
        if not (recent.due(gate) or (pending and gate)):
            return 0.0, 0.0
        found = self._runaway_now(log_x)
        if found[0] and not pending:
            self._pending = True  # confirm on the next value: one lucky run of rising noise is not a runaway
            return 0.0, 0.0
        return found

    def _runaway_now(self, log_x: float) -> tuple[float, float]:
        # cheapest test first: most gated values of a noisy healthy run are not 2x the earlier median
        cfg, recent = self.config, self._recent
        level = recent.before_level()
        if log_x - level < self._log_ratio:
            return 0.0, 0.0  # not yet far from where it was
        now = recent.trend()
        if now.z < cfg.runaway_z or now.change < self._min_rate * now.steps:
            return 0.0, 0.0
        if recent.before_trend().z >= cfg.runaway_z / 2:
            return 0.0, 0.0  # still settling since the start
        if now.change < cfg.min_sigmas * recent.before_sigma(level):
            return 0.0, 0.0  # no larger than the noise of the settled level could draw across one window
        return math.log(2.0) * now.steps / now.change, math.exp(level)

    def _runaway_alert(self, step: int, x: float, doubling: float, level: float) -> Alert:
        n = self.config.runaway_window
        return self.alert(
            step, "warning",
            f"KL divergence {x:.3g} is {x / level:.1f}x its settled level {level:.3g} and climbing steadily: "
            f"doubling every {doubling:.3g} training steps over the last {n} values.",
            {"kl_divergence": x, "settled_level": level, "doubling_steps": doubling},
            RECOMMENDATION,
        )

    def _alert(self, step: int, x: float, sev: int, rule: str) -> Alert:
        return ratio_alert(self, step, sev, "KL divergence", "kl_divergence", x, self._watch, rule, RECOMMENDATION)

    def summary(self) -> dict[str, float]:
        """Baseline, log-sigma and the current thresholds."""
        return level_summary(self._watch)


@hookimpl
def rlwatch_detectors() -> list[type[Detector[KLExplosionConfig]]]:
    """Register `kl_explosion`."""
    return [KLExplosionDetector]
