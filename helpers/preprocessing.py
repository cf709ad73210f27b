"""Preprocessing used by several notebooks: scale, reshape, one-hot, split.

Each function returns new arrays and checks its input, so a wrong shape fails here
with a plain message instead of deep inside ``model.fit``.
"""

from __future__ import annotations

import numpy as np


def scale_images(x: np.ndarray) -> np.ndarray:
    """uint8 pixels in [0, 255] -> float32 in [0, 1]. Shape unchanged."""
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise TypeError(f"scale_images expects uint8 pixels in [0, 255], got dtype {x.dtype}")
    return x.astype(np.float32) / 255.0


def flatten_images(x: np.ndarray) -> np.ndarray:
    """(N, H, W) or (N, H, W, 1) -> (N, H*W): the input a Dense layer wants."""
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"flatten_images expects (N, H, W) or (N, H, W, C), got shape {x.shape}")
    return x.reshape(len(x), -1)


def add_channel_axis(x: np.ndarray) -> np.ndarray:
    """(N, H, W) -> (N, H, W, 1): the input a Conv2D layer wants."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"add_channel_axis expects (N, H, W), got shape {x.shape}")
    return x[..., np.newaxis]


def one_hot(y: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Integer labels (N,) -> float32 one-hot (N, num_classes), like ``keras.utils.to_categorical``."""
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"one_hot expects a 1-D array of integer labels, got {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), found {y.min()}..{y.max()}")
    out = np.zeros((len(y), num_classes), dtype=np.float32)
    out[np.arange(len(y)), y] = 1.0
    return out


def train_val_split(x, y, val_size: int | float = 0.2, seed: int = 0, shuffle: bool = True):
    """Split into ``(x_train, y_train), (x_val, y_val)``.

    ``val_size`` is a count (int) or a fraction (float in (0, 1)). With ``shuffle``
    the rows are permuted by a generator seeded with ``seed``, so the split is the
    same on every run and on every machine.
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
    n_val = int(round(val_size * len(x))) if isinstance(val_size, float) else int(val_size)
    if not 0 < n_val < len(x):
        raise ValueError(f"val_size={val_size!r} leaves no training or no validation rows")
    # Without shuffling the validation rows are the last ones, as Keras' validation_split takes.
    order = np.random.default_rng(seed).permutation(len(x)) if shuffle else np.arange(len(x))
    train, val = order[: len(x) - n_val], order[len(x) - n_val :]
    return (x[train], y[train]), (x[val], y[val])
