"""Execute notebooks in place, the way the committed outputs are produced.

Usage: ``python -m tools.execute_notebooks course/*.ipynb`` (``make notebooks`` runs it
on every lecture and every mission's instructor notebook). Each notebook runs top to
bottom in its own folder with the course kernel; its outputs are saved back into the
file and its wall-clock time is printed, so course/README.md's timing table can be
refreshed from this output. A failing cell stops that notebook with the error shown
and leaves the file on disk untouched.

Committed outputs must come from the committed code. Editing a code cell after the
run leaves outputs that the code no longer produces, and nothing in the notebook
shows it. So the run records a fingerprint of every code cell's source in the
notebook's metadata (``EXECUTION_KEY``), and tests/test_notebook_outputs.py compares
it with the code as it is now: a changed, added or removed code cell means the
notebook must be executed again with this command.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

CELL_TIMEOUT_S = 900
EXECUTION_KEY = "course_execution"  # notebook metadata written by execute()
COMMAND = "python -m tools.execute_notebooks"


def code_fingerprints(nb: nbformat.NotebookNode) -> list[str]:
    """SHA-256 (first 16 hex digits) of each code cell's source, in notebook order.

    One entry per code cell rather than one for the whole notebook, so that a mismatch
    can name the cells that changed. Markdown cells are left out: they produce no output.
    """
    return [
        hashlib.sha256(cell.source.encode("utf-8")).hexdigest()[:16]
        for cell in nb.cells
        if cell.cell_type == "code"
    ]


def stale_cells(nb: nbformat.NotebookNode) -> list[str] | None:
    """What changed in the code since the recorded run: [] if nothing, None if never recorded."""
    record = nb.metadata.get(EXECUTION_KEY)
    if not record or "code_sha256" not in record:
        return None
    recorded, current = record["code_sha256"], code_fingerprints(nb)
    code_cells = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    changed = [
        f"cell {i}"
        for i, old, new in zip(code_cells, recorded, current, strict=False)
        if old != new
    ]
    if len(recorded) != len(current):
        changed.append(f"{len(recorded)} code cells when executed, {len(current)} now")
    return changed


def run_notebook(
    path: Path, timeout: float = CELL_TIMEOUT_S
) -> tuple[nbformat.NotebookNode, float]:
    """Execute ``path`` as the tests and the committed outputs do: a fresh ``python3``
    kernel, in the notebook's own folder, ``timeout`` seconds a cell. Returns the executed
    notebook (the file is not written) and the wall-clock seconds. The bench and
    tools/kernel_memory.py run notebooks through here too, so all three measure one thing."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    return nb, time.perf_counter() - start


def execute(path: Path) -> float:
    nb, seconds = run_notebook(path)
    nb.metadata[EXECUTION_KEY] = {"command": COMMAND, "code_sha256": code_fingerprints(nb)}
    nbformat.write(nb, path)
    return seconds


def main(paths: list[str]) -> int:
    if not paths:
        print("usage: python -m tools.execute_notebooks NOTEBOOK.ipynb ...", file=sys.stderr)
        return 2
    total, failed = 0.0, []
    for p in map(Path, paths):
        print(f"executing {p} ...", flush=True)
        try:
            seconds = execute(p)
        except CellExecutionError as exc:
            print(f"FAILED {p}:\n{str(exc)[-3000:]}", file=sys.stderr)
            failed.append(p)
            continue
        total += seconds
        print(f"  {p}: {seconds:.0f} s", flush=True)
    print(f"total {total:.0f} s for {len(paths) - len(failed)} notebook(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
