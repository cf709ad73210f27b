"""Numerical gradients, to check hand-written backward passes.

The central difference (f(x+h) - f(x-h)) / 2h has error O(h^2); with float64 and
h = 1e-5 a correct analytic gradient agrees to a relative error around 1e-8 to 1e-10,
a wrong one to 1e-2 or worse. That gap is what makes the check trustworthy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Gradient of the scalar function ``f`` at ``x`` (any shape) by central differences.

    ``x`` is perturbed in place one entry at a time and restored, so ``f`` may close
    over it (as a layer's parameters are). Returns an array shaped like ``x``.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError("numerical_gradient needs a float ndarray (use float64 for checks)")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = float(f(x))
        x[i] = old - h
        fm = float(f(x))
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
        it.iternext()
    return grad


def numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Gradient of ``sum(f(x) * dout)`` w.r.t. ``x``: checks a layer's backward for a given upstream ``dout``."""
    return numerical_gradient(lambda z: np.sum(f(z) * dout), x, h)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a| + |b|, 1e-8), elementwise: scale-free, 0 for equal arrays."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def norm_relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / max(||a|| + ||b||, 1e-12): one number for the whole array.

    Unlike :func:`relative_error` it does not blow up on a single entry that is almost 0
    in both arrays (a dropped hidden unit, a ReLU that is nearly off), where the central
    difference's rounding noise alone gives an elementwise error near 1e-3. A correct
    float64 gradient scores about 1e-10; a wrong one 1e-3 or more.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12))
