"""Shared fixtures. Plots render off-screen; tests never write into the repository's data folder."""

import os
import shutil
from pathlib import Path

import matplotlib
import pytest

from helpers import QUIET_TF_LOG_LEVEL

matplotlib.use("Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_LOG_LEVEL)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture
def mnist_copy(tmp_path) -> Path:
    """A private data folder holding a copy of the verified MNIST files (the real one stays untouched)."""
    from helpers.datasets import MNIST, data_dir

    src = data_dir() / MNIST.folder
    dst = tmp_path / "data" / MNIST.folder
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file() and not f.name.startswith("."):
            shutil.copy2(f, dst / f.name)
    return tmp_path / "data"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
