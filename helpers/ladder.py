"""The Fashion-MNIST "ladder" of lecture 7 and the notes' long runs of it.

Lecture 7 trains four dense models for a few epochs; ``make reference-runs``
(tools/reference_runs.py) trains the same four for the notes' epoch counts, once, and
commits their histories to :data:`REFERENCE_RUNS_FILE`. Both build the models here, so
the short and the long runs cannot drift apart, and the lecture reads the long runs
through :func:`load_reference_runs`, which checks the file before anything is plotted.

Keras is imported inside the builders: importing ``helpers`` stays cheap.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from helpers.envcheck import repo_root

REFERENCE_RUNS_FILE = repo_root() / "course" / "data" / "reference_runs.json"
REFERENCE_RUNS_COMMAND = "make reference-runs"
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
# Keys of the data file's top level and of each run; load_reference_runs() demands them.
FILE_KEYS = ("date", "command", "machine", "versions", "validation", "runs")
RUN_KEYS = (
    "name",
    "num_epochs",
    "batch_size",
    "optimizer",
    "seconds",
    "final",
    "history",
    "notes_val_accuracy",
)


def sigmoid_sgd():
    """Step 1: Dense(100, sigmoid) -> Dense(10, softmax) on 784 inputs (78,500 + 1,010 weights)."""
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(784,)),
            keras.layers.Dense(100, activation="sigmoid", name="hidden"),
            keras.layers.Dense(10, activation="softmax", name="output"),
        ],
        name="sigmoid_sgd",
    )


def relu_adam():
    """Step 2: the same shape as step 1 with ReLU in the hidden layer (trained with Adam)."""
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(784,)),
            keras.layers.Dense(100, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="relu_adam",
    )


def dense_stack(dropout=None):
    """Steps 3 and 4: the notes' 4 x 512 ReLU network with Glorot-normal weights.

    With ``dropout`` (a rate such as 0.3) a Dropout layer follows each hidden layer.
    """
    import keras

    layers = [keras.Input(shape=(784,))]
    for _ in range(4):
        layers.append(
            keras.layers.Dense(512, activation="relu", kernel_initializer="glorot_normal")
        )
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(10, activation="softmax", kernel_initializer="glorot_normal"))
    return keras.Sequential(layers)


@dataclass(frozen=True)
class Rung:
    """One model of the notes' ladder with the notes' training settings and final figure."""

    name: str
    build: object  # a function of no arguments returning an uncompiled keras model
    optimizer: str  # "sgd" (lr 0.01) or "adam" (lr 0.001): Keras' defaults, as in the notes
    num_epochs: int
    batch_size: int
    notes_val_accuracy: float

    def make_optimizer(self):
        import keras

        if self.optimizer == "sgd":
            return keras.optimizers.SGD(learning_rate=0.01)
        return keras.optimizers.Adam(learning_rate=0.001)


# The notes (03-05_fashionMNIST_*): fit() without batch_size means Keras' default 32.
NOTES_LADDER = (
    Rung("1 sigmoid + SGD", sigmoid_sgd, "sgd", 100, 32, 0.8837),
    Rung("2 ReLU + Adam", relu_adam, "adam", 50, 32, 0.8892),
    Rung("3 4x512 Glorot", dense_stack, "adam", 50, 100, 0.8916),
    Rung("4 4x512 + Dropout(0.3)", lambda: dense_stack(dropout=0.3), "adam", 50, 100, 0.8963),
)


class ReferenceRunsError(ValueError):
    """The reference-runs data file is missing, unreadable or inconsistent."""


def _fail(path, problem):
    raise ReferenceRunsError(
        f"{path}: {problem}. This file is written by `{REFERENCE_RUNS_COMMAND}` (tools/reference_runs.py); "
        f"restore it with `git checkout -- {Path(path).name}` in its folder, or run that command again "
        "(it trains 250 epochs in all; the file records how many seconds its last run took)."
    )


def load_reference_runs(path=None) -> dict:
    """Read and check the data file of ``make reference-runs``; return it as a dict.

    Checks that every run has the notes' epoch count, a full per-epoch history of the same
    length for loss, accuracy, val_loss and val_accuracy, and that its recorded final
    figures are the last entries of that history, so a hand-edited or truncated file is
    refused with a message that names the problem instead of plotting something else.
    """
    path = Path(path) if path is not None else REFERENCE_RUNS_FILE
    if not path.is_file():
        _fail(path, "file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(path, f"not readable as JSON ({exc})")
    if not isinstance(data, dict):
        _fail(path, f"expected a JSON object at the top, found {type(data).__name__}")
    missing = [key for key in FILE_KEYS if key not in data]
    if missing:
        _fail(path, f"missing top-level keys {missing}")
    if not isinstance(data["date"], str) or not data["date"]:
        _fail(path, "no date")
    expected = {rung.name: rung for rung in NOTES_LADDER}
    runs = data["runs"]
    if not isinstance(runs, list) or [
        run.get("name") for run in runs if isinstance(run, dict)
    ] != list(expected):
        _fail(path, f"expected runs {list(expected)}")
    for run in runs:
        name = run["name"]
        missing = [key for key in RUN_KEYS if key not in run]
        if missing:
            _fail(path, f"run {name!r} lacks {missing}")
        rung = expected[name]
        if run["num_epochs"] != rung.num_epochs or run["batch_size"] != rung.batch_size:
            _fail(
                path,
                f"run {name!r} has {run['num_epochs']} epochs at batch {run['batch_size']}, "
                f"the notes' settings are {rung.num_epochs} at batch {rung.batch_size}",
            )
        history = run["history"]
        for key in HISTORY_KEYS:
            values = history.get(key) if isinstance(history, dict) else None
            if not isinstance(values, list) or len(values) != rung.num_epochs:
                found = len(values) if isinstance(values, list) else "none"
                _fail(
                    path,
                    f"run {name!r}: history[{key!r}] should have {rung.num_epochs} values, found {found}",
                )
            if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
                _fail(
                    path,
                    f"run {name!r}: history[{key!r}] holds a value that is not a finite number",
                )
            if run["final"].get(key) != values[-1]:
                _fail(path, f"run {name!r}: final[{key!r}] is not the last value of its history")
        if not (isinstance(run["seconds"], (int, float)) and run["seconds"] > 0):
            _fail(path, f"run {name!r}: seconds should be a positive number")
    return data
