"""Grade a class in shards on many machines, then merge the shards' results.

Usage::

    python -m autograder.grade DIR --shard I/N [--bundle OUT] [--course-root COPY]
    python -m autograder.shards merge BUNDLE... [--course-root ROOT] [--shards N]
        [--submissions DIR]

A shard grades a deterministic 1/N of the (student, mission) pairs under ``DIR``: pair
``(s, m)`` belongs to shard ``sha256("s/m") mod N`` (1-based on the command line), so every
machine, given the same folder, agrees without talking to the others, and one more
submission never moves the others to another shard. It grades into its own copy of the
course, then writes a self-contained bundle: the scores (its gradebook), the submitted and
autograded notebooks, the feedback pages, its log lines and ``manifest.json``, written
last (a bundle without it is a shard that died).

``merge`` takes the bundles into one course: students registered, each submission's
grades and comments copied into the gradebook by name (mission, notebook, cell; never by
the gradebook's internal ids, which differ between copies), notebooks and feedback pages
copied in, ``grades.csv`` written. The result is what one run over ``DIR`` would have
made. A missing or incomplete shard is named (with its pairs when ``--submissions`` is
given), the complete ones are merged all the same, and the exit status is 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

from autograder import gradebook as gbk
from autograder.layout import COURSE, CourseLayout
from autograder.nbgrader_run import nbgrader_env

MANIFEST = "manifest.json"
COPIED = ("submitted", "autograded", "feedback")  # CourseLayout folders a bundle carries


class ShardError(ValueError):
    """A --shard value or a bundle that cannot be used."""


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as on the command line and in JOB_COMPLETION_INDEX + 1
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            index, count = (int(x) for x in text.split("/"))
        except ValueError:
            raise ShardError(f"--shard {text!r}: expected I/N, e.g. 1/4") from None
        if not 1 <= index <= count:
            raise ShardError(f"--shard {text!r}: I must be between 1 and N")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, student: str, mission: str) -> bool:
        return shard_of(student, mission, self.count) == self.index


def shard_of(student: str, mission: str, count: int) -> int:
    """The shard (1-based) that grades ``student``'s ``mission``: a stable hash, not an order."""
    digest = hashlib.sha256(f"{student}/{mission}".encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def default_bundle(course: CourseLayout, shard: Shard) -> Path:
    return course.grader / "bundles" / f"shard-{shard.index}-of-{shard.count}"


def copy_gradebook(db_path: Path, target: Path) -> None:
    """A consistent copy of a gradebook in WAL mode (sqlite's backup, not a file copy)."""
    src = sqlite3.connect(db_path, timeout=60)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def write_bundle(
    course: CourseLayout,
    shard: Shard,
    bundle: Path,
    pairs,
    students,
    outcomes,
    log_lines: list[str],
) -> Path:
    """The shard's results under ``bundle``; ``manifest.json`` last."""
    if bundle.exists():
        shutil.rmtree(bundle)
    bundle.mkdir(parents=True)
    copy_gradebook(course.gradebook_db, bundle / "gradebook.db")
    for student, mission in pairs:
        for name in COPIED:
            src = getattr(course, name) / student / mission
            if src.is_dir():
                shutil.copytree(src, bundle / name / student / mission)
    (bundle / "grade.log").write_text("".join(line + "\n" for line in log_lines), encoding="utf-8")
    manifest = {
        "shard": str(shard),
        "pairs": [list(p) for p in pairs],
        "students": sorted(students),
        "outcomes": [
            {
                "student": o.student,
                "mission": o.mission,
                "graded": o.graded,
                "score": o.score,
                "max_score": o.max_score,
                "flags": list(o.flags),
                "problems": list(o.problems),
            }
            for o in outcomes
        ],
    }
    tmp = bundle / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(bundle / MANIFEST)
    return bundle


# --------------------------------------------------------------------------- merging
def merge_submission(source_url: str, target_url: str, student: str, mission: str) -> bool:
    """Copy one submission's grades and comments from one gradebook into another, by name.

    Returns False when the source has no such submission (nothing is changed)."""
    from nbgrader.api import MissingEntry

    with gbk.open_gradebook(source_url) as src:
        try:
            sub = src.find_submission(mission, student)
        except MissingEntry:
            return False
        timestamp, extension = sub.timestamp, sub.extension
        notebooks = {}
        for nb in sub.notebooks:
            notebooks[nb.name] = {
                "flagged": nb.flagged,
                "late_submission_penalty": nb.late_submission_penalty,
                "grades": {
                    g.name: (g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade)
                    for g in nb.grades
                },
                "comments": {c.name: (c.auto_comment, c.manual_comment) for c in nb.comments},
            }
    with gbk.open_gradebook(target_url) as dst:
        dst.update_or_create_student(student)
        target = dst.update_or_create_submission(
            mission, student, timestamp=timestamp, extension=extension
        )
        for nb in target.notebooks:
            data = notebooks.get(nb.name)
            if data is None:
                continue
            nb.flagged = data["flagged"]
            nb.late_submission_penalty = data["late_submission_penalty"]
            for grade in nb.grades:
                if grade.name in data["grades"]:
                    (
                        grade.auto_score,
                        grade.manual_score,
                        grade.extra_credit,
                        grade.needs_manual_grade,
                    ) = data["grades"][grade.name]
            for comment in nb.comments:
                if comment.name in data["comments"]:
                    comment.auto_comment, comment.manual_comment = data["comments"][comment.name]
        dst.db.commit()
    return True


def read_manifest(bundle: Path) -> dict | None:
    try:
        manifest = json.loads((bundle / MANIFEST).read_text())
        Shard.parse(manifest["shard"])
        return manifest
    except (OSError, ValueError, KeyError, TypeError):
        return None


def merge(
    bundles: list[Path],
    course: CourseLayout,
    shards: int | None = None,
    submissions: Path | None = None,
    log=print,
) -> list[str]:
    """Merge complete bundles into ``course``; return what is missing (empty: all there)."""
    from autograder.export import export_csv
    from autograder.grade import Log, ensure_gradebook, find_submissions, refuse_names

    complete: dict[int, tuple[Path, dict]] = {}
    missing: list[str] = []
    for bundle in bundles:
        manifest = read_manifest(bundle)
        if manifest is None:
            missing.append(f"{bundle}: no {MANIFEST} (the shard died or is still running)")
            continue
        shard = Shard.parse(manifest["shard"])
        if shards is None:
            shards = shard.count
        if shard.count != shards:
            raise ShardError(f"{bundle} is shard {shard}, the others are of {shards} shards")
        complete[shard.index] = (bundle, manifest)
    pairs_of: dict[int, list[tuple[str, str]]] = {}
    if submissions is not None and shards:
        quiet = Log(Path("/dev/null"))
        for student, mission, _ in refuse_names(find_submissions(submissions), quiet):
            pairs_of.setdefault(shard_of(student, mission, shards), []).append((student, mission))
        quiet.close()
    for index in range(1, (shards or 0) + 1):
        if index not in complete:
            pairs = ", ".join(f"{s}/{m}" for s, m in pairs_of.get(index, []))
            missing.append(
                f"shard {index}/{shards} is missing" + (f": not graded {pairs}" if pairs else "")
            )
    ensure_gradebook(
        course, sorted({m for _, man in complete.values() for _, m in man["pairs"]}), log
    )
    with open(course.grade_log, "a", encoding="utf-8") as out:
        for index in sorted(complete):
            bundle, manifest = complete[index]
            for student in manifest["students"]:
                gbk.register_student(course.db_url, student)
            source = f"sqlite:///{bundle / 'gradebook.db'}"
            for student, mission in manifest["pairs"]:
                merge_submission(source, course.db_url, student, mission)
                for name in COPIED:
                    src, dst = (
                        bundle / name / student / mission,
                        getattr(course, name) / student / mission,
                    )
                    if src.is_dir():
                        if dst.exists():
                            shutil.rmtree(dst)
                        shutil.copytree(src, dst)
            out.write((bundle / "grade.log").read_text(encoding="utf-8"))
            log(f"merged shard {manifest['shard']}: {len(manifest['pairs'])} submission(s)")
    export_csv(course.root)
    for line in missing:
        log(f"MISSING {line}")
    return missing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.shards", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("merge", help="merge shard bundles into one course")
    m.add_argument("bundles", nargs="+", type=Path)
    m.add_argument("--course-root", type=Path, default=COURSE.root)
    m.add_argument(
        "--shards",
        type=int,
        default=None,
        help="how many shards there were (default: what the bundles say)",
    )
    m.add_argument(
        "--submissions",
        type=Path,
        default=None,
        help="the graded folder: names the pairs a missing shard left ungraded",
    )
    args = parser.parse_args(argv)
    os.environ["PATH"] = nbgrader_env()["PATH"]
    try:
        missing = merge(
            [b.resolve() for b in args.bundles],
            CourseLayout.at(args.course_root),
            args.shards,
            args.submissions,
        )
    except ShardError as exc:
        print(f"merge failed: {exc}", file=sys.stderr)
        return 1
    return 2 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
