"""Self-checks for the exercises at the end of every lecture notebook.

A lecture exercise is "predict, then run": the student writes a number, a few numbers or a small
function into a marked cell, and the cell under it calls one of the checks below. The check
compares the answer with a *computation* of the right answer (a formula, a gradient check, a
simulation of the rule), never with a number printed anywhere in the notebook, and answers with a
:class:`Verdict` that a notebook shows as one short message:

* ``Not answered yet: ...`` while the answer is still the placeholder ``None`` (or ``...``, or a
  function that returns ``None``). The lecture notebooks are committed with these placeholders and
  executed by nbval in CI, so a placeholder must never raise.
* ``Not quite: ...`` with a hint when the answer is wrong. Where a wrong answer comes from a
  common slip (forgetting the biases, rounding down, using the variance instead of the standard
  deviation), the hint names that slip; otherwise it points back to the formula.
* ``Correct: ...`` with one sentence on why.

The checks never raise for a wrong or missing answer: a student's notebook keeps running, as
CS231n's inline checks and d2l's exercises do. Exercises whose answer is a sentence (the inline
questions) have no check; their model answers sit in each notebook's collapsed "Answers" section.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from helpers.gradcheck import numerical_gradient, numerical_gradient_array, relative_error

CORRECT, WRONG, NOT_ANSWERED = "correct", "wrong", "not answered"

__all__ = [
    "CORRECT",
    "CONV_STACK",
    "NOT_ANSWERED",
    "WRONG",
    "Verdict",
    "check_affine_dw_by_index",
    "check_best_sgd_learning_rate",
    "check_conv_output_size",
    "check_conv_stack",
    "check_early_stopping",
    "check_first_adam_step",
    "check_he_std",
    "check_initial_loss",
    "check_leaky_relu_std",
    "check_missing_dropout_scale",
    "check_parameter_count",
    "check_recall",
    "check_sgd_stability_limit",
    "check_softmax_loss_gradient",
    "check_steps_per_epoch",
    "check_tanh_backward",
    "check_total_updates",
]


@dataclass(frozen=True, repr=False)
class Verdict:
    """The outcome of one self-check: ``status`` is CORRECT, WRONG or NOT_ANSWERED.

    Its ``repr`` is the message itself, so that a check written as the last line of a notebook
    cell displays one readable sentence instead of a data structure.
    """

    status: str
    message: str

    @property
    def correct(self) -> bool:
        return self.status == CORRECT

    def __repr__(self) -> str:
        return self.message

    __str__ = __repr__


def _not_answered(what: str) -> Verdict:
    return Verdict(NOT_ANSWERED, f"Not answered yet: {what}, then run this cell again.")


def _wrong(text: str) -> Verdict:
    return Verdict(WRONG, f"Not quite: {text}")


def _correct(text: str) -> Verdict:
    return Verdict(CORRECT, f"Correct: {text}")


def _is_placeholder(answer) -> bool:
    return answer is None or answer is Ellipsis


def _as_number(answer) -> float | None:
    """The answer as a float, or None when it is not a single real number (a bool is not one)."""
    if isinstance(answer, bool | np.bool_) or isinstance(answer, str):
        return None
    try:
        value = float(np.asarray(answer, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _check_number(
    answer,
    expected: float,
    *,
    rel_tol: float,
    right: str,
    hint: str,
    slips: Sequence[tuple[float, str]] = (),
    integer: bool = False,
) -> Verdict:
    """Compare one number with the computed ``expected``; name a known slip when the answer matches one.

    ``integer=True`` demands the exact whole number (a count of steps or of parameters), so
    that 195.3 for "195.3125 rounded up" does not pass by tolerance.
    """
    if _is_placeholder(answer):
        return _not_answered("replace `None` in the cell above by your answer")
    value = _as_number(answer)
    if value is None:
        return _wrong(f"the answer should be one number, got {answer!r} ({type(answer).__name__}).")

    def close(a: float, b: float) -> bool:
        if integer:
            return a == b
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-12)

    if close(value, expected):
        return _correct(right)
    for slip_value, slip_hint in slips:
        if close(value, slip_value):
            return _wrong(f"you wrote {answer!r}. {slip_hint}")
    return _wrong(f"you wrote {answer!r}. {hint}")


def _call_student(fn, *args):
    """Call the student's function: (result, None), or (None, a short description of the error)."""
    try:
        return fn(*args), None
    except (
        Exception
    ) as err:  # the student's code may fail in any way; report it, do not crash the cell
        return None, f"{type(err).__name__}: {err}"


# --------------------------------------------------------------------------- lecture 1


def _dense_counts(layer_sizes: Sequence[int]) -> list[int]:
    return [
        n_in * n_out + n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True)
    ]


def check_parameter_count(answer, layer_sizes: Sequence[int]) -> Verdict:
    """Total weights and biases of a stack of Dense layers ``layer_sizes = (n_input, n_1, ..., n_out)``.

    Each layer from n_in to n_out units holds n_in * n_out weights and n_out biases.
    """
    if len(layer_sizes) < 2:
        raise ValueError("layer_sizes needs the input size and at least one layer")
    expected = sum(_dense_counts(layer_sizes))
    if len(layer_sizes) == 2:
        n_in, n_out = layer_sizes
        per_layer = f"{n_in:,} x {n_out:,} weights + {n_out:,} biases"
    else:
        per_layer = " + ".join(f"{c:,}" for c in _dense_counts(layer_sizes))
    no_bias = sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:], strict=True))
    return _check_number(
        answer,
        expected,
        rel_tol=0,
        integer=True,
        right=f"{per_layer} = {expected:,} parameters; every layer adds n_in * n_out weights and n_out biases.",
        hint="Add up n_in * n_out + n_out over the layers; the input layer itself has no parameters.",
        slips=[
            (no_bias, "That is the weights only: every unit also has a bias (n_out per layer)."),
            (
                no_bias + sum(layer_sizes),
                "Only layers with weights have biases; the input has none.",
            ),
        ],
    )


def check_steps_per_epoch(answer, n_samples: int, batch_size: int) -> Verdict:
    """Weight updates in one epoch: ceil(n_samples / batch_size), the last, smaller batch included."""
    expected = math.ceil(n_samples / batch_size)
    last = n_samples - (expected - 1) * batch_size
    return _check_number(
        answer,
        expected,
        rel_tol=0,
        integer=True,
        right=f"ceil({n_samples:,} / {batch_size}) = {expected:,} steps; the last batch holds {last} samples.",
        hint="One step per mini-batch: divide the number of samples by the batch size and round up.",
        slips=[
            (
                n_samples // batch_size,
                "Rounded down: the last, smaller batch is still a step. Round up.",
            ),
            (n_samples / batch_size, "A number of steps is a whole number: round up."),
        ],
    )


def check_total_updates(answer, n_samples: int, batch_size: int, num_epochs: int) -> Verdict:
    """All weight updates of a run: num_epochs * ceil(n_samples / batch_size)."""
    steps = math.ceil(n_samples / batch_size)
    expected = num_epochs * steps
    return _check_number(
        answer,
        expected,
        rel_tol=0,
        integer=True,
        right=f"{num_epochs} epochs x ceil({n_samples:,} / {batch_size}) = {num_epochs} x {steps} = {expected:,}.",
        hint="First the steps per epoch, ceil(samples / batch size), then times the number of epochs.",
        slips=[
            (
                num_epochs * (n_samples // batch_size),
                "The last, smaller batch of every epoch is a step too.",
            ),
            (steps, "That is one epoch; the run has several."),
        ],
    )


def check_initial_loss(answer, num_classes: int = 10) -> Verdict:
    """Cross-entropy of an untrained softmax classifier that gives every class 1/num_classes: ln(num_classes)."""
    expected = math.log(num_classes)
    return _check_number(
        answer,
        expected,
        rel_tol=0.02,
        right=f"-ln(1/{num_classes}) = ln {num_classes} = {expected:.3f}. A first-epoch loss far from this "
        "number is a sign of a bug (or of weights that do not start small).",
        hint="With all probabilities equal, the true class gets 1/num_classes; the loss is -log of that.",
        slips=[
            (1 / num_classes, "That is the probability of the true class; the loss is -log of it."),
            (
                math.log10(num_classes),
                "Keras' cross-entropy uses the natural logarithm, not log10.",
            ),
            (
                1 - 1 / num_classes,
                "That is the error rate of guessing; the loss is -log(probability).",
            ),
        ],
    )


# --------------------------------------------------------------------------- lecture 2


def check_tanh_backward(tanh_backward: Callable) -> Verdict:
    """Gradient-check the student's ``tanh_backward(dout, cache)``, where ``cache`` is the forward output.

    The reference is the numerical gradient of sum(tanh(x) * dout) on random float64 inputs,
    as in the lecture's own checks; the answer must agree to a relative error below 1e-7.
    """
    rng = np.random.default_rng(2024)
    x = rng.standard_normal((4, 5))
    dout = rng.standard_normal((4, 5))
    out = np.tanh(x)
    dx, error = _call_student(tanh_backward, dout, out.copy())
    if error is None and dx is None:
        return _not_answered("write the body of `tanh_backward` (it still returns None)")
    if error is not None:
        return _wrong(f"tanh_backward raised {error}")
    dx = np.asarray(dx, dtype=np.float64)
    if dx.shape != x.shape:
        return _wrong(f"dx must have the shape of x, {x.shape}; got {dx.shape}.")
    numeric = numerical_gradient_array(np.tanh, x, dout)
    err = relative_error(dx, numeric)
    if err < 1e-7:
        return _correct(
            f"relative error {err:.1e} < 1e-7. d tanh(x)/dx = 1 - tanh(x)^2, "
            "written with the cached output, like sigmoid's y(1 - y)."
        )
    if relative_error(dx, dout * out * (1 - out)) < 1e-12:
        return _wrong(
            f"relative error {err:.1e}. That is sigmoid's local gradient y(1 - y); "
            "tanh's is 1 - y^2."
        )
    if relative_error(dx, 1 - out**2) < 1e-12:
        return _wrong(
            f"relative error {err:.1e}. You returned the local gradient alone; "
            "multiply it by the upstream gradient dout."
        )
    return _wrong(
        f"relative error {err:.1e} (needs < 1e-7). Use y = tanh(x) from the cache: "
        "dx = dout * (local gradient of tanh at x)."
    )


def check_affine_dw_by_index(affine_dw_by_index: Callable) -> Verdict:
    """Check a loop version of dL/dW_ij = sum_n x_ni * dL/dy_nj against the matrix form x.T @ dout."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3))
    dout = rng.standard_normal((4, 2))
    dw, error = _call_student(affine_dw_by_index, x.copy(), dout.copy())
    if error is None and dw is None:
        return _not_answered("write the loops of `affine_dw_by_index` (it still returns None)")
    if error is not None:
        return _wrong(f"affine_dw_by_index raised {error}")
    dw = np.asarray(dw, dtype=np.float64)
    expected = x.T @ dout
    if dw.shape != expected.shape:
        return _wrong(f"dW has the shape of W, (D, M) = {expected.shape}; got {dw.shape}.")
    if np.allclose(dw, expected, rtol=1e-10, atol=1e-12):
        return _correct(
            "your loops give exactly X^T dL/dY: the matrix product *is* the sum over "
            "the batch, one dot product per entry (i, j)."
        )
    if np.allclose(dw, expected / len(x)):
        return _wrong(
            "your dW is the sum divided by N. The loss already averages over the batch "
            "(dL/dY carries the 1/N); dW is a plain sum over the samples."
        )
    return _wrong("dW[i, j] = sum over n of x[n, i] * dout[n, j]; loop over i, j and n.")


def check_softmax_loss_gradient(answer, scores, labels) -> Verdict:
    """dL/dscores of mean softmax cross-entropy: (softmax(scores) - onehot(labels)) / N.

    The reference is the numerical gradient of the loss, so the check does not rely on the
    formula it is testing.
    """
    if _is_placeholder(answer):
        return _not_answered("replace `None` in the cell above by your (N, C) array")
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    n = len(scores)

    def loss(s):
        shifted = s - s.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -log_probs[np.arange(n), labels].mean()

    expected = numerical_gradient(loss, scores.copy())
    try:
        given = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        return _wrong(f"dscores should be an array of numbers, got {answer!r}.")
    if given.shape != scores.shape:
        return _wrong(f"dscores has the shape of the scores, {scores.shape}; got {given.shape}.")
    if np.allclose(given, expected, atol=1e-6):
        return _correct(
            "(y_hat - t) / N: every probability minus its target, divided by the batch "
            "size because the loss is a mean. Each row sums to 0."
        )
    if np.allclose(given, expected * n, atol=1e-6):
        return _wrong(
            "this is y_hat - t for one sample; the loss is a mean over N rows, so divide by N."
        )
    if np.allclose(given, -expected, atol=1e-6):
        return _wrong("the sign is flipped: the gradient is y_hat - t (probability minus target).")
    return _wrong(
        "compute the softmax of each row (all scores equal means all probabilities "
        "equal), subtract the one-hot target, divide by N."
    )


# --------------------------------------------------------------------------- lecture 3

# f(x, y) = x^2/20 + y^2 has the second derivatives 1/10 in x and 2 in y.
BOWL_CURVATURES = (0.1, 2.0)


def check_sgd_stability_limit(answer, curvatures: Sequence[float] = BOWL_CURVATURES) -> Verdict:
    """Largest learning rate for which SGD converges on a quadratic bowl: 2 / (largest curvature).

    Per coordinate, one step multiplies the distance to the minimum by (1 - eta * c); it shrinks
    only while |1 - eta * c| < 1, i.e. eta < 2 / c, and the steepest direction sets the limit.
    """
    c_max, c_min = max(curvatures), min(curvatures)
    return _check_number(
        answer,
        2 / c_max,
        rel_tol=1e-3,
        right=f"|1 - {c_max:g} eta| < 1 needs eta < 2/{c_max:g} = {2 / c_max:g}. Above it the steep "
        "direction overshoots further every step and diverges; the flat one would allow "
        f"{2 / c_min:g}.",
        hint="Write one SGD step per coordinate as y <- (1 - eta * c) y with c the second derivative, "
        "and ask when |1 - eta * c| < 1 holds in both coordinates.",
        slips=[
            (
                2 / c_min,
                "That is the limit of the flat x direction; the steep y direction diverges long before.",
            ),
            (
                1 / c_max,
                "At that rate y reaches 0 in one step; the limit is where |1 - eta * c| reaches 1.",
            ),
            (
                1 / c_min,
                "Look at the steep direction: its factor 1 - eta * c leaves (-1, 1) first.",
            ),
        ],
    )


def check_best_sgd_learning_rate(answer, curvatures: Sequence[float] = BOWL_CURVATURES) -> Verdict:
    """The single learning rate that makes SGD's slowest coordinate shrink fastest: 2 / (c_min + c_max).

    SGD's rate of convergence is max(|1 - eta c_min|, |1 - eta c_max|); the first term falls and
    the second rises with eta, so the maximum is smallest where they are equal.
    """
    c_max, c_min = max(curvatures), min(curvatures)
    best = 2 / (c_min + c_max)
    factor = (c_max - c_min) / (c_max + c_min)
    lecture = ", the lecture's 0.95" if tuple(curvatures) == BOWL_CURVATURES else ""
    return _check_number(
        answer,
        best,
        rel_tol=5e-3,
        right=f"1 - {c_min:g} eta = {c_max:g} eta - 1 gives eta = 2/({c_min:g} + {c_max:g}) = "
        f"{best:.4f}{lecture}. Both factors are then {factor:.3f} in size: even the best single "
        f"learning rate only shrinks the distance by about {(1 - factor):.0%} per step.",
        hint=f"The slower of the two coordinates decides: minimise "
        f"max(|1 - {c_min:g} eta|, |1 - {c_max:g} eta|). Where do the two curves cross?",
        slips=[
            (
                2 / c_max,
                "That is the stability limit: there the steep direction no longer shrinks.",
            ),
            (
                1 / c_max,
                "Then the steep direction is solved in one step, but the flat one barely moves.",
            ),
            (2 / c_min, "That rate makes the steep direction diverge."),
        ],
    )


def check_first_adam_step(
    answer,
    learning_rate: float,
    gradient: float,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
) -> Verdict:
    """Size of Adam's very first step from m = v = 0, computed with Keras' formula (the lecture's ``Adam``)."""
    m = (1 - beta_1) * gradient
    v = (1 - beta_2) * gradient**2
    alpha = learning_rate * math.sqrt(1 - beta_2) / (1 - beta_1)
    expected = abs(alpha * m / (math.sqrt(v) + epsilon))
    return _check_number(
        answer,
        expected,
        rel_tol=0.01,
        right=f"{expected:.4g}, about the learning rate {learning_rate:g} whatever the size of the gradient: "
        "after bias correction m_hat = g and v_hat = g^2, so the first step is eta * g/|g|. "
        "Adam's steps are measured in units of the learning rate, not of the gradient.",
        hint="After one step, m = (1 - beta_1) g and v = (1 - beta_2) g^2; apply the bias corrections "
        "and the update W <- W - eta m_hat / (sqrt(v_hat) + eps). Give the size (absolute value).",
        slips=[
            (
                learning_rate * abs(gradient),
                "That is SGD's step, eta * |g|; Adam divides by sqrt(v_hat) ≈ |g|.",
            ),
            (
                learning_rate * (1 - beta_1) / math.sqrt(1 - beta_2),
                "You left out the bias correction: m_hat = m / (1 - beta_1), v_hat = v / (1 - beta_2).",
            ),
        ],
    )


# --------------------------------------------------------------------------- lecture 4


def check_he_std(answer, n: int) -> Verdict:
    """He initialisation for a ReLU layer with n inputs: standard deviation sqrt(2 / n)."""
    expected = math.sqrt(2 / n)
    return _check_number(
        answer,
        expected,
        rel_tol=0.01,
        right=f"sqrt(2/{n}) = {expected:.4f}. Var(z) = n sigma^2 E[a^2], and after a ReLU "
        "E[a^2] = Var(z)/2, so the variance stays the same from layer to layer when n sigma^2 = 2.",
        hint="Keep Var(z) = n sigma^2 E[a^2] equal to Var of the previous layer's z, with "
        "E[ReLU(z)^2] = Var(z)/2.",
        slips=[
            (
                1 / math.sqrt(n),
                "That is Xavier's 1/sqrt(n); ReLU discards half the signal, so double the variance.",
            ),
            (2 / n, "That is the variance; the standard deviation is its square root."),
            (
                math.sqrt(1 / (2 * n)),
                "Upside down: ReLU halves the signal, so the variance must be doubled, not halved.",
            ),
        ],
    )


def check_leaky_relu_std(leaky_relu_std: Callable) -> Verdict:
    """Std that keeps the signal's size through leaky ReLU layers: sqrt(2 / ((1 + alpha^2) n)).

    For symmetric z, E[f(z)^2] = (1 + alpha^2) Var(z) / 2 when f(z) = z for z > 0 and alpha z
    otherwise; n sigma^2 (1 + alpha^2) / 2 = 1 gives the answer. alpha = 0 is He, alpha = 1 Xavier.
    """
    cases = [(100, 0.0), (100, 0.1), (784, 0.2), (50, 1.0), (256, 0.5)]
    given = []
    for n, alpha in cases:
        value, error = _call_student(leaky_relu_std, n, alpha)
        if error is not None:
            return _wrong(f"leaky_relu_std({n}, {alpha}) raised {error}")
        if value is None:
            return _not_answered("write the body of `leaky_relu_std` (it still returns None)")
        number = _as_number(value)
        if number is None:
            return _wrong(f"leaky_relu_std({n}, {alpha}) should return one number, got {value!r}.")
        given.append(number)
    expected = [math.sqrt(2 / ((1 + a * a) * n)) for n, a in cases]
    if all(math.isclose(g, e, rel_tol=1e-6) for g, e in zip(given, expected, strict=True)):
        return _correct(
            "sqrt(2 / ((1 + alpha^2) n)): alpha = 0 gives He's sqrt(2/n), alpha = 1 (the "
            "identity) gives Xavier's sqrt(1/n)."
        )
    if all(
        math.isclose(g, math.sqrt(2 / n), rel_tol=1e-6)
        for g, (n, _) in zip(given, cases, strict=True)
    ):
        return _wrong(
            "your function ignores alpha: the negative side now keeps alpha^2 of its energy."
        )
    for (n, alpha), g, e in zip(cases, given, strict=True):
        if not math.isclose(g, e, rel_tol=1e-6):
            return _wrong(
                f"leaky_relu_std({n}, {alpha}) = {g:.5g}. Compute E[f(z)^2] for a symmetric z: "
                "the positive half keeps Var(z)/2, the negative half alpha^2 Var(z)/2."
            )
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- lecture 5


def check_missing_dropout_scale(answer, p: float) -> Verdict:
    """Dropout with no rescaling at all: how much larger a unit's output is at inference, 1 / (1 - p).

    During training a unit survives with probability 1 - p, so its average output is (1 - p) x;
    at inference it passes x. Inverted dropout divides by 1 - p in training, the original form
    multiplies by 1 - p at inference; without either the two phases disagree by 1 / (1 - p).
    """
    expected = 1 / (1 - p)
    return _check_number(
        answer,
        expected,
        rel_tol=1e-3,
        right=f"during training a unit is kept with probability 1 - p = {1 - p:g}, so on average it "
        f"passes {1 - p:g} x; at inference it passes x, 1/(1 - p) = {expected:.3f} times as much. The "
        "next layer was trained on smaller inputs than it gets at test time, and its outputs "
        "shift by the same factor.",
        hint="Compare E[m x], with m = 1 with probability 1 - p and 0 otherwise, with the "
        "inference output x.",
        slips=[
            (1 - p, "That is training over inference; the question asks inference over training."),
            (1 / p, "p is the probability of dropping; a unit survives with probability 1 - p."),
            (
                1.0,
                "Without any rescaling the two phases differ: dropped units contribute 0 in training.",
            ),
        ],
    )


def _early_stopping_rule(values: Sequence[float], patience: int, mode: str) -> tuple[int, int]:
    """(epoch at which training stops, epoch of the best value), both counted from 1.

    Keras' rule with min_delta = 0: an epoch improves when it is strictly better than the best so
    far; training stops at the end of the epoch that makes the count of non-improving epochs
    reach ``patience``; if that never happens it runs all epochs.
    """
    better = (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b)
    best, best_epoch, wait = None, 0, 0
    for epoch, value in enumerate(values, start=1):
        if best is None or better(value, best):
            best, best_epoch, wait = value, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch, best_epoch
    return len(values), best_epoch


def check_early_stopping(
    answer, values: Sequence[float], patience: int, mode: str = "min"
) -> Verdict:
    """``answer = (stop_epoch, restored_epoch)`` for EarlyStopping(patience, restore_best_weights=True).

    The reference replays Keras' rule on ``values`` (the monitored metric per epoch, epoch 1
    first); ``mode`` is "min" for a loss and "max" for an accuracy.
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    if _is_placeholder(answer):
        return _not_answered(
            "replace `None` in the cell above by a pair (stop epoch, restored epoch)"
        )
    try:
        stop, restored = (int(v) for v in answer)
    except (TypeError, ValueError):
        return _wrong(f"answer with a pair of epoch numbers such as (7, 4); got {answer!r}.")
    expected_stop, expected_best = _early_stopping_rule(values, patience, mode)
    if (stop, restored) == (expected_stop, expected_best):
        return _correct(
            f"the best value comes at epoch {expected_best}; {patience} epochs without a strict "
            f"improvement end training after epoch {expected_stop}, and restore_best_weights "
            f"puts back the weights of epoch {expected_best}."
        )
    if restored != expected_best:
        return _wrong(
            f"the restored weights are those of the epoch with the best monitored value "
            f"({'lowest' if mode == 'min' else 'highest'}; a tie is not an improvement). "
            "Count epochs from 1."
        )
    if stop == expected_best + patience and stop != expected_stop:
        return _wrong(
            "careful: an epoch that only equals the best value does not count as an "
            "improvement, and a later improvement resets the count."
        )
    return _wrong(
        f"training stops at the end of the epoch that is the {patience}th in a row without "
        "improving on the best value so far. Count epochs from 1."
    )


# --------------------------------------------------------------------------- lecture 6

# The stack of lecture 6's exercise: Keras layers written as data, (kind, *settings).
CONV_STACK = (
    ("conv", 16, 5, "valid"),  # Conv2D(16, 5), stride 1
    ("pool", 2),  # MaxPooling2D(2)
    ("conv", 32, 3, "same"),  # Conv2D(32, 3, padding="same")
    ("pool", 2),  # MaxPooling2D(2)
    ("flatten",),  # Flatten()
    ("dense", 10),  # Dense(10, activation="softmax")
)


def _conv_stack_reference(input_shape, layers) -> tuple[list[tuple[int, ...]], list[int]]:
    """Output shape (without the batch axis) and parameter count of every layer of ``layers``."""
    shape = tuple(input_shape)
    shapes, params = [], []
    for layer in layers:
        kind = layer[0]
        if kind == "conv":
            _, filters, size, padding = layer
            h, w, c = shape
            pad = (size - 1) // 2 if padding == "same" else 0
            shape = (h + 2 * pad - size + 1, w + 2 * pad - size + 1, filters)
            params.append(size * size * c * filters + filters)
        elif kind == "pool":
            size = layer[1]
            h, w, c = shape
            shape = (h // size, w // size, c)
            params.append(0)
        elif kind == "flatten":
            shape = (int(np.prod(shape)),)
            params.append(0)
        elif kind == "dense":
            params.append(shape[0] * layer[1] + layer[1])
            shape = (layer[1],)
        else:
            raise ValueError(f"unknown layer kind {kind!r}")
        shapes.append(shape)
    return shapes, params


def check_conv_stack(shapes, params, input_shape=(28, 28, 1), layers=CONV_STACK) -> Verdict:
    """Per-layer output shapes (without the batch axis) and parameter counts of a conv stack.

    The reference applies OH = (H + 2P - FH)/S + 1 (stride 1; pooling halves, rounding down) and
    FH * FW * C * K + K parameters per convolution, layer by layer; the first wrong layer is named.
    """
    if _is_placeholder(shapes) or _is_placeholder(params):
        return _not_answered("fill in both lists, `shapes` and `params`, one entry per layer")
    expected_shapes, expected_params = _conv_stack_reference(input_shape, layers)
    try:
        shapes = [tuple(int(d) for d in s) for s in shapes]
        params = [int(p) for p in params]
    except (TypeError, ValueError):
        return _wrong(
            "`shapes` is a list of tuples such as (24, 24, 16) and `params` a list of whole numbers."
        )
    if len(shapes) != len(layers) or len(params) != len(layers):
        return _wrong(
            f"one entry per layer: the stack has {len(layers)} layers, you gave "
            f"{len(shapes)} shapes and {len(params)} parameter counts."
        )
    for i, (layer, got, want) in enumerate(
        zip(layers, shapes, expected_shapes, strict=True), start=1
    ):
        if got != want:
            tips = {
                "conv": "OH = (H + 2P - FH)/S + 1; 'valid' means P = 0, 'same' keeps H and W; "
                "the channels are the number of filters.",
                "pool": "a 2x2 pool with stride 2 halves height and width (rounding down) and keeps the channels.",
                "flatten": "Flatten multiplies height x width x channels.",
                "dense": "Dense outputs one number per unit.",
            }
            return _wrong(
                f"{got} is not the output shape of layer {i} ({layer[0]}). {tips[layer[0]]}"
            )
    for i, (layer, got, want) in enumerate(
        zip(layers, params, expected_params, strict=True), start=1
    ):
        if got != want:
            if layer[0] == "conv":
                _, filters, size, _ = layer
                channels = (input_shape if i == 1 else expected_shapes[i - 2])[-1]
                if got == size * size * filters + filters and channels > 1:
                    tip = f"each filter spans all {channels} input channels: FH x FW x C weights."
                elif got == size * size * channels * filters:
                    tip = "every filter also has one bias."
                else:
                    tip = "a convolution has FH x FW x C x K weights and K biases."
            elif layer[0] == "dense":
                tip = "n_in x n_out weights plus n_out biases, with n_in the flattened size."
            else:
                tip = "pooling and Flatten have no weights."
            return _wrong(f"the parameter count of layer {i} ({layer[0]}) is not {got:,}: {tip}")
    return _correct(
        f"shapes {expected_shapes[-3:]} at the end and {sum(expected_params):,} parameters in all; "
        f"the dense layer holds {expected_params[-1] / sum(expected_params):.0%} of them."
    )


def check_conv_output_size(answer, size: int, f: int, p: int, s: int) -> Verdict:
    """Output height of a convolution: floor((size + 2p - f) / s) + 1."""
    expected = (size + 2 * p - f) // s + 1
    exact = (size + 2 * p - f) / s + 1
    return _check_number(
        answer,
        expected,
        rel_tol=0,
        integer=True,
        right=f"({size} + 2*{p} - {f}) / {s} + 1 = {exact:g}"
        + (f", rounded down to {expected}." if exact != expected else "."),
        hint="OH = (H + 2P - FH) / S + 1, rounded down.",
        slips=[
            (exact, "Positions that do not fit are skipped: round down."),
            (
                math.ceil(exact),
                "Round down, not up: the last position would stick out of the padded input.",
            ),
            ((size - f) // s + 1, "You left out the padding: it adds P on both sides, 2P in all."),
        ],
    )


# --------------------------------------------------------------------------- lecture 7


def check_recall(answer, confusion, class_index: int) -> Verdict:
    """Recall of one class from a confusion matrix (rows = true class): diagonal / row sum."""
    cm = np.asarray(confusion, dtype=np.float64)
    row = cm[class_index]
    expected = row[class_index] / row.sum()
    precision = cm[class_index, class_index] / cm[:, class_index].sum()
    return _check_number(
        answer,
        expected,
        rel_tol=1e-3,
        right=f"{int(row[class_index])} of the {int(row.sum())} images of this class were recognised: {expected:.3f}.",
        hint="Recall looks at one row (the true class): the diagonal entry divided by the row's sum.",
        slips=[
            (
                precision,
                "That divides by the column (how often the model *predicted* the class): "
                "that is precision. Recall divides by the row.",
            ),
            (float(np.trace(cm) / cm.sum()), "That is the overall accuracy of the whole table."),
        ],
    )
