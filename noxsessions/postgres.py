"""`nox -s postgres`: rlwatch-postgres against a real PostgreSQL server.

The server is Debian's ``postgresql`` package (installed here with apt-get
when its binaries are missing). The tests start throwaway clusters of their
own in temporary folders (as the ``postgres`` system user when run as root),
on 127.0.0.1 with free ports, and remove them at the end; nothing else on
the machine is touched. Covered: shipping from real monitors, several node
processes at once, PostgreSQL stopped for 30 s mid-run, SIGKILLed jobs and
``rlwatch sync``, clashing run ids, schema versions, secrets, and the readers
(CLI, dashboard data layer, report) on ``--db postgresql://...``.

Budget: 8 minutes on 2 cores; measured 2 min 10 s including the installs (the 30 s
outage test is about 90 s of it).
"""

from __future__ import annotations

import nox

from noxsessions._common import PYTHON, ROOT, TEST_DEPS, ensure_postgresql


@nox.session(python=PYTHON)
def postgres(session: nox.Session) -> None:
    """rlwatch-postgres tests on throwaway local PostgreSQL clusters."""
    ensure_postgresql(session)
    # The dashboard extra lets the tests run `rlwatch report --db postgresql://...` too.
    session.install(f"{ROOT / 'rlwatch-core'}[dashboard]", str(ROOT / "rlwatch-postgres"), *TEST_DEPS)
    session.run("pytest", "tests/postgres", "-q", "-p", "no:cacheprovider", *session.posargs)
