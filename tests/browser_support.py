"""What the browser test needs around it: Debian's Chromium, a scratch course, a JupyterLab server.

Nothing here downloads a browser build: Chromium comes from Debian (apt) and Playwright drives
it through ``executable_path``. The flags below keep headless Chromium from reaching for the
network (sync, component updates, QUIC), which a closed CI network refuses.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from helpers import QUIET_TF_LOG_LEVEL

CHROMIUM = Path("/usr/bin/chromium")
APT_PACKAGES = ("chromium", "chromium-driver")
APT_COMMAND = "apt-get update && apt-get install -y --no-install-recommends " + " ".join(
    APT_PACKAGES
)
# The notebooks' Korean glossary terms render as empty boxes without a Hangul font; Nanum is the
# smallest Debian one (10 MB). Installed alongside Chromium when missing; screenshots only.
HANGUL_FONT = ("fonts-nanum", Path("/usr/share/fonts/truetype/nanum"))

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]

# What an instructor's checkout holds (tracked files); the test works on a copy of these.
COURSE_DIRS = ("course", "release", "source_notebooks")
COURSE_FILES = ("nbgrader_config.py",)


class SetupError(RuntimeError):
    """The machine lacks something the browser test needs; the message names the fix."""


def ensure_chromium(timeout: float = 1200) -> Path:
    """Debian's Chromium at /usr/bin/chromium, installed with apt-get when absent (needs root).

    A Hangul font is added in the same apt-get run when it is missing and apt-get can run.
    """
    font_pkg, font_dir = HANGUL_FONT
    can_apt = shutil.which("apt-get") is not None and os.geteuid() == 0
    packages = [] if CHROMIUM.exists() else list(APT_PACKAGES)
    if packages and not can_apt:
        where = (
            "apt-get is not available" if shutil.which("apt-get") is None else "this is not root"
        )
        raise SetupError(f"{CHROMIUM} is missing and {where}; as root run:\n  {APT_COMMAND}")
    if can_apt and not font_dir.is_dir():
        packages.append(font_pkg)
    if packages:
        try:
            _apt_install(packages, timeout)
        except SetupError:
            if not CHROMIUM.exists():
                raise
            # only the optional font failed: the screenshots show boxes for Hangul, nothing more
    if not CHROMIUM.exists():
        raise SetupError(f"apt-get installed {APT_PACKAGES} but {CHROMIUM} is still missing.")
    return CHROMIUM


def _apt_install(packages: list[str], timeout: float) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    steps = (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", *packages],
    )
    for cmd in steps:
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SetupError(f"`{' '.join(cmd)}` took more than {timeout:.0f} s") from None
        if done.returncode != 0:
            raise SetupError(
                f"`{' '.join(cmd)}` failed ({done.returncode}):\n{done.stderr[-3000:]}"
            )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_course(repo: Path, dest: Path) -> Path:
    """A scratch copy of the course: lectures, missions (both versions), nbgrader configuration."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    for name in COURSE_DIRS:
        if (repo / name).is_dir():
            shutil.copytree(repo / name, dest / name, ignore=ignore)
    for name in COURSE_FILES:
        if (repo / name).is_file():
            shutil.copy2(repo / name, dest / name)
    (dest / "autograder").mkdir(exist_ok=True)
    for f in (repo / "autograder").glob("*.py"):
        shutil.copy2(f, dest / "autograder" / f.name)
    return dest


def write_lab_settings(settings_dir: Path) -> None:
    """User settings for a quiet, predictable lab: no news or update checks (no network), every
    notebook cell kept in the page (no windowing), so the test can reach any cell."""
    settings = {
        ("apputils-extension", "notification"): {"fetchNews": "false", "checkForUpdates": False},
        ("notebook-extension", "tracker"): {"windowingMode": "none"},
    }
    for (plugin, name), values in settings.items():
        target = settings_dir / "@jupyterlab" / plugin
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{name}.jupyterlab-settings").write_text(json.dumps(values))


class LabServer:
    """A running JupyterLab: ``url(path)`` gives an authenticated address under it."""

    def __init__(self, base: str, token: str, root: Path, log: Path):
        self.base, self.token, self.root, self.log = base, token, root, log

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path: str, method: str = "GET", timeout: float = 30):
        req = urllib.request.Request(
            f"{self.base}/{path.lstrip('/')}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def venv_env(venv_bin: Path, home: Path) -> dict[str, str]:
    """The environment for jupyter/nbgrader: the project's bin/ first on PATH, private config dirs."""
    env = dict(os.environ)
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    env["JUPYTER_CONFIG_DIR"] = str(home / "jupyter-config")
    env["JUPYTERLAB_SETTINGS_DIR"] = str(home / "lab-settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(home / "lab-workspaces")
    env["JUPYTER_RUNTIME_DIR"] = str(home / "runtime")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_LOG_LEVEL)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("JUPYTER_TOKEN", None)
    write_lab_settings(home / "lab-settings")
    return env


@contextmanager
def jupyter_lab(venv_bin: Path, root: Path, home: Path, start_timeout: float = 180):
    """Start ``jupyter lab`` on a free loopback port in ``root``; stop its process group afterwards."""
    token = secrets.token_hex(16)
    port = free_port()
    log = home / "jupyter-lab.log"
    cmd = [
        str(venv_bin / "jupyter"),
        "lab",
        "--no-browser",
        f"--IdentityProvider.token={token}",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.port_retries=0",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")  # CI runs as root
    env = venv_env(venv_bin, home)
    with open(log, "wb") as logf:
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = LabServer(f"http://127.0.0.1:{port}", token, root, log)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise SetupError(f"jupyter lab exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                server.api("api/status", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                if time.monotonic() > deadline:
                    raise SetupError(
                        f"jupyter lab did not answer within {start_timeout:.0f} s:\n{server.log_tail()}"
                    ) from None
                time.sleep(0.5)
        yield server
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM the server's process group (server and kernels), then SIGKILL what is left."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # kernels started by the server share its group
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait(timeout=10)


def run_checked(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SetupError(
            f"`{' '.join(map(str, cmd))}` failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )
    return done.stdout + done.stderr


def python_of(venv_bin: Path) -> str:
    exe = venv_bin / "python"
    return str(exe) if exe.exists() else sys.executable
