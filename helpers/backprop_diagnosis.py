"""Checks for hand-written NumPy layers (Mission 5) that say *which* mistake was made.

A gradient check that only says "relative error 3e-2" leaves a student guessing. Each
check here compares the student's gradient with a numerical gradient
(:mod:`helpers.gradcheck`, the ground truth) on seeded inputs of the shapes the caller
chooses, and when they disagree, compares it with the wrong answers students typically
write (the gradient averaged instead of summed, transposed, with the wrong sign, the ReLU
mask taken from the wrong array, dropout without its 1/(1 - p), a velocity that is not
kept, ...). The failure message names the first one that matches:

    affine_backward: db relative error 8.6e-01 (a correct gradient is below 1e-06):
    db is the correct gradient divided by N = 7: it looks averaged over the batch
    where it should be summed over it (db = dout.sum(axis=0)).

Every check raises ``AssertionError`` with such a sentence and returns ``None`` (nbgrader
reads a value left by a test cell as partial credit, see
:func:`helpers.grading.assert_accuracy_at_least`). The checks are re-exported by
:mod:`helpers.grading`, which notices when a notebook replaces them.

Conventions (the mission statement's): ``x`` (N, D), ``w`` (D, M), ``b`` (M,); integer
labels ``y`` (N,); dropout's ``p`` is the probability of *dropping* a unit (inverted
dropout: survivors scaled by 1 / (1 - p) during training, nothing at test time); the
momentum update is ``v = momentum * v - lr * dw; w = w + v``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from helpers.gradcheck import norm_relative_error as relative_error
from helpers.gradcheck import numerical_gradient, numerical_gradient_array

__all__ = [
    "GRADIENT_TOLERANCE",
    "assert_affine_layer",
    "assert_dropout_layer",
    "assert_momentum_update",
    "assert_relu_layer",
    "assert_softmax_loss",
    "assert_two_layer_accuracy_at_least",
    "assert_two_layer_gradients",
    "two_layer_accuracy",
]

GRADIENT_TOLERANCE = 1e-7  # float64 central differences: a correct gradient is near 1e-10
_MATCH = 1e-7  # how close a gradient must be to a known wrong answer to be called that


# --------------------------------------------------------------------------- plumbing
def _call(fn: Callable, *args, what: str, **kwargs):
    """Call the student's ``fn``; an exception becomes an AssertionError naming the call."""
    try:
        return fn(*args, **kwargs)
    except AssertionError:
        raise
    except Exception as exc:  # noqa: BLE001 - any error of student code is reported as such
        raise AssertionError(f"{what} raised {type(exc).__name__}: {exc}") from exc


def _parts(result, names: Sequence[str], what: str) -> tuple:
    """``result`` unpacked into ``len(names)`` items, or a message naming the contract."""
    want = "(" + ", ".join(names) + ")"
    if not isinstance(result, tuple | list) or len(result) != len(names):
        found = (
            f"a {type(result).__name__}"
            if not isinstance(result, tuple | list)
            else f"{len(result)} values"
        )
        raise AssertionError(
            f"{what} should return {len(names)} values {want}; it returned {found}."
        )
    return tuple(result)


def _array(value, name: str, what: str) -> np.ndarray:
    """``value`` as a float64 array, or a message saying it is not one."""
    if value is None:
        raise AssertionError(f"{what}: {name} is None; return the computed array.")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{what}: {name} is not an array of numbers ({exc}).") from exc
    if not np.all(np.isfinite(arr)):
        raise AssertionError(f"{what}: {name} contains nan or inf.")
    return arr


def _unchanged(before: dict[str, np.ndarray], after: dict[str, np.ndarray], what: str) -> None:
    """Arguments must come back as they went in: the course's functions return values."""
    for name, copy in before.items():
        if not np.array_equal(copy, after[name]):
            raise AssertionError(
                f"{what} changed its argument {name} in place. Compute a new "
                f"array (for example `dx = dout * mask`, or `dout.copy()` "
                f"before editing) and leave the arguments as they are."
            )


def _scale(got: np.ndarray, want: np.ndarray) -> float | None:
    """The number c with got == c * want, if there is one (else None)."""
    denom = float(np.sum(want * want))
    if denom == 0.0:
        return None
    c = float(np.sum(got * want) / denom)
    if c != 0.0 and relative_error(got, c * want) < _MATCH:
        return c
    return None


def _shape_message(name: str, got: np.ndarray, want: np.ndarray, of: str) -> str | None:
    """Why ``got`` has the wrong shape, or None when its shape is right."""
    if got.shape == want.shape:
        return None
    text = f"{name} has shape {got.shape}; it should have the shape of {of}, {want.shape}."
    if want.ndim == 2 and got.shape == want.shape[::-1]:
        text += f" It looks transposed: check the order of the matrix product for {name}."
    return text


def _diagnose(
    got: np.ndarray, want: np.ndarray, known: Sequence[tuple[np.ndarray, str]], name: str, n: int
) -> str:
    """The first known mistake ``got`` matches, else a generic description."""
    for wrong, text in known:
        if wrong.shape == got.shape and relative_error(got, wrong) < _MATCH:
            return text
    if (
        want.ndim == 2
        and want.shape[0] != want.shape[1]
        and relative_error(got.ravel(), want.T.ravel()) < _MATCH
    ):
        return (
            f"{name} has the shape of the right answer but holds its transpose, "
            f"reshaped: a reshape does not undo a transpose; write the product so that "
            f"it has the right shape directly."
        )
    c = _scale(got, want)
    if c is not None:
        if np.isclose(c, -1.0):
            return f"{name} has the wrong sign (it is minus the correct gradient)."
        if np.isclose(c, 1.0 / n):
            return (
                f"{name} is the correct gradient divided by N = {n}: it looks averaged "
                f"over the batch where it should be summed over it (the mean over the "
                f"batch happens once, in the loss)."
            )
        if np.isclose(c, float(n)):
            return (
                f"{name} is N = {n} times the correct gradient: the loss is a mean over "
                f"the batch, so its gradient carries a factor 1/N."
            )
        return f"{name} is {c:.3g} times the correct gradient: a factor is wrong."
    if not np.any(got):
        return f"{name} is all zeros."
    return "it matches none of the usual mistakes; compare it with the formula, entry by entry."


def _gradient(
    name: str,
    got,
    want_numeric: np.ndarray,
    want_exact: np.ndarray,
    of: str,
    what: str,
    known: Sequence[tuple[np.ndarray, str]] = (),
    n: int = 1,
) -> None:
    """Compare one gradient with the numerical one; fail with a diagnosis."""
    arr = _array(got, name, what)
    shape = _shape_message(name, arr, want_exact, of)
    if shape is not None:
        for wrong, text in known:  # a known mistake with its own shape (db not summed, ...)
            if wrong.shape == arr.shape and relative_error(arr, wrong) < _MATCH:
                raise AssertionError(f"{what}: {shape} {text}")
        raise AssertionError(f"{what}: {shape}")
    err = relative_error(arr, want_numeric)
    if err >= GRADIENT_TOLERANCE:
        raise AssertionError(
            f"{what}: {name} relative error {err:.1e} against the numerical gradient (a "
            f"correct gradient is below {GRADIENT_TOLERANCE:.0e}): "
            f"{_diagnose(arr, want_exact, known, name, n)}"
        )


def _inputs(seed: int, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


# --------------------------------------------------------------------------- affine
def assert_affine_layer(
    affine_forward: Callable,
    affine_backward: Callable,
    shapes: tuple[int, int, int] = (4, 5, 3),
    seed: int = 0,
) -> None:
    """Check an affine layer with CS231n's (out, cache) contract on fresh inputs.

    Shapes (``shapes`` = (N, D, M), three different numbers so a transpose shows):
    ``affine_forward(x (N, D), w (D, M), b (M,)) -> (out (N, M), cache)`` and
    ``affine_backward(dout (N, M), cache) -> (dx (N, D), dw (D, M), db (M,))``.
    Each gradient is compared with :func:`helpers.gradcheck.numerical_gradient_array`
    (relative error :func:`helpers.gradcheck.norm_relative_error`);
    the arguments must not be changed in place. A backward pass that costs hundreds of
    forward passes is computing finite differences, not backpropagation, and fails.
    """
    n, d, m = shapes
    x, w, b, dout = _inputs(seed, (n, d), (d, m), (m,), (n, m))
    copies = {"x": x.copy(), "w": w.copy(), "b": b.copy()}
    out, cache = _parts(
        _call(affine_forward, x, w, b, what="affine_forward(x, w, b)"),
        ("out", "cache"),
        "affine_forward",
    )
    _unchanged(copies, {"x": x, "w": w, "b": b}, "affine_forward")
    out = _array(out, "out", "affine_forward")
    want = x @ w + b
    shape = _shape_message("out", out, want, "x @ w, (N, M)")
    if shape:
        raise AssertionError(f"affine_forward: {shape}")
    if relative_error(out, want) >= GRADIENT_TOLERANCE:
        hint = (
            "out misses the bias b."
            if relative_error(out, x @ w) < _MATCH
            else "out should be x @ w + b."
        )
        raise AssertionError(f"affine_forward: out differs from x @ w + b. {hint}")

    douts = dout.copy()
    grads = _parts(
        _call(affine_backward, dout, cache, what="affine_backward(dout, cache)"),
        ("dx", "dw", "db"),
        "affine_backward",
    )
    _unchanged({"dout": douts}, {"dout": dout}, "affine_backward")
    dx, dw, db = grads

    def fx(z):
        return z @ w + b

    num_dx = numerical_gradient_array(fx, x.copy(), dout)
    num_dw = numerical_gradient_array(lambda z: x @ z + b, w.copy(), dout)
    num_db = numerical_gradient_array(lambda z: x @ w + z, b.copy(), dout)
    what = "affine_backward"
    _gradient(
        "dx",
        dx,
        num_dx,
        dout @ w.T,
        "x, (N, D)",
        what,
        [
            (x, "dx equals x: the gradient with respect to x is dout @ w.T."),
        ],
        n,
    )
    _gradient(
        "dw",
        dw,
        num_dw,
        x.T @ dout,
        "w, (D, M)",
        what,
        [
            (dout.T @ x, "dw = dout.T @ x is transposed: use x.T @ dout."),
            (
                x.T @ dout / n,
                f"dw is divided by N = {n}: it looks averaged over the batch where "
                "it should be summed (the 1/N is already inside dout).",
            ),
        ],
        n,
    )
    _gradient(
        "db",
        db,
        num_db,
        dout.sum(axis=0),
        "b, (M,)",
        what,
        [
            (dout, "db is dout itself: sum it over the batch axis (db = dout.sum(axis=0))."),
            (dout.sum(axis=1), "db is summed over the wrong axis: the batch is axis 0."),
            (
                dout.mean(axis=0),
                f"db looks averaged over the batch (divided by N = {n}) where it "
                "should be summed over it (db = dout.sum(axis=0)).",
            ),
        ],
        n,
    )
    _assert_backward_is_cheap(affine_forward, affine_backward, seed)


def _assert_backward_is_cheap(
    affine_forward: Callable, affine_backward: Callable, seed: int
) -> None:
    """A backward pass costs about two matrix products; finite differences cost thousands.

    Shapes: x (32, 50), w (50, 30): finite differences need 2 * (32*50 + 50*30) = 6,200
    forward passes, at least 0.1 s; backprop needs microseconds. Timing is noisy on a busy
    machine, so a slow run is repeated and only the fastest of five counts.
    """
    x, w, b, dout = _inputs(seed + 1, (32, 50), (50, 30), (30,), (32, 30))
    forward_s, backward_s = [], []
    for _ in range(5):
        start = time.perf_counter()
        _, cache = affine_forward(x, w, b)
        forward_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        _, dw, _ = affine_backward(dout, cache)
        backward_s.append(time.perf_counter() - start)
        if min(backward_s) < max(0.02, 50 * min(forward_s)):
            break
    else:
        raise AssertionError(
            f"affine_backward took {min(backward_s) * 1e3:.0f} ms for a (32, 50) batch, where "
            f"the forward pass took {min(forward_s) * 1e3:.2f} ms: it computes gradients by "
            "finite differences (or something as slow), not by backpropagation. Backprop costs "
            "about as much as the forward pass: dx = dout @ w.T, dw = x.T @ dout, "
            "db = dout.sum(axis=0)."
        )
    if relative_error(np.asarray(dw, dtype=np.float64), x.T @ dout) >= GRADIENT_TOLERANCE:
        raise AssertionError(
            "affine_backward: dw is wrong on a (32, 50) batch although it was "
            "right on a small one; it must be x.T @ dout for any shape."
        )


# --------------------------------------------------------------------------- ReLU
def assert_relu_layer(
    relu_forward: Callable, relu_backward: Callable, shape: tuple[int, ...] = (4, 6), seed: int = 0
) -> None:
    """Check ``relu_forward(x) -> (out, cache)`` and ``relu_backward(dout, cache) -> dx``.

    Shapes: x, out, dout and dx all have ``shape``. Inputs stay at least 0.1 away from 0,
    where ReLU has no derivative, so the numerical gradient is exact there.
    """
    x, dout = _inputs(seed, shape, shape)
    x = x + np.where(x >= 0, 0.1, -0.1)
    copies = {"x": x.copy()}
    out, cache = _parts(
        _call(relu_forward, x, what="relu_forward(x)"), ("out", "cache"), "relu_forward"
    )
    _unchanged(copies, {"x": x}, "relu_forward")
    out = _array(out, "out", "relu_forward")
    want = np.maximum(0.0, x)
    if out.shape != x.shape or relative_error(out, want) >= GRADIENT_TOLERANCE:
        raise AssertionError(
            f"relu_forward: out should be max(0, x), shape {x.shape}; found "
            f"shape {out.shape} with other values."
        )
    douts = dout.copy()
    dx = _call(relu_backward, dout, cache, what="relu_backward(dout, cache)")
    _unchanged({"dout": douts}, {"dout": dout}, "relu_backward")
    num = numerical_gradient_array(lambda z: np.maximum(0.0, z), x.copy(), dout)
    mask = (x > 0).astype(np.float64)
    _gradient(
        "dx",
        dx,
        num,
        dout * mask,
        f"x, {x.shape}",
        "relu_backward",
        [
            (
                dout,
                "dx is dout passed through everywhere: ReLU's gradient is 0 where x <= 0, so "
                "multiply dout by the mask (x > 0).",
            ),
            (
                dout * want,
                "dx is dout times the ReLU output max(0, x): multiply by the 0/1 mask "
                "(x > 0), not by the output's values.",
            ),
            (dout * x, "dx is dout times x: multiply by the 0/1 mask (x > 0), not by x."),
            (
                dout * (dout > 0),
                "the mask was taken from dout, the gradient arriving from the "
                "layer's output; it must come from the layer's input x, kept in "
                "the cache by relu_forward.",
            ),
            (
                np.maximum(0.0, dout),
                "dx is max(0, dout): the mask was taken from dout, the "
                "gradient arriving from the output; it must come from the "
                "input x, kept in the cache by relu_forward.",
            ),
            (
                dout * (x <= 0),
                "the mask is inverted: the gradient passes where x > 0 and is zero where x <= 0.",
            ),
            (mask, "dx is the mask itself: multiply the mask by dout."),
        ],
    )


# --------------------------------------------------------------------------- softmax loss
def _softmax_loss_reference(scores: np.ndarray, y: np.ndarray) -> float:
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(y)), y].mean())


def assert_softmax_loss(
    softmax_loss: Callable, n: int = 5, num_classes: int = 4, seed: int = 0
) -> None:
    """Check ``softmax_loss(scores (N, C), y (N,) int) -> (loss float, dscores (N, C))``.

    The loss is the batch *mean* of -log softmax(scores)[i, y_i]; dscores is compared with
    the numerical gradient of that loss. Scores shifted by +1000 must give the same loss
    (softmax does not change when a constant is added to a row; exp(1000) overflows, so a
    stable implementation subtracts each row's maximum first).
    """
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((n, num_classes)) * 2.0
    y = rng.integers(0, num_classes, size=n)
    copies = {"scores": scores.copy(), "y": y.copy()}
    loss, dscores = _parts(
        _call(softmax_loss, scores, y, what="softmax_loss(scores, y)"),
        ("loss", "dscores"),
        "softmax_loss",
    )
    _unchanged(copies, {"scores": scores, "y": y}, "softmax_loss")
    want_loss = _softmax_loss_reference(scores, y)
    try:
        loss = float(loss)
    except (TypeError, ValueError) as exc:
        raise AssertionError(
            f"softmax_loss: loss should be one number, found {type(loss).__name__}."
        ) from exc
    if not np.isclose(loss, want_loss, rtol=1e-6, atol=1e-9):
        hint = "the mean over the batch of -log softmax(scores)[i, y[i]]"
        if np.isclose(loss, want_loss * n, rtol=1e-6):
            hint = (
                f"it is N = {n} times too large: the loss is summed over the batch where it "
                "should be averaged (mean)"
            )
        raise AssertionError(f"softmax_loss: loss is {loss:.6f}, expected {want_loss:.6f}: {hint}.")
    big = _call(softmax_loss, scores + 1000.0, y, what="softmax_loss(scores + 1000, y)")
    big_loss = float(_parts(big, ("loss", "dscores"), "softmax_loss")[0])
    if not np.isclose(big_loss, want_loss, rtol=1e-6, atol=1e-9):
        raise AssertionError(
            f"softmax_loss: with every score raised by 1000 the loss became {big_loss} (it "
            f"should stay {want_loss:.6f}): exp(1000) overflows. Subtract each row's maximum "
            "from the scores before exp; softmax does not change."
        )
    num = numerical_gradient(lambda s: _softmax_loss_reference(s, y), scores.copy())
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    onehot = np.eye(num_classes)[y]
    _gradient(
        "dscores",
        dscores,
        num,
        (probs - onehot) / n,
        f"scores, {scores.shape}",
        "softmax_loss",
        [
            (
                (probs - onehot),
                f"dscores is not divided by N = {n}: the loss is a mean "
                "over the batch, so each row's gradient carries 1/N "
                "(dscores = (softmax - one_hot) / N).",
            ),
            (
                probs / n,
                "dscores misses the -1 at each row's true class: it is (softmax - one_hot(y)) / N.",
            ),
            (probs, "dscores is softmax(scores) only: subtract one_hot(y) and divide by N."),
            (
                (onehot - probs) / n,
                "dscores has the wrong sign: it is (softmax - "
                "one_hot(y)) / N, not (one_hot(y) - softmax) / N.",
            ),
        ],
        n,
    )


# --------------------------------------------------------------------------- dropout
def assert_dropout_layer(
    dropout_forward: Callable,
    dropout_backward: Callable,
    p: float = 0.3,
    shape: tuple[int, int] = (200, 300),
    seed: int = 0,
) -> None:
    """Check inverted dropout ``dropout_forward(x, p, rng, train) -> (out, cache)`` and
    ``dropout_backward(dout, cache) -> dx``.

    Shapes: x, out, dout, dx all (N, D) = ``shape`` (large enough that the fraction of
    dropped units is measured to about +-0.01). Checked: at test time (``train=False``)
    out is x; in training a fraction near ``p`` is zeroed and the survivors are x / (1 - p);
    the mask comes from ``rng`` (two generators with the same seed give the same mask);
    backward multiplies dout by the forward's own scaled mask; and, on a small input, dx
    agrees with the numerical gradient for a fixed mask.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 1.5, size=shape)
    copies = {"x": x.copy()}
    what_eval = "dropout_forward(x, p, rng, train=False)"
    out_eval, _ = _parts(
        _call(dropout_forward, x, p, np.random.default_rng(seed + 1), train=False, what=what_eval),
        ("out", "cache"),
        "dropout_forward",
    )
    out_eval = _array(out_eval, "out", what_eval)
    if out_eval.shape != x.shape or not np.allclose(out_eval, x, rtol=1e-12, atol=0):
        if out_eval.shape == x.shape and np.allclose(out_eval, x * (1 - p)):
            raise AssertionError(
                f"{what_eval}: out is x * (1 - p): that is non-inverted dropout (the scaling at "
                "test time). Inverted dropout scales the survivors by 1 / (1 - p) during "
                "training, so at test time out is x, unchanged."
            )
        raise AssertionError(f"{what_eval}: at test time dropout does nothing: out should be x.")
    what = "dropout_forward(x, p, rng, train=True)"
    out, cache = _parts(
        _call(dropout_forward, x, p, np.random.default_rng(seed + 2), train=True, what=what),
        ("out", "cache"),
        "dropout_forward",
    )
    _unchanged(copies, {"x": x}, "dropout_forward")
    out = _array(out, "out", what)
    if out.shape != x.shape:
        raise AssertionError(f"{what}: out has shape {out.shape}, expected x's {x.shape}.")
    dropped = float(np.mean(out == 0))
    if abs(dropped - p) > 0.02:
        if abs(dropped - (1 - p)) <= 0.02:
            raise AssertionError(
                f"{what} with p = {p}: {dropped:.2f} of the units were dropped, about 1 - p: p "
                "is the probability of DROPPING a unit; keep a unit where rng.random(x.shape) "
                ">= p."
            )
        raise AssertionError(
            f"{what} with p = {p}: {dropped:.2f} of the units were dropped; expected about p = {p}."
        )
    kept = out != 0
    ratio = out[kept] / x[kept]
    if not np.allclose(ratio, 1.0 / (1.0 - p), rtol=1e-5):
        if np.allclose(ratio, 1.0):
            text = (
                "the surviving units are not scaled by 1 / (1 - p): without it the expected "
                f"output shrinks to (1 - p) * x = {1 - p:g} * x in training, and the next "
                "layer sees larger inputs at test time than it was trained on."
            )
        elif np.allclose(ratio, 1.0 / p):
            text = "the survivors are scaled by 1 / p; inverted dropout scales them by 1 / (1 - p)."
        elif np.allclose(ratio, 1.0 - p):
            text = "the survivors are multiplied by (1 - p); divide them by (1 - p) instead."
        else:
            text = "the surviving units should be x / (1 - p)."
        raise AssertionError(f"{what} with p = {p}: {text}")
    again = _parts(
        _call(dropout_forward, x, p, np.random.default_rng(seed + 2), train=True, what=what),
        ("out", "cache"),
        "dropout_forward",
    )[0]
    if not np.array_equal(np.asarray(again, dtype=np.float64), out):
        raise AssertionError(
            f"{what}: two generators with the same seed gave different masks. Draw the mask "
            "from the rng argument (rng.random(x.shape)), not from np.random, so that a run "
            "can be repeated and the gradient checked."
        )

    dout = rng.standard_normal(shape)
    douts = dout.copy()
    dx = _array(
        _call(dropout_backward, dout, cache, what="dropout_backward(dout, cache)"),
        "dx",
        "dropout_backward",
    )
    _unchanged({"dout": douts}, {"dout": dout}, "dropout_backward")
    want = dout * (out / x)
    if dx.shape != x.shape:
        raise AssertionError(f"dropout_backward: dx has shape {dx.shape}, expected {x.shape}.")
    if relative_error(dx, want) >= GRADIENT_TOLERANCE:
        if relative_error(dx, dout * kept) < _MATCH:
            text = (
                "dx misses the 1 / (1 - p) scaling: the forward pass multiplied the "
                "survivors by it, so their gradient is scaled too. Keep the scaled mask in "
                "the cache."
            )
        elif relative_error(dx, dout) < _MATCH:
            text = "dx is dout passed through: multiply it by the mask kept in the cache."
        elif not np.array_equal(dx == 0, ~kept):
            text = (
                "dx is zero at other entries than the forward's output: the mask is not "
                "reused. Draw the mask once, in dropout_forward, keep it in the cache and "
                "multiply dout by that same mask in dropout_backward."
            )
        else:
            text = "dx should be dout times the forward's mask, scaled by 1 / (1 - p)."
        raise AssertionError(f"dropout_backward: {text}")

    xs, ds = _inputs(seed + 3, (3, 5), (3, 5))
    small_cache = _parts(
        _call(dropout_forward, xs, p, np.random.default_rng(seed + 4), train=True, what=what),
        ("out", "cache"),
        "dropout_forward",
    )[1]
    dxs = _call(dropout_backward, ds, small_cache, what="dropout_backward(dout, cache)")
    num = numerical_gradient_array(
        lambda z: np.asarray(
            dropout_forward(z, p, np.random.default_rng(seed + 4), train=True)[0], dtype=np.float64
        ),
        xs.copy(),
        ds,
    )
    _gradient("dx", dxs, num, num, "x, (3, 5)", "dropout_backward (numerical check, fixed mask)")


# --------------------------------------------------------------------------- momentum
def assert_momentum_update(
    sgd_momentum: Callable,
    shape: tuple[int, int] = (3, 4),
    lr: float = 0.1,
    momentum: float = 0.9,
    seed: int = 0,
) -> None:
    """Check ``sgd_momentum(w, dw, velocity, lr, momentum) -> (next_w, next_velocity)``.

    Shapes: w, dw, velocity, next_w and next_velocity all ``shape``. The rule is
    ``v = momentum * v - lr * dw; w = w + v``, with new arrays returned (arguments left as
    they are). Three steps in a row, each fed the velocity the previous one returned, so a
    velocity that is not carried over shows; and ``momentum=0`` must be plain SGD.
    """
    w, v = _inputs(seed, shape, shape)
    grads = _inputs(seed + 1, shape, shape, shape)
    what = f"sgd_momentum(w, dw, velocity, lr={lr}, momentum={momentum})"
    for step, dw in enumerate(grads, start=1):
        copies = {"w": w.copy(), "dw": dw.copy(), "velocity": v.copy()}
        result = _call(sgd_momentum, w, dw, v, lr=lr, momentum=momentum, what=what)
        next_w, next_v = _parts(result, ("next_w", "next_velocity"), "sgd_momentum")
        _unchanged(copies, {"w": w, "dw": dw, "velocity": v}, "sgd_momentum")
        next_w = _array(next_w, "next_w", what)
        next_v = _array(next_v, "next_velocity", what)
        want_v = momentum * v - lr * dw
        want_w = w + want_v
        ok_v = next_v.shape == shape and relative_error(next_v, want_v) < GRADIENT_TOLERANCE
        ok_w = next_w.shape == shape and relative_error(next_w, want_w) < GRADIENT_TOLERANCE
        if not (ok_v and ok_w):
            known_v = [
                (
                    -lr * dw,
                    "the old velocity is ignored: the new velocity is momentum * v - lr * dw.",
                ),
                (
                    v,
                    "the velocity returned is the one passed in: return the updated velocity, "
                    "or the next step forgets it.",
                ),
                (
                    momentum * v + lr * dw,
                    "the gradient is added to the velocity: the step "
                    "goes uphill. v = momentum * v - lr * dw.",
                ),
                (v - lr * dw, "the old velocity is not multiplied by momentum."),
                (momentum * v - dw, "the gradient is not multiplied by the learning rate lr."),
            ]
            known_w = [
                (
                    w - lr * dw,
                    "next_w is a plain SGD step w - lr * dw: move w by the new velocity, w + v.",
                ),
                (w + lr * dw, "next_w = w + lr * dw goes uphill."),
                (
                    w - want_v,
                    "next_w = w - v moves against the velocity: w + v, since v "
                    "already holds -lr * dw.",
                ),
                (
                    w + v,
                    "w moved by the OLD velocity: update the velocity first, then w + v "
                    "with the new one.",
                ),
                (
                    w + momentum * v + lr * dw,
                    "the step goes uphill: the gradient must be "
                    "subtracted (v = momentum * v - lr * dw).",
                ),
            ]
            name, got, known = (
                ("next_velocity", next_v, known_v) if not ok_v else ("next_w", next_w, known_w)
            )
            reason = next(
                (
                    (t)
                    for wrong, t in known
                    if got.shape == wrong.shape and relative_error(got, wrong) < _MATCH
                ),
                "compare it with v = momentum * v - lr * dw; w = w + v.",
            )
            raise AssertionError(
                f"{what}, step {step} (velocity carried over from the step "
                f"before): {name} is wrong: {reason}"
            )
        w, v = next_w, next_v
    w0, v0, dw0 = _inputs(seed + 2, shape, shape, shape)
    next_w, _ = _parts(
        _call(sgd_momentum, w0, dw0, v0, lr=lr, momentum=0.0, what=what),
        ("next_w", "next_velocity"),
        "sgd_momentum",
    )
    if relative_error(_array(next_w, "next_w", what), w0 - lr * dw0) >= GRADIENT_TOLERANCE:
        raise AssertionError(
            "sgd_momentum with momentum=0 should be a plain SGD step, w - lr "
            "* dw; use the momentum argument, not a fixed number."
        )


# --------------------------------------------------------------------------- the network
_PARAM_NAMES = ("W1", "b1", "W2", "b2")


def assert_two_layer_gradients(
    two_layer_loss: Callable,
    dims: tuple[int, int, int] = (6, 5, 3),
    n: int = 4,
    p_drop: float = 0.0,
    seed: int = 0,
) -> None:
    """Check ``two_layer_loss(params, x, y, p_drop, rng) -> (loss, grads)`` numerically.

    Shapes (``dims`` = (D, H, C)): params W1 (D, H), b1 (H,), W2 (H, C), b2 (C,);
    x (N, D); y (N,) int; grads has the same keys and shapes as params. The net is
    affine -> ReLU -> dropout(p_drop) -> affine -> softmax-with-loss. Each call gets a
    generator with the same seed, so the dropout mask is fixed and the loss is a smooth
    function of the parameters; each gradient is compared with
    :func:`helpers.gradcheck.numerical_gradient` of the student's own loss. The message
    names the parameters whose gradients are wrong, which locates the mistake in the chain.
    """
    d, h, c = dims
    rng = np.random.default_rng(seed)
    params = {
        "W1": rng.standard_normal((d, h)),
        "b1": rng.standard_normal(h) * 0.1,
        "W2": rng.standard_normal((h, c)),
        "b2": rng.standard_normal(c) * 0.1,
    }
    x = rng.standard_normal((n, d))
    y = rng.integers(0, c, size=n)
    what = f"two_layer_loss(params, x, y, p_drop={p_drop}, rng)"

    def run(ps):
        return _call(two_layer_loss, ps, x, y, p_drop, np.random.default_rng(seed + 1), what=what)

    loss, grads = _parts(run(params), ("loss", "grads"), "two_layer_loss")
    if p_drop == 0:
        hidden = np.maximum(0.0, x @ params["W1"] + params["b1"])
        want = _softmax_loss_reference(hidden @ params["W2"] + params["b2"], y)
        if not np.isclose(float(loss), want, rtol=1e-6):
            raise AssertionError(
                f"{what}: the loss is {float(loss):.6f}, expected {want:.6f} "
                "for affine -> ReLU -> affine -> softmax-with-loss."
            )
    if not isinstance(grads, dict) or set(grads) != set(_PARAM_NAMES):
        found = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
        raise AssertionError(
            f"{what}: grads should be a dict with keys {list(_PARAM_NAMES)}, found {found}."
        )
    wrong = []
    for name in _PARAM_NAMES:

        def f(_, name=name):
            return float(_parts(run(params), ("loss", "grads"), "two_layer_loss")[0])

        num = numerical_gradient(f, params[name])
        got = _array(grads[name], f"grads[{name!r}]", what)
        if got.shape != params[name].shape:
            raise AssertionError(
                f"{what}: grads[{name!r}] has shape {got.shape}, expected the "
                f"shape of {name}, {params[name].shape}."
            )
        err = relative_error(got, num)
        if err >= GRADIENT_TOLERANCE:
            wrong.append(f"{name} ({err:.0e})")
    if wrong:
        first_layer_only = all(w.startswith(("W1", "b1")) for w in wrong)
        where = (
            "the output layer's gradients are right, so the mistake is on the way back "
            "to the first layer: the dropout and ReLU backward passes, the caches you "
            "pass them, or affine_backward's dx"
            if first_layer_only
            else "the output layer's gradients are already wrong: look at softmax_loss and "
            "affine_backward, and at what you pass them"
        )
        raise AssertionError(
            f"{what}: wrong gradients for {', '.join(wrong)} (relative "
            f"errors against numerical gradients); {where}. If a layer test "
            "above fails, fix that layer first."
        )


def two_layer_accuracy(
    params: dict, x: np.ndarray, labels: np.ndarray, batch_size: int = 2000
) -> float:
    """Accuracy of the net in ``params`` (W1 (784, H), b1 (H,), W2 (H, 10), b2 (10,)),
    computed here by its own forward pass (no dropout at test time): a number the
    student's code reports is never trusted. x (N, 28, 28, 1) or (N, 784); labels (N,) int.
    """
    if not isinstance(params, dict) or not set(_PARAM_NAMES) <= set(params):
        raise AssertionError(f"params should be a dict with keys {list(_PARAM_NAMES)}.")
    p = {k: np.asarray(params[k], dtype=np.float32) for k in _PARAM_NAMES}
    flat = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    if (
        p["W1"].shape[0] != flat.shape[1]
        or p["W2"].shape != (p["W1"].shape[1], 10)
        or p["b1"].shape != (p["W1"].shape[1],)
        or p["b2"].shape != (10,)
    ):
        raise AssertionError(
            f"params have shapes W1 {p['W1'].shape}, b1 {p['b1'].shape}, W2 {p['W2'].shape}, "
            f"b2 {p['b2'].shape}; expected W1 ({flat.shape[1]}, H), b1 (H,), W2 (H, 10), "
            "b2 (10,)."
        )
    correct = 0
    for start in range(0, len(flat), batch_size):
        hidden = np.maximum(0.0, flat[start : start + batch_size] @ p["W1"] + p["b1"])
        scores = hidden @ p["W2"] + p["b2"]
        correct += int(np.sum(np.argmax(scores, axis=1) == labels[start : start + batch_size]))
    return correct / len(flat)


def assert_two_layer_accuracy_at_least(
    params: dict, x: np.ndarray, labels: np.ndarray, threshold: float, what: str = "test"
) -> None:
    """Require :func:`two_layer_accuracy` ``>= threshold``. Returns None on purpose (see
    :func:`helpers.grading.assert_accuracy_at_least`)."""
    acc = two_layer_accuracy(params, x, labels)
    if not acc >= threshold:
        raise AssertionError(
            f"The trained network's {what} accuracy is {acc:.4f}; at least "
            f"{threshold:.3f} is needed. Check that every layer test passes, "
            "that the loop updates all four parameters every batch and runs "
            "the stated number of epochs on all training images."
        )
