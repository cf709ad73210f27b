"""``make export ROSTER=roster.csv``: grades out of the gradebook, for people and for the LMS.

Writes two files under ``autograder/``:

* ``grades.csv`` -- nbgrader export's long format, one row per (mission, student), as
  ``make grade`` writes it (:func:`export_csv`: every cell quoted, formulas made inert);
* ``grades_lms.csv`` -- the wide table Canvas' and Moodle's gradebook import take: one row
  per student of the roster, in roster order, then one column per mission (score after
  any late penalty) and a ``Late`` column naming the late missions.

A student who handed nothing in for a mission gets an **empty** cell, not 0. Why: an empty
cell is "no grade" to both LMSs (Canvas leaves the grade unset, Moodle skips it), so an
extension, an excused student or a grade typed by hand in the LMS is not overwritten, and
"did not hand in" stays distinguishable from "handed in and scored 0". Give the missing
work a 0 in the LMS when the deadline has passed, where that policy lives. (nbgrader's long
CSV keeps nbgrader's own convention, a 0 score with no timestamp.)

Columns: ``Student`` (name), ``SIS User ID`` and ``SIS Login ID`` (the roster id: Canvas
matches rows on these), ``Email`` (Moodle can match on it), then the missions. When
importing, map the mission columns to grade items and ignore ``Late`` (or keep it as a
notes column).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from autograder import MISSIONS, ROOT, PipelineError
from autograder import gradebook as gbk
from autograder.gradebook import CSV_COLUMNS, csv_cell
from autograder.layout import CourseLayout

LMS_FILE = "grades_lms.csv"
ID_COLUMNS = ["Student", "SIS User ID", "SIS Login ID", "Email"]


def export_csv(root: Path) -> Path:
    """Write ``autograder/grades.csv`` from the gradebook, every cell quoted.

    Why not ``nbgrader export``: it writes ids and names unquoted, so a newline or a comma
    in one forges rows; here the csv module quotes everything and formulas are neutralised.
    """
    course = CourseLayout.at(root)
    target = course.grades_csv
    try:
        rows = gbk.grade_rows(course.db_url)
    except Exception as exc:  # noqa: BLE001 - the gradebook itself is unusable
        raise PipelineError(f"cannot read the gradebook to write {target}: {exc}") from exc
    tmp = target.with_name(target.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows([CSV_COLUMNS, *rows])
    tmp.replace(target)
    return target


def read_long(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    """(student, mission) -> that row of grades.csv."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    missing = [c for c in CSV_COLUMNS if rows and c not in rows[0]]
    if missing:
        raise PipelineError(f"{path} lacks columns {missing}")
    return {(row["student_id"], row["assignment"]): row for row in rows}


def is_late(row: dict[str, str]) -> bool:
    """Handed in after the due date (nbgrader's default policy marks it but takes nothing off)."""
    if float(row["late_submission_penalty"] or 0) > 0:
        return True
    return bool(row["duedate"] and row["timestamp"] and row["timestamp"] > row["duedate"])


def wide_rows(long_rows: dict, people) -> list[list[str]]:
    """One row per person: ids, then each mission's score (empty if none), then Late."""
    out = []
    for person in people:
        scores, late = [], []
        for mission in MISSIONS:
            row = long_rows.get((person.id, mission))
            if row is None or not row["timestamp"]:
                scores.append("")  # nothing handed in: no grade (see module doc)
                continue
            scores.append(row["score"])
            if is_late(row):
                late.append(f"{mission} (penalty {float(row['late_submission_penalty'] or 0):g})")
        out.append(
            [csv_cell(v) for v in (person.name or person.id, person.id, person.id, person.email)]
            + scores
            + ["; ".join(late)]
        )
    return out


def export(root: Path, roster: Path | None) -> tuple[Path, Path]:
    long_path = export_csv(root)
    long_rows = read_long(long_path)
    if roster is not None:
        from tools.hub.roster import read_roster

        people = [p for p in read_roster(roster) if p.role == "student"]
    else:  # no roster: everyone the gradebook knows
        from tools.hub.roster import Person

        people = [Person(s, "", "") for s in sorted({s for s, _ in long_rows})]
    header = ID_COLUMNS + [mission_column(long_rows, m) for m in MISSIONS] + ["Late"]
    target = CourseLayout(root).grader / LMS_FILE
    with target.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(
            [header, *wide_rows(long_rows, people)]
        )
    return long_path, target


def mission_column(long_rows: dict, mission: str) -> str:
    """``<mission> (<max> pts)``, or the bare name while the gradebook has no points for it."""
    for (_, m), row in long_rows.items():
        if m == mission and row["max_score"]:
            return f"{mission} ({float(row['max_score']):g} pts)"
    return mission


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.export", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--roster", type=Path, default=None)
    parser.add_argument("--course-root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    try:
        long_path, wide_path = export(args.course_root.resolve(), args.roster)
    except (PipelineError, ValueError) as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {long_path} (nbgrader's long format) and {wide_path} (one row per student)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
