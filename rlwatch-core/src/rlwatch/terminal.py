"""Text that is safe to show on a terminal, whatever a user named their run or metric.

Run ids, metric names, file paths and error messages come from user code and
from files on disk. Printed as they are, an ESC sequence in a metric name can
clear the screen, set the window title, rewrite the line before it (``\\r``)
or hide text; a C1 control (``\\x9b`` is a one-byte CSI) does the same on many
terminals. `printable` shows every such character as a visible escape
instead, so the text cannot act on the terminal and the user can see what is
really in the name. It is a leaf: the console channel and every CLI command
use the same function.
"""

from __future__ import annotations

import re

__all__ = ["printable"]

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""C0 controls, DEL, C1 controls, the Unicode line/paragraph separators and the
bidirectional overrides (which reorder what is displayed after them)."""

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: object, keep: str = "") -> str:
    """``str(text)`` with each control character replaced by a visible escape.

    ``"run\\x1b[2J"`` becomes ``"run\\\\x1b[2J"`` (shown as ``run\\x1b[2J``);
    ``\\n``, ``\\r`` and ``\\t`` become ``\\\\n``, ``\\\\r``, ``\\\\t``. Text without
    control characters is returned unchanged.

    Args:
        text: What to show (anything; converted with ``str``).
        keep: Characters to leave as they are, e.g. ``"\\n"`` for a block of
            lines whose line breaks are the caller's own.

    Returns:
        The text, safe to write to a terminal.
    """
    value = str(text)
    if not _UNSAFE.search(value):
        return value
    if not keep:
        return _UNSAFE.sub(_escape, value)
    return _UNSAFE.sub(lambda m: m.group() if m.group() in keep else _escape(m), value)
