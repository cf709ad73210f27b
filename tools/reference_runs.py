"""Train the notes' Fashion-MNIST ladder for the notes' epoch counts, once, and commit the result.

Usage: ``make reference-runs`` (= ``python -m tools.reference_runs``). 250 epochs in all, most
of them at batch 32: too long for lecture 7 (the data file records the seconds each model
took). The lecture trains short runs itself and plots the histories this command wrote to
course/data/reference_runs.json beside them.

The four models, optimizers, batch sizes and epoch counts are the notes' (helpers.ladder's
NOTES_LADDER: 100 / 50 / 50 / 50 epochs at batch 32 / 32 / 100 / 100); the split is the
course's (the lecture's seeded 48,000 / 12,000 split), and every model starts from
``seed_everything(42)``, as in the lecture. The notes scored each model once after
training; here the validation set is also scored after every epoch, which changes
nothing in the training. The file is rewritten after every finished model, so an
interrupted run keeps what it finished (load_reference_runs() refuses an incomplete file).

``--measure`` trains one epoch of each model, prints the seconds and the estimated total,
and writes nothing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

from benchmarks.run import machine, machine_label
from helpers import ladder, preprocessing
from helpers.datasets import load_fashion_mnist
from helpers.reproducibility import seed_everything

SEED = 42


def log(msg: str) -> None:
    print(msg, flush=True)


def load_split():
    """The lecture's split: pixels scaled to [0, 1], 20 % held out with seed 42, images flattened."""
    (x_full, y_full), _ = load_fashion_mnist()
    (x_tr, y_tr), (x_val, y_val) = preprocessing.train_val_split(
        preprocessing.scale_images(x_full), y_full, val_size=0.2, seed=SEED
    )
    return (preprocessing.flatten_images(x_tr), y_tr), (preprocessing.flatten_images(x_val), y_val)


def progress_callback(name: str, num_epochs: int):
    """A Keras callback printing one line per epoch with the figures, the elapsed time and an estimate of the rest."""
    import keras

    class Progress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            elapsed = time.perf_counter() - self.start
            done = epoch + 1
            left = elapsed / done * (num_epochs - done)
            log(
                f"  {name} epoch {done:>3}/{num_epochs}: loss {logs['loss']:.4f} accuracy {logs['accuracy']:.4f} "
                f"val_loss {logs['val_loss']:.4f} val_accuracy {logs['val_accuracy']:.4f}  "
                f"[{elapsed:.0f} s, about {left:.0f} s left]"
            )

    return Progress()


def train_rung(rung: ladder.Rung, split, num_epochs: int) -> dict:
    (x_tr, y_tr), (x_val, y_val) = split
    seed_everything(SEED)
    model = rung.build()
    model.compile(
        optimizer=rung.make_optimizer(),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    history = model.fit(
        x_tr,
        y_tr,
        epochs=num_epochs,
        batch_size=rung.batch_size,
        validation_data=(x_val, y_val),
        verbose=0,
        callbacks=[progress_callback(rung.name, num_epochs)],
    )
    seconds = time.perf_counter() - start
    hist = {key: [float(v) for v in history.history[key]] for key in ladder.HISTORY_KEYS}
    return {
        "name": rung.name,
        "num_epochs": num_epochs,
        "batch_size": rung.batch_size,
        "optimizer": {"sgd": "SGD(learning_rate=0.01)", "adam": "Adam(learning_rate=0.001)"}[
            rung.optimizer
        ],
        "parameters": int(model.count_params()),
        "seconds": round(seconds, 1),
        "final": {key: values[-1] for key, values in hist.items()},
        "notes_val_accuracy": rung.notes_val_accuracy,
        "history": hist,
    }


def versions() -> dict:
    import keras
    import numpy
    import tensorflow

    return {
        "python": platform.python_version(),
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        # helpers turns oneDNN's CPU kernels off unless told otherwise; they change the numbers.
        "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output", type=Path, default=ladder.REFERENCE_RUNS_FILE, help="data file to write"
    )
    parser.add_argument(
        "--measure",
        action="store_true",
        help="one epoch per model, print an estimate, write nothing",
    )
    args = parser.parse_args(argv)

    split = load_split()
    m = machine()
    log(
        f"reference runs on {machine_label(m)}; train {split[0][0].shape}, validation {split[1][0].shape}"
    )
    if args.measure:
        total = 0.0
        for rung in ladder.NOTES_LADDER:
            run = train_rung(rung, split, num_epochs=1)
            total += run["seconds"] * rung.num_epochs
            log(
                f"{rung.name}: {run['seconds']:.1f} s per epoch x {rung.num_epochs} = {run['seconds'] * rung.num_epochs:.0f} s"
            )
        log(f"estimated total: {total:.0f} s ({total / 60:.0f} min)")
        return 0

    data = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": f"{ladder.REFERENCE_RUNS_COMMAND} (python -m tools.reference_runs)",
        "machine": {
            "cpu": m["cpu"],
            "cores": int(m["cores"]),
            "gpu": m["gpu"],
            "label": machine_label(m),
        },
        "versions": versions(),
        "validation": "the lecture's split: 48,000 training / 12,000 validation images, "
        "helpers.preprocessing.train_val_split(seed=42); seed_everything(42) before each model",
        "complete": False,
        "total_seconds": 0.0,
        "runs": [],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    for rung in ladder.NOTES_LADDER:
        log(f"{rung.name}: {rung.num_epochs} epochs at batch {rung.batch_size}, {rung.optimizer}")
        run = train_rung(rung, split, num_epochs=rung.num_epochs)
        data["runs"].append(run)
        data["total_seconds"] = round(sum(r["seconds"] for r in data["runs"]), 1)
        data["complete"] = len(data["runs"]) == len(ladder.NOTES_LADDER)
        args.output.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        log(
            f"{rung.name}: val_accuracy {run['final']['val_accuracy']:.4f} "
            f"(notes {rung.notes_val_accuracy:.4f}) in {run['seconds']:.0f} s; written to {args.output}"
        )
    ladder.load_reference_runs(
        args.output
    )  # the file the lecture will read must pass its own check
    log(f"all {len(data['runs'])} runs in {data['total_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
