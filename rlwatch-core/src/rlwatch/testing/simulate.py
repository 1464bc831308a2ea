"""Labelled synthetic training runs: healthy ones and each failure kind.

Use it to see what rlwatch does before a real run, to test your own
configuration, and as the scenario suite behind ``nox -s quality``::

    from rlwatch.testing.simulate import simulate_run
    run = simulate_run("entropy_collapse", seed=3)
    for step, metrics in run:               # metrics: log_step keyword arguments
        monitor.log_step(step, **metrics)
    run.onset, run.expected_detector        # the label: when, and who should fire

A run is generated from a *profile* (what kind of training it imitates) and
optionally one failure injected at ``onset``:

profiles
    ``chat``            entropy 2-3 nats, continuous reward-model scores rising
    ``math``            entropy 0.3-0.6 nats (low, stable), binary 0/1 rewards
    ``partial_credit``  entropy ~1 nat, five reward levels (0, 0.25, ..., 1)
    ``noisy``           like math, with heavier tails and more frequent spikes
    ``kl_growth``       KL growing smoothly 10-30x over the run
All profiles have heavy-tailed (Student-t on the log scale) KL and gradient
norm noise with isolated 2-4x single-step spikes, a rising reward, slowly
growing completion length, GRPO groups (rewards are groups x samples), and
advantages normalised per group as GRPO does.

failures (``kind``) and their variants are listed in `FAILURES`; the
``stalled`` kind is about wall-clock time: see `SimulatedRun.step_seconds`.

`demo_run` is the scripted run behind ``rlwatch demo``: healthy for a while,
then collapsing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PROFILES: tuple[str, ...] = ("chat", "math", "partial_credit", "noisy", "kl_growth")
"""Healthy run profiles (see the module docs)."""

FAILURES: dict[str, tuple[str, ...]] = {
    "entropy_collapse": ("fast", "gradual", "ramp"),
    "entropy_explosion": ("blowup",),
    "kl_explosion": ("jump", "runaway"),
    "reward_hacking": ("cluster", "spread", "out_of_range"),
    "advantage_variance": ("jump",),
    "loss_nan": ("loss_nan", "grad_inf", "kl_nan"),
    "gradient_norm_spike": ("growth", "huge_spike"),
    "reward_mean_drift": ("decline", "ramp"),
    "degenerate_groups": ("all_solved", "constant_reward"),
    "length_pathology": ("collapse", "saturation"),
    "stalled": ("hang",),
}
"""Failure kinds (named after the detector that should catch them) and variants."""

_CONTINUOUS_ONLY = {("reward_hacking", "cluster"), ("reward_hacking", "spread")}
_DISCRETE_ONLY = {("reward_hacking", "out_of_range"), ("degenerate_groups", "all_solved")}


@dataclass
class SimulatedRun:
    """One generated run and its label.

    Attributes:
        kind: ``"healthy"`` or a failure kind (the id of the detector that
            should catch it).
        variant: Failure variant (``""`` for healthy runs).
        profile: The healthy profile underneath.
        seed: Seed it was generated from (same seed, same run).
        onset: First step of the failure (None for healthy runs).
        expected_detector: Detector id that should fire (None if healthy).
        rows: ``(step, metrics)`` pairs; metrics are `log_step` keyword
            arguments (floats, and ``rewards`` as a groups x samples array).
        step_seconds: Wall-clock seconds each step took (for ``stalled``:
            after the last row the job hangs).
        max_completion_length: The generation limit the run used.
    """

    kind: str
    variant: str
    profile: str
    seed: int
    onset: int | None
    expected_detector: str | None
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    max_completion_length: int = 0

    @property
    def name(self) -> str:
        """Short label, e.g. ``"kl_explosion/runaway/math/seed3"``."""
        head = "healthy" if self.kind == "healthy" else f"{self.kind}/{self.variant}"
        return f"{head}/{self.profile}/seed{self.seed}"

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def simulate_run(
    kind: str = "healthy",
    seed: int = 0,
    *,
    variant: str | None = None,
    profile: str | None = None,
    steps: int = 500,
    onset: int | None = None,
    group_size: int = 8,
    groups: int = 16,
) -> SimulatedRun:
    """Generate one labelled run.

    Args:
        kind: ``"healthy"`` or a key of `FAILURES`.
        seed: Random seed; everything not given is drawn from it.
        variant: Failure variant (default: drawn from the kind's variants).
        profile: Healthy profile (default: drawn, compatible with variant).
        steps: Number of steps.
        onset: First failing step (default: drawn in [0.3, 0.7] x steps).
        group_size: Samples per prompt (GRPO group).
        groups: Prompts per step.

    Returns:
        The run; iterate it for ``(step, metrics)``.

    Raises:
        ValueError: For an unknown kind, variant or profile.
    """
    rng = np.random.default_rng([seed, _stable_hash(kind), _stable_hash(variant or "")])
    if kind != "healthy" and kind not in FAILURES:
        raise ValueError(f"unknown kind {kind!r}; choose 'healthy' or one of {sorted(FAILURES)}")
    if kind == "healthy":
        variant = ""
    elif variant is None:
        variant = str(rng.choice(FAILURES[kind]))
    elif variant not in FAILURES[kind]:
        raise ValueError(f"unknown variant {variant!r} of {kind}; choose one of {FAILURES[kind]}")
    if profile is None:
        allowed = list(PROFILES)
        if (kind, variant) in _CONTINUOUS_ONLY:
            allowed = ["chat", "kl_growth"]
        elif (kind, variant) in _DISCRETE_ONLY:
            allowed = ["math", "partial_credit", "noisy"]
        profile = str(rng.choice(allowed))
    elif profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    if kind != "healthy" and onset is None:
        onset = int(rng.integers(int(0.3 * steps), int(0.7 * steps)))
    run = SimulatedRun(
        kind=kind,
        variant=variant,
        profile=profile,
        seed=seed,
        onset=onset if kind != "healthy" else None,
        expected_detector=None if kind == "healthy" else kind,
    )
    _generate(run, rng, steps, groups, group_size)
    return run


def _stable_hash(text: str) -> int:
    # hash() is salted per process; runs must be reproducible across processes
    h = 2166136261
    for ch in text.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


def _heavy_noise(rng: np.random.Generator, sigma: float, n: int, spike_p: float) -> np.ndarray:
    """Multiplicative heavy-tailed noise with isolated 2-4x single-step spikes."""
    t = rng.standard_t(4, n) / math.sqrt(2.0)  # unit variance
    noise = np.exp(sigma * np.clip(t, -5.0, 5.0))
    spikes = rng.random(n) < spike_p
    noise[spikes] *= rng.uniform(2.0, 4.0, int(spikes.sum()))
    return noise


def _ar1(rng: np.random.Generator, n: int, sigma: float, phi: float = 0.9) -> np.ndarray:
    """Slow, autocorrelated wobble (what real curves do between trends)."""
    e = rng.normal(0.0, sigma * math.sqrt(1.0 - phi * phi), n)
    out = np.empty(n)
    acc = rng.normal(0.0, sigma)
    for i in range(n):
        acc = phi * acc + e[i]
        out[i] = acc
    return out


def _ramp(t: np.ndarray, onset: int, length: float) -> np.ndarray:
    """0 before onset, rising linearly to 1 over ``length`` steps."""
    return np.clip((t - onset + 1) / max(length, 1.0), 0.0, 1.0)


def _generate(run: SimulatedRun, rng: np.random.Generator, steps: int, groups: int, size: int) -> None:
    T = steps
    t = np.arange(T, dtype=np.float64)
    prof = run.profile
    kind, variant, onset = run.kind, run.variant, run.onset if run.onset is not None else T + 1
    after = t >= onset

    # ---- healthy base series ------------------------------------------------------
    noisy = prof == "noisy"
    log_sigma_kl = rng.uniform(0.35, 0.6) if noisy else rng.uniform(0.15, 0.35)
    log_sigma_grad = rng.uniform(0.35, 0.5) if noisy else rng.uniform(0.15, 0.3)
    spike_p = 0.03 if noisy else rng.uniform(0.005, 0.015)

    if prof == "chat":
        e0 = rng.uniform(2.0, 3.0)
    elif prof == "partial_credit":
        e0 = rng.uniform(0.8, 1.5)
    else:
        e0 = rng.uniform(0.3, 0.6)
    e_decline = rng.uniform(0.0, 0.2) if prof != "math" else rng.uniform(0.0, 0.05)
    entropy = e0 * (1.0 - e_decline * t / T) * np.exp(_ar1(rng, T, 0.03) + rng.normal(0.0, rng.uniform(0.015, 0.05), T))

    k1 = rng.uniform(0.01, 0.05) if prof == "chat" else rng.uniform(0.001, 0.01)
    tau_k = rng.uniform(10.0, 40.0)
    growth = (
        np.exp(math.log(rng.uniform(10.0, 30.0)) * t / T)
        if prof == "kl_growth"
        else 1.0 + rng.uniform(0.0, 1.0) * t / T
    )
    kl = k1 * (1.0 - np.exp(-(t + 1.0) / tau_k)) * growth * _heavy_noise(rng, log_sigma_kl, T, spike_p)

    g0 = rng.uniform(0.2, 3.0)
    grad = g0 * (1.0 + 1.5 * np.exp(-t / 15.0)) * _heavy_noise(rng, log_sigma_grad, T, spike_p)

    loss = rng.uniform(-0.02, 0.05) + rng.normal(0.0, 0.02, T)
    lr = 1e-6 * np.minimum(1.0, (t + 1.0) / 10.0)
    clip_fraction = np.clip(rng.uniform(0.05, 0.15) + rng.normal(0.0, 0.01, T), 0.0, 1.0)

    l0 = rng.uniform(150.0, 600.0)
    l_growth = rng.uniform(0.0, 0.8)
    length = l0 * (1.0 + l_growth * t / T) * np.exp(rng.normal(0.0, 0.04, T))
    max_len = int(l0 * (1.0 + l_growth) * rng.uniform(3.5, 5.0))
    run.max_completion_length = max_len
    length_sigma = 0.45  # per-sample log-length spread

    # reward level: rising (learning), saturating, with slow wobble
    rise = 1.0 - np.exp(-t / rng.uniform(100.0, 400.0))
    if prof == "chat":
        mu0, gain, r_sigma = rng.uniform(-1.0, 0.0), rng.uniform(0.5, 2.0), rng.uniform(0.5, 1.5)
        level = mu0 + gain * rise + _ar1(rng, T, 0.05 * gain)
    else:
        p0, gain = rng.uniform(0.1, 0.4), rng.uniform(0.1, 0.35)
        level = np.clip(p0 + gain * rise + _ar1(rng, T, 0.02), 0.02, 0.95)
        r_sigma = 0.0
    if prof == "kl_growth":
        mu0, gain, r_sigma = rng.uniform(-1.0, 0.0), rng.uniform(0.5, 2.0), rng.uniform(0.5, 1.5)
        level = mu0 + gain * rise + _ar1(rng, T, 0.05 * gain)
    continuous = prof in ("chat", "kl_growth")
    kappa = rng.uniform(2.0, 6.0)  # prompt difficulty spread (Beta concentration)

    # ---- failure injection on the series -----------------------------------------
    adv_scale = np.ones(T)
    nan_metric = ""
    hack_fraction = np.zeros(T)
    hack_offset = 0.0
    sigma_scale = np.ones(T)
    out_of_range_value = 0.0
    all_solved = np.zeros(T)
    constant_reward = np.zeros(T, dtype=bool)
    clipped_override = np.full(T, np.nan)

    if kind == "entropy_collapse":
        final = rng.uniform(0.02, 0.15)
        if variant == "ramp":
            # a slow, straight slide over 40-100 steps
            decay = 1.0 - (1.0 - final) * _ramp(t, onset, rng.uniform(40.0, 100.0))
        else:
            tau = rng.uniform(1.5, 5.0) if variant == "fast" else rng.uniform(6.0, 15.0)
            decay = final + (1.0 - final) * np.exp(-(t - onset) / tau)
        entropy = np.where(after, entropy * decay, entropy)
    elif kind == "entropy_explosion":
        # the policy turns to noise: entropy heads for the uniform distribution's log(vocab)
        ceiling = rng.uniform(8.0, 11.0)
        noise_level = np.minimum(entropy * rng.uniform(8.0, 60.0), ceiling)
        rise = _ramp(t, onset, rng.uniform(1.0, 10.0))
        entropy = np.where(after, entropy + (noise_level - entropy) * rise, entropy)
    elif kind == "kl_explosion":
        if variant == "jump":
            kl = np.where(after, kl * rng.uniform(8.0, 30.0), kl)
        else:
            tau = rng.uniform(4.0, 10.0)
            kl = np.where(after, kl * np.minimum(np.exp((t - onset) / tau), 1e4), kl)
    elif kind == "reward_hacking":
        r = _ramp(t, onset, rng.uniform(1.0, 8.0))
        if variant == "cluster":
            hack_fraction = r * rng.uniform(0.25, 0.5)
            hack_offset = rng.uniform(4.0, 8.0)
        elif variant == "spread":
            sigma_scale = 1.0 + (rng.uniform(5.0, 10.0) - 1.0) * r
        else:
            hack_fraction = np.where(after, rng.uniform(0.05, 0.2), 0.0)
            out_of_range_value = rng.uniform(3.0, 10.0)
    elif kind == "advantage_variance":
        adv_scale = 1.0 + (rng.uniform(5.0, 20.0) - 1.0) * _ramp(t, onset, rng.uniform(1.0, 5.0))
    elif kind == "loss_nan":
        nan_metric = variant
    elif kind == "gradient_norm_spike":
        if variant == "growth":
            tau = rng.uniform(3.0, 8.0)
            grad = np.where(after, grad * np.minimum(np.exp((t - onset) / tau), 1e4), grad)
        else:
            grad = grad.copy()
            grad[onset] *= rng.uniform(20.0, 200.0)
    elif kind == "reward_mean_drift":
        ramp = _ramp(t, onset, rng.uniform(10.0, 40.0) if variant == "decline" else rng.uniform(40.0, 100.0))
        at = level[min(onset, T - 1)]
        if continuous:
            drop = rng.uniform(0.6, 1.0) * gain + rng.uniform(0.5, 1.0) * r_sigma
        else:
            drop = at * rng.uniform(0.5, 0.9)
        level = level - drop * ramp
        if not continuous:
            level = np.clip(level, 0.005, 0.95)
    elif kind == "degenerate_groups":
        if variant == "all_solved":
            all_solved = _ramp(t, onset, rng.uniform(2.0, 6.0))
        else:
            constant_reward = after
    elif kind == "length_pathology":
        if variant == "collapse":
            final = rng.uniform(0.05, 0.3)
            tau = rng.uniform(1.0, 6.0)
            length = np.where(after, length * (final + (1.0 - final) * np.exp(-(t - onset) / tau)), length)
        else:
            r = _ramp(t, onset, rng.uniform(3.0, 15.0))
            target = rng.uniform(0.5, 0.95)
            length = length * (1.0 - r) + max_len * (0.85 + 0.1 * target) * r
            clipped_override = np.where(after, target * r, np.nan)

    # ---- per-step rows, with per-sample rewards --------------------------------------
    rows: list[tuple[int, dict[str, Any]]] = []
    for i in range(T):
        if continuous:
            offsets = rng.normal(0.0, 0.5 * r_sigma, (groups, 1))
            rewards = level[i] + offsets + rng.normal(0.0, r_sigma * sigma_scale[i], (groups, size))
            if hack_fraction[i] > 0.0:
                hacked = rng.random((groups, size)) < hack_fraction[i]
                rewards = np.where(
                    hacked, level[i] + hack_offset * r_sigma + rng.normal(0.0, 0.3 * r_sigma, (groups, size)), rewards
                )
        else:
            p = level[i] * (1.0 - all_solved[i]) + 0.995 * all_solved[i]
            k = kappa * (1.0 - all_solved[i]) + 200.0 * all_solved[i]
            pg = rng.beta(max(p * k, 1e-3), max((1.0 - p) * k, 1e-3), (groups, 1))
            if prof == "partial_credit":
                rewards = rng.binomial(4, np.broadcast_to(pg, (groups, size))) / 4.0
            else:
                rewards = (rng.random((groups, size)) < pg).astype(np.float64)
            if hack_fraction[i] > 0.0:
                hacked = rng.random((groups, size)) < hack_fraction[i]
                rewards = np.where(hacked, out_of_range_value, rewards)
        if constant_reward[i]:
            rewards = np.zeros((groups, size)) if not continuous else np.full((groups, size), -1.0)
        mean_g = rewards.mean(axis=1, keepdims=True)
        std_g = rewards.std(axis=1, keepdims=True, ddof=1)
        adv = (rewards - mean_g) / (std_g + 1e-4)
        frac_zero = float((std_g[:, 0] < 1e-12).mean())
        clipped = clipped_override[i]
        if clipped != clipped:
            z = math.log(max_len / max(length[i], 1.0)) / length_sigma
            p_clip = 0.5 * math.erfc(z / math.sqrt(2.0))
            clipped = float(rng.binomial(groups * size, p_clip)) / (groups * size)
        metrics: dict[str, Any] = {
            "entropy": float(entropy[i]),
            "kl_divergence": float(kl[i]),
            "rewards": rewards,
            "reward_mean": float(rewards.mean()),
            "reward_std": float(rewards.std()),
            "advantage_std": float(adv.std() * adv_scale[i]),
            "loss": float(loss[i]),
            "grad_norm": float(grad[i]),
            "learning_rate": float(lr[i]),
            "clip_fraction": float(clip_fraction[i]),
            "frac_reward_zero_std": frac_zero,
            "completion_length": float(min(length[i], max_len)),
            "completion_clipped_ratio": clipped,
        }
        if i >= onset and nan_metric:
            if nan_metric == "loss_nan":
                metrics["loss"] = math.nan
                metrics["grad_norm"] = math.nan
            elif nan_metric == "grad_inf":
                # what TRL logs when the forward pass turns NaN: a NaN gradient norm, the loss masked to
                # exactly 0, and entropy and KL left out of the step
                metrics["grad_norm"] = math.nan
                metrics["loss"] = 0.0
                del metrics["entropy"], metrics["kl_divergence"]
            else:
                metrics["kl_divergence"] = math.nan
                metrics["entropy"] = math.nan
        rows.append((i, metrics))
    # wall-clock: a step interval with jitter, periodic checkpoint pauses
    interval = rng.uniform(5.0, 30.0)
    seconds = interval * np.exp(rng.normal(0.0, 0.1, T))
    every = int(rng.integers(50, 150))
    seconds[every::every] *= rng.uniform(2.0, 5.0)
    if kind == "stalled":
        rows = rows[: onset + 1]  # the job hangs after the onset step
        seconds = seconds[: onset + 1]
    run.rows = rows
    run.step_seconds = [float(s) for s in seconds]


def scenario_suite(seeds: int = 5, steps: int = 500) -> list[SimulatedRun]:
    """The quality suite: every profile healthy, and every failure variant.

    Args:
        seeds: Runs per (profile) for healthy runs and per (kind, variant)
            for failures.
        steps: Steps per run.

    Returns:
        Healthy runs first, then failures, each with its label.
    """
    runs: list[SimulatedRun] = []
    for profile in PROFILES:
        for s in range(seeds):
            runs.append(simulate_run("healthy", seed=s, profile=profile, steps=steps))
    for kind, variants in FAILURES.items():
        for variant in variants:
            for s in range(seeds):
                runs.append(simulate_run(kind, seed=s, variant=variant, steps=steps))
    return runs
