"""`rlwatch demo`: a simulated GRPO run that goes wrong, monitored live."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Any

from rlwatch.cli._common import EXIT_OK, EXIT_USAGE, cannot_write_in, fail
from rlwatch.terminal import printable

MAX_DELAY_SECONDS = 60.0
"""Longest ``--delay`` accepted (the demo has a few hundred steps)."""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``demo`` command."""
    p = subparsers.add_parser("demo", help="watch a simulated GRPO run collapse, live")
    p.add_argument("--log-dir", default="./rlwatch_logs", help="where metrics.db goes (default ./rlwatch_logs)")
    p.add_argument("--run-id", default="", help="run id (default: demo-<time>)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed of the simulation, >= 0 (default 0)")
    p.add_argument("--delay", type=_delay, default=0.004,
                   help=f"seconds between simulated steps, 0 to {MAX_DELAY_SECONDS:g}")
    p.set_defaults(func=cmd_demo)


def _delay(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= MAX_DELAY_SECONDS):
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_DELAY_SECONDS:g} seconds, not {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:  # numpy's generators take non-negative seeds only
        raise argparse.ArgumentTypeError(f"must be >= 0, not {text!r}")
    return value


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the simulation through a real monitor, then print the diagnosis."""
    from rlwatch.config import load_config
    from rlwatch.core import RLWatch
    from rlwatch.diagnose import diagnose, render_text
    from rlwatch.storage.reader import StoreReader
    from rlwatch.testing.demo import demo_run

    problem = cannot_write_in(args.log_dir)
    if problem is not None:
        return fail("demo", f"cannot write to --log-dir {args.log_dir}: {problem}", EXIT_USAGE)
    run_id = args.run_id or f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    # The console channel would print every alert with its full recommendation (19 times for 6 detectors);
    # the demo prints one line per alert as it happens and each recommendation once, in the diagnosis.
    cfg = load_config(overrides={"run_id": run_id, "framework": "demo", "storage": {"log_dir": args.log_dir},
                                 "alerts": {"console": {"enabled": False}}})
    print(printable(f"rlwatch demo: simulating a GRPO run ({run_id}); healthy at first, then it goes wrong."),
          flush=True)
    monitor = RLWatch(cfg).start()
    sent = 0
    last_step = 0
    for step, metrics in demo_run(seed=args.seed):
        for alert in monitor.log_step(step, **metrics):
            sent += 1
            print(f"  ALERT {alert.severity.upper():8} {alert.detector} at step {alert.step}: {alert.message}",
                  file=sys.stderr, flush=True)
        last_step = step
        if step % 50 == 0:
            print(f"  step {step:4d}  " + "  ".join(
                f"{k}={v:.3g}" for k, v in metrics.items() if isinstance(v, float) and k in
                ("entropy", "kl_divergence", "reward_mean", "grad_norm")), file=sys.stderr, flush=True)
        if args.delay:
            time.sleep(args.delay)
    monitor.stop()
    print(f"\nrlwatch demo: {last_step + 1} steps, {sent} alerts sent. "
          "The diagnosis, one recommendation per problem:\n", flush=True)
    with StoreReader(cfg.db_path) as reader:
        result = diagnose(reader, run_id)
        if result is not None:
            print(render_text(result))
    print(printable(f"\nData: {os.path.abspath(cfg.db_path)} (run {run_id}).", keep="\n"))
    print(printable(f"Next: rlwatch diagnose {run_id} --db {cfg.db_path}   |   rlwatch dashboard --db {cfg.db_path}"))
    return EXIT_OK
