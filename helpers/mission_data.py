"""The data every graded mission uses: MNIST, scaled, with a fixed 50k/10k/10k split.

The missions follow the course notes: 60,000 training images are split into the
first 50,000 for training (학습) and the **last 10,000 as validation (검증)**,
unshuffled, exactly as ``x_train[:50000], x_train[50000:]`` would; the 10,000
official test images stay the test set (테스트). Keeping the split unshuffled means
a student who slices the arrays by hand gets the same numbers as the grader.

Images are float32 in [0, 1] with a channel axis, shape (N, 28, 28, 1); labels are
one-hot float32 vectors of length 10 (the integer labels are kept too, for plots).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from helpers.datasets import load_mnist
from helpers.preprocessing import add_channel_axis, one_hot, scale_images, train_val_split

N_VALIDATION = 10_000
NUM_CLASSES = 10


class MissionData(NamedTuple):
    """Arrays for one mission. ``y_*`` are one-hot (N, 10); ``labels_*`` are integers (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    labels_train: np.ndarray
    labels_val: np.ndarray
    labels_test: np.ndarray

    def describe(self) -> str:
        """One line per split: ``train  x (50000, 28, 28, 1)  y (50000, 10)``."""
        rows = []
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            rows.append(f"{split:<5}  x {x.shape} {x.dtype}  y {y.shape} {y.dtype}")
        return "\n".join(rows)


def load_mission_data(data_dir_override=None) -> MissionData:
    """MNIST as the missions use it: (50,000 / 10,000 / 10,000), scaled, one-hot labels.

    The validation set is the last 10,000 training images (no shuffling), via
    :func:`helpers.preprocessing.train_val_split` with ``shuffle=False``.
    """
    (x_all, y_all), (x_test, y_test) = load_mnist(data_dir_override)
    x_all = add_channel_axis(scale_images(x_all))
    x_test = add_channel_axis(scale_images(x_test))
    (x_train, labels_train), (x_val, labels_val) = train_val_split(
        x_all, y_all.astype(np.int64), val_size=N_VALIDATION, shuffle=False
    )
    labels_test = y_test.astype(np.int64)
    return MissionData(
        x_train=x_train,
        y_train=one_hot(labels_train, NUM_CLASSES),
        x_val=x_val,
        y_val=one_hot(labels_val, NUM_CLASSES),
        x_test=x_test,
        y_test=one_hot(labels_test, NUM_CLASSES),
        labels_train=labels_train,
        labels_val=labels_val,
        labels_test=labels_test,
    )
