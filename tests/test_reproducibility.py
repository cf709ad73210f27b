import random

import numpy as np
import pytest

from helpers import seed_everything


def _tiny_run():
    import keras

    seed_everything(7)
    draws = (random.random(), float(np.random.rand()))
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=2, batch_size=16, shuffle=True, verbose=0)
    return draws, hist.history["loss"], model.get_weights()[0]


def test_same_seed_same_numbers():
    a, b = _tiny_run(), _tiny_run()
    assert a[0] == b[0]
    assert a[1] == b[1]
    assert np.array_equal(a[2], b[2])


def test_different_seed_different_numbers():
    seed_everything(1)
    first = np.random.rand()
    seed_everything(2)
    assert np.random.rand() != first


def test_bad_seed():
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(-1)
