import numpy as np
import pytest

from helpers import preprocessing as pp


def test_scale_images():
    x = np.array([[0, 255], [51, 102]], dtype=np.uint8)
    out = pp.scale_images(x)
    assert out.dtype == np.float32 and np.allclose(out, [[0, 1], [0.2, 0.4]])
    with pytest.raises(TypeError, match="uint8"):
        pp.scale_images(out)


def test_shapes():
    x = np.zeros((5, 28, 28), dtype=np.uint8)
    assert pp.flatten_images(x).shape == (5, 784)
    assert pp.add_channel_axis(x).shape == (5, 28, 28, 1)
    assert pp.flatten_images(pp.add_channel_axis(x)).shape == (5, 784)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        pp.add_channel_axis(np.zeros((5, 784)))


def test_one_hot_matches_keras():
    import keras

    y = np.array([5, 0, 4, 1, 9])
    assert np.array_equal(pp.one_hot(y), keras.utils.to_categorical(y, 10))
    with pytest.raises(ValueError, match="labels must lie"):
        pp.one_hot(np.array([10]))
    with pytest.raises(ValueError, match="1-D"):
        pp.one_hot(np.zeros((2, 2), dtype=int))


def test_split_is_seeded_and_disjoint():
    x = np.arange(100)
    (a, ya), (b, yb) = pp.train_val_split(x, x * 2, val_size=0.2, seed=3)
    (a2, _), (b2, _) = pp.train_val_split(x, x * 2, val_size=0.2, seed=3)
    assert len(a) == 80 and len(b) == 20
    assert np.array_equal(a, a2) and np.array_equal(b, b2)
    assert set(a).isdisjoint(b) and set(a) | set(b) == set(range(100))
    assert np.array_equal(ya, a * 2)
    (_, _), (c, _) = pp.train_val_split(x, x, val_size=0.2, seed=4)
    assert not np.array_equal(b, c)


def test_split_without_shuffle_takes_the_last_rows():
    (a, _), (b, _) = pp.train_val_split(np.arange(10), np.arange(10), val_size=3, shuffle=False)
    assert a.tolist() == list(range(7)) and b.tolist() == [7, 8, 9]


def test_split_rejects_bad_sizes():
    with pytest.raises(ValueError, match="differ in length"):
        pp.train_val_split(np.arange(3), np.arange(4))
    with pytest.raises(ValueError, match="leaves no"):
        pp.train_val_split(np.arange(3), np.arange(3), val_size=3)
