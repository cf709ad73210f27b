"""Shared code for the deep-learning course: data, seeding, plots, checks.

Notebooks import from here instead of copying code, so a fix lands everywhere at
once. Importing ``helpers`` is cheap: submodules load on first use, and TensorFlow
only inside the functions that need it.
"""

import os
from importlib import import_module

# Quiet TensorFlow's C++ start-up chatter (CPU feature notes, absl preamble) in every
# notebook: `import helpers` comes before the first TensorFlow import. An explicit
# setting by the user wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

_EXPORTS = {
    "FASHION_CLASSES": "helpers.datasets",
    "DatasetError": "helpers.datasets",
    "load_mnist": "helpers.datasets",
    "load_fashion_mnist": "helpers.datasets",
    "check_environment": "helpers.envcheck",
    "seed_everything": "helpers.reproducibility",
}

_SUBMODULES = (
    "datasets",
    "envcheck",
    "exercises",
    "gradcheck",
    "grading",
    "metrics",
    "mission_data",
    "plots",
    "preprocessing",
    "reproducibility",
)

__all__ = ["__version__", *_EXPORTS, *_SUBMODULES]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    if name in _SUBMODULES:  # so that `import helpers; helpers.plots.plot_history(...)` works
        return import_module(f"helpers.{name}")
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
