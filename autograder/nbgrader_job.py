"""Grade one submission in one interpreter: autograde, flags, feedback.

Usage (``autograder.grade`` runs :func:`main` in a fork of ``autograder.forkserver``, in
the course root; the command line does the same in a process of its own)::

    python -m autograder.nbgrader_job MISSION STUDENT --result FILE
        [-- nbgrader autograde options]

Why: starting Python and importing nbgrader costs a few seconds each time, and grading
one submission used to do it twice (``nbgrader autograde``, then ``nbgrader
generate_feedback``), plus a gradebook opened in the grader for the flags in between.
Here nbgrader's own applications run one after the other in this process, exactly as
its command line would run them (same configuration file, same options, same log
lines), with the course's checks in between:

1. ``autograde MISSION --student STUDENT --force`` (exit status 1 on failure, as the
   command line, and nothing more is done);
2. the flags (``autograder.scan`` on the submitted notebook and the kernel guard's notices
   in the autograded one): a flagged submission's automatic points are set to 0 pending
   review, an earlier flag's overrides are removed from a clean one;
3. ``generate_feedback``, with every output hidden when the submission is flagged.

What happened goes to ``FILE`` (JSON: flags, whether an earlier flag was removed, the
feedback's failure if any, phase timings). The grader names that file in a folder of its
own, which the sandboxed kernel cannot see.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

STARTED = time.time()


def run_app(args: list[str]) -> tuple[int, float]:
    """Run ``nbgrader ARGS`` in this process; (exit status, seconds). Log lines go to
    stderr, as the command line writes them."""
    from jupyter_core.application import NoStart
    from nbgrader.apps import NbGraderApp

    start = time.perf_counter()
    app = NbGraderApp.instance()
    try:
        app.initialize(args)
        app.start()
        code = 0
    except NoStart:  # how a Jupyter application says its subcommand finished
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except Exception:  # noqa: BLE001 - reported like the command line reports it
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        app.reset()
    return code, time.perf_counter() - start


def watch_memory(stop: threading.Event, peak: list[int]) -> None:
    """Keep in ``peak[0]`` the most memory (RSS, bytes) this process's descendants (the
    sandbox's launcher and the kernel) held at once, sampled twice a second: what one
    grading job needs besides nbgrader itself (deploy/ sizes pods with it)."""
    import psutil  # installed with ipykernel

    me = psutil.Process()
    while not stop.wait(0.5):
        total = 0
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass  # it exited meanwhile
        peak[0] = max(peak[0], total)


def guard_findings(path: Path) -> list[str]:
    """What the kernel guard had to put back while the notebook ran (its stdout notices)."""
    import nbformat

    from autograder.guarded_execute import MARKER

    found = []
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            text = output.get("text", "") if output.get("output_type") == "stream" else ""
            if isinstance(text, str) and text.startswith(MARKER):
                why = text.split("put it back:", 1)[-1].strip()
                found.append(f"cell {index + 1}, the kernel guard reset: {why[:400]}")
    return found


def find_flags(root: Path, mission: str, student: str) -> list[str]:
    """Why the submission must wait for review: the scan of the submitted notebook and the
    kernel guard's notices in the autograded one (when it was written)."""
    from autograder.layout import CourseLayout
    from autograder.scan import scan_notebook

    course = CourseLayout.at(root)
    flags = scan_notebook(course.submitted_notebook(student, mission))
    autograded = course.autograded_notebook(student, mission)
    if autograded.exists():
        flags += guard_findings(autograded)
    return flags


def flag(mission: str, student: str) -> tuple[list[str], bool]:
    """(flags, whether an earlier flag's overrides were removed); the gradebook updated."""
    from autograder import gradebook
    from autograder.layout import CourseLayout

    course = CourseLayout.at(Path.cwd())
    flags = find_flags(course.root, mission, student)
    if flags:
        gradebook.zero_pending_review(course.db_url, student, mission, flags)
        return flags, False
    return flags, gradebook.clear_pending_review(course.db_url, student, mission)


def main(argv: list[str] | None = None, started: float | None = None) -> int:
    """Grade one submission; ``started``: when this process began (a fork of
    ``autograder.forkserver`` passes it, having been started long before)."""
    parser = argparse.ArgumentParser(prog="python -m autograder.nbgrader_job")
    parser.add_argument("mission")
    parser.add_argument("student")
    parser.add_argument("--result", type=Path, required=True)
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    options = argv[split + 1 :]  # after --: options for nbgrader autograde
    result: dict = {
        "started": started or STARTED,
        "flags": [],
        "cleared": False,
        "feedback_error": None,
    }

    def save() -> None:
        result["finished"] = time.time()
        args.result.write_text(json.dumps(result))

    stop, peak = threading.Event(), [0]
    threading.Thread(target=watch_memory, args=(stop, peak), daemon=True).start()
    code, seconds = run_app(
        ["autograde", args.mission, "--student", args.student, "--force", *options]
    )
    result["autograde_end"] = time.time()
    stop.set()
    result["kernel_max_rss_mib"] = peak[0] / 2**20
    if code != 0:
        save()
        return code
    start = time.perf_counter()
    try:
        result["flags"], result["cleared"] = flag(args.mission, args.student)
    except Exception as exc:  # noqa: BLE001 - the grader reports it as "no score"
        result["flag_error"] = f"{type(exc).__name__}: {exc}"[:300]
        save()
        return 0
    result["flags_and_gradebook"] = time.perf_counter() - start
    # A flagged notebook may have smuggled hidden test code into its own outputs: its
    # feedback shows no outputs at all, only the tests' one-line messages.
    hide = ["--HideTestCode.hide_all_outputs=True"] if result["flags"] else []
    code, result["feedback"] = run_app(
        ["generate_feedback", args.mission, "--student", args.student, "--force", *hide]
    )
    if code != 0:
        result["feedback_error"] = f"exit {code}"
    save()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    sys.exit(main())
