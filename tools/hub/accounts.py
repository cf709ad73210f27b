"""Unix accounts, the course groups, the exchange, and who may read which course folder.

Why real accounts: nbgrader's exchange relies on Unix permissions to keep students apart
(a student hands in to ``inbound/``, which they can write but not list), and JupyterHub's
PAM login and local spawner run each student's server as that student. So the accounts,
the groups ``nbgrader-<course>`` (students) and ``formgrade-<course>`` (instructors and the
grader account) and the folder modes are the class's security, and are set here, in one
place. Needs root. Every step is idempotent: running ``make hub`` again changes nothing
that is already right and never resets a password.
"""

from __future__ import annotations

import csv
import grp
import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path

from tools.hub.roster import Person
from tools.hub.settings import HubSettings, grader_account, group_names

# Course folders only graders may enter: the instructor's versions (solutions, hidden
# tests) and everything grading writes (gradebook, submissions, feedback, inbox).
PRIVATE_FOLDERS = ("source_notebooks", "autograder")


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()[:300]}")


def exists_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def ensure_group(name: str) -> None:
    try:
        grp.getgrnam(name)
    except KeyError:
        _run(["groupadd", name])


def ensure_user(person: Person, groups: list[str], passwords: dict[str, str]) -> None:
    """Create the account if missing (random password into ``passwords``); add it to groups."""
    if not exists_user(person.id):
        _run(
            [
                "useradd",
                "--create-home",
                "--shell",
                "/bin/bash",
                "--comment",
                person.name,
                person.id,
            ]
        )
        os.chmod(pwd.getpwnam(person.id).pw_dir, 0o700)  # a student's files are theirs alone
        password = secrets.token_urlsafe(12)
        set_password(person.id, password)
        passwords[person.id] = password
    for group in groups:
        _run(["usermod", "--append", "--groups", group, person.id])


def set_password(user: str, password: str) -> None:
    subprocess.run(["chpasswd"], input=f"{user}:{password}\n", text=True, check=True)


def ensure_accounts(people: list[Person], settings: HubSettings) -> dict[str, str]:
    """Every roster account, the grader account and both groups. Returns new passwords."""
    students_group, graders_group = group_names(settings.course)
    for group in (students_group, graders_group):
        ensure_group(group)
    passwords: dict[str, str] = {}
    for person in people:
        groups = [students_group] if person.role == "student" else [graders_group]
        ensure_user(person, groups, passwords)
    grader = grader_account(settings.course)
    if not exists_user(grader):
        _run(
            [
                "useradd",
                "--system",
                "--create-home",
                "--shell",
                "/usr/sbin/nologin",
                "--comment",
                "nbgrader Formgrader",
                grader,
            ]
        )
    _run(["usermod", "--append", "--groups", graders_group, grader])
    if passwords:
        path = Path(settings.state) / "initial_passwords.csv"
        with open(
            os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
            "a",
            newline="",
            encoding="utf-8",
        ) as fh:
            csv.writer(fh).writerows(sorted(passwords.items()))
    return passwords


def remove_accounts(names: list[str], groups: list[str] = ()) -> None:
    """Delete accounts (and their homes) and groups; what does not exist is skipped (tests)."""
    for name in names:
        if exists_user(name):
            subprocess.run(["pkill", "-KILL", "-u", name], check=False)
            subprocess.run(["userdel", "--remove", name], capture_output=True, check=False)
    for group in groups:
        subprocess.run(["groupdel", group], capture_output=True, check=False)


def prepare_state(settings: HubSettings) -> None:
    """The state folder: hub/ for root only, the exchange open to all, as nbgrader documents."""
    state = Path(settings.state)
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o755)
    (state / "hub").mkdir(exist_ok=True)
    os.chmod(state / "hub", 0o700)
    settings.exchange.mkdir(exist_ok=True)
    # nbgrader's ensure_root wants 777; the sticky bit (not among those 9 bits) stops one
    # user from deleting another's course folder in it.
    os.chmod(settings.exchange, 0o1777)


def share_with_graders(course_root: Path, course: str) -> None:
    """Graders' group owns the private course folders (rw, setgid); others get nothing.

    Why: the Formgrader runs as the grader account and instructors run nbgrader as
    themselves, so they share the gradebook and submissions through the group; students,
    whose servers run on the same machine, must not read solutions, hidden tests or each
    other's graded work. The course's code and environment stay readable: students' kernels
    import ``helpers``.
    """
    gid = grp.getgrnam(group_names(course)[1]).gr_gid
    for name in PRIVATE_FOLDERS:
        top = Path(course_root) / name
        top.mkdir(exist_ok=True)
        for folder, _dirs, files in os.walk(top):
            for entry in [folder, *(os.path.join(folder, f) for f in files)]:
                if os.path.islink(entry):
                    continue
                os.chown(entry, -1, gid)
                mode = os.stat(entry).st_mode & 0o7777
                is_dir = os.path.isdir(entry)
                mode = (mode | 0o060 | (0o2010 if is_dir else 0)) & ~0o007
                os.chmod(entry, mode)


def check_reachable(paths: list[Path]) -> None:
    """Stop if a student could not run the environment (tools/shared_env.py does the walk)."""
    from tools.shared_env import blocked

    problems = [p for path in paths for p in blocked(path)]
    if problems:
        raise RuntimeError(
            "students cannot reach the course environment: "
            + "; ".join(problems)
            + " (build it with VENV=/opt/dl-course/venv make setup, or open "
            "these folders to others)"
        )


def home_of(user: str) -> Path:
    return Path(pwd.getpwnam(user).pw_dir)


def which(name: str, venv: Path) -> str:
    found = shutil.which(name, path=str(Path(venv) / "bin"))
    if not found:
        raise RuntimeError(f"{name} is not in {venv}/bin; run make hub (it installs it)")
    return found
