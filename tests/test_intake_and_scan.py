"""Fast checks of the grading pipeline's guards: intake, the answer scan, the sandbox's
command line and the output cap. The adversarial corpus (test_adversarial.py) runs them
end to end through nbgrader."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.intake import IntakeError, restore_metadata, take_in  # noqa: E402
from autograder.kernel_channels import ChannelError, socket_paths  # noqa: E402
from autograder.limits import output_size  # noqa: E402
from autograder.sandbox import bwrap_command  # noqa: E402
from autograder.scan import scan_source  # noqa: E402

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


@pytest.mark.parametrize("content, message", [
    ("", "is an empty file"),
    ('{"cells": [', "is not valid JSON"),
    ("[1, 2]", "not a notebook"),
    ('{"nbformat": 4, "cells": "nope"}', "is not a valid notebook"),
])
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
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{M1}.ipynb",
                                                                     "timestamp.txt"]
    assert any("my work.ipynb" in n for n in taken.notes)
    assert any("helpers/" in n and "notes.txt" in n for n in taken.notes)


def test_scan_flags_patching_and_leaves_honest_code_alone():
    patched = ("import builtins\nkeras.Model.evaluate = lambda *a: [0, 1]\n"
               "grading.assert_not_tampered = lambda: None\nsetattr(np, 'argmax', max)\n"
               "x = sys.modules['helpers']\n")
    findings = scan_source(patched)
    assert [f.split(":")[0] for f in findings] == ["line 1", "line 2", "line 3", "line 4",
                                                   "line 5"]
    assert "replaces keras.Model.evaluate" in findings[1]
    honest = ("model = keras.Sequential([keras.Input((28, 28, 1))])\nmodel.trainable = False\n"
              "self.model.stop_training = True\nhistory = model.fit(x, y)\nplt.rcParams['a'] = 1\n")
    assert scan_source(honest) == []
    assert scan_source("def broken(:\n") == []


def test_sandbox_command_mounts_an_allow_list(tmp_path):
    runtime = tmp_path / "rt"
    cmd = bwrap_command(Path("/usr/bin/bwrap"), str(runtime / "kernel.json"), str(tmp_path),
                        [str(REPO / "helpers"), str(REPO / "data")], str(runtime), 2**20)
    text = " ".join(cmd)
    assert f"--ro-bind {REPO / 'helpers'} {REPO / 'helpers'}" in text
    assert "--clearenv" in text and "--die-with-parent" in text
    for secret in ("source_notebooks", "gradebook", ".git", "tests"):
        assert secret not in text, secret
    assert f"--ro-bind {REPO} {REPO}" not in text  # never the whole repository
    # an unprivileged user without capabilities, in namespaces of its own, network included
    assert "--unshare-all --unshare-user --disable-userns --uid 1000 --gid 1000 " \
           "--cap-drop ALL" in text
    assert "--share-net" not in text
    # what it writes: one tmpfs of the budget, mounted before anything that may live under
    # /tmp (a clone there); its sockets' folder private; root and /dev read-only
    first_bind = min(i for i, a in enumerate(cmd) if a in ("--bind", "--ro-bind", "--tmpfs")
                     and cmd[i + 1] not in ("/usr", "/etc", "/opt", "/sys", "/bin", "/sbin",
                                            "/lib", "/lib32", "/lib64", "/libx32"))
    assert cmd[first_bind - 2:first_bind + 4] == ["--size", str(2**20), "--tmpfs", "/tmp",
                                                  "--dir", str(tmp_path)]
    assert "--bind" not in cmd  # nothing on the grader's disk is writable
    assert f"--tmpfs {runtime} --ro-bind {runtime / 'kernel.json'}" in text
    assert "--remount-ro /dev --remount-ro /" in text


def test_working_folder_outside_tmp_shares_the_budget(tmp_path):
    cmd = bwrap_command(Path("/usr/bin/bwrap"), "/run/k/kernel.json", "/srv/course/s/m", [],
                        "/run/k", 2**20)
    assert " ".join(cmd).count("--tmpfs") == 3  # the budget, the sockets, /dev/shm
    assert "--size 1048576 --tmpfs /srv/course/s/m --dir /srv/course/s/m/.tmp " \
           "--symlink /srv/course/s/m/.tmp /tmp" in " ".join(cmd)


@pytest.mark.parametrize(("info", "why"), [
    ({"transport": "tcp", "ip": "127.0.0.1"}, "reachable only over 'ipc'"),
    ({"transport": "ipc", "ip": "kernel-ipc"}, "is relative"),
    ({"transport": "ipc", "ip": "/" + "x" * 110}, "longer than 107 bytes"),
])
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
