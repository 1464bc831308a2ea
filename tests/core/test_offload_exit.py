"""The offload worker at exit: the job in hand ends, no new one starts (a daemon inside numpy would abort)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys, time
from pathlib import Path
from rlwatch.offload import Offload

out = Path(sys.argv[1])

def job(name, seconds):
    def run():
        time.sleep(seconds)
        out.joinpath(name).write_text("done")
    return run

first, second = Offload(inline=False), Offload(inline=False)
first.submit(job("first", 0.4))
time.sleep(0.1)                      # the worker is inside the first job
second.submit(job("second", 0.0))    # queued behind it
sys.exit(0)                          # exit while the first job runs
"""


def test_exit_lets_the_job_in_hand_finish_and_starts_no_other(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # Without the exit hook the daemon worker is dropped mid-job: "first" is never written.
    assert (tmp_path / "first").read_text() == "done"
    assert not (tmp_path / "second").exists()


FORK_SCRIPT = """
import os, sys, time
from pathlib import Path
from rlwatch.offload import Offload

out = Path(sys.argv[1])

def job(name, seconds):
    def run():
        time.sleep(seconds)
        out.joinpath(name).write_text(str(os.getpid()))
    return run

Offload(inline=False).submit(job("parent", 0.5))
time.sleep(0.1)                      # the worker is inside the parent's job
pid = os.fork()
if pid == 0:                         # the child: no worker, but a copy of the module's state
    Offload(inline=False).submit(job("child", 0.0))
    time.sleep(0.5)
    os._exit(0)
os.waitpid(pid, 0)
"""


def test_a_child_forked_mid_job_runs_its_own_jobs(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", FORK_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "parent").exists()
    # The parent's worker held its job lock at the fork; the child's new worker must not wait on that copy.
    assert (tmp_path / "child").exists()
