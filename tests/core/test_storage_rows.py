"""The writer's row bookkeeping: what leaves the queue after a commit, and what stays."""

from __future__ import annotations

from rlwatch.storage.rows import RELEASE_ROWS, Work, release


def test_release_removes_exactly_the_committed_entries_and_leaves_the_rest_untouched() -> None:
    big = RELEASE_ROWS * 3 + 17  # freed over several slices
    work: Work = [
        (("a", ("x",), False), [(i, 0.0, float(i)) for i in range(big)]),
        (("b", ("x",), False), [(i, 0.0, float(i)) for i in range(5)]),
        (("a", ("x", "y"), True), [(big + i, 0.0, 1.0, 2.0) for i in range(big)]),
    ]
    kept = work[2]
    kept_rows = list(kept[1])
    release(work, 2)
    assert work == [kept]
    assert work[0][1] == kept_rows  # the rows still to be written are not touched


def test_release_of_nothing_changes_nothing() -> None:
    work: Work = [(("a", ("x",), False), [(0, 0.0, 1.0)])]
    release(work, 0)
    assert work == [(("a", ("x",), False), [(0, 0.0, 1.0)])]
