"""The course's nbgrader gradebook: plain arguments in, plain values out.

Why a module: the grading pipeline, the CSV export and the merge of shards all read or
write the same few things (students, flags that zero a submission pending review,
scores, export rows). Each function here opens the gradebook, does one thing and closes
it; none of them takes or changes the pipeline's objects.
"""

from __future__ import annotations

import html
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from autograder import COURSE_ID

FLAG_COMMENT = "Flagged for review:"  # starts the comment zero_pending_review writes
CSV_COLUMNS = [
    "assignment",
    "duedate",
    "timestamp",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Score:
    score: float
    max_score: float
    needs_manual: bool


def open_gradebook(db_url: str):
    from nbgrader.api import Gradebook

    return Gradebook(db_url, course_id=COURSE_ID)


def missions_missing(db_url: str, missions) -> list[str]:
    """The missions not yet in the gradebook with their notebook and graded cells."""
    missing = []
    with open_gradebook(db_url) as gb:
        for mission in missions:
            try:
                if not gb.find_assignment(mission).notebooks:
                    missing.append(mission)
            except Exception:  # noqa: BLE001 - MissingEntry: not there yet
                missing.append(mission)
    return missing


def use_wal_journal(db_path: Path) -> None:
    """Let concurrent nbgrader processes read and write the gradebook without locking out."""
    con = sqlite3.connect(db_path, timeout=60)
    try:
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


def register_student(db_url: str, student: str) -> None:
    with open_gradebook(db_url) as gb:
        gb.update_or_create_student(student)


def flag_comment(flags: list[str]) -> str:
    """The comment a flagged submission's cells get (rendered as HTML: student code escaped)."""
    return (
        FLAG_COMMENT
        + " the notebook replaces what the tests rely on ("
        + html.escape("; ".join(f[:300] for f in flags[:3]))
        + "). Automatic points "
        "are 0 until an instructor has read it."
    )


def zero_pending_review(db_url: str, student: str, mission: str, flags: list[str]) -> None:
    """Override every automatically graded cell of the submission with 0 points and say why
    in that cell's comment (shown in the feedback and the Formgrader)."""
    why = flag_comment(flags)
    with open_gradebook(db_url) as gb:
        nb = gb.find_submission_notebook(mission, mission, student)
        for grade in nb.grades:
            if grade.auto_score is not None:
                grade.manual_score = 0.0
        for comment in nb.comments:
            comment.manual_comment = why
        gb.db.commit()


def clear_pending_review(db_url: str, student: str, mission: str) -> bool:
    """Undo an earlier flag's overrides when a resubmission is graded clean.

    Why: nbgrader keeps manual scores across ``autograde --force``, so the zeros that
    :func:`zero_pending_review` wrote for a flagged submission would stay on an honest
    resubmission. Only overrides that carry this module's flag comment are removed; an
    instructor's own manual scores and comments stay. Returns whether anything was undone.
    """
    with open_gradebook(db_url) as gb:
        nb = gb.find_submission_notebook(mission, mission, student)
        flagged = [c for c in nb.comments if (c.manual_comment or "").startswith(FLAG_COMMENT)]
        if not flagged:
            return False
        for comment in flagged:
            comment.manual_comment = None
        for grade in nb.grades:
            if grade.auto_score is not None and grade.manual_score == 0.0:
                grade.manual_score = None
        gb.db.commit()
    return True


def read_score(db_url: str, student: str, mission: str) -> Score:
    with open_gradebook(db_url) as gb:
        sub = gb.find_submission(mission, student)
        return Score(float(sub.score), float(sub.max_score), bool(sub.needs_manual_grade))


def csv_cell(value) -> str:
    """One CSV cell: text, with a spreadsheet formula (``=HYPERLINK(...)``) made inert.

    A number keeps its sign: only text that a spreadsheet would evaluate gets a ``'``.
    """
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def grade_rows(db_url: str) -> list[list[str]]:
    """nbgrader export's rows, read from the gradebook: every student x every mission."""
    from nbgrader.api import MissingEntry

    rows = []
    with open_gradebook(db_url) as gb:
        for assignment in gb.assignments:
            for student in gb.students:
                try:
                    sub = gb.find_submission(assignment.name, student.id)
                except MissingEntry:
                    timestamp, raw, penalty, score = None, 0.0, 0.0, 0.0
                else:
                    timestamp, raw = sub.timestamp, sub.score
                    penalty = sub.late_submission_penalty
                    score = max(0.0, raw - penalty)
                rows.append(
                    [
                        csv_cell(v)
                        for v in (
                            assignment.name,
                            assignment.duedate,
                            timestamp,
                            student.id,
                            student.last_name,
                            student.first_name,
                            student.email,
                            raw,
                            penalty,
                            score,
                            assignment.max_score,
                        )
                    ]
                )
    rows.sort(key=lambda r: (r[0], r[3]))
    return rows
