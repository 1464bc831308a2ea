"""TensorBoard event files (``events.out.tfevents.*``), read with the tensorboard package's reader.

transformers/TRL (``report_to="tensorboard"``), Lightning's
``TensorBoardLogger``, veRL (``trainer.logger=[tensorboard]``), OpenRLHF
(``--use_tensorboard``) and any ``torch.utils.tensorboard.SummaryWriter``
write them. Scalars are read whether written the TF1 way (``simple_value``,
as torch's writer does) or the TF2 way (a scalar tensor of the ``scalars``
plugin); histograms, images, text and hparams are not metrics and are
skipped. A run folder's event files are read in the order they were
started (a resumed run appends a new file), later values of a step winning,
and the steps are replayed in order.

Needs the optional extra ``rlwatch-core[import]`` (the ``tensorboard``
package); everything else of rlwatch works without it. The reader is
tensorboard's own ``RawEventFileLoader``: it stops quietly at a damaged or
cut record (it is built to follow files still being written), so the bytes
it consumed are counted here and a file that has more is reported as
damaged at that byte.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

from rlwatch.importers.errors import ImportFormatError, MissingExtraError
from rlwatch.importers.progress import Progress
from rlwatch.importers.source import RawRow, Scan, SourceReader

EVENT_FILE = re.compile(r"(^|\.)tfevents\.")
_RECORD_OVERHEAD = 16
"""Bytes around each record's payload: length (8), length CRC (4), payload CRC (4)."""

EXTRA_HINT = "reading TensorBoard event files needs the optional extra: pip install 'rlwatch-core[import]'"


def is_event_file(name: str) -> bool:
    """True for TensorBoard event file names (``events.out.tfevents.<time>.<host>...``)."""
    return bool(EVENT_FILE.search(os.path.basename(name)))


def _start_time(path: str) -> tuple[float, str]:
    # events.out.tfevents.<unix time>.<host>.<pid>.<n>: the writer's start time orders a run's files.
    parts = os.path.basename(path).split(".")
    try:
        return float(parts[parts.index("tfevents") + 1]), path
    except (ValueError, IndexError):
        return float("inf"), path


def event_files(folder: str) -> dict[str, list[str]]:
    """Folder -> its event files (in start order), for every folder under `folder` that has some."""
    out: dict[str, list[str]] = {}
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found = [os.path.join(root, f) for f in files if is_event_file(f)]
        if found:
            out[root] = sorted(found, key=_start_time)
    return out


def _modules() -> tuple[Any, Any, Any]:
    try:
        from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
        from tensorboard.compat.proto import event_pb2
        from tensorboard.util import tensor_util
    except ImportError:
        raise MissingExtraError(EXTRA_HINT) from None
    return RawEventFileLoader, event_pb2, tensor_util


class TensorBoardReader(SourceReader):
    """Reads the event files of one TensorBoard run folder.

    Args:
        files: The folder's event files, in start order.
        display: How the folder (or file) is named in messages.
        name: The run's short name.
    """

    format = "tensorboard"

    def __init__(self, files: list[str], display: str, name: str) -> None:
        super().__init__(files, display, name)
        self._steps: dict[int, tuple[float, dict[str, Any]]] | None = None

    def _read_file(
        self, path: str, steps: dict[int, tuple[float, dict[str, Any]]], scan: Scan, progress: Progress
    ) -> None:
        loader_class, event_pb2, tensor_util = _modules()
        display = path if len(self.files) > 1 or os.path.isdir(self.display) else self.display
        try:
            size = os.path.getsize(path)
            loader = loader_class(path)
        except OSError as exc:
            raise ImportFormatError(display, "", f"cannot read: {exc.strerror or exc}") from None
        plugins: dict[str, str] = {}
        consumed = 0
        for record in loader.Load():
            offset = consumed
            consumed += _RECORD_OVERHEAD + len(record)
            progress.advance(_RECORD_OVERHEAD + len(record))
            try:
                event = event_pb2.Event.FromString(record)
            except Exception:  # noqa: BLE001 - protobuf's DecodeError and friends: a damaged record
                raise ImportFormatError(display, f"byte {offset}", "record is not a TensorBoard event") from None
            if not event.HasField("summary"):
                continue
            step = int(event.step)
            if step < 0:
                scan.skip("events at negative steps")
                continue
            for value in event.summary.value:
                tag = value.tag
                if value.HasField("metadata") and value.metadata.plugin_data.plugin_name:
                    plugins[tag] = value.metadata.plugin_data.plugin_name
                number = _scalar(value, plugins.get(tag, ""), tensor_util)
                if number is None:
                    scan.skip("non-scalar summaries (histograms, text, images...)")
                    continue
                entry = steps.get(step)
                if entry is None:
                    steps[step] = (event.wall_time, {tag: number})
                else:
                    entry[1][tag] = number
                    if event.wall_time > entry[0]:
                        steps[step] = (event.wall_time, entry[1])
        if consumed != size:
            raise ImportFormatError(
                display, f"byte {consumed}",
                f"damaged or cut-off event record (the file has {size} bytes; the last whole record ends here)",
            )

    def scan(self, progress: Progress) -> Scan:
        """Read every event file of the run."""
        progress.phase(f"reading {self.name}", self.total_bytes(), "bytes")
        scan = Scan()
        steps: dict[int, tuple[float, dict[str, Any]]] = {}
        for path in self.files:
            self._read_file(path, steps, scan, progress)
        for step in sorted(steps):
            scan.add(step, steps[step][1])
        self._steps = steps
        return scan

    def rows(self, progress: Progress) -> Iterator[RawRow]:
        """The steps in order, each with its latest wall time."""
        steps = self._steps
        if steps is None:
            self.scan(Progress(enabled=False))
            steps = self._steps
        assert steps is not None
        for step in sorted(steps):
            wall, values = steps[step]
            yield step, wall, values


def _scalar(value: Any, plugin: str, tensor_util: Any) -> float | None:
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind == "tensor" and plugin in ("scalars", ""):
        try:
            array = tensor_util.make_ndarray(value.tensor)
        except Exception:  # noqa: BLE001 - a tensor this reader cannot decode is not a scalar to us
            return None
        if array.size == 1 and array.dtype.kind in "fiu":
            return float(array.reshape(-1)[0])
    return None
