"""The class loop on a real JupyterHub, with real Unix users, walked in Chromium.

An instructor and two students get Unix accounts (removed afterwards, whatever happens); the
hub (`python -m tools.hub`, what `make hub` runs) starts on a free loopback port. The
instructor releases mission 1 from the command line as the instructor user; student A logs in,
fetches it in the Assignments tab, writes the right answer, validates and submits; student B
submits a wrong answer; the instructor collects and grades (the sandboxed `make grade` path);
B submits a corrected answer, and collecting and grading again changes only B's row; the
instructor releases feedback; each student fetches it in the Assignments tab and sees their
score and none of the hidden test code; A can read neither B's work nor the instructor's
source notebooks; the LMS export has both rows with the right scores.

Screenshots of every step go to tests/artifacts/hub/ (git-ignored).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from browser_support import CHROMIUM_ARGS, copy_course, ensure_chromium, free_port
from test_browser import (
    _instructor_solutions,
    _wrong_answer,
    answer_cells,
    close_dialog,
    notebook_state,
    type_into_cell,
    validate,
)

from autograder import MISSIONS
from tools.hub.accounts import remove_accounts, set_password
from tools.hub.settings import grader_account, group_names, service_name
from tools.shared_env import blocked

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "tests" / "artifacts" / "hub"
MISSION = MISSIONS[0]
SHARED_VENV = Path("/opt/dl-course/venv")  # README's class-server environment, when present
UI = 60_000
SPAWN = 180_000
VALIDATE = 600_000
SUFFIX = os.urandom(2).hex()
INSTRUCTOR, STUDENT_A, STUDENT_B = f"e2ei{SUFFIX}", f"e2ea{SUFFIX}", f"e2eb{SUFFIX}"
PASSWORD = "hub-test-" + os.urandom(6).hex()


def _log(msg: str) -> None:
    print(f"[hub] {msg}", flush=True)


def _run(cmd: list[str], timeout: float = 900, **kw) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    assert done.returncode == 0, (
        f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


def _shared_venv(tmp: Path) -> Path:
    """An environment every account can run: this one, /opt/dl-course/venv, or one built now."""
    own = Path(sys.prefix)
    if not blocked(Path(os.path.realpath(own / "bin" / "python"))):
        return own
    if SHARED_VENV.is_dir() and not blocked(Path(os.path.realpath(SHARED_VENV / "bin" / "python"))):
        return SHARED_VENV
    venv = tmp / "venv"
    start = time.monotonic()
    _run(["make", "setup", f"VENV={venv}", "PYTHON=/usr/bin/python3"], cwd=REPO, timeout=1800)
    _log(f"built a shared environment in {time.monotonic() - start:.0f} s")
    return venv


class Hub:
    """The running class: its folders, its URL, and commands run as the instructor."""

    def __init__(self, tmp: Path, venv: Path):
        self.tmp, self.venv = tmp, venv
        self.course = copy_course(REPO, tmp / "course")
        self.state = tmp / "state"
        self.roster = tmp / "roster.csv"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    @property
    def exchange(self) -> Path:
        return self.state / "exchange"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("LANG", "COURSE_DATA_DIR")}
        return env | {
            "PATH": f"{self.venv / 'bin'}:/usr/bin:/bin",
            "COURSE_EXCHANGE": str(self.exchange),
        }

    def as_instructor(self, *args: str) -> str:
        """``python -m autograder.classroom ARGS`` run by the instructor's Unix account."""
        env = self.env() | {"HOME": f"/home/{INSTRUCTOR}", "PYTHONPATH": str(self.course)}
        cmd = [
            "runuser",
            "-u",
            INSTRUCTOR,
            "--",
            "env",
            *(f"{k}={v}" for k, v in env.items()),
            str(self.venv / "bin" / "python"),
            "-m",
            "autograder.classroom",
            *args,
            "--course-root",
            str(self.course),
        ]
        return _run(cmd, cwd=self.course)

    def grade(self) -> str:
        """`make grade`'s command, as root, sandboxed, into the hub's course; then `share`."""
        env = dict(os.environ, COURSE_EXCHANGE=str(self.exchange))
        out = _run(
            [
                sys.executable,
                "-m",
                "autograder.grade",
                str(self.course / "autograder" / "inbox"),
                "--course-root",
                str(self.course),
            ],
            cwd=REPO,
            env=env,
        )
        _run(
            [sys.executable, "-m", "tools.hub", "share", "--course-root", str(self.course)],
            cwd=REPO,
        )
        return out


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = Path(tempfile.mkdtemp(prefix="hub-e2e-"))
    tmp.chmod(0o755)  # the grader account runs the Formgrader in the course copy under it
    students_group, graders_group = group_names()
    hub = None
    try:
        venv = _shared_venv(tmp)
        _run(["bash", "tools/hub/install_proxy.sh"], cwd=REPO, env=dict(os.environ, VENV=str(venv)))
        hub = Hub(tmp, venv)
        hub.roster.write_text(
            "student_id,name,email,role\n"
            f"{STUDENT_A},Ana Kim,a@example.org,student\n"
            f"{STUDENT_B},Bo Lee,b@example.org,student\n"
            f"{INSTRUCTOR},Ira Park,i@example.org,instructor\n"
        )
        start = time.monotonic()
        hub.proc = subprocess.Popen(
            [
                str(venv / "bin" / "python"),
                "-m",
                "tools.hub",
                "start",
                "--roster",
                str(hub.roster),
                "--port",
                str(hub.port),
                "--ip",
                "127.0.0.1",
                "--state",
                str(hub.state),
                "--course-root",
                str(hub.course),
                "--venv",
                str(venv),
            ],
            cwd=REPO,
            stdout=(tmp / "hub.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{hub.url}/hub/api", timeout=5)
                break
            except OSError:
                assert hub.proc.poll() is None, (tmp / "hub.log").read_text()[-4000:]
                assert time.monotonic() < deadline, (tmp / "hub.log").read_text()[-4000:]
                time.sleep(0.5)
        _log(
            f"hub up in {time.monotonic() - start:.1f} s (accounts, groups, exchange, proxy, Formgrader)"
        )
        for user in (STUDENT_A, STUDENT_B, INSTRUCTOR):
            set_password(user, PASSWORD)
        # The test reads the notebook through JupyterLab's app object (test_browser's helpers).
        (hub.state / "jupyter-student" / "jupyter_lab_config.json").write_text(
            json.dumps({"LabApp": {"expose_app_in_browser": True}})
        )
        yield hub
    finally:
        if hub is not None and hub.proc is not None:
            try:
                os.killpg(hub.proc.pid, signal.SIGTERM)
                hub.proc.wait(30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(hub.proc.pid, signal.SIGKILL)
            if (tmp / "hub.log").exists():
                SHOTS.mkdir(parents=True, exist_ok=True)
                shutil.copy(tmp / "hub.log", SHOTS / "hub.log")
        remove_accounts(
            [STUDENT_A, STUDENT_B, INSTRUCTOR, grader_account()], [students_group, graders_group]
        )
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(hub):
    from playwright.sync_api import sync_playwright

    chromium = ensure_chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def shot(page, name: str) -> None:
    page.screenshot(path=SHOTS / f"{name}.png")


def login(browser, hub: Hub, user: str, next_url: str | None = None):
    """A fresh browser context logged in as ``user``; returns the page on its JupyterLab
    (or on ``next_url``)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(UI)
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login" + (f"?next={next_url[len(hub.url) :]}" if next_url else ""))
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    if next_url:
        page.wait_for_url(f"{next_url}**", timeout=SPAWN)
        return page
    page.wait_for_url(f"**/user/{user}/lab**", timeout=SPAWN)
    page.locator("#jp-main-dock-panel").wait_for(state="visible", timeout=SPAWN)
    page.wait_for_function("() => !!window.jupyterapp", timeout=SPAWN)
    return page


def open_assignments(page) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('nbgrader:open-assignment-list')")
    page.locator("#released_assignments_list").wait_for(state="visible")


def press(page, list_id: str, label: str, then_list: str) -> None:
    """Click ``label`` on mission 1's row of list ``list_id``; wait until it shows in ``then_list``."""
    page.locator(f"#{list_id} .list_item", has_text=MISSION).locator(
        "button", has_text=label
    ).first.click()
    page.locator(f"#{then_list} .list_item", has_text=MISSION).first.wait_for(
        state="visible", timeout=UI * 2
    )


def open_fetched(page, user: str) -> None:
    rel = f"{MISSION}/{MISSION}.ipynb"
    page.evaluate("p => window.jupyterapp.commands.execute('docmanager:open', {path: p})", rel)
    page.wait_for_function(
        """name => { const w = window.jupyterapp.shell.currentWidget;
            return !!(w && w.context && w.context.path.endsWith(name) && w.context.isReady
                      && w.content.widgets.length > 0); }""",
        arg=f"{MISSION}.ipynb",
        timeout=UI * 2,
    )


def write_answers(page, answers_by_id: dict[str, str]) -> None:
    cells = notebook_state(page)
    answers = answer_cells(cells)
    assert sorted(answers) == sorted(answers_by_id), f"answer cells {sorted(answers)}"
    for gid, index in answers.items():
        type_into_cell(page, index, answers_by_id[gid])
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")


def submit(page) -> None:
    open_assignments(page)
    before = page.locator("#submitted_assignments_list .list_item").count()
    page.locator("#fetched_assignments_list .list_item", has_text=MISSION).locator(
        "button", has_text="Submit"
    ).first.click()
    page.wait_for_function(
        "n => document.querySelectorAll('#submitted_assignments_list .list_item').length > n",
        arg=before,
        timeout=UI * 2,
    )


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def long_row(hub: Hub, student: str) -> dict[str, str]:
    found = [
        r
        for r in rows(hub.course / "autograder" / "grades.csv")
        if r["student_id"] == student and r["assignment"] == MISSION
    ]
    assert len(found) == 1, found
    return found[0]


def hidden_test_lines() -> list[str]:
    """Lines of mission 1's hidden tests (between the markers) long enough to be telling."""
    nb = json.loads((REPO / "source_notebooks" / MISSION / f"{MISSION}.ipynb").read_text())
    lines, inside = [], False
    for cell in nb["cells"]:
        for line in "".join(cell["source"]).splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) > 15:
                lines.append(line.strip())
    assert lines, "mission 1 has no hidden tests to look for"
    return lines


def cannot_read(user: str, path: Path) -> bool:
    done = subprocess.run(
        ["runuser", "-u", user, "--", "cat", str(path)], capture_output=True, check=False
    )
    return done.returncode != 0 and not done.stdout


def cannot_list(user: str, path: Path) -> bool:
    done = subprocess.run(
        ["runuser", "-u", user, "--", "ls", str(path)], capture_output=True, check=False
    )
    return done.returncode != 0


def test_class_loop_release_to_feedback(hub, browser):
    loop_start = time.monotonic()
    solutions = _instructor_solutions()

    # 1. The instructor releases mission 1 to the class's exchange (command line, own account).
    hub.as_instructor("publish", MISSION)
    assert (
        hub.exchange / "dl-course-missions" / "outbound" / MISSION / f"{MISSION}.ipynb"
    ).is_file()
    inbound = hub.exchange / "dl-course-missions" / "inbound"
    assert oct(inbound.stat().st_mode & 0o7777) == oct(0o2733), (
        "inbound must be writable, not listable"
    )

    # The Formgrader, a hub service run by the grader account: instructors get it, framable
    # by JupyterLab (nbgrader #1870); students are refused.
    formgrader = f"{hub.url}/services/{service_name()}/formgrader"
    page_i = login(browser, hub, INSTRUCTOR, next_url=formgrader)
    page_i.get_by_text(MISSION).first.wait_for(timeout=UI * 2)
    shot(page_i, "00_instructor_formgrader")
    csp = page_i.request.get(formgrader).headers.get("content-security-policy", "")
    assert "frame-ancestors 'self'" in csp, csp
    page_i.context.close()

    # 2. Student A: Assignments tab shows only nbgrader's student side; fetch, answer, validate, submit.
    page_a = login(browser, hub, STUDENT_A)
    labels = page_a.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader")
    labels.click()
    items = page_a.locator(".lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel").all_inner_texts()
    page_a.keyboard.press("Escape")
    assert items == ["Assignment List"], f"a student's Nbgrader menu holds {items}"
    refused = page_a.request.get(formgrader)  # through the hub's OAuth redirects
    assert refused.status == 403, (
        f"a student reached the Formgrader: {refused.status} {refused.url}"
    )
    open_assignments(page_a)
    shot(page_a, "01_student_a_assignments")
    press(page_a, "released_assignments_list", "Fetch", "fetched_assignments_list")
    shot(page_a, "02_student_a_fetched")
    open_fetched(page_a, STUDENT_A)
    write_answers(page_a, solutions)
    shot(page_a, "03_student_a_answer")
    classes, text = validate(page_a)
    shot(page_a, "04_student_a_validated")
    assert "validation-success" in classes, text
    close_dialog(page_a)
    submit(page_a)
    shot(page_a, "05_student_a_submitted")

    # 3. Student B hands in a wrong answer.
    page_b = login(browser, hub, STUDENT_B)
    open_assignments(page_b)
    press(page_b, "released_assignments_list", "Fetch", "fetched_assignments_list")
    open_fetched(page_b, STUDENT_B)
    stubs = {
        gid: notebook_state(page_b)[i]["source"]
        for gid, i in answer_cells(notebook_state(page_b)).items()
    }
    write_answers(page_b, {gid: _wrong_answer(stub) for gid, stub in stubs.items()})
    submit(page_b)
    shot(page_b, "06_student_b_wrong_submitted")

    # 4. The instructor collects (into the inbox) and grades, sandboxed.
    graded_start = time.monotonic()
    hub.as_instructor("collect", MISSION)
    inbox = hub.course / "autograder" / "inbox"
    assert sorted(p.name for p in inbox.iterdir()) == sorted([STUDENT_A, STUDENT_B])
    for folder in inbox.rglob("*"):
        if folder.is_dir():
            assert folder.stat().st_mode & 0o777 == 0o750, (
                f"{folder} is {oct(folder.stat().st_mode)}"
            )
    hub.grade()
    first_a, first_b = long_row(hub, STUDENT_A), long_row(hub, STUDENT_B)
    assert float(first_a["score"]) == float(first_a["max_score"]) > 0, first_a
    assert float(first_b["score"]) < float(first_b["max_score"]), first_b
    for student in (STUDENT_A, STUDENT_B):
        kept = hub.course / "autograder" / "submitted" / student / MISSION
        assert (kept / "timestamp.txt").is_file() and (kept / "submission_secret.txt").is_file()
    _log(f"collect + grade of 2 submissions: {time.monotonic() - graded_start:.0f} s")

    # 5. B resubmits a corrected answer; collect stages only B, and only B's row changes.
    open_fetched(page_b, STUDENT_B)
    write_answers(page_b, solutions)
    submit(page_b)
    shot(page_b, "07_student_b_corrected_submitted")
    hub.as_instructor("collect", MISSION)
    assert [p.name for p in inbox.iterdir()] == [STUDENT_B], "only the resubmission is regraded"
    hub.grade()
    assert long_row(hub, STUDENT_A) == first_a, "A's row changed when only B resubmitted"
    second_b = long_row(hub, STUDENT_B)
    assert float(second_b["score"]) == float(second_b["max_score"]), second_b
    assert second_b["timestamp"] > first_b["timestamp"]

    # 6. Feedback goes back through the exchange; each student fetches theirs.
    hub.as_instructor("feedback", MISSION)
    secret = hidden_test_lines()
    for user, page, row in ((STUDENT_A, page_a, first_a), (STUDENT_B, page_b, second_b)):
        open_assignments(page)
        page.locator("#submitted_assignments_list .list_item", has_text=MISSION).locator(
            "button", has_text="Fetch Feedback"
        ).first.click()
        page.locator("#submitted_assignments_list", has_text="view feedback").first.wait_for(
            timeout=UI * 2
        )
        shot(page, f"08_{'a' if user == STUDENT_A else 'b'}_feedback_fetched")
        reports = sorted((Path(f"/home/{user}") / MISSION / "feedback").rglob(f"{MISSION}.html"))
        assert reports, f"{user} has no feedback file"
        rel = reports[-1].relative_to(Path(f"/home/{user}"))
        page.goto(f"{hub.url}/user/{user}/files/{rel}")
        body = page.locator("body").inner_text()
        shot(page, f"09_{'a' if user == STUDENT_A else 'b'}_feedback_page")
        headline = f"{MISSION} (Score: {float(row['score'])} / {float(row['max_score'])})"
        assert headline in body, f"{user}'s feedback lacks {headline!r}:\n{body[:600]}"
        html = reports[-1].read_text(encoding="utf-8")
        leaked = [line for line in secret if line in html]
        assert not leaked, f"hidden test code in {user}'s feedback: {leaked[:3]}"

    # 7. A cannot read B's work or the instructor's notebooks.
    assert cannot_read(STUDENT_A, Path(f"/home/{STUDENT_B}") / MISSION / f"{MISSION}.ipynb")
    assert cannot_list(STUDENT_A, inbound)
    assert cannot_read(
        STUDENT_A,
        hub.course / "autograder" / "submitted" / STUDENT_B / MISSION / f"{MISSION}.ipynb",
    )
    assert cannot_read(STUDENT_A, hub.course / "source_notebooks" / MISSION / f"{MISSION}.ipynb")
    assert cannot_read(STUDENT_A, hub.course / "autograder" / "gradebook.db")

    # 8. The LMS export: every roster student, the right scores.
    _run(
        [
            sys.executable,
            "-m",
            "autograder.export",
            "--roster",
            str(hub.roster),
            "--course-root",
            str(hub.course),
        ],
        cwd=REPO,
    )
    wide = rows(hub.course / "autograder" / "grades_lms.csv")
    assert [r["SIS User ID"] for r in wide] == [STUDENT_A, STUDENT_B]
    column = next(c for c in wide[0] if c.startswith(MISSION))
    assert [float(r[column]) for r in wide] == [float(first_a["score"]), float(second_b["score"])]
    shutil.copy(hub.course / "autograder" / "grades_lms.csv", SHOTS / "grades_lms.csv")
    _log(f"the loop, release to export: {time.monotonic() - loop_start:.0f} s")
