"""Measure the peak memory (RSS) of the kernel that runs each notebook, one at a time.

Usage: ``nice -n 10 python -m tools.kernel_memory course/*.ipynb source_notebooks/*/*.ipynb``

Why: a hub gives each student a memory limit (docs/deploy.md, deploy/z2jh-values.yaml).
Too low and the kernel is killed in the middle of training; too high and fewer students
fit on a node. The limit should come from what the notebooks need, measured.

How: each notebook runs top to bottom in a fresh child process (nbclient, the course
kernel, in the notebook's own folder; the file on disk is not changed). The kernel is a
child of that process, so once it has exited and been reaped, ``getrusage(RUSAGE_CHILDREN)``
gives its peak resident set size: the most physical memory it held at any moment.
Prints one Markdown table row per notebook: peak MiB and seconds.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

CELL_TIMEOUT_S = 900


def _run_one(path: Path) -> None:
    """In the child process: execute ``path``, then print the reaped kernel's peak RSS."""
    from tools.execute_notebooks import run_notebook

    _, seconds = run_notebook(path, CELL_TIMEOUT_S)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: KiB
    print(json.dumps({"peak_mib": peak_kib / 1024, "seconds": seconds}))


def measure(path: Path) -> dict:
    """Peak kernel RSS (MiB) and run time (s) of ``path``, executed in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-m", "tools.kernel_memory", "--one", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{path} failed to run: {tail}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        _run_one(Path(argv[1]).resolve())
        return 0
    print("| notebook | kernel peak RSS (MiB) | seconds |")
    print("|---|---|---|")
    for name in argv:
        result = measure(Path(name))
        print(f"| {name} | {result['peak_mib']:.0f} | {result['seconds']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
