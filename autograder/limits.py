"""nbgrader's Execute step with a cap on output size enforced while a cell runs.

Why: nbgrader's ``LimitOutput`` trims a cell's output only after the whole notebook has
run, so every byte a printing loop produces is first held in the grader's memory (and
``while True: print(...)`` holds them until the cell times out). ``CappedExecute``
counts the bytes of each cell's outputs as they arrive; past ``max_cell_output_bytes`` it
keeps nothing more, adds one line saying so, and interrupts the kernel, so the cell ends
with ``KeyboardInterrupt`` and grading goes on with the next cell. Past
``max_notebook_output_bytes`` for the whole notebook (5000 cells of 2 MB each would be
10 GB) it keeps no more outputs of answer cells (the instructor's cells keep theirs: a
test cell's outputs are its grade). An ``update_display_data`` message, which rewrites
earlier outputs in place, counts as new output once per output it rewrites.
"""

from __future__ import annotations

import asyncio
import json

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Integer


def output_size(out: NotebookNode) -> int:
    """Bytes an output occupies in the notebook file (text, data and traceback)."""
    if out.get("output_type") == "stream":
        return len(out.get("text", "").encode())
    return len(
        json.dumps({k: out.get(k) for k in ("data", "traceback", "evalue")}, default=str).encode()
    )


class CappedExecute(Execute):
    max_cell_output_bytes = Integer(
        2 * 2**20,
        help="Most output bytes a cell may produce while it runs; -1: no cap.",
    ).tag(config=True)
    max_notebook_output_bytes = Integer(
        16 * 2**20,
        help="Most output bytes the whole notebook may keep; later outputs are dropped "
        "(a cell that goes on printing still meets its own cap); -1: no cap.",
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._notebook_bytes = 0
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        self._cell_bytes = 0
        self._cell_capped = False
        self._cell_dropped = False
        self._cell = cell
        meta = cell.metadata.get("nbgrader", {}) if isinstance(cell.metadata, dict) else {}
        # The instructor's locked cells are never cut short by what the answers printed: a
        # test cell's outputs are its grade (an error, or partial credit), dropping one
        # would change it.
        self._answer_cell = not (
            isinstance(meta, dict) and meta.get("locked") and not meta.get("solution")
        )
        return super().preprocess_cell(cell, resources, index)

    def output(self, outs, msg, display_id, cell_index):
        if getattr(self, "_cell_capped", False):
            return None  # already cut: drop everything else this cell prints
        out = super().output(outs, msg, display_id, cell_index)
        if out is None or self.max_cell_output_bytes < 0:
            return out
        if not self._count(output_size(out), outs, cell_index):
            if outs and outs[-1] is out:
                outs.pop()
        return out

    def _update_display_id(self, display_id, msg):
        """An ``update_display_data`` (or a display with a known id) rewrites every earlier
        output with that id, in place: counted like new outputs of that size, once per
        output it rewrites, or it would carry any amount past the caps."""
        if self.max_cell_output_bytes < 0:
            return super()._update_display_id(display_id, msg)
        targets = sum(len(ix) for ix in self._display_id_map.get(display_id, {}).values())
        if not targets:
            return None
        content = msg.get("content", {})
        size = len(json.dumps([content.get("data"), content.get("metadata")], default=str))
        cell = getattr(self, "_cell", None)
        outs = cell.outputs if cell is not None else []
        if getattr(self, "_cell_capped", False) or not self._count(size * targets, outs, None):
            return None  # not applied: the outputs keep what they held
        return super()._update_display_id(display_id, msg)

    def _count(self, size: int, outs, cell_index) -> bool:
        """Add ``size`` bytes to the cell's and the notebook's counts; False when the
        output must be dropped (past a cap). Past the cell's cap the kernel is interrupted."""
        self._cell_bytes = getattr(self, "_cell_bytes", 0) + size
        if self._cell_bytes > self.max_cell_output_bytes:
            self._cell_capped = True
            limit_mb = self.max_cell_output_bytes / 2**20
            _notice(
                outs,
                "stderr",
                f"[grader] output cut at {limit_mb:g} MB: this cell printed too much, "
                "so it was interrupted.\n",
            )
            self.log.warning(
                "cell %s printed over %s bytes: interrupting it",
                cell_index,
                self.max_cell_output_bytes,
            )
            asyncio.ensure_future(self.km.interrupt_kernel())
            return False
        self._notebook_bytes = getattr(self, "_notebook_bytes", 0) + size
        if (
            getattr(self, "_answer_cell", True)
            and 0 <= self.max_notebook_output_bytes < self._notebook_bytes
        ):
            if not getattr(self, "_cell_dropped", False):
                self._cell_dropped = True
                limit_mb = self.max_notebook_output_bytes / 2**20
                _notice(
                    outs,
                    "stdout",
                    f"[grader] output dropped: the notebook's outputs passed {limit_mb:g} MB "
                    "in all.\n",
                )
            return False
        return True


def _notice(outs, stream: str, text: str) -> None:
    """The grader's one line about a cap, put first among the cell's outputs: nbgrader's
    LimitOutput later keeps only a cell's first lines, so a line at the end could go."""
    outs.insert(0, new_output("stream", name=stream, text=text))
