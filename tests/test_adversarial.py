"""The adversarial corpus through `make grade`'s code path: every case gets the grade it
deserves, the others in the same run are graded normally, earlier grades stay, nothing
in the course or its data changes, regrading is idempotent and a late resubmission
replaces only that student's grade.

One module-scoped run in a scratch course (tests/mission_support.make_course):

1. "earlier": two students graded before the corpus arrives;
2. the corpus (tests/adversarial_corpus.py), with a 45 s cell and a 150 s submission limit;
3. a late resubmission of one earlier student, graded twice.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from adversarial_corpus import CASES, CELL_TIMEOUT_S, M1, M2, M4, M5, WALL_CLOCK_S, write_corpus
from mission_support import REPO, SOURCE, make_course, run_grade, submission

from autograder import MISSIONS
from autograder.grade import shown
from autograder.sandbox import DEFAULT_DISK_BUDGET

pytestmark = pytest.mark.slow
OPTIONS = ("--cell-timeout", str(CELL_TIMEOUT_S), "--timeout", str(WALL_CLOCK_S), "--jobs", "2")


def _hash_tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _protected_state() -> dict:
    """What student code must never change: the data sets, the repository's files as git
    sees them, and the installed grading code."""
    import nbgrader

    import helpers
    from helpers.datasets import data_dir

    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tracked = subprocess.run(
        ["git", "ls-files", "-s"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    return {
        "data": _hash_tree(data_dir()),
        "git_status": status,
        "git_index": tracked,
        "helpers": _hash_tree(Path(helpers.__file__).parent),
        "nbgrader": _hash_tree(Path(nbgrader.__file__).parent),
    }


def _rows(course: Path) -> dict[tuple[str, str], dict]:
    with (course / "autograder" / "grades.csv").open(newline="") as fh:
        return {(r["student_id"], r["assignment"]): r for r in csv.DictReader(fh)}


def _write(nb, folder: Path, mission: str) -> None:
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{mission}.ipynb")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("adversarial")
    course = make_course(_mkdir(tmp / "course"))
    earlier = tmp / "earlier"
    _write(submission(M1, "partial"), earlier / "early-bird" / M1, M1)
    _write(submission(M1, "blank"), earlier / "resubmitter" / M1, M1)
    first = run_grade(earlier, course, "--jobs", "2")
    rows_earlier = _rows(course)

    before = _protected_state()
    corpus = tmp / "corpus"
    write_corpus(corpus)
    start = time.perf_counter()
    graded = run_grade(corpus, course, *OPTIONS)
    seconds = time.perf_counter() - start
    print(f"adversarial corpus: {len(CASES)} cases graded in {seconds:.0f} s")
    print(graded.stdout[-5000:], graded.stderr[-5000:])
    rows_corpus = _rows(course)
    after = _protected_state()

    late = tmp / "late"
    _write(submission(M1, "partial"), late / "resubmitter" / M1, M1)
    # The flagged "patches-tests" student hands in an honest notebook: the flag's zeros go.
    _write(submission(M1, "partial"), late / "patches-tests" / M1, M1)
    third = run_grade(late, course, "--jobs", "2")
    rows_late = _rows(course)
    csv_late = (course / "autograder" / "grades.csv").read_bytes()
    fourth = run_grade(late, course, "--jobs", "2")
    csv_again = (course / "autograder" / "grades.csv").read_bytes()
    return {
        "course": course,
        "procs": (first, graded, third, fourth),
        "seconds": seconds,
        "rows": (rows_earlier, rows_corpus, rows_late),
        "csv": (csv_late, csv_again),
        "state": (before, after),
        "log": graded.stdout + graded.stderr,
    }


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def test_every_run_of_the_pipeline_succeeds(run):
    for proc in run["procs"]:
        assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_gets_its_deserved_grade(run, case):
    rows = run["rows"][1]
    mine = {k: r for k, r in rows.items() if k[0] == case.student_id}
    if case.expected is None:
        assert not mine, f"{case.name} should not be in the CSV: {mine}"
    else:
        row = mine[(case.student_id, case.mission)]
        assert float(row["score"]) == case.expected, (case.what, row)
    lines = [
        ln
        for ln in run["log"].splitlines()
        if re.match(rf"(FAILED|FLAGGED) {re.escape(shown(case.student_id))}/", ln)
    ]
    if case.log:
        assert len(lines) == 1 and case.log in lines[0], (case.log, lines)
    else:
        assert not lines, lines


def test_max_scores_are_the_missions_own(run):
    """Changed points in a submission's metadata never change what a mission is worth."""
    maxima = {
        "mission1_base_model": 10,
        "mission2_early_stopping": 10,
        "mission3_dropout": 15,
        "mission4_callback_99": 10,
        "mission5_backprop_numpy": 18,
    }
    for (_, mission), row in run["rows"][1].items():
        assert float(row["max_score"]) == maxima[mission], row


def test_each_failure_is_one_log_line(run):
    failed = [ln for ln in run["log"].splitlines() if ln.startswith(("FAILED", "FLAGGED"))]
    expected = {f"{shown(c.student_id)}/{c.mission}" for c in CASES if c.log}
    named = {ln.split()[1].rstrip(":") for ln in failed}
    assert named == expected, named ^ expected
    assert len(failed) == len(expected)


def test_csv_has_one_row_per_real_student_and_mission(run):
    """No forged rows: every row is a student the run accepted, once per mission."""
    text = (run["course"] / "autograder" / "grades.csv").read_text()
    students = {c.student_id for c in CASES if c.expected is not None}
    students |= {"early-bird", "resubmitter"}
    rows = list(csv.reader(text.splitlines(keepends=True)))
    assert all(len(r) == len(rows[0]) for r in rows)
    assert {r[3] for r in rows[1:]} == students
    assert len(rows) - 1 == len(students) * len(
        MISSIONS
    )  # nbgrader's export: every student x mission
    assert all(line.startswith('"') for line in text.splitlines())  # every cell quoted


def test_log_lines_are_never_forged(run):
    """A newline in a student id never starts a line of its own in the log."""
    lines = run["log"].splitlines()
    assert [ln for ln in lines if "forger" in ln] == [
        ln for ln in lines if ln.startswith("FAILED 'forger\\n")
    ]
    assert len([ln for ln in lines if "forger" in ln]) == 1
    assert not any(ln.startswith(("graded_victim", f"{M1},")) for ln in lines)


class _Markup(HTMLParser):
    """Collects what a browser would act on: tags, their attributes, script bodies."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        text = " ".join(f'{k}="{v}"' for k, v in attrs)
        self.found.append(f"<{tag} {text}".lower())

    def handle_data(self, data):
        if self._in_script:
            self.found.append(f"<script>{data.strip()}".lower())

    def handle_endtag(self, tag):
        self._in_script = False


def active_markup(page: str, excludes) -> list[str]:
    """Which of ``excludes`` occur in the page's markup (tags, attributes, scripts), not in
    text a student sees (highlighted code shows `onerror=` as harmless text)."""
    parser = _Markup()
    parser.feed(page)
    markup = "\n".join(parser.found)
    return [bad for bad in excludes if bad.lower() in markup]


def _hidden_test_lines() -> set[str]:
    """Lines of the hidden tests (between the markers) that the release does not show."""
    found = set()
    for mission_nb in SOURCE.glob("*/*.ipynb"):
        release = (REPO / "release" / mission_nb.parent.name / mission_nb.name).read_text()
        for cell in nbformat.read(mission_nb, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                if "BEGIN HIDDEN TESTS" in line or "END HIDDEN TESTS" in line:
                    inside = "BEGIN" in line
                elif (
                    inside
                    and len(line.strip()) >= 16
                    and json.dumps(line.strip())[1:-1] not in release
                ):
                    found.add(line.strip())
    return found


def test_feedback_shows_no_hidden_test_and_runs_no_script(run):
    hidden = _hidden_test_lines()
    assert len(hidden) > 20
    pages = sorted((run["course"] / "autograder" / "feedback").glob("*/*/*.html"))
    assert len(pages) > 10
    for page in pages:
        text = html.unescape(page.read_text())
        leaked = [line for line in hidden if line in text]
        assert not leaked, (page, leaked[:3])
    for case in CASES:
        if case.feedback_excludes:
            page = (
                run["course"]
                / "autograder"
                / "feedback"
                / case.student_id
                / case.mission
                / f"{case.mission}.html"
            ).read_text()
            found = active_markup(page, case.feedback_excludes)
            assert not found, (case.name, found)


def test_earlier_grades_stay(run):
    earlier, corpus, _ = run["rows"]
    for key, row in earlier.items():
        assert corpus[key]["score"] == row["score"], key
    assert float(corpus[("early-bird", M1)]["score"]) == 5.0


def test_course_and_data_are_unchanged(run):
    before, after = run["state"]
    for part in before:
        assert before[part] == after[part], f"{part} changed while grading the corpus"
    from helpers.datasets import FASHION_MNIST, MNIST, verify

    verify(MNIST)
    verify(FASHION_MNIST)


def _autograded(run, student: str, mission: str) -> Path:
    return run["course"] / "autograder" / "autograded" / student / mission / f"{mission}.ipynb"


def test_sandbox_hides_secrets_and_protects_code(run):
    nb = nbformat.read(_autograded(run, "sandbox-probe", M1), as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    probe = json.loads(re.search(r"SANDBOX-PROBE (\{.*\})", text).group(1))
    assert not any(probe["exists"].values()), probe["exists"]
    assert not any(probe["writable"].values()), probe["writable"]


def _probe(run, student: str, mission: str, name: str) -> dict:
    """The JSON a corpus case printed after "<name>-PROBE " in its autograded notebook."""
    nb = nbformat.read(_autograded(run, student, mission), as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    found = re.search(rf"{name}-PROBE (\{{.*\}})", text)
    assert found, f"{student} printed no {name}-PROBE line: {text[-2000:]}"
    return json.loads(found.group(1))


def test_kernel_is_unprivileged_even_when_grading_as_root(run):
    """Read from /proc/self/status inside a graded kernel (the grader here runs as root)."""
    probe = _probe(run, "privilege-probe", M1, "STATUS")
    assert probe["uid"] != "0", probe
    assert probe["cap_eff"] == probe["cap_bnd"] == "0" * 16, probe
    assert probe["no_new_privs"] == "1" and not probe["nested_userns"], probe


def test_read_only_folders_cannot_be_remounted(run):
    probe = _probe(run, "remounts-read-only-code", M4, "REMOUNT")
    assert probe == {
        name: {"remounted": False, "wrote": False} for name in ("helpers", "nbgrader", "usr")
    }, probe


def test_kernel_sees_no_port_of_another_kernel(run):
    """Its network namespace is its own: only loopback, and nothing on it but its own
    ipykernel output pipe (no IOPub stream to read, its own included)."""
    probe = _probe(run, "loopback-scan", M1, "LOOPBACK")
    assert probe == {"interfaces": ["lo"], "foreign": [], "reached": []}, probe
    assert _probe(run, "iopub-snoop", M2, "IOPUB")["messages"] == 0


def test_a_port_hog_holds_only_its_own_loopback(run):
    """It gets every port but its own pipe's, and the others are graded meanwhile."""
    probe = _probe(run, "port-hog", M1, "PORT-HOG")
    assert probe["held"] > 0 and probe["taken_by_others"] == [], probe
    assert "Address already in use" not in run["log"]


def test_disk_budget_holds_and_nothing_reaches_the_grader_disk(run):
    notebook = _autograded(run, "fills-workdir", M1)
    assert "No space left on device" in notebook.read_text()
    assert [p.name for p in notebook.parent.iterdir()] == [notebook.name]
    feedback = run["course"] / "autograder" / "feedback" / "fills-workdir" / M1
    assert [p.name for p in feedback.iterdir()] == [f"{M1}.html"]
    written = _probe(run, "fills-scratch", M4, "DISK")  # MiB
    assert written["tmp"] <= DEFAULT_DISK_BUDGET / 2**20 < 48 * 32, written
    assert written["shm"] <= 64 and written["root"] == 0, written


def test_kernel_holds_no_writable_file_of_the_grader(run):
    """Its own stdout and stderr are a pipe to the sandbox's launcher (which passes on
    64 KiB), not the grading job's output file on the grader's disk."""
    assert _probe(run, "m5-writes-past-budget-via-stdio", M5, "STDIO") == {"outside": []}


def test_output_is_cut_while_the_cell_runs(run):
    path = _autograded(run, "prints-20mb", M1)
    assert path.stat().st_size < 3 * 2**20, path.stat().st_size
    assert "[grader] output cut at 2 MB" in path.read_text()


def test_output_is_capped_for_the_whole_notebook_and_in_place_updates(run):
    """What the grading job holds and writes (autograded/, feedback/) stays bounded: an
    update of an output in place meets the cell's cap, many cells the notebook's."""
    updated = _autograded(run, "m5-display-update-past-cap", M5)
    assert updated.stat().st_size < 3 * 2**20, updated.stat().st_size
    assert "[grader] output cut at 2 MB" in updated.read_text()
    many = _autograded(run, "m5-many-cells-of-output", M5)
    assert many.stat().st_size < 17 * 2**20, many.stat().st_size
    assert "[grader] output dropped: the notebook's outputs passed 16 MB" in many.read_text()


def test_memory_blowup_is_stopped(run):
    assert "MemoryError" in _autograded(run, "memory-hog", "mission2_early_stopping").read_text()


def test_deleted_test_cell_is_restored_and_graded(run):
    nb = nbformat.read(_autograded(run, "test-deleted", M1), as_version=4)
    restored = [
        c
        for c in nb.cells
        if "test_structure" in c.source or "was missing from the submission" in c.source
    ]
    assert restored, "the deleted test cell was not put back"


def test_extra_files_are_not_graded_along(run):
    folder = _autograded(run, "extra-files", M1).parent
    assert not (folder / "helpers").exists() and not (folder / "notes.txt").exists()


def test_late_resubmission_replaces_only_that_grade(run):
    _, corpus, late = run["rows"]
    changed = {k for k in corpus if corpus[k]["score"] != late[k]["score"]}
    assert changed == {("resubmitter", M1), ("patches-tests", M1)}
    assert float(corpus[("resubmitter", M1)]["score"]) == 0.0
    assert float(late[("resubmitter", M1)]["score"]) == 5.0


def test_a_clean_resubmission_drops_an_earlier_flag(run):
    _, corpus, late = run["rows"]
    assert float(corpus[("patches-tests", M1)]["score"]) == 0.0
    assert float(late[("patches-tests", M1)]["score"]) == 5.0
    third = run["procs"][2]
    assert (
        "note patches-tests/mission1_base_model: an earlier flag's zero overrides were "
        "removed" in third.stdout + third.stderr
    )


def test_regrading_gives_the_same_csv(run):
    first, second = run["csv"]
    assert first == second


def test_no_process_is_left_running(run):
    import psutil

    time.sleep(1)
    course = str(run["course"])
    left = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if course in " ".join(p.info["cmdline"] or []):
                left.append(p.info)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    assert not left, left


# --------------------------------------------------------------------------- no sandbox
def test_grading_refuses_without_a_sandbox(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = run_grade(
        tmp_path / "empty", tmp_path, env={"COURSE_BWRAP": "/nonexistent/bwrap"}, timeout=300
    )
    assert proc.returncode == 1
    assert "bubblewrap (bwrap) is not installed" in proc.stderr
    assert "--no-sandbox" in proc.stderr
