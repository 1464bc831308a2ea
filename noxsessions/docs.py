"""`nox -s docs`: build the manual offline in strict mode, then test what it says.

1. installs mkdocs and mkdocs-material (pinned), rlwatch-core with its
   dashboard extra and rlwatch-notify from their folders;
2. ``mkdocs build --strict`` into a temporary folder: a broken link or
   anchor, a missing page or a page left out of the nav fails the build. The
   theme loads no web fonts and no analytics, and no plugin fetches anything;
3. ``pytest tests/docs``: the generated pages (configuration, CLI, hook
   reference) are not stale, the nav and the files agree, the built pages
   load nothing from another host, and every
   ```python example of README.md and docs/ runs (``rlwatch`` command blocks
   and ``rlwatch.yaml`` blocks too). Framework examples are skipped here by
   their ``skip-if-missing`` marker; the framework's own session may run them
   with ``pytest tests/docs/test_snippets.py -k adapters/<name>``.

Budget: 3 minutes on 2 cores. Measured: 24 s on a quiet machine, 2 min 58 s while
other sessions loaded it (most of it is the pip installs).
"""

from __future__ import annotations

import os

import nox

from noxsessions._common import PYTHON, ROOT

DOCS_DEPS = ("mkdocs==1.6.1", "mkdocs-material==9.8.1", "pymdown-extensions==13.1.2", "pytest>=8")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the docs site (strict, offline) and run the docs tests."""
    # One pip call: one resolver run. The dashboard extra is there for `rlwatch report` examples.
    # rlwatch-postgres too: its `rlwatch sync` command belongs in the generated CLI reference.
    session.install(*DOCS_DEPS, f"{ROOT / 'rlwatch-core'}[dashboard]", str(ROOT / "rlwatch-notify"),
                    str(ROOT / "rlwatch-postgres"))
    site = os.path.abspath(session.create_tmp()) + "/site"  # absolute: the tests run in temp folders
    # NO_MKDOCS_2_WARNING: mkdocs-material's end-of-life banner is advice, not a build problem.
    env = {"NO_MKDOCS_2_WARNING": "1"}
    session.run("mkdocs", "build", "--strict", "--clean", "--config-file", str(ROOT / "mkdocs.yml"),
                "--site-dir", site, env=env)
    # The tests check the site just built (nothing loaded from another host) instead of building again.
    session.run("pytest", str(ROOT / "tests" / "docs"), "-q", "-p", "no:cacheprovider", *session.posargs,
                env={"DOCS_SITE_DIR": site})
