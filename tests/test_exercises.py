"""The lecture exercises' self-checks: right answers pass, wrong ones get a hint, placeholders are "not answered".

Each case is data: the check, the reference answer (computed here independently where that is
possible), a typical wrong answer with a phrase its hint must contain, and the placeholder the
notebooks are committed with. The lecture notebooks run these checks on their placeholders under
nbval, so a check must never raise on a placeholder or a wrong answer.
"""

import math

import numpy as np
import pytest

from helpers import exercises as ex


def _no_answer(*_args):
    return None


def _tanh_backward(dout, cache):
    return dout * (1 - cache**2)


def _sigmoid_style_backward(dout, cache):
    return dout * cache * (1 - cache)


def _dw_loops(x, dout):
    dw = np.zeros((x.shape[1], dout.shape[1]))
    for i in range(x.shape[1]):
        for j in range(dout.shape[1]):
            dw[i, j] = sum(x[n, i] * dout[n, j] for n in range(x.shape[0]))
    return dw


ZERO_SCORES, LABELS = np.zeros((2, 4)), np.array([2, 0])
SOFTMAX_GRAD = (np.full((2, 4), 0.25) - np.eye(4)[LABELS]) / 2
VAL_LOSS = [0.30, 0.25, 0.24, 0.26, 0.24, 0.27, 0.23, 0.25]
CONV_SHAPES = [(24, 24, 16), (12, 12, 16), (12, 12, 32), (6, 6, 32), (1152,), (10,)]
CONV_PARAMS = [5 * 5 * 16 + 16, 0, 3 * 3 * 16 * 32 + 32, 0, 0, 1152 * 10 + 10]
CONFUSION = [[80, 5, 15], [10, 60, 30], [5, 10, 85]]

# (id, check, reference answer, wrong answer, phrase of the wrong answer's hint, placeholder)
CASES = [
    (
        "dense params",
        lambda a: ex.check_parameter_count(a, (784, 128, 64, 10)),
        784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10,
        784 * 128 + 128 * 64 + 64 * 10,
        "bias",
        None,
    ),
    (
        "steps per epoch",
        lambda a: ex.check_steps_per_epoch(a, 50_000, 256),
        196,
        195,
        "Round up",
        None,
    ),
    (
        "total updates",
        lambda a: ex.check_total_updates(a, 48_000, 100, 50),
        24_000,
        480,
        "one epoch",
        None,
    ),
    ("initial loss", lambda a: ex.check_initial_loss(a, 10), math.log(10), 0.1, "-log", None),
    (
        "tanh backward",
        ex.check_tanh_backward,
        _tanh_backward,
        _sigmoid_style_backward,
        "1 - y^2",
        _no_answer,
    ),
    (
        "affine dW by index",
        ex.check_affine_dw_by_index,
        _dw_loops,
        lambda x, d: _dw_loops(x, d) / len(x),
        "plain sum",
        _no_answer,
    ),
    (
        "softmax gradient",
        lambda a: ex.check_softmax_loss_gradient(a, ZERO_SCORES, LABELS),
        SOFTMAX_GRAD,
        SOFTMAX_GRAD * 2,
        "divide by N",
        None,
    ),
    ("SGD stability limit", ex.check_sgd_stability_limit, 1.0, 20.0, "flat x direction", None),
    ("best SGD rate", ex.check_best_sgd_learning_rate, 2 / 2.1, 1.0, "stability limit", None),
    (
        "first Adam step",
        lambda a: ex.check_first_adam_step(a, 0.3, 0.001),
        0.3,
        0.0003,
        "SGD's step",
        None,
    ),
    ("He std", lambda a: ex.check_he_std(a, 784), math.sqrt(2 / 784), 1 / 28, "Xavier", None),
    (
        "leaky ReLU std",
        ex.check_leaky_relu_std,
        lambda n, a: math.sqrt(2 / ((1 + a * a) * n)),
        lambda n, a: math.sqrt(2 / n),
        "ignores alpha",
        _no_answer,
    ),
    (
        "dropout without rescaling",
        lambda a: ex.check_missing_dropout_scale(a, 0.3),
        1 / 0.7,
        0.7,
        "training over inference",
        None,
    ),
    (
        "early stopping",
        lambda a: ex.check_early_stopping(a, VAL_LOSS, patience=3),
        (6, 3),
        (8, 5),
        "tie is not an improvement",
        None,
    ),
    (
        "conv stack",
        lambda a: ex.check_conv_stack(*a),
        (CONV_SHAPES, CONV_PARAMS),
        (CONV_SHAPES, [*CONV_PARAMS[:2], 3 * 3 * 32 + 32, *CONV_PARAMS[3:]]),
        "all 16 input channels",
        (None, None),
    ),
    (
        "conv output size",
        lambda a: ex.check_conv_output_size(a, 28, 3, 1, 2),
        14,
        15,
        "Round down",
        None,
    ),
    ("recall", lambda a: ex.check_recall(a, CONFUSION, 1), 0.6, 0.8, "precision", None),
]
IDS = [case[0] for case in CASES]


@pytest.mark.parametrize(("name", "check", "right", "wrong", "hint", "placeholder"), CASES, ids=IDS)
def test_reference_answer_passes(name, check, right, wrong, hint, placeholder):
    verdict = check(right)
    assert verdict.status == ex.CORRECT, f"{name}: {verdict}"
    assert repr(verdict).startswith("Correct: ")


@pytest.mark.parametrize(("name", "check", "right", "wrong", "hint", "placeholder"), CASES, ids=IDS)
def test_wrong_answer_gets_its_hint(name, check, right, wrong, hint, placeholder):
    verdict = check(wrong)
    assert verdict.status == ex.WRONG, f"{name}: {verdict}"
    assert repr(verdict).startswith("Not quite: ")
    assert hint in verdict.message, f"{name}: hint {hint!r} missing from {verdict.message!r}"


@pytest.mark.parametrize(("name", "check", "right", "wrong", "hint", "placeholder"), CASES, ids=IDS)
def test_placeholder_is_not_answered(name, check, right, wrong, hint, placeholder):
    verdict = check(placeholder)
    assert verdict.status == ex.NOT_ANSWERED, f"{name}: {verdict}"
    assert repr(verdict).startswith("Not answered yet: ")


@pytest.mark.parametrize("answer", ["0.7", True, [1, 2], float("nan"), object()])
def test_answers_of_the_wrong_kind_are_wrong_not_errors(answer):
    assert ex.check_missing_dropout_scale(answer, 0.3).status == ex.WRONG
    assert ex.check_early_stopping(answer, VAL_LOSS, patience=3).status == ex.WRONG
    assert ex.check_conv_stack(answer, answer).status == ex.WRONG
    assert ex.check_softmax_loss_gradient(answer, ZERO_SCORES, LABELS).status == ex.WRONG


def test_a_student_function_that_raises_is_reported_not_raised():
    def broken(*_args):
        raise ValueError("shapes do not match")

    for check in (ex.check_tanh_backward, ex.check_affine_dw_by_index, ex.check_leaky_relu_std):
        verdict = check(broken)
        assert verdict.status == ex.WRONG
        assert "ValueError: shapes do not match" in verdict.message


def test_counts_must_be_exact():
    """A count of steps or parameters is a whole number: 195.3 is not "close enough" to 196."""
    assert ex.check_steps_per_epoch(50_000 / 256, 50_000, 256).status == ex.WRONG
    assert ex.check_steps_per_epoch(196.0, 50_000, 256).status == ex.CORRECT
    assert ex.check_steps_per_epoch(np.int64(196), 50_000, 256).status == ex.CORRECT


@pytest.mark.parametrize("patience", [1, 2, 3, 4])
@pytest.mark.parametrize(
    ("values", "mode"),
    [
        (VAL_LOSS, "min"),
        ([0.90, 0.93, 0.95, 0.94, 0.945, 0.95, 0.96, 0.97], "max"),
        ([0.5, 0.4, 0.3, 0.2], "min"),
        ([0.3, 0.3, 0.3, 0.3, 0.3], "min"),
    ],
)
def test_early_stopping_rule_is_keras_rule(values, mode, patience):
    """The check's replay of EarlyStopping agrees with Keras' own callback on the same logs."""
    import keras

    from helpers.grading import run_callback_on_logs

    monitor = "val_loss" if mode == "min" else "val_accuracy"
    callback = keras.callbacks.EarlyStopping(
        monitor=monitor, patience=patience, restore_best_weights=True
    )
    run = run_callback_on_logs(callback, [{monitor: v} for v in values])
    keras_stop = run.stopped_after_epoch or len(values)
    assert ex._early_stopping_rule(values, patience, mode) == (keras_stop, callback.best_epoch + 1)


def test_conv_stack_reference_matches_keras():
    """The shapes and parameter counts the conv-stack check expects are what Keras builds."""
    import keras

    layers = {
        "conv": lambda k, f, pad: keras.layers.Conv2D(k, f, padding=pad),
        "pool": keras.layers.MaxPooling2D,
        "flatten": keras.layers.Flatten,
        "dense": keras.layers.Dense,
    }
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), *(layers[spec[0]](*spec[1:]) for spec in ex.CONV_STACK)]
    )
    shapes, params = ex._conv_stack_reference((28, 28, 1), ex.CONV_STACK)
    assert shapes == [tuple(layer.output.shape[1:]) for layer in model.layers]
    assert params == [layer.count_params() for layer in model.layers]
    assert ex.check_conv_stack(shapes, params).correct
