"""Run grpo_run.py, and on any exception die at once with exit code 3.

``os._exit`` skips atexit handlers and sys.excepthook, like a process killed
by the OOM killer right when training breaks: only what was already written
to disk survives. No rlwatch here either.
"""

from __future__ import annotations

import os
import runpy
import sys
import traceback

if __name__ == "__main__":
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grpo_run.py")
    try:
        runpy.run_path(script, run_name="__main__")
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(3)
