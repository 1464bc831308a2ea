"""`rlwatch.terminal.printable`: user text made safe for a terminal, and left alone when it already is."""

from __future__ import annotations

import pytest
from rlwatch.terminal import printable


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("entropy", "entropy"),
        ("train/kl_divergence", "train/kl_divergence"),
        ("ünïcödé ✓ 日本", "ünïcödé ✓ 日本"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("title\x1b]0;pwned\x07", "title\\x1b]0;pwned\\x07"),
        ("over\rwrite", "over\\rwrite"),
        ("two\nlines\tand tab", "two\\nlines\\tand tab"),
        ("nul\x00del\x7f", "nul\\x00del\\x7f"),
        ("c1 csi\x9b31m next\x85", "c1 csi\\x9b31m next\\x85"),
        ("bidi\u202etxt.exe\u2066", "bidi\\u202etxt.exe\\u2066"),
        ("line\u2028sep", "line\\u2028sep"),
        (12.5, "12.5"),
    ],
)
def test_control_characters_become_visible_escapes(raw: object, shown: str) -> None:
    assert printable(raw) == shown
    assert printable(shown) == shown  # idempotent: escaping twice shows the same


def test_keep_leaves_the_callers_own_line_breaks() -> None:
    assert printable("a\x1b\nb\rc\n", keep="\n") == "a\\x1b\nb\\rc\n"
