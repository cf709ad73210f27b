"""Regenerate ``release/`` from ``source_notebooks/`` with nbgrader.

Usage::

    make release                                  # = python -m autograder.release
    python -m autograder.release --course-root DIR   # a scratch copy of the course
    python -m autograder.release mission2_early_stopping

For every mission this runs ``nbgrader generate_assignment <mission> --force`` in the
course root, which writes ``release/<mission>/<mission>.ipynb`` without outputs,
solutions or hidden tests, and records the mission, its notebook and its graded cells
in the gradebook (so the Formgrader lists it and ``nbgrader autograde`` can grade it).
Afterwards each release notebook is checked: no outputs, no solution or hidden-test
markers left.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from autograder import MISSIONS
from autograder.layout import COURSE, CourseLayout
from autograder.nbgrader_run import Run, nbgrader_env  # noqa: F401 - nbgrader_env: this API
from autograder.nbgrader_run import run_nbgrader as _run

LEAK_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def run_nbgrader(args: list[str], root: Path, timeout: float | None = None) -> Run:
    """``python -m nbgrader ARGS`` in ``root``, through the one runner (autograder.nbgrader_run)."""
    return _run(args, root, timeout)


def release_problems(path: Path) -> list[str]:
    """What is wrong with a release notebook: outputs, execution records (``release_filters.py``),
    or leftover solution/test markers."""
    nb = nbformat.read(path, as_version=4)
    problems = []
    if "course_execution" in nb.metadata:
        problems.append("the notebook carries the instructor run's code fingerprints")
    for i, cell in enumerate(nb.cells):
        if "execution" in cell.metadata:
            problems.append(f"cell {i} carries the instructor run's timings")
        if cell.get("outputs"):
            problems.append(f"cell {i} has outputs")
        for marker in LEAK_MARKERS:
            if marker in cell.source:
                problems.append(f"cell {i} still contains '{marker}'")
    return problems


def generate(
    root: Path = COURSE.root, missions=MISSIONS, release_dir: str | None = None
) -> list[Path]:
    """Run generate_assignment for each mission; return the release notebooks written.

    ``release_dir`` (absolute) writes the release elsewhere, e.g. to fill a fresh
    gradebook without touching ``release/``. Raises RuntimeError naming the mission that
    failed and nbgrader's last lines.
    """
    written = []
    for mission in missions:
        args = ["generate_assignment", mission, "--force"]
        if release_dir is not None:
            args.append(f"--CourseDirectory.release_directory={release_dir}")
        run = run_nbgrader(args, root)
        out_dir = Path(release_dir) if release_dir else CourseLayout.at(root).release
        notebook = out_dir / mission / f"{mission}.ipynb"
        if run.code != 0 or not notebook.exists():
            tail = "\n".join(run.output.strip().splitlines()[-15:])
            raise RuntimeError(
                f"nbgrader generate_assignment {mission} failed (exit {run.code}):\n{tail}"
            )
        problems = release_problems(notebook)
        if problems:
            raise RuntimeError(f"{notebook} is not clean: " + "; ".join(problems))
        written.append(notebook)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.release", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "missions",
        nargs="*",
        default=list(MISSIONS),
        help="missions to release (default: all of them)",
    )
    parser.add_argument(
        "--course-root",
        type=Path,
        default=COURSE.root,
        help="course root holding nbgrader_config.py (default: this repository)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.missions) - set(MISSIONS))
    if unknown:
        parser.error(f"unknown mission(s) {', '.join(unknown)}; known: {', '.join(MISSIONS)}")
    root = args.course_root.resolve()
    try:
        for notebook in generate(root, args.missions):
            print(f"released {notebook.relative_to(root)}")
    except RuntimeError as exc:
        print(f"release failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
