"""Where the hub keeps what must survive a restart, and the Jupyter configuration per role.

Layout of the state folder (``HUB_STATE``, default ``/var/lib/dl-course-hub``)::

    hub/                    JupyterHub's database and cookie secret (root only, 700)
    exchange/               nbgrader's exchange (1777, as nbgrader documents it: everyone
                            writes; nbgrader makes <course>/inbound 2733 -- students can hand in
                            but cannot list what others handed in)
    jupyter-student/        Jupyter configuration every student server reads: nbgrader's
                            course id and exchange, and every nbgrader tab but Assignments off
    jupyter-grader/         the Formgrader service's: full nbgrader, a CSP that lets JupyterLab
                            frame the Formgrader (nbgrader #1870)
    initial_passwords.csv   passwords of the accounts `make hub` created (root only, 600)

Stopping the hub deletes none of it, and the gradebook, submissions and feedback stay in the
course folder (autograder/), so a restart carries on where the class was.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder import COURSE_ID

DEFAULT_STATE = Path("/var/lib/dl-course-hub")
# nbgrader's tabs students must not see: the Formgrader, the course list and "create
# assignment" (the instructor's cell toolbar). Assignments and Validate stay.
STUDENT_DISABLED_LAB = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:create-assignment",
)
STUDENT_DISABLED_SERVER = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
)
# JupyterHub >= 4.1 sends `frame-ancestors 'none'`, so the Formgrader's page, which
# JupyterLab shows in an iframe, stays blank (nbgrader #1870). 'self' allows exactly that.
FORMGRADER_CSP = "frame-ancestors 'self'"
VALIDATE_CELL_TIMEOUT_S = 600
# A class server may have no internet: JupyterLab asks no news feed and checks no updates.
OFFLINE_LAB = {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}


def group_names(course: str = COURSE_ID) -> tuple[str, str]:
    """The course groups (nbgrader's convention): (students' group, graders' group)."""
    return f"nbgrader-{course}", f"formgrade-{course}"


def grader_account(course: str = COURSE_ID) -> str:
    return f"grader-{course}"[:32]


def service_name(course: str = COURSE_ID) -> str:
    return f"formgrader-{course}"


@dataclass
class HubSettings:
    """Everything jupyterhub_config.py needs, written to ``<state>/settings.json``."""

    state: str
    course_root: str
    venv: str
    ip: str
    port: int
    hub_port: int
    proxy_api_port: int
    service_port: int
    students: list[str]
    instructors: list[str]
    course: str = COURSE_ID

    @property
    def exchange(self) -> Path:
        return Path(self.state) / "exchange"

    def save(self) -> Path:
        path = Path(self.state) / "settings.json"
        path.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> HubSettings:
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    path.chmod(0o644)


def write_jupyter_configs(settings: HubSettings) -> None:
    """The two configuration folders every server of the class reads (JUPYTER_CONFIG_PATH)."""
    state = Path(settings.state)
    # Validate runs the whole notebook: mission 1's training cell takes longer than
    # nbgrader's 30 s default per cell on a busy server (the course's own limit: 600 s).
    nbgrader = {
        "CourseDirectory": {"course_id": settings.course},
        "Exchange": {"root": str(settings.exchange)},
        "Execute": {"timeout": VALIDATE_CELL_TIMEOUT_S},
    }
    student = state / "jupyter-student"
    _write_json(student / "nbgrader_config.json", nbgrader)
    _write_json(
        student / "labconfig" / "page_config.json",
        {"disabledExtensions": {name: True for name in STUDENT_DISABLED_LAB}},
    )
    _write_json(
        student / "jupyter_server_config.json",
        {
            "ServerApp": {"jpserver_extensions": {name: False for name in STUDENT_DISABLED_SERVER}},
            "LabApp": OFFLINE_LAB,
        },
    )
    grader = state / "jupyter-grader"
    _write_json(grader / "nbgrader_config.json", nbgrader)
    _write_json(
        grader / "jupyter_server_config.json",
        {
            "ServerApp": {
                "tornado_settings": {"headers": {"Content-Security-Policy": FORMGRADER_CSP}}
            },
            "LabApp": OFFLINE_LAB,
        },
    )
    for folder in (student, grader, student / "labconfig"):
        os.chmod(folder, 0o755)
