"""nbgrader's Execute step with a cap on output size enforced while a cell runs.

Why: nbgrader's ``LimitOutput`` trims a cell's output only after the whole notebook has
run, so every byte a printing loop produces is first held in the grader's memory (and
``while True: print(...)`` holds them until the cell times out). ``CappedExecute``
counts the bytes of each cell's outputs as they arrive; past ``max_cell_output_bytes`` it
keeps nothing more, adds one line saying so, and interrupts the kernel, so the cell ends
with ``KeyboardInterrupt`` and grading goes on with the next cell.
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

    def preprocess_cell(self, cell, resources, index):
        self._cell_bytes = 0
        self._cell_capped = False
        return super().preprocess_cell(cell, resources, index)

    def output(self, outs, msg, display_id, cell_index):
        if getattr(self, "_cell_capped", False):
            return None  # already cut: drop everything else this cell prints
        out = super().output(outs, msg, display_id, cell_index)
        if out is None or self.max_cell_output_bytes < 0:
            return out
        self._cell_bytes = getattr(self, "_cell_bytes", 0) + output_size(out)
        if self._cell_bytes > self.max_cell_output_bytes:
            self._cell_capped = True
            if outs and outs[-1] is out:
                outs.pop()
            limit_mb = self.max_cell_output_bytes / 2**20
            # First, not last: nbgrader's LimitOutput later keeps only a cell's first lines.
            outs.insert(
                0,
                new_output(
                    "stream",
                    name="stderr",
                    text=(
                        f"[grader] output cut at {limit_mb:g} MB: this cell printed too much, "
                        "so it was interrupted.\n"
                    ),
                ),
            )
            self.log.warning(
                "cell %s printed over %s bytes: interrupting it",
                cell_index,
                self.max_cell_output_bytes,
            )
            asyncio.ensure_future(self.km.interrupt_kernel())
        return out
