"""Execute notebooks in place, the way the committed outputs are produced.

Usage: ``python -m tools.execute_notebooks course/*.ipynb``. Each notebook runs
top to bottom in its own folder with the course kernel; its outputs are saved back
into the file and its wall-clock time is printed, so course/README.md's timing table
can be refreshed from this output. A failing cell stops that notebook with the
error shown and leaves the file on disk untouched.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

CELL_TIMEOUT_S = 900


def execute(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
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
