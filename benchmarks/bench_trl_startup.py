"""Interpreter start-up with and without rlwatch-trl installed, side by side.

rlwatch-trl ships a .pth start-up hook that runs in every Python process of
the environment. It must be free when transformers is never imported. This
builds two fresh virtualenvs, one plain and one with the rlwatch-trl wheel
(no dependencies: only the hook and the package matter for start-up), and
times ``python -c pass`` in both, interleaved so that machine load hits both
alike. It also prints what the hook imports (``-X importtime``).

Usage: python benchmarks/bench_trl_startup.py [--runs 40] [--keep DIR]
Exit code 1 only on a gross overhead (> 25 ms median), so a busy machine does
not make it flaky.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
GROSS_OVERHEAD_MS = 25.0


def _venv(path: pathlib.Path) -> pathlib.Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


def _build_wheel(out: pathlib.Path) -> pathlib.Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                    str(ROOT / "rlwatch-trl")], check=True)
    return next(out.glob("rlwatch_trl-*.whl"))


def _install(python: pathlib.Path, wheel: pathlib.Path) -> None:
    # The venvs have no pip of their own: use ours, pointed at their site-packages.
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", purelib, str(wheel)],
                   check=True)


def _time_once(python: pathlib.Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(python), "-c", "pass"], check=True)
    return (time.perf_counter() - t0) * 1000.0


def _importtime(python: pathlib.Path) -> list[str]:
    err = subprocess.run([str(python), "-X", "importtime", "-c", "pass"], capture_output=True, text=True).stderr
    return [line for line in err.splitlines() if "rlwatch" in line]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--keep", help="build the venvs in this folder and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rlwatch-trl-bench-") as tmp:
        base = pathlib.Path(args.keep or tmp)
        base.mkdir(parents=True, exist_ok=True)
        plain = _venv(base / "without")
        hooked = _venv(base / "with")
        _install(hooked, _build_wheel(base / "dist"))
        for python in (plain, hooked):  # warm the OS caches
            _time_once(python)
        without: list[float] = []
        with_: list[float] = []
        for _ in range(args.runs):
            without.append(_time_once(plain))
            with_.append(_time_once(hooked))
        pairs = sorted(w - p for w, p in zip(with_, without, strict=True))
        overhead = statistics.median(pairs)
        print(f"python -c pass, {args.runs} interleaved runs each (ms):")
        print(f"  {'':26} {'median':>8} {'mean':>8} {'min':>8}")
        print(f"  {'without rlwatch-trl':26} {statistics.median(without):8.2f} {statistics.fmean(without):8.2f} "
              f"{min(without):8.2f}")
        print(f"  {'with rlwatch-trl (.pth)':26} {statistics.median(with_):8.2f} {statistics.fmean(with_):8.2f} "
              f"{min(with_):8.2f}")
        print(f"  overhead: median of paired differences {overhead:+.2f} ms, "
              f"min-to-min {min(with_) - min(without):+.2f} ms")
        print("  imported by the hook at start-up (-X importtime, us: self | cumulative | module):")
        for line in _importtime(hooked):
            print("   ", line.replace("import time:", "").strip())
        if overhead > GROSS_OVERHEAD_MS:
            print(f"GROSS OVERHEAD: {overhead:.1f} ms > {GROSS_OVERHEAD_MS} ms")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
