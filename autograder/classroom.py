"""The class loop through nbgrader's exchange: release, collect, feedback, export.

    make publish [MISSION=...]   nbgrader release_assignment: students see it in Assignments
    make collect [MISSION=...]   nbgrader collect, then new submissions staged in the inbox
    make grade                   grades the inbox (autograder/grade.py)
    make feedback [MISSION=...]  nbgrader release_feedback: students fetch their reports
    make export ROSTER=...       grades for the LMS (autograder/export.py)

Why an inbox: ``nbgrader collect`` keeps every student's latest submission in
``autograder/collected/`` (with ``timestamp.txt`` for late penalties and
``submission_secret.txt``, which ``release_feedback`` needs). ``collect`` then stages in
``autograder/inbox/`` only those whose timestamp differs from what was last graded, so
``make grade`` regrades a resubmission and leaves every other student's row as it was.
nbgrader copies its inbound folders with mode 777; the staged copies are not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from autograder import COURSE_ID, MISSIONS, ROOT
from autograder.layout import COLLECTED_DIR, CourseLayout
from autograder.nbgrader_run import run_nbgrader

TIMEOUT_S = 600


class LoopError(RuntimeError):
    """An nbgrader exchange step failed; the message carries nbgrader's reason."""


def _nbgrader(root: Path, args: list[str]) -> str:
    run = run_nbgrader(args, root, TIMEOUT_S)
    code, out = run.code, run.output
    if code != 0:
        tail = [ln for ln in out.splitlines() if "ERROR" in ln or "Error" in ln] or out.splitlines()
        raise LoopError(f"nbgrader {' '.join(args[:2])} failed: {' | '.join(tail[-3:])[:500]}")
    return out


def publish(root: Path, missions) -> None:
    """Release each mission's student version (release/) to the exchange."""
    for mission in missions:
        _nbgrader(root, ["release_assignment", mission, "--force"])
        print(f"released {mission} to {CourseLayout(root).exchange}")


def _timestamp(folder: Path) -> str | None:
    path = folder / "timestamp.txt"
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def close_modes(folder: Path) -> None:
    """Take away the group and world write (and world read) nbgrader's 777 copies carry."""
    for path, _dirs, files in os.walk(folder):
        os.chmod(path, 0o750)
        for name in files:
            os.chmod(os.path.join(path, name), 0o640)


def stage_new(root: Path, missions) -> list[tuple[str, str]]:
    """Copy into the inbox every collected submission not graded at this timestamp."""
    course = CourseLayout(root)
    inbox = course.inbox
    if inbox.exists():
        shutil.rmtree(inbox)
    inbox.mkdir(parents=True)
    staged = []
    collected = course.collected
    for student_dir in sorted(collected.iterdir()) if collected.is_dir() else []:
        for mission in missions:
            src = student_dir / mission
            if not src.is_dir():
                continue
            if _timestamp(src) == _timestamp(course.submitted_folder(student_dir.name, mission)):
                continue  # graded at this timestamp already: its row stays as it is
            shutil.copytree(src, inbox / student_dir.name / mission, symlinks=True)
            staged.append((student_dir.name, mission))
    close_modes(inbox)
    return staged


def collect(root: Path, missions) -> list[tuple[str, str]]:
    """nbgrader collect (latest submission per student) into collected/, then stage new ones."""
    for mission in missions:
        _nbgrader(
            root,
            [
                "collect",
                mission,
                "--update",
                f"--CourseDirectory.submitted_directory={COLLECTED_DIR}",
            ],
        )
    course = CourseLayout(root)
    close_modes(course.collected)
    staged = stage_new(root, missions)
    print(
        f"collected into {course.collected}; {len(staged)} new submission(s) in "
        f"{course.inbox}: {', '.join(f'{s}/{m}' for s, m in staged) or 'none'}"
    )
    return staged


def open_released_feedback(folder: Path) -> None:
    """Make the released reports readable by their students (0644), as nbgrader expects.

    Why: ``release_feedback`` copies each report with the mode it has in
    ``autograder/feedback/``, which ``make hub`` closes to everyone but the graders, so a
    student's *Fetch Feedback* failed with PermissionError. The folder itself stays 0711
    (nbgrader's): a report is found only through its secret-derived name, never listed.
    """
    if not folder.is_dir():
        return
    for report in folder.iterdir():
        if report.is_file() and not report.is_symlink() and report.stat().st_uid == os.geteuid():
            report.chmod(0o644)


def release_feedback(root: Path, missions) -> None:
    """nbgrader release_feedback: each student's report into the exchange, theirs alone."""
    for mission in missions:
        _nbgrader(root, ["release_feedback", mission])
        print(f"released feedback of {mission}")
    open_released_feedback(CourseLayout(root).exchange / COURSE_ID / "feedback")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.classroom", description=__doc__.splitlines()[0]
    )
    parser.add_argument("step", choices=["publish", "collect", "feedback"])
    parser.add_argument("missions", nargs="*", help="default: every mission")
    parser.add_argument("--course-root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    missions = args.missions or list(MISSIONS)
    unknown = [m for m in missions if m not in MISSIONS]
    if unknown:
        print(f"{', '.join(unknown)}: not a mission ({', '.join(MISSIONS)})", file=sys.stderr)
        return 2
    step = {"publish": publish, "collect": collect, "feedback": release_feedback}[args.step]
    try:
        step(args.course_root.resolve(), missions)
    except LoopError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
