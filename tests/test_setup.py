"""The set-up works where students are: every supported CPython, a shared class-server
environment that other accounts can use, a clear refusal when no interpreter fits, and
`make course` as root.

The fast tests run the set-up scripts against stand-in interpreters (shell scripts that answer
the probe), so they need no network. The slow ones build real environments in fresh clones,
one per supported Python found on this machine, each built once and tested once; the data sets
come from this checkout's verified folder (COURSE_DATA_DIR), never fetched again. A Python
that is not on the machine is reported as a skip with its reason (pytest -rs prints it).
"""

from __future__ import annotations

import os
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import envcheck
from helpers.datasets import DATASETS, data_dir

REPO = Path(__file__).resolve().parents[1]
SUPPORTED = ("3.11", "3.12", "3.13")
SHARED_MINOR = "3.11"  # the build that doubles as the class-server case (a system interpreter)
# What the scripts under test call besides python; a PATH of links to these and nothing else
# is a machine with no usable Python.
UTILITIES = (
    "bash",
    "sh",
    "cat",
    "cut",
    "dirname",
    "sed",
    "sha256sum",
    "readlink",
    "mkdir",
    "rm",
    "chmod",
    "grep",
    "id",
    "sort",
    "tail",
)


# --------------------------------------------------------------------------- the agreements
def test_supported_pythons_agree_everywhere():
    """tools/find_python.sh, pyproject.toml and helpers.envcheck name the same versions."""
    script = (REPO / "tools" / "find_python.sh").read_text()
    picker = re.search(r'^SUPPORTED="([0-9. ]+)"', script, re.M).group(1).split()
    assert sorted(picker) == list(SUPPORTED)
    assert picker == sorted(picker, key=lambda v: tuple(map(int, v.split("."))), reverse=True), (
        "find_python.sh must list the newest first (its order of preference)"
    )
    assert envcheck.PYTHONS == SUPPORTED
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.11,<3.14"' in pyproject


# --------------------------------------------------------------------------- stand-ins
def _fake_python(folder: Path, name: str, version: str, pip_error: str | None = None) -> Path:
    """A shell script that answers the set-up's probe like CPython ``version`` would.

    It has a pip whose every install fails with ``pip_error`` (a resolver failure, say).
    """
    path = folder / name
    path.write_text(
        "#!/bin/sh\n"
        'case "$1 $2 $3" in\n'
        f'  "-c "*) echo "{version} $0 $0" ;;\n'
        f'  "--version "*) echo "Python {version}" ;;\n'
        '  "-m pip --version") echo "pip 26.3" ;;\n'
        f'  "-m pip install") echo "{pip_error or "no index"}" >&2; exit 1 ;;\n'
        "  *) exit 1 ;;\n"
        "esac\n"
    )
    path.chmod(0o755)
    return path


@pytest.fixture
def bare_machine(tmp_path) -> tuple[Path, Path, dict]:
    """(checkout, bin folder, env): a copy of the set-up's files and a PATH with no Python."""
    checkout = tmp_path / "course"
    checkout.mkdir()
    for name in ("Makefile", "requirements.txt", "constraints.txt", "pyproject.toml"):
        shutil.copy2(REPO / name, checkout / name)
    shutil.copytree(
        REPO / "tools", checkout / "tools", ignore=shutil.ignore_patterns("__pycache__")
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in UTILITIES:
        found = shutil.which(tool, path="/usr/bin:/bin")
        assert found, f"{tool} is needed to run this test"
        (bin_dir / tool).symlink_to(found)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    return checkout, bin_dir, env


def _run(checkout: Path, env: dict[str, str], cmd: list[str]) -> subprocess.CompletedProcess:
    """``cmd`` in the bare checkout with only ``env``: what a user with that PATH would see."""
    return subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True, timeout=60)


def test_no_supported_python_is_refused_with_the_way_to_get_one(bare_machine):
    checkout, bin_dir, env = bare_machine
    _fake_python(bin_dir, "python3.10", "3.10.13")
    _fake_python(bin_dir, "python3", "3.10.13")  # the same file name Ubuntu 22.04 has
    run = _run(checkout, env, ["/usr/bin/make", "setup"])
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert "no supported Python found" in out and "CPython 3.11, 3.12 or 3.13" in out, out
    assert f"python3.10 3.10.13 ({bin_dir}/python3.10)" in out, "the versions found are named"
    for way in (
        "sudo apt install python3 python3-venv",
        "pyenv install 3.12",
        "conda env create -f environment.yml",
        "PYTHON=/path/to/python3.12",
    ):
        assert way in out, f"the refusal must say how to get one: {way}"
    assert not (checkout / ".venv").exists(), "nothing is built after a refusal"


def test_an_unsupported_PYTHON_is_refused_by_name(bare_machine):
    checkout, bin_dir, env = bare_machine
    fake = _fake_python(bin_dir, "python3.14", "3.14.0")
    run = _run(checkout, {**env, "PYTHON": str(fake)}, ["/usr/bin/make", "setup", f"PYTHON={fake}"])
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert f"PYTHON={fake} -> 3.14.0" in out


def test_the_newest_supported_python_on_path_is_chosen(bare_machine):
    checkout, bin_dir, env = bare_machine
    other = bin_dir.parent / "later-on-path"
    other.mkdir()
    _fake_python(bin_dir, "python3.11", "3.11.2")
    _fake_python(bin_dir, "python3", "3.12.3")  # Ubuntu 24.04's, under its plain name
    _fake_python(other, "python3.10", "3.10.13")
    shim = bin_dir / "python3.13"  # a pyenv shim for a version that is not selected
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    env = {**env, "PATH": f"{bin_dir}:{other}"}
    run = _run(checkout, env, ["bash", "tools/find_python.sh"])
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(bin_dir / "python3")
    with_override = _run(
        checkout, {**env, "PYTHON": str(bin_dir / "python3.11")}, ["bash", "tools/find_python.sh"]
    )
    assert with_override.stdout.strip() == str(bin_dir / "python3.11"), "PYTHON overrides"


def test_a_failed_install_ends_with_the_advice_not_a_bare_trace(bare_machine):
    """pip's own message stays visible, and after it the set-up's line on what to do."""
    checkout, bin_dir, env = bare_machine
    venv = checkout / ".venv"
    (venv / "bin").mkdir(parents=True)
    error = (
        "ERROR: ResolutionImpossible: nbconvert requires soupsieve>=4 (Requires-Python >=3.11.5)"
    )
    _fake_python(venv / "bin", "python", "3.11.2", pip_error=error)
    _fake_python(bin_dir, "python3.11", "3.11.2")
    run = _run(checkout, env, ["bash", "tools/install_packages.sh", str(venv), "0", "uv"])
    out = run.stdout + run.stderr
    assert run.returncode == 4, out
    assert "uv could not install them; trying pip" in out
    assert "ResolutionImpossible" in out
    assert f"installing the pinned packages into {venv} with Python 3.11.2 failed" in out
    assert "Get a supported one" in out and "pyenv install 3.12" in out
    assert out.rindex("Get a supported one") > out.rindex("ResolutionImpossible"), (
        "the advice comes after pip's message, as the last thing the user reads"
    )


# --------------------------------------------------------------------------- real builds
def find_interpreter(minor: str) -> Path | None:
    """A base (not virtual-environment) CPython ``minor`` on this machine, or None.

    The system's folders first (Debian 12's /usr/bin/python3.11 is 3.11.2, the case the
    set-up once failed on), then PATH, then pyenv's versions.
    """
    name = f"python{minor}"
    candidates = [Path("/usr/bin") / name, Path("/usr/local/bin") / name]
    candidates += [Path(d) / name for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted((pyenv / "versions").glob(f"{minor}.*/bin/{name}"), reverse=True)
    probe = f"import sys; print(sys.version_info[:2] == ({minor.replace('.', ', ')}) and sys.prefix == sys.base_prefix)"
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            run = subprocess.run([str(candidate), "-c", probe], capture_output=True, text=True)
            if run.stdout.strip() == "True":
                return candidate
    return None


def _child_env(**extra: str) -> dict:
    """This process's environment without its own virtual environment on PATH."""
    own_bin = str(Path(sys.prefix) / "bin")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VENV", "VIRTUAL_ENV", "PYTHON", "COURSE_DATA_DIR", "PYTHONPATH")
    }
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != own_bin)
    env.update(extra)
    return env


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Build:
    minor: str
    interpreter: Path
    clone: Path
    venv: Path
    env: dict
    shared: bool
    cold_s: float
    warm_s: float
    cold_out: str
    warm_out: str


@pytest.fixture(scope="module", params=SUPPORTED)
def built(request) -> Build:
    """A fresh clone with its environment built by `make setup` from CPython ``minor``, then
    set up again (warm). The 3.11 one is built as a shared environment (VENV outside the
    clone, from the system interpreter), so the class-server tests reuse it."""
    minor = request.param
    interpreter = find_interpreter(minor)
    if interpreter is None:
        pytest.skip(
            f"CPython {minor} is not on this machine (looked in /usr/bin, /usr/local/bin, "
            f"PATH and pyenv): the set-up was NOT tested with it"
        )
    root = Path(tempfile.mkdtemp(prefix=f"dl-course-setup-{minor}-", dir="/tmp"))
    try:
        root.chmod(0o755)  # the shared environment below must be reachable by other accounts
        clone = root / "course"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        shared = minor == SHARED_MINOR
        if shared:
            venv = root / "opt" / "dl-course" / "venv"
            env = _child_env(PYTHON=str(interpreter), VENV=str(venv))
            # The verified data sets, copied to where a shared environment keeps them, so
            # `make setup` verifies them instead of fetching them again.
            shared_data = venv / "share" / "dl-course" / "data"
            for folder in [spec.folder for spec in DATASETS.values()] + [".downloads"]:
                shutil.copytree(data_dir() / folder, shared_data / folder)
        else:
            venv = clone / ".venv"
            env = _child_env(PYTHON=str(interpreter), COURSE_DATA_DIR=str(data_dir()))
        timings, outputs = [], []
        for _ in ("cold", "warm"):
            start = time.perf_counter()
            run = subprocess.run(
                ["make", "setup"], cwd=clone, env=env, capture_output=True, text=True, timeout=900
            )
            timings.append(time.perf_counter() - start)
            outputs.append(run.stdout + run.stderr)
            assert run.returncode == 0, (
                f"make setup with {interpreter} failed:\n{_tail(outputs[-1])}"
            )
        build = Build(minor, interpreter, clone, venv, env, shared, *timings, *outputs)
        print(
            f"\n[setup timing] CPython {minor} ({interpreter}): cold {timings[0]:.1f} s, "
            f"warm {timings[1]:.1f} s{' (shared environment)' if shared else ''}"
        )
        yield build
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_setup_builds_the_environment(built, record_property):
    record_property("setup_cold_s", round(built.cold_s, 1))
    record_property("setup_warm_s", round(built.warm_s, 1))
    py = built.venv / "bin" / "python"
    version = subprocess.run(
        [str(py), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version.startswith(built.minor + ".")
    assert "installing pinned packages with uv" in built.cold_out, built.cold_out
    assert "is up to date" in built.warm_out and "installing" not in built.warm_out
    assert "sandbox: using" in built.warm_out, "bubblewrap is unpacked or found in every mode"
    where = subprocess.run(
        [str(py), "-c", "import helpers; print(helpers.__file__)"],
        cwd="/",
        env=built.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if built.shared:
        assert where.startswith(str(built.venv)), f"a shared environment holds a copy: {where}"
    else:
        assert where.startswith(str(built.clone)), f"a personal one links the checkout: {where}"


@pytest.mark.slow
def test_fast_suite_passes_in_the_fresh_clone(built):
    start = time.perf_counter()
    run = subprocess.run(
        ["make", "test-fast"],
        cwd=built.clone,
        env=built.env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    out = run.stdout + run.stderr
    print(
        f"\n[test-fast] CPython {built.minor}: {time.perf_counter() - start:.0f} s, "
        f"{re.findall(r'=+ (.* in [0-9.]+s.*) =+', out)[-1:]}"
    )
    assert run.returncode == 0, _tail(out, 60)


# --------------------------------------------------------------------------- class server
@pytest.fixture
def student() -> str:
    """A second, unprivileged Unix account, removed afterwards whatever happens."""
    sbin = "/usr/sbin:/sbin:/usr/bin:/bin"
    if os.geteuid() != 0 or not all(shutil.which(t, path=sbin) for t in ("useradd", "runuser")):
        pytest.skip("a second Unix account needs root, useradd and runuser: NOT tested here")
    name = f"dlc{secrets.token_hex(4)}"
    home = Path(tempfile.mkdtemp(prefix="dl-course-student-", dir="/tmp"))
    home.chmod(0o755)
    useradd, userdel = (shutil.which(t, path=sbin) for t in ("useradd", "userdel"))
    subprocess.run([useradd, "--home-dir", str(home), "--shell", "/bin/sh", name], check=True)
    try:
        shutil.chown(home, user=name)
        yield name
    finally:
        subprocess.run([userdel, name], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("built", [SHARED_MINOR], indirect=True)
def test_another_account_runs_the_shared_environment(built, student):
    """A student's account imports helpers, loads MNIST, and a kernel registered as the
    README says runs the shared environment for them."""
    py = built.venv / "bin" / "python"
    as_student = [
        shutil.which("runuser", path="/usr/sbin:/sbin:/usr/bin:/bin"),
        "-u",
        student,
        "--",
    ]
    home = Path(os.path.expanduser(f"~{student}"))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    code = (
        "import helpers, helpers.datasets as d; (x, y), (xt, yt) = helpers.load_mnist(); "
        "print(helpers.__file__); print(d.data_dir()); print(x.shape, xt.shape)"
    )
    run = subprocess.run(
        as_student + [str(py), "-c", code],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    module, data, shapes = run.stdout.strip().splitlines()
    assert module.startswith(str(built.venv)) and str(built.clone) not in module
    assert data == str(built.venv / "share" / "dl-course" / "data")
    assert shapes == "(60000, 28, 28) (10000, 28, 28)"
    # The kernel, registered for every account the way the README tells the instructor
    # (there --prefix /usr/local; here a scratch prefix the student's JUPYTER_PATH names).
    prefix = Path(tempfile.mkdtemp(prefix="dl-course-kernels-", dir="/tmp"))
    try:
        prefix.chmod(0o755)
        subprocess.run(
            [str(py), "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", "dl-course"],
            check=True,
            capture_output=True,
        )
        run = _run_kernel_as(
            as_student, py, home, {**env, "JUPYTER_PATH": str(prefix / "share" / "jupyter")}
        )
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"{built.venv}\n(60000, 28, 28)" in run.stdout, run.stdout


def _run_kernel_as(as_student: list[str], py: Path, home: Path, env: dict):
    """Start the registered dl-course kernel as the student, run one cell, stop it."""
    kernel = (
        "from jupyter_client.manager import start_new_kernel\n"
        "km, kc = start_new_kernel(kernel_name='dl-course', startup_timeout=120)\n"
        "try:\n"
        "    out = []\n"
        "    kc.execute_interactive('import sys, helpers; print(sys.prefix); "
        "print(helpers.load_mnist()[0][0].shape)', timeout=120,\n"
        "        output_hook=lambda m: out.append(m['content'].get('text', '')))\n"
        "    print(''.join(out))\n"
        "finally:\n"
        "    kc.stop_channels(); km.shutdown_kernel(now=True)\n"
    )
    return subprocess.run(
        as_student + [str(py), "-c", kernel],
        cwd=str(home),
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_a_shared_environment_names_the_folder_students_cannot_pass():
    from tools import shared_env

    root = Path(tempfile.mkdtemp(prefix="dl-course-modes-", dir="/tmp"))  # /tmp: 1777
    try:
        root.chmod(0o755)
        closed = root / "home" / "teacher"
        closed.mkdir(parents=True)
        closed.chmod(0o700)
        open_dir = root / "opt"
        open_dir.mkdir()
        unreadable = open_dir / "secret.py"
        unreadable.write_text("")
        unreadable.chmod(0o600)
        assert shared_env.blocked(closed / "venv" / "bin" / "python") == [f"{closed} (mode 700)"]
        assert shared_env.blocked(unreadable) == [f"{unreadable} (mode 600)"]
        assert shared_env.blocked(open_dir / "venv" / "not-built-yet") == []
    finally:
        shutil.rmtree(root)


# --------------------------------------------------------------------------- make course
def _get(url: str, seconds: float) -> str:
    """The page at ``url``; a refused connection is retried for ``seconds`` (under load the
    server has printed its URL a moment before it accepts)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                assert response.status == 200
                return response.read().decode()
        except urllib.error.URLError as exc:
            if not isinstance(exc.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise
            time.sleep(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_make_course_serves_jupyterlab_and_prints_its_url():
    """As the user running the tests (root in CI's container): JupyterLab starts, prints the
    URL with its token, and serves /lab with it; as root, with one line of warning."""
    port = _free_port()
    proc = subprocess.Popen(
        ["make", "course", f"PORT={port}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=_child_env(COURSE_DATA_DIR=str(data_dir())),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen, url = [], None
    try:
        deadline = time.monotonic() + 180
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                continue
            match = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=[0-9a-f]+", seen[-1])
            url = match and match.group(0)
        assert url, "no URL with a token was printed:\n" + "".join(seen[-30:])
        assert "JupyterLab" in _get(url, seconds=60)
        warning = "running JupyterLab as root is not recommended"
        if os.geteuid() == 0:
            assert sum(warning in line for line in seen) == 1, "".join(seen)
        else:
            assert not any(warning in line for line in seen)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
