"""Fast checks of the class loop's glue: exchange location, intake, collect, export, hub files.

Each test names the breakage it guards against (issue 13): the exchange fixed inside the
repository, intake dropping ``submission_secret.txt``, a submission copied onto itself,
collected folders left 777, the Formgrader's "exchange directory does not exist" message.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from browser_support import copy_course

from autograder import MISSIONS
from autograder.classroom import close_modes, open_released_feedback, stage_new
from autograder.export import wide_rows
from autograder.intake import FOLDER_MODE, take_in
from tools.hub.roster import Person, RosterError, read_roster
from tools.hub.settings import (
    FORMGRADER_CSP,
    STUDENT_DISABLED_LAB,
    HubSettings,
    write_jupyter_configs,
)

REPO = Path(__file__).resolve().parents[1]
MISSION = MISSIONS[0]
RELEASED = REPO / "release" / MISSION / f"{MISSION}.ipynb"


def nbgrader_exchange_root(course_root: Path, env: dict[str, str]) -> str:
    """Exchange.root as nbgrader sees it when run in ``course_root`` (a fresh process)."""
    code = (
        "from traitlets.config.loader import PyFileConfigLoader\n"
        "c = PyFileConfigLoader('nbgrader_config.py', path='.').load_config()\n"
        "print(c.Exchange.root)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=course_root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return out.stdout.strip().splitlines()[-1]


def test_class_exchange_wins_over_the_course_folder(tmp_path):
    # Was: Exchange.root fixed to <repo>/autograder/exchange, so release_feedback from the
    # course root wrote beside the class's exchange ("Unwritable directory").
    course = copy_course(REPO, tmp_path / "course")
    env = dict(os.environ, COURSE_EXCHANGE=str(tmp_path / "class-exchange"))
    assert nbgrader_exchange_root(course, env) == str(tmp_path / "class-exchange")


def test_local_exchange_exists_so_the_assignment_list_works(tmp_path):
    # Was: the Assignments tab and the Formgrader said "The exchange directory ... does not
    # exist and could not be created": nobody created the course's own exchange folder.
    course = copy_course(REPO, tmp_path / "course")
    env = {k: v for k, v in os.environ.items() if k != "COURSE_EXCHANGE"}
    root = Path(nbgrader_exchange_root(course, env))
    assert root == course / "autograder" / "exchange"
    assert root.is_dir()


def _handed_in(folder: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(RELEASED, folder / f"{MISSION}.ipynb")
    (folder / "timestamp.txt").write_text("2026-12-01 10:00:00.000000 UTC")
    (folder / "submission_secret.txt").write_text("s3cret")
    folder.chmod(0o777)
    return folder


def test_intake_keeps_the_feedback_secret(tmp_path):
    # Was: only timestamp.txt was kept; `nbgrader release_feedback` then crashed with
    # FileNotFoundError on submission_secret.txt.
    src = _handed_in(tmp_path / "inbox" / "ann" / MISSION)
    dest = tmp_path / "submitted" / "ann" / MISSION
    take_in(src, dest, MISSION, RELEASED)
    assert (dest / "submission_secret.txt").read_text() == "s3cret"
    assert (dest / "timestamp.txt").read_text().startswith("2026-12-01")


def test_intake_onto_itself_loses_nothing(tmp_path):
    # Was: `make grade SUBMISSIONS=autograder/submitted` removed the folder it was reading.
    folder = _handed_in(tmp_path / "submitted" / "ann" / MISSION)
    take_in(folder, folder, MISSION, RELEASED)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{MISSION}.ipynb", "timestamp.txt", "submission_secret.txt"]
    )
    assert folder.stat().st_mode & 0o777 == FOLDER_MODE  # not nbgrader's 777
    assert not list(folder.parent.glob(".intake-*"))


def test_collected_folders_are_not_world_writable(tmp_path):
    # Was: nbgrader collect's copies were mode 777 (anyone on the server could alter them).
    folder = _handed_in(tmp_path / "collected" / "ann" / MISSION)
    (folder / f"{MISSION}.ipynb").chmod(0o666)
    close_modes(tmp_path / "collected")
    assert folder.stat().st_mode & 0o777 == 0o750
    assert (folder / f"{MISSION}.ipynb").stat().st_mode & 0o777 == 0o640


def test_collect_stages_only_new_submissions(tmp_path):
    # A resubmission is regraded; a student whose work did not change is not.
    root = tmp_path
    for student, stamp in (("ann", "2026-12-01 10:00:00"), ("bo", "2026-12-02 09:00:00")):
        _handed_in(root / "autograder" / "collected" / student / MISSION)
        (root / "autograder" / "collected" / student / MISSION / "timestamp.txt").write_text(stamp)
    graded = root / "autograder" / "submitted" / "ann" / MISSION
    graded.mkdir(parents=True)
    (graded / "timestamp.txt").write_text("2026-12-01 10:00:00")
    staged = stage_new(root, [MISSION])
    assert staged == [("bo", MISSION)]
    inbox = root / "autograder" / "inbox"
    assert sorted(p.name for p in inbox.iterdir()) == ["bo"]
    assert (inbox / "bo" / MISSION / "submission_secret.txt").is_file()


def _long(student, mission, score, stamp="2026-12-01 10:00:00", due="", penalty="0.0"):
    return {
        "assignment": mission,
        "duedate": due,
        "timestamp": stamp,
        "student_id": student,
        "late_submission_penalty": penalty,
        "score": score,
        "max_score": "10.0",
    }


def test_wide_export_one_row_per_roster_student_empty_when_nothing_handed_in():
    people = [
        Person("ann", "Ann Kim", "a@x.org"),
        Person("bo", "Bo Lee", "b@x.org"),
        Person("cy", "Cy Oh", "c@x.org"),
    ]
    long_rows = {
        ("ann", MISSION): _long("ann", MISSION, "10.0"),
        ("bo", MISSION): _long(
            "bo", MISSION, "4.0", stamp="2026-12-05 10:00:00", due="2026-12-04 23:59:00"
        ),
        ("cy", MISSION): _long("cy", MISSION, "0.0", stamp=""),
    }
    out = wide_rows(long_rows, people)
    assert [r[1] for r in out] == ["ann", "bo", "cy"]
    first = len(["Student", "SIS User ID", "SIS Login ID", "Email"])
    assert [r[first] for r in out] == ["10.0", "4.0", ""]  # cy handed nothing in: empty, not 0
    assert [r[-1] for r in out] == ["", f"{MISSION} (penalty 0)", ""]
    assert all(len(r) == first + len(MISSIONS) + 1 for r in out)


def test_roster_rejects_ids_that_cannot_be_logins(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name,email\nann,Ann Kim,a@x.org\nRoot Admin,X,x@x.org\n")
    with pytest.raises(RosterError, match=r"roster.csv:3: student_id 'Root Admin'"):
        read_roster(roster)
    roster.write_text(
        "student_id,name,email,role\nann,Ann Kim,a@x.org,\nira,Ira,i@x.org,instructor\n"
    )
    assert [(p.id, p.role) for p in read_roster(roster)] == [
        ("ann", "student"),
        ("ira", "instructor"),
    ]


def _settings(tmp_path) -> HubSettings:
    return HubSettings(
        state=str(tmp_path),
        course_root=str(REPO),
        venv=sys.prefix,
        ip="127.0.0.1",
        port=8000,
        hub_port=8081,
        proxy_api_port=8001,
        service_port=9999,
        students=["ann", "bo"],
        instructors=["ira"],
    )


def test_students_see_only_assignments_and_the_formgrader_can_be_framed(tmp_path):
    settings = _settings(tmp_path)
    write_jupyter_configs(settings)
    page = json.loads((tmp_path / "jupyter-student" / "labconfig" / "page_config.json").read_text())
    assert set(page["disabledExtensions"]) == set(STUDENT_DISABLED_LAB)
    assert "@jupyter/nbgrader:assignment-list" not in page["disabledExtensions"]
    grader = json.loads((tmp_path / "jupyter-grader" / "jupyter_server_config.json").read_text())
    csp = grader["ServerApp"]["tornado_settings"]["headers"]["Content-Security-Policy"]
    assert csp == FORMGRADER_CSP == "frame-ancestors 'self'"  # nbgrader #1870
    exchange = json.loads((tmp_path / "jupyter-student" / "nbgrader_config.json").read_text())
    assert exchange["Exchange"]["root"] == str(tmp_path / "exchange")


def test_hub_config_pam_groups_and_formgrader_service(tmp_path, monkeypatch):
    from traitlets.config.loader import PyFileConfigLoader

    settings = _settings(tmp_path)
    monkeypatch.setenv("COURSE_HUB_SETTINGS", str(settings.save()))
    config = PyFileConfigLoader(
        "jupyterhub_config.py", path=str(REPO / "tools" / "hub")
    ).load_config()
    assert config.JupyterHub.authenticator_class == "pam"
    assert config.JupyterHub.port == 8000
    assert set(config.JupyterHub.load_groups) == {
        "nbgrader-dl-course-missions",
        "formgrade-dl-course-missions",
    }
    (service,) = config.JupyterHub.services
    assert service["user"] == "grader-dl-course-missions"
    assert service["cwd"] == str(REPO)
    assert service["environment"]["COURSE_EXCHANGE"] == str(tmp_path / "exchange")
    role = config.JupyterHub.load_roles[0]
    assert role["groups"] == ["formgrade-dl-course-missions"]
    assert f"access:services!service={service['name']}" in role["scopes"]
    assert config.ConfigurableHTTPProxy.command == [
        str(Path(sys.prefix) / "bin" / "configurable-http-proxy")
    ]


def test_proxy_is_pinned_by_a_lock():
    package = json.loads((REPO / "tools" / "hub" / "package.json").read_text())
    lock = json.loads((REPO / "tools" / "hub" / "package-lock.json").read_text())
    pinned = package["dependencies"]["configurable-http-proxy"]
    assert pinned[0].isdigit(), f"not an exact version: {pinned}"
    assert lock["packages"]["node_modules/configurable-http-proxy"]["version"] == pinned
    req = (REPO / "requirements.txt").read_text()
    assert "\njupyterhub==" in req
    assert "\njupyterhub==" in (REPO / "constraints.txt").read_text()


def test_z2jh_values_carry_the_class_settings():
    values = yaml.safe_load((REPO / "deploy" / "z2jh-values.yaml").read_text())
    user = values["singleuser"]
    assert user["memory"]["limit"] and user["memory"]["guarantee"]
    assert user["cpu"]["limit"] and user["cpu"]["guarantee"]
    mounts = {m["mountPath"]: m for m in user["storage"]["extraVolumeMounts"]}
    exchange = mounts["/srv/nbgrader/exchange"]
    claims = {v["name"]: v for v in user["storage"]["extraVolumes"]}
    assert claims[exchange["name"]]["persistentVolumeClaim"]["claimName"]
    assert user["extraEnv"]["COURSE_EXCHANGE"] == "/srv/nbgrader/exchange"
    services = values["hub"]["services"]
    assert any(name.startswith("formgrader") for name in services)
    groups = values["hub"]["loadGroups"]
    assert {"nbgrader-dl-course-missions", "formgrade-dl-course-missions"} <= set(groups)
    # The limit must cover the largest kernel peak measured in docs/deploy.md's table.
    table = (REPO / "docs" / "deploy.md").read_text()
    peaks = [
        int(line.split("|")[2])
        for line in table.splitlines()
        if line.startswith("| ") and line.split("|")[2].strip().isdigit()
    ]
    assert len(peaks) >= 11, "the table should list every lecture and mission notebook"
    limit = user["memory"]["limit"]
    assert limit.endswith("G")
    assert float(limit[:-1]) * 1024 >= max(peaks) * 1.2, (limit, max(peaks))
    with open(REPO / "deploy" / "pvc-exchange.yaml") as fh:
        pvc = yaml.safe_load(fh)
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]


def test_export_csv_reads_nbgraders_columns(tmp_path):
    from autograder.export import read_long
    from autograder.gradebook import CSV_COLUMNS

    path = tmp_path / "grades.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(
            [CSV_COLUMNS, [MISSION, "", "", "ann", "", "", "", "10", "0", "10", "10"]]
        )
    assert read_long(path)[("ann", MISSION)]["score"] == "10"


def test_released_feedback_is_readable_by_its_student(tmp_path):
    # Was: release_feedback copied the report with the graders-only mode of
    # autograder/feedback/, and Fetch Feedback failed with PermissionError.
    folder = tmp_path / "exchange" / "dl-course-missions" / "feedback"
    folder.mkdir(parents=True)
    report = folder / "0123abcd.html"
    report.write_text("<html></html>")
    report.chmod(0o660)
    open_released_feedback(folder)
    assert report.stat().st_mode & 0o777 == 0o644


def test_lms_columns_carry_points_when_the_gradebook_has_them():
    from autograder.export import mission_column

    long_rows = {("ann", MISSION): _long("ann", MISSION, "10.0")}
    assert mission_column(long_rows, MISSION) == f"{MISSION} (10 pts)"
    assert mission_column(long_rows, MISSIONS[1]) == MISSIONS[1]
