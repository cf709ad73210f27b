"""``make hub`` = ``python -m tools.hub --roster roster.csv --port 8000``: set up, then run.

Set-up (idempotent, needs root): the state folder and exchange, the Unix accounts and course
groups from the roster, the private course folders handed to the graders' group, the
per-role Jupyter configuration, the pinned proxy in the environment. Then JupyterHub runs
in the foreground until Ctrl-C; stopping it loses nothing (see tools/hub/settings.py).

``python -m tools.hub share`` hands the private course folders to the graders' group
again (``make collect`` and ``make grade`` run it when a hub state exists), so files
created by root stay usable by the Formgrader.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from pathlib import Path

from autograder import COURSE_ID, ROOT
from tools.hub import accounts
from tools.hub.roster import RosterError, read_roster
from tools.hub.settings import DEFAULT_STATE, HubSettings, write_jupyter_configs


def free_port(ip: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


def setup(args) -> HubSettings:
    """Everything before JupyterHub starts; returns the settings it will read."""
    if os.geteuid() != 0:
        raise RuntimeError(
            "make hub creates Unix accounts and runs every student's server as "
            "that student: run it as root (sudo make hub ...)"
        )
    people = read_roster(args.roster)
    venv = Path(args.venv).resolve()
    course_root = Path(args.course_root).resolve()
    accounts.check_reachable(
        [venv / "bin" / "python", venv / "bin" / "jupyterhub-singleuser", course_root / "helpers"]
    )
    settings = HubSettings(
        state=str(Path(args.state).resolve()),
        course_root=str(course_root),
        venv=str(venv),
        ip=args.ip,
        port=args.port,
        hub_port=free_port(),
        proxy_api_port=free_port(),
        service_port=free_port(),
        students=[p.id for p in people if p.role == "student"],
        instructors=[p.id for p in people if p.role == "instructor"],
        course=COURSE_ID,
    )
    accounts.prepare_state(settings)
    new = accounts.ensure_accounts(people, settings)
    if new:
        print(
            f"hub: created {len(new)} account(s); their passwords are in "
            f"{settings.state}/initial_passwords.csv (root only)"
        )
    accounts.share_with_graders(course_root, settings.course)
    write_jupyter_configs(settings)
    settings.save()
    return settings


def run_hub(settings: HubSettings) -> int:
    env = dict(os.environ)
    env["COURSE_HUB_SETTINGS"] = str(Path(settings.state) / "settings.json")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PATH"] = f"{Path(settings.venv) / 'bin'}:{env.get('PATH', '')}"
    cmd = [
        str(Path(settings.venv) / "bin" / "jupyterhub"),
        "-f",
        str(Path(__file__).with_name("jupyterhub_config.py")),
    ]
    print(
        f"hub: http://{settings.ip or 'this-machine'}:{settings.port}/ "
        f"(state in {settings.state}; Ctrl-C stops it, nothing is lost)",
        flush=True,
    )
    os.chdir(Path(settings.state) / "hub")
    os.execve(cmd[0], cmd, env)
    return 1  # not reached


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.hub", description=__doc__.splitlines()[0]
    )
    parser.add_argument("action", nargs="?", default="start", choices=["start", "setup", "share"])
    parser.add_argument("--roster", type=Path, default=Path("roster.csv"))
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--ip", default="", help="address to listen on (default: all)")
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE)
    parser.add_argument("--course-root", type=Path, default=ROOT)
    parser.add_argument("--venv", type=Path, default=Path(sys.prefix))
    args = parser.parse_args(argv)
    try:
        if args.action == "share":
            accounts.share_with_graders(Path(args.course_root), COURSE_ID)
            return 0
        start = time.perf_counter()
        settings = setup(args)
        print(f"hub: set up in {time.perf_counter() - start:.1f} s", flush=True)
        return 0 if args.action == "setup" else run_hub(settings)
    except (RuntimeError, RosterError) as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
