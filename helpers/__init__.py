"""Shared code for the deep-learning course: data, seeding, plots, checks.

Notebooks import from here instead of copying code, so a fix lands everywhere at
once. Importing ``helpers`` is cheap: submodules load on first use, and TensorFlow
only inside the functions that need it.
"""

import os
from importlib import import_module

# TensorFlow's C++ log threshold for every process of the course: notebooks, nbval, nbgrader
# and the grading sandbox all read it from here. "3" keeps only FATAL lines. The noisiest line
# it drops is an ERROR-level one that is not an error: with op determinism on (see
# reproducibility.py), tf.data's make_deterministic rewrite turns the parallel map inside
# Keras' array adapter into a plain MapDataset whenever the last batch is partial, and copies
# an attribute that MapDataset does not declare (`use_unbounded_threadpool`); TensorFlow logs
# "NodeDef mentions attribute ... Unknown attributes will be ignored" and carries on. The
# cause cannot be switched off without giving up determinism, and a C++ line that does not
# stop the computation is not something a student can act on. Anything that does stop it
# still reaches the notebook as a Python exception (InvalidArgumentError, ResourceExhaustedError,
# ...) with its message. `import helpers` comes before the first TensorFlow import, so this
# applies in every notebook; an explicit setting by the user wins.
QUIET_TF_LOG_LEVEL = "3"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_LOG_LEVEL)

# oneDNN's custom CPU kernels: TensorFlow switches them on by itself on CPUs with AVX-512, and
# then (1) computes in a different order, so the same seed gives different numbers on
# different machines, and (2) prints "oneDNN custom operations are on" through a logger that
# TF_CPP_MIN_LOG_LEVEL does not silence (with absl's "All log messages before
# absl::InitializeLog()" line ahead of it), into the first cell's output. Off, every machine runs
# the same Eigen kernels as the ones the committed outputs came from. An explicit setting wins.
ONEDNN_OPTS = "0"
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", ONEDNN_OPTS)

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
    "backprop_diagnosis",
    "datasets",
    "envcheck",
    "exercises",
    "gradcheck",
    "grading",
    "ladder",
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
