"""Shards: the same submissions graded in one run and as two shards in two separate
course copies, then merged, give the same grades.csv (byte for byte) and the same feedback;
a shard that died leaves the other's results merged and is named.

Lean on purpose: mission 1 only, three submissions that run no training (two partly
correct, one blank), the two shards graded at the same time (as two machines would).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from mission_support import REPO, make_course, run_grade, submission

from autograder.shards import MANIFEST, shard_of

pytestmark = pytest.mark.slow
M1 = "mission1_base_model"
CANDIDATES = ("ana", "ben", "cho", "dev", "eun", "fay", "gus", "hye")


def _students() -> list[tuple[str, str]]:
    """Three (student, kind) pairs, both shards of 2 getting at least one."""
    chosen = list(CANDIDATES[:3])
    for name in CANDIDATES[3:]:
        if len({shard_of(s, M1, 2) for s in chosen}) == 2:
            break
        chosen[-1] = name
    assert len({shard_of(s, M1, 2) for s in chosen}) == 2
    return list(zip(chosen, ("partial", "blank", "partial"), strict=True))


def _grade_shard(incoming: Path, course: Path, shard: str, bundle: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autograder.grade",
            str(incoming),
            "--course-root",
            str(course),
            "--jobs",
            "1",
            "--shard",
            shard,
            "--bundle",
            str(bundle),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _merge(course: Path, *bundles: Path, options=()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder.shards",
            "merge",
            *map(str, bundles),
            "--course-root",
            str(course),
            *options,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
    )


def _feedback(course: Path) -> dict[str, bytes]:
    root = course / "autograder" / "feedback"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.html"))}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shards")
    base = tmp / "base"
    base.mkdir()
    make_course(base)
    copies = {
        name: shutil.copytree(base, tmp / name)
        for name in ("one-run", "shard1", "shard2", "merged", "partial")
    }
    incoming = tmp / "incoming"
    students = _students()
    for student, kind in students:
        (incoming / student / M1).mkdir(parents=True)
        nbformat.write(submission(M1, kind), incoming / student / M1 / f"{M1}.ipynb")
    one = run_grade(incoming, copies["one-run"], "--jobs", "2")
    bundles = {i: tmp / f"bundle{i}" for i in (1, 2)}
    procs = [_grade_shard(incoming, copies[f"shard{i}"], f"{i}/2", bundles[i]) for i in (1, 2)]
    outs = [p.communicate(timeout=1800)[0] for p in procs]
    merged = _merge(copies["merged"], bundles[1], bundles[2])
    # Shard 2 died before it finished: its bundle has no manifest.
    dead = shutil.copytree(bundles[2], tmp / "dead")
    (dead / MANIFEST).unlink()
    partial = _merge(copies["partial"], bundles[1], dead, options=("--submissions", str(incoming)))
    return {
        "copies": copies,
        "students": students,
        "one": one,
        "shards": (procs, outs),
        "merged": merged,
        "partial": partial,
    }


def test_one_run_and_merged_shards_give_the_same_grades_and_feedback(graded):
    one, merged, copies = graded["one"], graded["merged"], graded["copies"]
    procs, outs = graded["shards"]
    assert one.returncode == 0, one.stderr[-2000:]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert merged.returncode == 0, merged.stdout + merged.stderr
    expected = (copies["one-run"] / "autograder" / "grades.csv").read_bytes()
    assert (copies["merged"] / "autograder" / "grades.csv").read_bytes() == expected
    scores = {
        r.split(",")[3]: r.split(",")[9]
        for r in expected.decode().splitlines()
        if r.startswith(f'"{M1}"')
    }
    assert scores == {
        f'"{s}"': '"5.0"' if kind == "partial" else '"0.0"' for s, kind in graded["students"]
    }
    one_run, merged_fb = _feedback(copies["one-run"]), _feedback(copies["merged"])
    assert (
        sorted(one_run)
        == sorted(merged_fb)
        == sorted(f"{s}/{M1}/{M1}.html" for s, _ in graded["students"])
    )
    assert one_run == merged_fb


def test_a_dead_shard_is_named_and_the_other_is_merged(graded):
    partial, copies = graded["partial"], graded["copies"]
    assert partial.returncode == 2, partial.stdout + partial.stderr
    lost = sorted(s for s, _ in graded["students"] if shard_of(s, M1, 2) == 2)
    kept = sorted(s for s, _ in graded["students"] if shard_of(s, M1, 2) == 1)
    missing = [ln for ln in partial.stdout.splitlines() if ln.startswith("MISSING")]
    assert any("no manifest.json" in ln for ln in missing), partial.stdout
    named = [ln for ln in missing if "shard 2/2 is missing" in ln]
    assert named and all(f"{s}/{M1}" in named[0] for s in lost), partial.stdout
    one_rows = (copies["one-run"] / "autograder" / "grades.csv").read_text().splitlines()
    rows = (copies["partial"] / "autograder" / "grades.csv").read_text().splitlines()
    for student in kept:
        mine = [r for r in one_rows if f'"{student}"' in r]
        assert mine and all(r in rows for r in mine)
    assert sorted(_feedback(copies["partial"])) == [f"{s}/{M1}/{M1}.html" for s in kept]
