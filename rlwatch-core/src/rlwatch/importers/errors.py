"""The importer's exceptions: one line each, naming the file and the place in it.

`rlwatch import` prints ``str(error)`` as its single line of output on
failure and exits with the error's ``exit_code``; nothing is written to the
database when one of these is raised (see `rlwatch.importers.run`).
"""

from __future__ import annotations

EXIT_BAD_INPUT = 2
"""Exit code for malformed input and bad usage (as for every other rlwatch command)."""
EXIT_MISSING_EXTRA = 4
"""Exit code when an optional extra is needed (same value as `rlwatch.cli._common.EXIT_MISSING_EXTRA`)."""


class ImportProblem(Exception):
    """Base class: an import that cannot go ahead, with the exit code the CLI uses."""

    exit_code = EXIT_BAD_INPUT


class ImportFormatError(ImportProblem):
    """A file is malformed or truncated.

    Attributes:
        path: The file, as the user named it (or as found in a folder).
        position: Where in it: ``"line 12"``, ``"entry 57 of log_history"``,
            ``"byte 4096"``...
        problem: What is wrong there, in a few words.
    """

    def __init__(self, path: str, position: str, problem: str) -> None:
        self.path = path
        self.position = position
        self.problem = problem
        super().__init__(f"{path}: {position}: {problem}" if position else f"{path}: {problem}")


class ImportUsageError(ImportProblem):
    """The request itself cannot be served: no such file, unknown format, ambiguous input."""


class MissingExtraError(ImportProblem):
    """A format needs an optional dependency that is not installed; the message has the pip command."""

    exit_code = EXIT_MISSING_EXTRA
