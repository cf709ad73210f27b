"""Shared code for the deep-learning course: data, seeding, plots, checks.

Notebooks import from here instead of copying code, so a fix lands everywhere at
once. Importing ``helpers`` is cheap: submodules load on first use, and TensorFlow
only inside the functions that need it.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "FASHION_CLASSES": "helpers.datasets",
    "DatasetError": "helpers.datasets",
    "load_mnist": "helpers.datasets",
    "load_fashion_mnist": "helpers.datasets",
    "check_environment": "helpers.envcheck",
    "seed_everything": "helpers.reproducibility",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
