"""Committed notebook outputs are clean and come from the committed code.

Two ways a committed notebook misleads a student without any test noticing: outputs
that the code no longer produces (a cell edited after the run), and TensorFlow's C++
log lines ("E0000 ... node_def_util.cc ...") that read like errors but are not.
"""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from tools.execute_notebooks import COMMAND, EXECUTION_KEY, code_fingerprints, stale_cells

REPO = Path(__file__).resolve().parents[1]

EXECUTED_NOTEBOOKS = sorted(REPO.glob("course/*.ipynb")) + sorted(
    REPO.glob("source_notebooks/*/*.ipynb")
)

# absl's format (TF >= 2.16): "E0000 00:00:1795458170.721529   20831 node_def_util.cc:682] ...",
# TensorFlow's older one: "2024-01-01 12:00:00.000000: W tensorflow/core/...", and absl's
# preamble that precedes the first of them.
TF_LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\]"
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] [\w./-]+:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called)",
    re.M,
)


def _output_texts(nb):
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                yield i, out.get("text", "")
            elif out.get("output_type") == "error":
                yield i, "\n".join(out.get("traceback", []))
            else:
                yield i, str(out.get("data", {}).get("text/plain", ""))


def test_the_log_pattern_matches_both_formats_and_spares_ordinary_text():
    noisy = [
        "E0000 00:00:1795458170.721529   20831 node_def_util.cc:682] NodeDef mentions attribute",
        "I0000 00:00:1795457917.243345   20831 cpu_feature_guard.cc:227] This TensorFlow binary",
        "2024-05-01 10:00:00.123456: W tensorflow/core/framework/op_kernel.cc:1816] OP_REQUIRES",
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    ]
    clean = [
        "Epoch 1/5",
        "375/375 - 4s - 10ms/step - accuracy: 0.76",
        "E0000 is not a log line",
        "InvalidArgumentError: Input to reshape is a tensor with 3 values",
    ]
    assert all(TF_LOG_LINE.search(line) for line in noisy)
    assert not any(TF_LOG_LINE.search(line) for line in clean)


@pytest.mark.parametrize("path", EXECUTED_NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_no_tensorflow_log_lines_in_committed_outputs(path):
    nb = nbformat.read(path, as_version=4)
    noisy = [
        f"cell {i}: {m.group(0)[:80]}"
        for i, text in _output_texts(nb)
        for m in TF_LOG_LINE.finditer(text)
    ]
    assert not noisy, (
        f"{path.relative_to(REPO)} carries TensorFlow C++ log lines in its outputs "
        f"(re-execute it with `{COMMAND} {path.relative_to(REPO)}`):\n  " + "\n  ".join(noisy[:10])
    )


@pytest.mark.parametrize("path", EXECUTED_NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_committed_outputs_come_from_the_committed_code(path):
    nb = nbformat.read(path, as_version=4)
    rel = path.relative_to(REPO)
    changed = stale_cells(nb)
    assert changed is not None, (
        f"{rel} records no execution; run `{COMMAND} {rel}` "
        "(or `make notebooks`) and commit the result"
    )
    assert not changed, (
        f"{rel}: code changed since its outputs were produced ({', '.join(changed)}); "
        f"run `{COMMAND} {rel}` and commit the result"
    )


def test_stale_cells_names_edited_added_and_unrecorded_cells():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# title"),
            nbformat.v4.new_code_cell("x = 1"),
            nbformat.v4.new_code_cell("print(x)"),
        ]
    )
    assert stale_cells(nb) is None
    nb.metadata[EXECUTION_KEY] = {"command": COMMAND, "code_sha256": code_fingerprints(nb)}
    assert stale_cells(nb) == []
    nb.cells[2].source = "print(x + 1)"
    assert stale_cells(nb) == ["cell 2"]
    nb.cells[2].source = "print(x)"
    nb.cells[0].source = "# a new title: markdown produces no output"
    assert stale_cells(nb) == []
    nb.cells.append(nbformat.v4.new_code_cell("y = 2"))
    assert stale_cells(nb) == ["2 code cells when executed, 3 now"]


@pytest.mark.slow
def test_helpers_silences_the_tf_data_log_line_but_not_errors(tmp_path):
    """The real trigger: op determinism plus a partial last batch (100 samples, batch 32)."""
    script = tmp_path / "probe.py"
    script.write_text(
        textwrap.dedent("""
        import helpers
        helpers.seed_everything(42)
        import keras
        import numpy as np
        x, y = np.random.rand(100, 4).astype("float32"), np.arange(100) % 3
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        model.predict(x, batch_size=32, verbose=0)
        print("trained", flush=True)
        import tensorflow as tf
        tf.reshape(tf.zeros(3), (2, 2))
    """)
    )

    def run(env_level):
        env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
        if env_level is not None:
            env["TF_CPP_MIN_LOG_LEVEL"] = env_level
        return subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            cwd=REPO,
        )

    quiet = run(None)  # what helpers sets by itself
    assert "trained" in quiet.stdout, quiet.stderr[-3000:]
    assert not TF_LOG_LINE.search(quiet.stderr), quiet.stderr[-3000:]
    assert "InvalidArgumentError" in quiet.stderr and "Input to reshape" in quiet.stderr
    # Without the setting the line is there: the probe really triggers it.
    loud = run("2")
    assert "use_unbounded_threadpool" in loud.stderr, loud.stderr[-3000:]
