"""Fast checks of the grading pipeline's guards: intake, the answer scan, the sandbox's
command line, the output cap, student ids and the CSV, the feedback filters and the
kernel guard. The adversarial corpus (test_adversarial.py) runs them end to end through
nbgrader."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.intake import IntakeError, restore_metadata, take_in
from autograder.kernel_channels import ChannelError, socket_paths
from autograder.limits import output_size
from autograder.sandbox import bwrap_command
from autograder.scan import scan_source

REPO = Path(__file__).resolve().parents[1]

M1 = "mission1_base_model"
RELEASE = REPO / "release" / M1 / f"{M1}.ipynb"


def _release():
    return nbformat.read(RELEASE, as_version=4)


def _ids(nb):
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


def test_restore_metadata_strips_copies_and_renamed_ids():
    from autograder.intake import release_metadata

    known = release_metadata(RELEASE)
    nb = _release()
    k = _ids(nb).index("build_base_model")
    nb.cells.insert(k + 1, nbformat.from_dict(json.loads(json.dumps(nb.cells[k]))))
    structure = nb.cells[_ids(nb).index("test_structure")]
    structure.metadata["nbgrader"]["grade_id"] = "mine"
    compile_ = nb.cells[_ids(nb).index("test_compile")]
    compile_.metadata["nbgrader"]["points"] = 50
    compile_.metadata["nbgrader"]["locked"] = False
    notes = restore_metadata(nb, known)
    ids = [i for i in _ids(nb) if i]
    assert len(ids) == len(set(ids)) and "mine" not in ids and "test_structure" not in ids
    assert _ids(nb).index("build_base_model") == k + 1  # the last copy keeps the grade id
    assert compile_.metadata["nbgrader"] == known["test_compile"]
    assert notes and "build_base_model" in notes[0] and "mine" in notes[0]


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is an empty file"),
        ('{"cells": [', "is not valid JSON"),
        ("[1, 2]", "not a notebook"),
        ('{"nbformat": 4, "cells": "nope"}', "is not a valid notebook"),
    ],
)
def test_bad_files_are_refused_in_one_sentence(tmp_path, content, message):
    src = tmp_path / "in"
    src.mkdir()
    (src / f"{M1}.ipynb").write_text(content)
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "earlier.ipynb").write_text("kept")
    with pytest.raises(IntakeError, match=message):
        take_in(src, dest, M1, RELEASE)
    assert (dest / "earlier.ipynb").read_text() == "kept"  # nothing lost


def test_intake_copies_only_the_notebook(tmp_path):
    src = tmp_path / "in"
    (src / "helpers").mkdir(parents=True)
    (src / "helpers" / "__init__.py").write_text("")
    (src / "notes.txt").write_text("x")
    (src / "timestamp.txt").write_text("2026-11-23 10:00:00")
    nbformat.write(_release(), src / "my work.ipynb")
    taken = take_in(src, tmp_path / "out", M1, RELEASE)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{M1}.ipynb", "timestamp.txt"]
    assert any("my work.ipynb" in n for n in taken.notes)
    assert any("helpers/" in n and "notes.txt" in n for n in taken.notes)


def test_scan_flags_patching_and_leaves_honest_code_alone():
    patched = (
        "import builtins\nkeras.Model.evaluate = lambda *a: [0, 1]\n"
        "grading.assert_not_tampered = lambda: None\nsetattr(np, 'argmax', max)\n"
        "x = sys.modules['helpers']\n"
    )
    findings = scan_source(patched)
    assert [f.split(":")[0] for f in findings] == ["line 1", "line 2", "line 3", "line 4", "line 5"]
    assert "replaces keras.Model.evaluate" in findings[1]
    honest = (
        "model = keras.Sequential([keras.Input((28, 28, 1))])\nmodel.trainable = False\n"
        "self.model.stop_training = True\nhistory = model.fit(x, y)\nplt.rcParams['a'] = 1\n"
    )
    assert scan_source(honest) == []
    assert scan_source("def broken(:\n") == []


def test_sandbox_command_mounts_an_allow_list(tmp_path):
    runtime = tmp_path / "rt"
    cmd = bwrap_command(
        Path("/usr/bin/bwrap"),
        str(runtime / "kernel.json"),
        str(tmp_path),
        [str(REPO / "helpers"), str(REPO / "data")],
        str(runtime),
        2**20,
    )
    text = " ".join(cmd)
    assert f"--ro-bind {REPO / 'helpers'} {REPO / 'helpers'}" in text
    assert "--clearenv" in text and "--die-with-parent" in text
    for secret in ("source_notebooks", "gradebook", ".git", "tests"):
        assert secret not in text, secret
    assert f"--ro-bind {REPO} {REPO}" not in text  # never the whole repository
    # an unprivileged user without capabilities, in namespaces of its own, network included
    assert (
        "--unshare-all --unshare-user --disable-userns --uid 1000 --gid 1000 --cap-drop ALL" in text
    )
    assert "--share-net" not in text
    # what it writes: one tmpfs of the budget, mounted before anything that may live under
    # /tmp (a clone there); its sockets' folder private; root and /dev read-only
    first_bind = min(
        i
        for i, a in enumerate(cmd)
        if a in ("--bind", "--ro-bind", "--tmpfs")
        and cmd[i + 1]
        not in (
            "/usr",
            "/etc",
            "/opt",
            "/sys",
            "/bin",
            "/sbin",
            "/lib",
            "/lib32",
            "/lib64",
            "/libx32",
        )
    )
    assert cmd[first_bind - 2 : first_bind + 4] == [
        "--size",
        str(2**20),
        "--tmpfs",
        "/tmp",
        "--dir",
        str(tmp_path),
    ]
    assert "--bind" not in cmd  # nothing on the grader's disk is writable
    assert f"--tmpfs {runtime} --ro-bind {runtime / 'kernel.json'}" in text
    assert "--remount-ro /dev --remount-ro /" in text


def test_working_folder_outside_tmp_shares_the_budget(tmp_path):
    cmd = bwrap_command(
        Path("/usr/bin/bwrap"), "/run/k/kernel.json", "/srv/course/s/m", [], "/run/k", 2**20
    )
    assert " ".join(cmd).count("--tmpfs") == 3  # the budget, the sockets, /dev/shm
    assert (
        "--size 1048576 --tmpfs /srv/course/s/m --dir /srv/course/s/m/.tmp "
        "--symlink srv/course/s/m/.tmp /tmp" in " ".join(cmd)
    )


def test_a_course_outside_tmp_gets_its_sockets_folder_and_tmp(tmp_path):
    """`make grade` in a clone outside /tmp: the kernel's sockets' folder lies in the
    grader's temporary folder under /tmp, which in the sandbox is a link into the working
    folder's tmpfs. bwrap must mount the sockets' folder through that link (an absolute
    link failed every kernel: "Can't mkdir parents")."""
    from autograder.sandbox import check

    runtime = tmp_path / "rt"
    runtime.mkdir()
    (runtime / "kernel.json").write_text("{}")
    probe = (
        "import pathlib, socket; pathlib.Path('/tmp/x').write_text('ok'); "
        f"socket.socket(socket.AF_UNIX).bind('{runtime}/kernel-1'); "
        "print(pathlib.Path('x').exists() is False, pathlib.Path('/tmp/x').read_text())"
    )
    cmd = bwrap_command(
        check(),
        str(runtime / "kernel.json"),
        "/srv/course-outside-tmp/autograder/autograded/s/m",
        [],
        str(runtime),
        2**20,
        command=[sys.executable, "-c", probe],
    )
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["True", "ok"]


@pytest.mark.parametrize(
    ("info", "why"),
    [
        ({"transport": "tcp", "ip": "127.0.0.1"}, "reachable only over 'ipc'"),
        ({"transport": "ipc", "ip": "kernel-ipc"}, "is relative"),
        ({"transport": "ipc", "ip": "/" + "x" * 110}, "longer than 107 bytes"),
    ],
)
def test_kernel_channels_refuse_what_the_sandbox_cannot_serve(tmp_path, info, why):
    ports = dict.fromkeys(("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"), 1)
    (tmp_path / "k.json").write_text(json.dumps({**info, **ports}))
    with pytest.raises(ChannelError, match=why):
        socket_paths(str(tmp_path / "k.json"))


def test_kernel_channels_name_one_socket_per_channel(tmp_path):
    ports = {"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}
    (tmp_path / "k.json").write_text(json.dumps({"transport": "ipc", "ip": "/r/kernel", **ports}))
    assert socket_paths(str(tmp_path / "k.json")) == [f"/r/kernel-{i}" for i in range(1, 6)]


def test_output_size_counts_text_and_data():
    stream = nbformat.v4.new_output("stream", name="stdout", text="é" * 10)
    assert output_size(stream) == 20
    image = nbformat.v4.new_output("display_data", data={"image/png": "A" * 1000})
    assert output_size(image) > 1000


# --------------------------------------------------------------------------- links
def _submission(tmp_path, name="in"):
    src = tmp_path / name
    src.mkdir()
    return src


def test_a_symlinked_notebook_is_refused_and_never_followed(tmp_path):
    src = _submission(tmp_path)
    (src / f"{M1}.ipynb").symlink_to(REPO / "source_notebooks" / M1 / f"{M1}.ipynb")
    with pytest.raises(IntakeError, match="is a symbolic link"):
        take_in(src, tmp_path / "out", M1, RELEASE)
    assert not (tmp_path / "out").exists()


def test_a_hard_link_is_refused(tmp_path):
    src = _submission(tmp_path)
    elsewhere = tmp_path / "instructor.ipynb"
    nbformat.write(_release(), elsewhere)
    os.link(elsewhere, src / f"{M1}.ipynb")
    with pytest.raises(IntakeError, match="is a hard link"):
        take_in(src, tmp_path / "out", M1, RELEASE)


@pytest.mark.parametrize("kind", ["fifo", "folder-link", "timestamp-link", "nested-link"])
def test_special_files_and_links_anywhere_are_refused(tmp_path, kind):
    src = _submission(tmp_path)
    nbformat.write(_release(), src / f"{M1}.ipynb")
    if kind == "fifo":
        os.mkfifo(src / "pipe")
        match = "is a FIFO"
    elif kind == "folder-link":
        (src / "helpers").symlink_to(REPO / "helpers", target_is_directory=True)
        match = "is a symbolic link"
    elif kind == "timestamp-link":
        (src / "timestamp.txt").symlink_to("/etc/hostname")
        match = "is a symbolic link"
    else:
        (src / "sub").mkdir()
        (src / "sub" / "x.ipynb").symlink_to(RELEASE)
        match = "is a symbolic link"
    with pytest.raises(IntakeError, match=match):
        take_in(src, tmp_path / "out", M1, RELEASE)


def test_a_linked_submission_folder_is_refused(tmp_path):
    real = _submission(tmp_path, "real")
    nbformat.write(_release(), real / f"{M1}.ipynb")
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    with pytest.raises(IntakeError, match="is a symbolic link"):
        take_in(tmp_path / "link", tmp_path / "out", M1, RELEASE)


# --------------------------------------------------------------------------- odd fields
@pytest.mark.parametrize(
    "content, message",
    [
        (
            '{"nbformat": 4, "metadata": ' + "[" * 50_000 + "]" * 50_000 + ', "cells": []}',
            "too deeply",
        ),
        (
            '{"nbformat": 4, "metadata": {"x": ' + "[" * 100 + "]" * 100 + '}, "cells": []}',
            "over 64 levels deep",
        ),
        ('{"nbformat": "4", "cells": []}', "has nbformat '4'"),
        ('{"nbformat": 4, "cells": [' + ",".join(["{}"] * 5001) + "]}", "5001 cells"),
        ("\xff\xfe not text", "not valid JSON"),
    ],
)
def test_odd_fields_fail_alone_with_one_sentence(tmp_path, content, message):
    src = _submission(tmp_path)
    (src / f"{M1}.ipynb").write_bytes(
        content.encode("latin-1") if content.startswith("\xff") else content.encode()
    )
    with pytest.raises(IntakeError, match=message):
        take_in(src, tmp_path / "out", M1, RELEASE)


def test_grading_metadata_of_the_wrong_type_is_stripped():
    from autograder.intake import release_metadata

    nb = _release()
    k = _ids(nb).index("test_compile")
    nb.cells[k].metadata["nbgrader"]["grade_id"] = ["test_compile"]
    j = _ids(nb).index("test_structure")
    nb.cells[j].metadata["nbgrader"] = "locked"
    notes = restore_metadata(nb, release_metadata(RELEASE))
    assert "nbgrader" not in nb.cells[k].metadata and "nbgrader" not in nb.cells[j].metadata
    assert notes and "<list>" in notes[0] and "<str>" in notes[0]


# --------------------------------------------------------------------------- ids, log, CSV
@pytest.mark.parametrize(
    "name, ok",
    [
        ("s123", True),
        ("jane.doe-2", True),
        ("A_b", True),
        ("x" * 64, True),
        ("*", False),
        ("a*", False),
        ("=1+2", False),
        ("-rf", False),
        (".hidden", False),
        ("a b", False),
        ("a\nb", False),
        ("x" * 65, False),
        ("", False),
        ("é", False),
        ("a/b", False),
        ("..", False),
    ],
)
def test_student_id_pattern(name, ok):
    from autograder.grade import STUDENT_ID

    assert bool(STUDENT_ID.fullmatch(name)) is ok


def test_hostile_names_get_one_escaped_log_line_each(tmp_path):
    from autograder.grade import Log, find_submissions, refuse_names

    incoming = tmp_path / "incoming"
    for student in ("good", "bad\ngraded victim: 10", "*"):
        (incoming / student / M1).mkdir(parents=True)
    (incoming / "good" / "m\n2").mkdir()
    log = Log(tmp_path / "grade.log")
    accepted = refuse_names(find_submissions(incoming), log)
    log.close()
    assert [(s, m) for s, m, _ in accepted] == [("good", M1)]
    lines = (tmp_path / "grade.log").read_text().splitlines()
    failed = [ln for ln in lines if ln.startswith("FAILED")]
    assert len(failed) == 3, lines
    assert not any(ln.startswith("graded") for ln in lines)
    assert any("'bad\\ngraded victim: 10'/mission1" in ln for ln in failed)
    assert any("good/'m\\n2'" in ln for ln in failed)


def test_csv_cells_are_quoted_and_formulas_neutralised(tmp_path):
    from nbgrader.api import Gradebook

    from autograder import db_url
    from autograder.export import export_csv

    (tmp_path / "autograder").mkdir()
    with Gradebook(db_url(tmp_path)) as gb:
        gb.add_assignment(M1)
        for student in ("b-student", "a,comma", "x\ny,forged,row", "=HYPERLINK(1)"):
            gb.add_student(student, first_name="@SUM(A1)", last_name="+1")
    text = export_csv(tmp_path).read_text()
    rows = list(csv.DictReader(text.splitlines(keepends=True)))
    assert [r["student_id"] for r in rows] == [
        "'=HYPERLINK(1)",
        "a,comma",
        "b-student",
        "x\ny,forged,row",
    ]
    assert {r["first_name"] for r in rows} == {"'@SUM(A1)"} and rows[0]["score"] == "0.0"
    assert text.startswith('"assignment","duedate"')


# --------------------------------------------------------------------------- scan
@pytest.mark.parametrize(
    "source, finding",
    [
        ("import helpers.grading as g\ng.assert_not_tampered = None", "replaces g.assert"),
        ("from helpers import grading as q\nq.check = None", "replaces q.check"),
        ("M = keras.Model\nN = M\nN.fit = None", "replaces N.fit"),
        ("from helpers import grading\nvars(grading)['x'] = 1", "vars()"),
        ("grading.__dict__['x'] = 1", ".__dict__"),
        ("get_ipython().events.register('pre_run_cell', f)", "get_ipython"),
        ("ip.input_transformers_cleanup.append(f)", ".input_transformers_cleanup"),
        ("ip.ast_transformers.append(t)", ".ast_transformers"),
        ("ip.set_custom_exc((Exception,), f)", ".set_custom_exc"),
        ("import sys\nsys.settrace(f)", ".settrace"),
        ("f.__code__ = g.__code__", ".__code__"),
        ("f.__closure__[0].cell_contents = 1", ".__closure__"),
        ("import gc", "imports gc"),
        ("import importlib", "imports importlib"),
        ("from ctypes import pythonapi", "imports ctypes"),
        ("import inspect", "imports inspect"),
        ("print(In[3])", "uses In"),
        ("print(_i4)", "uses _i4"),
        ("x = getattr(obj, '__globals__')", "__globals__ through getattr"),
        ("code = compile('1', 'x', 'eval')", "calls compile()"),
    ],
)
def test_scan_follows_aliases_and_flags_the_machinery(source, finding):
    assert any(finding in f for f in scan_source(source)), scan_source(source)


def test_scan_leaves_honest_notebook_code_alone():
    honest = (
        "from IPython.display import HTML, display\nimport numpy as np\n"
        "model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten()])\n"
        "model.compile(optimizer='adam', loss='categorical_crossentropy')\n"
        "w = model.layers[1].kernel\nx_train = data.x_train\nx_train[0] = 0\n"
        "class Stop(keras.callbacks.Callback):\n"
        "    def on_epoch_end(self, epoch, logs=None):\n"
        "        super().on_epoch_end(epoch, logs)\n"
        "        if logs['accuracy'] > 0.99:\n            self.model.stop_training = True\n"
        "layer = getattr(keras.layers, 'Dense')\n"
    )
    assert scan_source(honest) == []


# --------------------------------------------------------------------------- feedback
def _test_cell(source="assert False", outputs=()):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {
        "grade": True,
        "solution": False,
        "locked": True,
        "grade_id": "t1",
        "points": 1,
    }
    cell.outputs = list(outputs)
    return cell


def test_feedback_keeps_only_a_test_cells_one_line_message():
    from autograder.feedback import MAX_MESSAGE, HideTestCode

    hidden = "grading.assert_secret_check(model, threshold=0.97)"
    cell = _test_cell(
        f"print(1)\n### BEGIN HIDDEN TESTS\n{hidden}\n",
        [
            nbformat.v4.new_output("stream", name="stdout", text=f"{hidden}\n"),
            nbformat.v4.new_output("display_data", data={"text/plain": hidden}),
            nbformat.v4.new_output(
                "error",
                ename="AssertionError",
                evalue="line 1\n" + "x" * 900,
                traceback=["frame", hidden],
            ),
        ],
    )
    answer = nbformat.v4.new_code_cell("print(In)")
    answer.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"['{hidden}']"),
        nbformat.v4.new_output("stream", name="stdout", text="epoch 1\n"),
    ]
    nb = nbformat.v4.new_notebook(cells=[cell, answer])
    nb, _ = HideTestCode().preprocess(nb, {})
    assert [o.output_type for o in nb.cells[0].outputs] == ["error"]
    (line,) = nb.cells[0].outputs[0].traceback
    assert line.startswith("AssertionError: line 1 xxx") and len(line) <= MAX_MESSAGE
    assert hidden not in json.dumps(nb)
    assert "epoch 1" in json.dumps(nb)  # the student's own output stays
    nb, _ = HideTestCode(hide_all_outputs=True).preprocess(nb, {})
    assert nb.cells[1].outputs == [] and len(nb.cells[0].outputs) == 1


def test_feedback_html_runs_no_script():
    from autograder.feedback import SanitizeFeedback

    evil = (
        "<script>alert(1)</script><img src=x onerror=alert(2)> [a](javascript:alert(3)) "
        '<a href="JAVASCRIPT:alert(4)">b</a> <svg onload=alert(5)>'
    )
    md = nbformat.v4.new_markdown_cell(evil)
    code = nbformat.v4.new_code_cell("x")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": evil, "text/plain": "ok"}),
        nbformat.v4.new_output("display_data", data={"text/markdown": evil}),
        nbformat.v4.new_output(
            "display_data", data={"image/svg+xml": evil, "application/javascript": "alert(6)"}
        ),
    ]
    code.metadata["nbgrader"] = {"comment": evil}
    nb = nbformat.v4.new_notebook(cells=[md, code])
    nb, _ = SanitizeFeedback().preprocess(nb, {})
    text = json.dumps(nb).lower()  # what remains of the attack is inert text, no markup
    for bad in ("<script", "onerror=", "onload=", 'href=\\"javascript:', "<svg", "<img"):
        assert bad not in text, bad
    assert code.outputs[0].data["text/plain"] == "ok"
    from nbconvert.filters.markdown import markdown2html

    rendered = markdown2html(md.source)  # nbgrader's template renders it once more
    assert 'href="javascript:' not in rendered.lower() and "<script" not in rendered


# --------------------------------------------------------------------------- kernel guard
GUARD_CELLS = [
    ("instructor", "import numpy as np\n"),
    (
        "answer",
        "def f(lines):\n    return ['pass\\n'] if 'secret' in ''.join(lines) else lines\n"
        "get_ipython().input_transformers_cleanup.append(f)\n"
        "get_ipython().events.register('pre_run_cell', lambda info: print('HOOK'))\n"
        "import sys\nsys.modules['numpy'].argmax = len\nsecret = 1\n",
    ),
    ("test", "secret = 2\nassert secret == 1, 'the test ran'\n"),
]


def _run_guarded(cells):
    from autograder.guarded_execute import GuardedExecute

    nb = nbformat.v4.new_notebook()
    for role, source in cells:
        cell = nbformat.v4.new_code_cell(source)
        if role != "answer":
            cell.metadata["nbgrader"] = {
                "grade": role == "test",
                "solution": False,
                "locked": True,
                "grade_id": f"c{len(nb.cells)}",
                "points": 1,
            }
        nb.cells.append(cell)
    ep = GuardedExecute(timeout=60, kernel_name="python3", allow_errors=True)
    nb, _ = ep.preprocess(nb, {"metadata": {"path": str(REPO)}})
    return nb


def test_kernel_guard_resets_transformers_and_hooks_before_a_test():
    from autograder.guarded_execute import MARKER

    nb = _run_guarded(GUARD_CELLS)
    outputs = nb.cells[2].outputs
    notice = outputs[0].text
    assert notice.startswith(MARKER)
    assert "input transformers (cleanup): f" in notice and "pre_run_cell" in notice
    assert "numpy.argmax" in notice
    assert "HOOK" not in json.dumps(outputs)
    assert any(o.output_type == "error" and "the test ran" in o.evalue for o in outputs)


def test_a_replaced_kernel_guard_is_noticed():
    nb = _run_guarded(
        [
            ("instructor", "x = 1\n"),
            ("answer", "import sys\nsetattr(sys, '__course_kernel_guard__', lambda *a: 'fake')\n"),
            ("test", "assert x == 1\n"),
        ]
    )
    assert "gave no valid answer" in nb.cells[2].outputs[0].text


def test_an_honest_notebook_gets_no_notice():
    nb = _run_guarded(
        [
            ("instructor", "import numpy as np\nimport json\n"),
            ("answer", "import numpy as np\ndef f():\n    return np.ones(2)\n"),
            ("test", "assert f().sum() == 2\n"),
        ]
    )
    assert all(o.get("text", "").find("[grader-guard]") < 0 for c in nb.cells for o in c.outputs)


def test_tamper_check_compares_grading_with_its_file_on_disk():
    """Replacing a check under another name, its code, or editing a table of originals is
    noticed: the reference is a copy compiled from helpers/grading.py, not module state."""
    import importlib

    grading = importlib.import_module("helpers.grading")
    g = importlib.import_module("helpers.grading")  # the same module under another name
    saved = dict(vars(grading))
    code = grading.assert_compiled.__code__
    try:
        grading.assert_not_tampered()
        g.assert_history = lambda *a, **k: None
        vars(g)["_SNAPSHOT"] = {}  # the table of originals emptied
        grading.assert_compiled.__code__ = grading.assert_is_model.__code__
        with pytest.raises(AssertionError, match="assert_compiled, .*assert_history"):
            grading.assert_not_tampered()
    finally:
        grading.assert_compiled.__code__ = code
        vars(grading).update(saved)
    grading.assert_not_tampered()


def test_names_rebound_by_instructor_cells_are_not_tampering():
    """A later read-only cell may rebind a name (``fig``) an earlier one bound; an answer
    cell may reuse a name no following test reads."""
    nb = _run_guarded(
        [
            ("instructor", "fig = 1\ndata = 'mine'\n"),
            ("answer", "data = 'x'\n"),
            ("instructor", "fig = 2\n"),
            ("test", "assert fig == 2\n"),
        ]
    )
    assert not any("[grader-guard]" in o.get("text", "") for c in nb.cells for o in c.outputs)
    assert not any(o.output_type == "error" for o in nb.cells[3].outputs)


def test_the_kernels_launcher_dies_with_the_job_that_started_it(tmp_path):
    """A grading job killed from outside (out of memory) must not leave its sandboxed kernel
    running: the launcher asks to be killed with its parent (die_with_parent)."""
    import psutil

    child = (
        "import os, time; from autograder.sandbox import die_with_parent; "
        "assert die_with_parent(os.getppid()); time.sleep(60)"
    )
    job = (
        "import subprocess, sys, time; "
        f"p = subprocess.Popen([sys.executable, '-c', {child!r}], start_new_session=True); "
        "print(p.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", job], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    pid = int(parent.stdout.readline())
    time.sleep(1)  # the child has set its death signal
    assert psutil.pid_exists(pid)
    parent.kill()
    parent.wait()
    try:
        psutil.Process(pid).wait(timeout=10)
    except psutil.NoSuchProcess:
        pass
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
