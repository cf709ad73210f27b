"""The loaders return exactly Keras' arrays, verified, and fail loudly on bad files."""

import gzip
import shutil

import numpy as np
import pytest

from helpers import datasets
from helpers.datasets import DatasetError, load_fashion_mnist, load_mnist


def _check_shapes(data):
    (x_train, y_train), (x_test, y_test) = data
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8


def test_mnist_facts():
    data = load_mnist()
    _check_shapes(data)
    (x_train, y_train), (_, y_test) = data
    assert np.bincount(y_train).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_train[25168] == 9
    assert x_train.max() == 255 and x_train.min() == 0
    assert len(y_test) == 10000
    x_train[0, 0, 0] = 1  # writable, as keras.datasets' arrays are


def test_fashion_mnist_facts():
    data = load_fashion_mnist()
    _check_shapes(data)
    (_, y_train), (_, y_test) = data
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert len(datasets.FASHION_CLASSES) == 10 and datasets.FASHION_CLASSES[9] == "Ankle boot"


def test_idx_round_trip():
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(datasets.parse_idx(datasets.to_idx_bytes(arr)), arr)


def test_gzip_and_raw_verify_alike(mnist_copy):
    folder = mnist_copy / "mnist"
    raw = folder / "t10k-labels-idx1-ubyte"
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(raw.read_bytes())
    raw.unlink()
    (_, _), (_, y_test) = load_mnist(mnist_copy)
    assert len(y_test) == 10000


def test_altered_byte_gives_clear_error_then_fetch_repairs(mnist_copy):
    path = mnist_copy / "mnist" / "train-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError) as err:
        load_mnist(mnist_copy)
    msg = str(err.value)
    assert "train-labels-idx1-ubyte" in msg and "checksum" in msg
    assert datasets.MNIST.sha256["train-labels-idx1-ubyte"] in msg  # what was expected
    assert "make data" in msg  # the command that fixes it
    # The repair uses the archive kept from the set-up's fetch: no network.
    shutil.copytree(datasets.data_dir() / ".downloads", mnist_copy / ".downloads")
    assert datasets.fetch(["mnist"], mnist_copy) == {"mnist": "fetched"}
    assert load_mnist(mnist_copy)[0][1][25168] == 9
    kept = list((mnist_copy / "mnist").glob("train-labels-idx1-ubyte.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == bytes(data), "the altered file must be kept"


def test_truncated_file(mnist_copy):
    path = mnist_copy / "mnist" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.*checksum"):
        load_mnist(mnist_copy)


def test_missing_file(mnist_copy):
    (mnist_copy / "mnist" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte is missing[\s\S]*make data"):
        load_mnist(mnist_copy)


def test_corrupt_gzip(mnist_copy):
    folder = mnist_copy / "mnist"
    (folder / "t10k-labels-idx1-ubyte").unlink()
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DatasetError, match="not a readable gzip file"):
        load_mnist(mnist_copy)


def test_verify_reports_states(mnist_copy):
    (mnist_copy / "mnist" / "t10k-labels-idx1-ubyte").unlink()
    status = datasets.verify(datasets.MNIST, mnist_copy)
    assert status["t10k-labels-idx1-ubyte"] == "missing"
    assert status["train-images-idx3-ubyte"] == "ok"


def test_environment_variable_overrides_folder(mnist_copy, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(mnist_copy))
    assert datasets.data_dir() == mnist_copy


def test_cli_verify_exit_codes(mnist_copy, capsys):
    assert datasets.main(["verify", "--data-dir", str(mnist_copy), "mnist"]) == 0
    (mnist_copy / "mnist" / "t10k-labels-idx1-ubyte").unlink()
    assert datasets.main(["verify", "--data-dir", str(mnist_copy), "mnist"]) == 1
    assert "make data" in capsys.readouterr().err


def test_cli_rejects_unknown_dataset():
    with pytest.raises(SystemExit):
        datasets.main(["fetch", "cifar10"])


def test_fetch_fails_clearly_when_no_source_has_the_file(mnist_copy, monkeypatch):
    (mnist_copy / "mnist" / "t10k-labels-idx1-ubyte").unlink()

    def broken(spec, downloads, scratch):
        raise DatasetError("offline")

    monkeypatch.setitem(datasets._SOURCES, "mnist", (broken,))
    with pytest.raises(DatasetError, match="could not obtain t10k-labels-idx1-ubyte"):
        datasets.fetch(["mnist"], mnist_copy)
