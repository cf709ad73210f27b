"""What the mission tests and the adversarial corpus share: the notebooks, submissions
built from the release the way a student would fill it in, and a scratch course.

Grading always happens in a scratch copy of the course (``make_course``), never in the
repository's own ``autograder/`` folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "source_notebooks"
RELEASE = REPO / "release"

SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.M)

# The seed notes' Mission 3 model: Dropout after the softmax output, then another softmax.
SEED_DROPOUT_MODEL = """
def build_dropout_model(hidden_units=50, rate=0.5):
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(hidden_units, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
        keras.layers.Dropout(rate),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model
""".strip()

# Partly correct submissions: which answer cells to replace (None: left as released) and
# the automatic score they deserve. They run no training, so they grade in seconds.
PARTIAL = {
    # correct builder, no training function: structure 3 + compile 2
    "mission1_base_model": ({"train_base_model": None}, 5),
    # correct callback, no training function: settings 2 + behaviour 3
    "mission2_early_stopping": ({"train_with_early_stopping": None}, 5),
    # the seed's model (and no comparison runs): only "inference is deterministic" (2) survives
    "mission3_dropout": ({"build_dropout_model": SEED_DROPOUT_MODEL, "compare_capacity": None}, 2),
    # correct callback, no train_mnist: behaviour 4 + missing key 2
    "mission4_callback_99": ({"train_mnist": None}, 6),
    # every layer right, no training loop: all but the test accuracy (3)
    "mission5_backprop_numpy": ({"train_two_layer_net": None}, 15),
}


def source_nb(mission: str):
    return nbformat.read(SOURCE / mission / f"{mission}.ipynb", as_version=4)


def release_nb(mission: str):
    return nbformat.read(RELEASE / mission / f"{mission}.ipynb", as_version=4)


def nbmeta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def cell_by_id(nb, cell_id):
    return next(c for c in nb.cells if c.id == cell_id)


def submission(mission: str, kind: str):
    """The notebook a student would hand in, starting from the release: "blank", every
    answer cell filled in from the instructor version ("reference"), or "partial"."""
    nb = release_nb(mission)
    if kind == "blank":
        return nb
    source = source_nb(mission)
    replacements = PARTIAL[mission][0] if kind == "partial" else {}
    for cell in nb.cells:
        if not nbmeta(cell).get("solution"):
            continue
        if cell.id in replacements:
            if replacements[cell.id] is not None:
                cell.source = replacements[cell.id]
        else:
            cell.source = SOLUTION_MARKER.sub("", cell_by_id(source, cell.id).source)
    return nb


def make_course(root: Path) -> Path:
    """A scratch course at ``root``: config, autograder code, source notebooks, and
    release/ generated into it (which also fills its gradebook)."""
    shutil.copy2(REPO / "nbgrader_config.py", root)
    (root / "autograder").mkdir()
    for py in (REPO / "autograder").glob("*.py"):
        shutil.copy2(py, root / "autograder")
    shutil.copytree(
        SOURCE,
        root / "source_notebooks",
        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
    )
    from autograder.release import generate

    generate(root)
    return root


def run_grade(
    incoming: Path,
    course: Path,
    *options: str,
    timeout: float = 3600,
    env: dict[str, str] | None = None,
):
    """`make grade`'s code path on ``incoming`` into ``course``; the CompletedProcess."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder.grade",
            str(incoming),
            "--course-root",
            str(course),
            *options,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
