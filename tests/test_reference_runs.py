"""The notes' long runs: the committed data file of `make reference-runs` and its loader.

Lecture 7 plots course/data/reference_runs.json beside its own short runs, so the file must
hold what the command promises (the notes' epoch counts, full histories, finals that are
the histories' last values, a date, a machine, versions, seconds), and the loader must turn a
missing or damaged file into an error that says what is wrong and how to restore it.
"""

import copy
import json
import re

import pytest

from helpers import ladder

NOTES = {  # the notes' ladder (seed 003): epochs, batch size, final validation accuracy
    "1 sigmoid + SGD": (100, 32, 0.8837),
    "2 ReLU + Adam": (50, 32, 0.8892),
    "3 4x512 Glorot": (50, 100, 0.8916),
    "4 4x512 + Dropout(0.3)": (50, 100, 0.8963),
}


@pytest.fixture(scope="module")
def committed():
    return ladder.load_reference_runs()


def test_the_command_trains_the_notes_settings():
    assert {
        r.name: (r.num_epochs, r.batch_size, r.notes_val_accuracy) for r in ladder.NOTES_LADDER
    } == NOTES


def test_builders_have_the_notes_parameter_counts():
    assert ladder.sigmoid_sgd().count_params() == 79_510
    assert ladder.relu_adam().count_params() == 79_510
    assert ladder.dense_stack().count_params() == 1_195_018
    with_dropout = ladder.dense_stack(dropout=0.3)
    assert with_dropout.count_params() == 1_195_018
    assert sum(type(layer).__name__ == "Dropout" for layer in with_dropout.layers) == 4


def test_committed_file_has_the_notes_epochs_and_consistent_finals(committed):
    assert committed["complete"] is True
    assert [run["name"] for run in committed["runs"]] == list(NOTES)
    for run in committed["runs"]:
        epochs, batch, notes_acc = NOTES[run["name"]]
        assert (run["num_epochs"], run["batch_size"], run["notes_val_accuracy"]) == (
            epochs,
            batch,
            notes_acc,
        )
        for key in ladder.HISTORY_KEYS:
            assert len(run["history"][key]) == epochs
            assert run["final"][key] == run["history"][key][-1]
        assert 0.5 < run["final"]["val_accuracy"] < 1.0
        assert run["seconds"] > 0
    total = sum(run["seconds"] for run in committed["runs"])
    assert committed["total_seconds"] == pytest.approx(total, abs=0.5)


def test_committed_file_says_when_where_and_how(committed):
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", committed["date"])
    assert "make reference-runs" in committed["command"]
    machine = committed["machine"]
    assert machine["cpu"] and machine["cores"] >= 1 and machine["label"]
    assert set(committed["versions"]) >= {"python", "tensorflow", "keras"}


def _valid():
    """A small, valid data file with made-up figures."""
    runs = []
    for rung in ladder.NOTES_LADDER:
        history = {
            key: [0.5 + 0.001 * e for e in range(rung.num_epochs)] for key in ladder.HISTORY_KEYS
        }
        runs.append(
            {
                "name": rung.name,
                "num_epochs": rung.num_epochs,
                "batch_size": rung.batch_size,
                "optimizer": rung.optimizer,
                "seconds": 10.0,
                "final": {key: values[-1] for key, values in history.items()},
                "history": history,
                "notes_val_accuracy": rung.notes_val_accuracy,
            }
        )
    return {
        "date": "2026-01-01 00:00 UTC",
        "command": "make reference-runs",
        "machine": {"cpu": "test", "cores": 2, "label": "2-core test"},
        "versions": {"python": "3", "tensorflow": "2", "keras": "3"},
        "validation": "test",
        "runs": runs,
    }


def _write(tmp_path, data):
    path = tmp_path / "reference_runs.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_a_valid_file_loads(tmp_path):
    assert ladder.load_reference_runs(_write(tmp_path, _valid()))["date"] == "2026-01-01 00:00 UTC"


def test_missing_file_names_the_file_and_the_command(tmp_path):
    with pytest.raises(
        ladder.ReferenceRunsError,
        match=r"reference_runs\.json: file not found.*make reference-runs",
    ):
        ladder.load_reference_runs(tmp_path / "reference_runs.json")


def _damaged(edit):
    data = copy.deepcopy(_valid())
    edit(data)
    return data


def _truncate(data):
    data["runs"][0]["history"]["val_accuracy"].pop()


def _shorten(data):
    data["runs"][2]["num_epochs"] = 5


def _edit_final(data):
    data["runs"][3]["final"]["val_accuracy"] = 0.99


def _drop_run(data):
    data["runs"].pop()


def _no_date(data):
    del data["date"]


def _nan(data):
    data["runs"][1]["history"]["loss"][3] = float("nan")


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"date": "2026-01-01", "runs": [', "not readable as JSON"),
        ("[1, 2, 3]", "expected a JSON object"),
        (_damaged(_no_date), r"missing top-level keys \['date'\]"),
        (_damaged(_drop_run), "expected runs"),
        (_damaged(_truncate), r"history\['val_accuracy'\] should have 100 values, found 99"),
        (_damaged(_shorten), "has 5 epochs at batch 100, the notes' settings are 50 at batch 100"),
        (_damaged(_edit_final), r"final\['val_accuracy'\] is not the last value"),
        (_damaged(_nan), "not a finite number"),
    ],
    ids=[
        "corrupt-json",
        "not-an-object",
        "no-date",
        "missing-run",
        "truncated",
        "wrong-epochs",
        "edited-final",
        "nan",
    ],
)
def test_damaged_file_is_refused_with_a_specific_message(tmp_path, content, message):
    path = _write(tmp_path, content)
    with pytest.raises(ladder.ReferenceRunsError, match=message) as info:
        ladder.load_reference_runs(path)
    assert "make reference-runs" in str(info.value)


def test_lecture7_shows_the_committed_long_runs(committed):
    """Lecture 7 builds its ladder from helpers.ladder and its committed output names this file's run."""
    path = ladder.REFERENCE_RUNS_FILE.parent.parent / "07_fashion_mnist.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "def dense_stack" not in code and "ladder.dense_stack(" in code, (
        "the builders live in helpers.ladder"
    )
    assert "ladder.load_reference_runs()" in code
    outputs = "\n".join(
        "".join(out.get("text", ""))
        for c in cells
        if c["cell_type"] == "code"
        for out in c.get("outputs", [])
    )
    assert (
        f"precomputed by make reference-runs on {committed['date']}, {committed['machine']['label']}"
        in outputs
    )
