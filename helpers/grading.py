"""Checks used by the graded missions' tests, with failure messages a student can act on.

Every check raises ``AssertionError`` with a sentence in plain words, e.g.
"Expected 50 units in the hidden Dense layer, found 64." so nbgrader's feedback
(which shows only ``ename: evalue`` of a hidden test, see ``autograder/feedback.py``)
tells the student what to fix without revealing the test's code.

Three principles:

* **Never trust a number the student returns.** Accuracy is computed here, from the
  model's raw outputs (``model(x, training=False)``) in batches, never through
  ``model.evaluate``/``model.predict`` or a value the student's function reports.
* **Judge what a model is and does, not how it is spelled.** Layers are compared by type,
  units and parameter count; an activation by its outputs on probe inputs (so
  ``"relu"``, ``keras.activations.relu``, ``tf.nn.relu`` and a ``ReLU()`` layer after the
  Dense layer are the same); the loss by its values and the optimizer by its class; the
  metric by what it computes and the name training logs it under.
* **Notice monkey-patching.** Importing this module snapshots the functions the
  checks rely on (``keras.Model.fit/evaluate/predict/__call__``, ``numpy.argmax``,
  ``numpy.testing.assert_*``, ``builtins.print``, the data loaders, ...) and compares
  this module's own checks with a copy compiled from its file on disk.
  :func:`assert_not_tampered` fails with a clear message when any of them was replaced
  afterwards. The mission notebooks import this module in a locked
  cell before any student cell, so the snapshot holds the originals.

Limits: a check running in the same Python process as the student's code can be
defeated by a determined student (nothing in-process is a sandbox). These checks
catch accidental and casual tampering; instructors still read the submissions.
"""

from __future__ import annotations

import builtins
import contextlib
import inspect
import io
import math
import os
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import keras
import numpy as np
import numpy.testing

import helpers.backprop_diagnosis
import helpers.datasets
import helpers.gradcheck
import helpers.mission_data
import helpers.preprocessing

# Mission 5's NumPy checks live in their own module; the tests reach them as grading.<name>
# so that one import, taken before any student cell, covers them (see _tamper_targets).
from helpers.backprop_diagnosis import (  # noqa: F401 - re-exported through _BACKPROP_CHECKS
    assert_affine_layer,
    assert_dropout_layer,
    assert_momentum_update,
    assert_relu_layer,
    assert_softmax_loss,
    assert_two_layer_accuracy_at_least,
    assert_two_layer_gradients,
    two_layer_accuracy,
)

# Every public name of backprop_diagnosis but its tolerance constant: one list, kept there.
_BACKPROP_CHECKS = tuple(
    name for name in helpers.backprop_diagnosis.__all__ if name != "GRADIENT_TOLERANCE"
)

__all__ = [
    *_BACKPROP_CHECKS,
    "CallbackRun",
    "FitRecord",
    "LayerSpec",
    "activation_name",
    "assert_accuracy_at_least",
    "assert_compiled",
    "assert_dense_architecture",
    "assert_history",
    "assert_inference_deterministic",
    "assert_is_model",
    "assert_layers",
    "assert_not_tampered",
    "compile_settings",
    "describe_layers",
    "fresh_mission_data",
    "mnist_accuracy",
    "record_fits",
    "run_callback_on_logs",
    "test_accuracy",
]

# --------------------------------------------------------------------------- originals
# Bound here, at import time, so the checks below keep using the originals even if a
# student's cell replaces ``np.argmax`` or ``print`` later.
_argmax = np.argmax
_asarray = np.asarray
_concatenate = np.concatenate
_array_equal = np.array_equal
_isinstance = builtins.isinstance
_len = builtins.len
_print = builtins.print


def _tamper_targets() -> list[tuple[str, Any, str]]:
    """(label, owner, attribute) for everything :func:`assert_not_tampered` watches."""
    targets: list[tuple[str, Any, str]] = []
    for name in (
        "fit",
        "evaluate",
        "predict",
        "__call__",
        "compile",
        "count_params",
        "get_compile_config",
        "get_weights",
        "set_weights",
        "summary",
    ):
        targets.append((f"keras.Model.{name}", keras.Model, name))
    for name in ("call", "__call__", "fit", "evaluate", "predict"):
        targets.append((f"keras.Sequential.{name}", keras.Sequential, name))
    targets.append(("keras.layers.Layer.__call__", keras.layers.Layer, "__call__"))
    for cls in (keras.layers.Dense, keras.layers.Dropout, keras.layers.Flatten):
        targets.append((f"keras.layers.{cls.__name__}.call", cls, "call"))
    targets.append(
        (
            "keras.callbacks.EarlyStopping.on_epoch_end",
            keras.callbacks.EarlyStopping,
            "on_epoch_end",
        )
    )
    targets.append(
        ("keras.callbacks.History.on_epoch_end", keras.callbacks.History, "on_epoch_end")
    )
    targets.append(("keras.ops.convert_to_numpy", keras.ops, "convert_to_numpy"))
    for name in (
        "argmax",
        "mean",
        "sum",
        "equal",
        "asarray",
        "array",
        "array_equal",
        "allclose",
        "isclose",
        "concatenate",
        "all",
        "any",
    ):
        targets.append((f"numpy.{name}", np, name))
    for name in sorted(dir(numpy.testing)):
        if name.startswith("assert_"):
            targets.append((f"numpy.testing.{name}", numpy.testing, name))
    for name in (
        "print",
        "isinstance",
        "len",
        "abs",
        "round",
        "float",
        "int",
        "all",
        "any",
        "getattr",
        "hasattr",
        "type",
        "range",
        "sorted",
        "max",
        "min",
        "sum",
        "repr",
        "str",
        "__import__",
    ):
        targets.append((f"builtins.{name}", builtins, name))
    targets.append(("helpers.datasets.load_mnist", helpers.datasets, "load_mnist"))
    targets.append(
        ("helpers.mission_data.load_mission_data", helpers.mission_data, "load_mission_data")
    )
    for name in ("scale_images", "add_channel_axis", "one_hot", "train_val_split"):
        targets.append((f"helpers.preprocessing.{name}", helpers.preprocessing, name))
    for name in ("numerical_gradient", "numerical_gradient_array", "norm_relative_error"):
        targets.append((f"helpers.gradcheck.{name}", helpers.gradcheck, name))
    for name in ("numerical_gradient", "numerical_gradient_array", "relative_error"):
        targets.append((f"helpers.backprop_diagnosis.{name}", helpers.backprop_diagnosis, name))
    for name in _BACKPROP_CHECKS:
        targets.append((f"helpers.backprop_diagnosis.{name}", helpers.backprop_diagnosis, name))
        targets.append((f"helpers.grading.{name}", sys.modules[__name__], name))
    for name in ("maximum", "exp", "log", "eye", "isfinite", "random.default_rng"):
        owner, attr = (np.random, "default_rng") if "." in name else (np, name)
        targets.append((f"numpy.{name}", owner, attr))
    return targets


# Under nbgrader (validate or autograde), a warning printed to stderr inside a test cell
# makes nbgrader score that cell 0 even when every check passed: silence them there.
if os.environ.get("NBGRADER_EXECUTION"):
    warnings.filterwarnings("ignore")

_SNAPSHOT: dict[str, tuple[Any, str, Any]] = {
    label: (owner, attr, getattr(owner, attr)) for label, owner, attr in _tamper_targets()
}
_THIS_MODULE = sys.modules[__name__]


def _reference_copy():
    """A private copy of this module, loaded from its file on disk.

    Why: a table of "original" functions kept in this module is as easy to edit as the
    functions themselves (``grading._OWN_FUNCTIONS[...] = fake``). The file on disk is
    read-only while grading (the sandbox mounts ``helpers/`` read-only), so a fresh copy
    compiled from it says what every function of this module must be.
    """
    import importlib.util

    name = "helpers._grading_reference"
    spec = importlib.util.spec_from_file_location(name, __file__)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the module looks itself up while it loads
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def _same_values(a, b) -> bool:
    """Equal default values, arrays included (``==`` on a tuple holding arrays raises)."""
    if a is None or b is None:
        return a is b
    if _isinstance(a, dict):
        return (
            _isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_same_values((a[k],), (b[k],)) for k in a)
        )
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if _isinstance(x, np.ndarray) or _isinstance(y, np.ndarray):
            if not (
                _isinstance(x, np.ndarray)
                and _isinstance(y, np.ndarray)
                and x.shape == y.shape
                and bool(np.array_equal(x, y))
            ):
                return False
            continue
        try:
            if not bool(x == y):
                return False
        except Exception:  # noqa: BLE001 - a value without a plain ==: compare its text
            if repr(x) != repr(y):
                return False
    return True


def _changed_own_functions() -> list[str]:
    """This module's functions whose code, defaults or globals differ from the file on disk."""
    live = vars(_THIS_MODULE)
    changed = []
    for name, ref in vars(_reference_copy()).items():
        if not callable(ref) or getattr(ref, "__module__", None) != "helpers._grading_reference":
            continue
        if _isinstance(ref, type):
            continue  # classes (LayerSpec, FitRecord, ...) hold no check of their own
        now = live.get(name)
        ref_fn, now_fn = getattr(ref, "__wrapped__", ref), getattr(now, "__wrapped__", now)
        if (
            getattr(now_fn, "__code__", None) != ref_fn.__code__
            or not _same_values(getattr(now_fn, "__defaults__", None), ref_fn.__defaults__)
            or not _same_values(getattr(now_fn, "__kwdefaults__", None), ref_fn.__kwdefaults__)
            or getattr(now_fn, "__globals__", None) is not live
        ):
            changed.append(f"helpers.grading.{name}")
    return changed


def assert_not_tampered() -> None:
    """Fail when a library function the grading relies on was replaced after import.

    The message names every replaced function, e.g. "The notebook replaced functions
    that grading relies on: keras.Model.evaluate, numpy.argmax. ..." This module's own
    functions are compared with a fresh copy compiled from the file on disk, not with a
    table a notebook could edit. Under ``make grade`` the kernel guard
    (``autograder/kernel_guard.py``) also puts every replaced function back before each
    test, from a record taken before any student code ran.
    """
    replaced = [
        label
        for label, (owner, attr, original) in _SNAPSHOT.items()
        if getattr(owner, attr, None) is not original
    ]
    replaced += _changed_own_functions()
    if sys.modules.get(__name__) is not _THIS_MODULE:
        replaced.append("the module helpers.grading itself (sys.modules entry)")
    if replaced:
        raise AssertionError(
            "The notebook replaced functions that grading relies on: "
            + ", ".join(replaced)
            + ". Remove the code that assigns to them (for example `keras.Model.evaluate = ...` "
            "or `np.argmax = ...`), restart the kernel and run all cells again."
        )


# --------------------------------------------------------------------------- models
class LayerSpec(NamedTuple):
    """What one layer should be: ``kind`` ('Flatten', 'Dense', 'Dropout', ...),
    and for Dense ``units``/``activation``, for Dropout ``rate``. ``None`` = any.

    A Dense spec's ``activation`` is judged by behaviour (see :func:`activation_name`), and
    a Dropout spec with ``rate=0`` is optional: ``Dropout(0.0)`` passes everything through,
    so a model may hold that layer or leave it out.
    """

    kind: str
    units: int | None = None
    activation: str | None = None
    rate: float | None = None


# ------------------------------------------------------------- activations, by behaviour
# Keras accepts an activation as a string, a function (keras.activations.relu, tf.nn.relu,
# keras.ops.relu, ...) or a separate layer (Activation("relu"), ReLU(), Softmax()). Their
# Python names differ (tf.nn.softmax is called "softmax_v2"), so the checks never read a
# name: they apply the activation to fixed probe inputs and compare the outputs with each
# reference function's. Rows of 10 values, so that softmax (over the last axis) is tested too.
_PROBE = np.array(
    [
        [-3.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0, 3.0, -2.0],
        [0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, -1.0],
        [5.0, 4.0, -4.0, -5.0, 0.0, 1.5, -1.5, 2.5, -2.5, 0.75],
    ],
    dtype="float32",
)


def _np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# The activations a mission may ask for, computed with NumPy; more are named from Keras'
# own functions (only to say what a wrong activation is).
_REFERENCE_ACTIVATIONS: dict[str, Any] = {
    "relu": lambda x: np.maximum(x, 0.0),
    "softmax": _np_softmax,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "linear": lambda x: x,
}
_OTHER_ACTIVATIONS = (
    "elu",
    "selu",
    "gelu",
    "softplus",
    "softsign",
    "silu",
    "leaky_relu",
    "relu6",
    "exponential",
    "hard_sigmoid",
    "log_softmax",
    "mish",
)
# Layers that only apply an activation: a Dense layer followed by one of them counts as that
# Dense layer with the combined activation.
_ACTIVATION_LAYERS = ("Activation", "ReLU", "Softmax", "LeakyReLU", "ELU")
_reference_outputs: dict[str, np.ndarray] = {}


def _references() -> dict[str, np.ndarray]:
    """Each known activation's output on ``_PROBE`` (computed once)."""
    if not _reference_outputs:
        for name, fn in _REFERENCE_ACTIVATIONS.items():
            _reference_outputs[name] = np.asarray(fn(_PROBE.astype(np.float64)))
        for name in _OTHER_ACTIVATIONS:
            try:
                fn = keras.activations.get(name)
                _reference_outputs[name] = np.asarray(
                    keras.ops.convert_to_numpy(fn(keras.ops.convert_to_tensor(_PROBE)))
                )
            except Exception:  # noqa: BLE001 - a Keras without it: it just cannot be named
                continue
    return _reference_outputs


# Filled now, at import, not on first use: under `make grade` the kernel guard records this
# module's dicts before the answer cells run and flags any that change afterwards
# (autograder/kernel_guard.py), so a cache filled lazily inside a test would read as tampering.
_references()


def _apply(functions: Sequence[Any], x: np.ndarray) -> np.ndarray | None:
    """``x`` through each activation function or layer in turn; None if one of them fails."""
    out = keras.ops.convert_to_tensor(x)
    try:
        for fn in functions:
            out = fn(out)
        return _asarray(keras.ops.convert_to_numpy(out), dtype=np.float64)
    except Exception:  # noqa: BLE001 - an activation that cannot take the probe: no name
        return None


def _behaves_like(functions: Sequence[Any], name: str) -> bool:
    got = _apply(functions, _PROBE)
    want = _references().get(name)
    return (
        got is not None
        and want is not None
        and got.shape == want.shape
        and bool(np.allclose(got, want, rtol=1e-4, atol=1e-5))
    )


def _python_name(fn) -> str:
    if _isinstance(fn, keras.layers.Layer):
        inner = getattr(fn, "activation", None)
        return _python_name(inner) if inner is not None else type(fn).__name__
    name = getattr(fn, "__name__", None)
    return str(name) if name else type(fn).__name__


def activation_name(functions) -> str:
    """What an activation (a function, an activation layer, or a list of them applied in
    turn) computes: 'relu', 'softmax', ... judged from its outputs on probe inputs.

    An activation that matches none of the known ones is described by its Python name and
    the words "not a standard activation".
    """
    if not _isinstance(functions, (list, tuple)):
        functions = [functions]
    got = _apply(functions, _PROBE)
    if got is not None:
        for name, want in _references().items():
            if got.shape == want.shape and np.allclose(got, want, rtol=1e-4, atol=1e-5):
                return name
    shown = [fn for fn in functions if not _behaves_like([fn], "linear")] or functions
    return " then ".join(_python_name(fn) for fn in shown) + " (not a standard activation)"


class _Unit(NamedTuple):
    """One logical layer: a Keras layer plus the activation layers that follow a Dense one."""

    layer: Any
    activations: tuple  # functions/layers applied after the layer's own computation

    @property
    def kind(self) -> str:
        return type(self.layer).__name__

    def activation_functions(self) -> list:
        if self.kind in _ACTIVATION_LAYERS:  # an activation layer on its own: it is the function
            return [self.layer, *self.activations]
        own = getattr(self.layer, "activation", None)
        return ([own] if own is not None else []) + list(self.activations)


def _units(model) -> list[_Unit]:
    """The model's layers with InputLayer dropped and activation layers merged into the
    Dense layer before them: Dense(50) + ReLU() is the same layer as Dense(50, "relu")."""
    units: list[_Unit] = []
    for layer in getattr(model, "layers", []):
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind in _ACTIVATION_LAYERS and units and units[-1].kind == "Dense":
            units[-1] = _Unit(units[-1].layer, (*units[-1].activations, layer))
        else:
            units.append(_Unit(layer, ()))
    return units


def _is_identity_dropout(unit: _Unit) -> bool:
    return unit.kind == "Dropout" and math.isclose(float(unit.layer.rate), 0.0, abs_tol=1e-12)


def _unit_activation(unit: _Unit) -> str:
    return activation_name(unit.activation_functions())


def _unit_text(unit: _Unit) -> str:
    kind = unit.kind
    if kind == "Dense":
        return f"Dense({unit.layer.units}, {_unit_activation(unit)})"
    if kind == "Dropout":
        return f"Dropout({float(unit.layer.rate):g})"
    if kind in _ACTIVATION_LAYERS:
        return f"Activation({_unit_activation(unit)})"
    return kind


def _spec_text(spec: LayerSpec) -> str:
    if spec.kind == "Dense":
        units = "?" if spec.units is None else spec.units
        return f"Dense({units}, {spec.activation or '?'})"
    if spec.kind == "Dropout":
        return "Dropout(?)" if spec.rate is None else f"Dropout({spec.rate:g})"
    return spec.kind


def describe_layers(model) -> list[str]:
    """The model's layers in order, as short text: ``['Flatten', 'Dense(50, relu)', ...]``.

    An activation layer after a Dense layer is folded into it, and activations are named by
    what they compute, so every way of writing the same model reads the same.
    """
    return [_unit_text(unit) for unit in _units(model)]


def _arrow(items: Iterable[str]) -> str:
    return " -> ".join(items) or "(no layers)"


def assert_is_model(obj, what: str = "your function") -> None:
    """``obj`` must be a Keras model (not None, not a History, not a class)."""
    if obj is None:
        raise AssertionError(f"{what} returned None. Did you forget the `return` statement?")
    if _isinstance(obj, type):
        raise AssertionError(
            f"{what} returned the class {obj.__name__}, not a model object. "
            "Create the model and return it."
        )
    if not _isinstance(obj, keras.Model):
        raise AssertionError(
            f"{what} should return a Keras model, but returned a {type(obj).__name__}."
        )
    if not getattr(type(obj), "__module__", "").startswith("keras."):
        raise AssertionError(
            f"{what} returned a {type(obj).__name__} defined in the notebook. "
            "Build the model with keras.Sequential([...]) or keras.Model(inputs, "
            "outputs)."
        )


def _input_shape(model) -> tuple | None:
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs:
        return None
    return tuple(inputs[0].shape[1:])


def assert_layers(
    model,
    expected: Sequence[LayerSpec],
    input_shape: tuple | None = (28, 28, 1),
    what: str = "the model",
) -> None:
    """The model's layers match ``expected`` one by one; messages name the first mismatch.

    Judged on what the layers are and compute, not on how they were written:
    ``InputLayer`` entries are ignored (``keras.Input`` is not a layer in ``model.layers``);
    an activation layer (``Activation``, ``ReLU``, ``Softmax``, ...) right after a Dense layer
    is part of it; activations are compared by their outputs on probe inputs; ``Dropout(0)``
    is the identity, so it may be present or left out. Dense layers are called "hidden"
    except the last, the "output" layer.
    """
    assert_is_model(model, what)
    if input_shape is not None:
        got = _input_shape(model)
        if got is None:
            raise AssertionError(
                f"{what} has no input shape. Start the Sequential list with "
                f"keras.Input({input_shape})."
            )
        if got != tuple(input_shape):
            raise AssertionError(f"Expected the input shape {tuple(input_shape)}, found {got}.")
    for layer in model.layers:
        if not type(layer).__module__.startswith("keras."):
            raise AssertionError(
                f"The layer {type(layer).__name__} is defined in the notebook; "
                "use Keras' own layers (keras.layers.Dense, ...)."
            )
    all_units = _units(model)
    have = _arrow(_unit_text(u) for u in all_units)
    units = [u for u in all_units if not _is_identity_dropout(u)]
    specs = [
        s for s in expected if not (s.kind == "Dropout" and s.rate is not None and s.rate == 0)
    ]
    want = _arrow(_spec_text(s) for s in expected)
    # Dropout placed after the output layer: the seed notes' mistake, explained on its own.
    kinds = [u.kind for u in units]
    softmax_idx = [
        i
        for i, u in enumerate(units)
        if u.kind == "Dense" and _behaves_like(u.activation_functions(), "softmax")
    ]
    if "Dropout" in kinds and softmax_idx and kinds.index("Dropout") > softmax_idx[0]:
        raise AssertionError(
            f"Your layers are {have}. Dropout comes after a softmax output layer: it then "
            "zeroes some of the class probabilities during training, and anything after the "
            f"output is not part of the classifier. Expected {want}: Dropout belongs between "
            "the hidden layer and the single softmax output."
        )
    if (
        len(specs) < len(expected)
        and "Dropout" in kinds
        and "Dropout" not in (s.kind for s in specs)
    ):
        rate = float(units[kinds.index("Dropout")].layer.rate)
        raise AssertionError(
            f"Expected a dropout rate of 0 (a Dropout(0.0) layer, or no Dropout "
            f"layer at all), found {rate:g}."
        )
    if len(units) != len(specs):
        raise AssertionError(f"Expected {len(specs)} layers ({want}), found {len(units)} ({have}).")
    n_dense = sum(s.kind == "Dense" for s in specs)
    seen_dense = 0
    for i, (unit, spec) in enumerate(zip(units, specs, strict=True)):
        layer, kind = unit.layer, unit.kind
        if kind != spec.kind:
            raise AssertionError(
                f"Layer {i + 1} should be {_spec_text(spec)} but is "
                f"{_unit_text(unit)}. Expected {want}; found {have}."
            )
        if kind == "Dense":
            seen_dense += 1
            role = "output" if seen_dense == n_dense else "hidden"
            if spec.units is not None and layer.units != spec.units:
                raise AssertionError(
                    f"Expected {spec.units} units in the {role} Dense layer, found {layer.units}."
                )
            if spec.activation is not None and not _behaves_like(
                unit.activation_functions(), spec.activation
            ):
                raise AssertionError(
                    f"Expected the {role} Dense layer to use the "
                    f"'{spec.activation}' activation, found "
                    f"'{_unit_activation(unit)}'."
                )
        if (
            kind == "Dropout"
            and spec.rate is not None
            and not math.isclose(float(layer.rate), spec.rate, abs_tol=1e-9)
        ):
            raise AssertionError(
                f"Expected a dropout rate of {spec.rate:g}, found {float(layer.rate):g}."
            )


def assert_dense_architecture(
    model,
    hidden_units: int = 50,
    hidden_activation: str = "relu",
    outputs: int = 10,
    output_activation: str = "softmax",
    input_shape: tuple = (28, 28, 1),
    params: int | None = None,
    what: str = "the model",
) -> None:
    """Input(28, 28, 1) -> Flatten -> Dense(hidden_units) -> Dense(outputs), and the parameter count."""
    assert_layers(
        model,
        [
            LayerSpec("Flatten"),
            LayerSpec("Dense", hidden_units, hidden_activation),
            LayerSpec("Dense", outputs, output_activation),
        ],
        input_shape=input_shape,
        what=what,
    )
    if params is not None:
        got = model.count_params()
        if got != params:
            raise AssertionError(f"Expected {params:,} trainable parameters, found {got:,}.")


# ------------------------------------------------------------- compile settings, by behaviour
# Probe labels and predictions for the loss and the metric: 8 one-hot labels, and
# probabilities whose arg-max is right for exactly 3 rows (accuracy 0.375).
_Y_PROBE = np.eye(10, dtype="float32")[[0, 1, 2, 3, 4, 5, 6, 7]]
_P_PROBE = np.full((8, 10), 0.05, dtype="float32")
_P_PROBE[np.arange(8), [0, 1, 2, 9, 9, 9, 9, 9]] = 0.55
_PROBE_ACCURACY = 0.375
_LOSS_NAMES = (
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "mean_squared_error",
    "mean_absolute_error",
    "binary_crossentropy",
    "kl_divergence",
    "categorical_hinge",
    "poisson",
)


def _loss_value(loss, y=_Y_PROBE, p=_P_PROBE) -> float | None:
    """The mean value a loss (string, function or Loss object) gives on the probe; None if
    it cannot be computed there."""
    try:
        fn = keras.losses.get(loss)
        value = keras.ops.convert_to_numpy(
            fn(keras.ops.convert_to_tensor(y), keras.ops.convert_to_tensor(p))
        )
        return float(np.mean(value))
    except Exception:  # noqa: BLE001 - a loss that does not fit one-hot labels: no value
        return None


def _loss_name(loss) -> str:
    """What a compiled loss computes, named by its value on the probe."""
    got = _loss_value(loss)
    if got is not None:
        for name in _LOSS_NAMES:
            want = _loss_value(name)
            if want is not None and math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-6):
                return name
    if _isinstance(loss, str):
        return loss.lower()
    described = (
        getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__
    )
    config = loss.get_config() if hasattr(loss, "get_config") else {}
    extras = [
        f"{k}={v}"
        for k, v in (config or {}).items()
        if k in ("from_logits", "label_smoothing") and v not in (False, 0, 0.0)
    ]
    return f"{described} ({', '.join(extras)})" if extras else str(described)


def _optimizer_class(model) -> str:
    opt = model.optimizer
    inner = getattr(opt, "inner_optimizer", None)  # LossScaleOptimizer wraps the real one
    return type(inner if inner is not None else opt).__name__


def _logged_metrics(model) -> dict[str, float]:
    """What the compiled metrics report, under the names training logs them with, for the
    probe predictions (their state is reset afterwards)."""
    try:
        results = model.compute_metrics(None, _Y_PROBE, _P_PROBE, None)
    except Exception:  # noqa: BLE001 - metrics that cannot take one-hot labels
        return {}
    finally:
        with contextlib.suppress(Exception):
            model.reset_metrics()
    values = {}
    for name, value in (results or {}).items():
        if name == "loss":
            continue
        with contextlib.suppress(Exception):
            values[str(name)] = float(keras.ops.convert_to_numpy(value))
    return values


def compile_settings(model) -> dict[str, Any]:
    """``{'optimizer': 'adam', 'loss': 'categorical_crossentropy', 'metrics': ['accuracy']}``.

    The optimizer is named by its class, the loss by what it computes (a string, a function
    and a ``keras.losses`` object give the same name), the metrics by the names training
    logs them with. Empty dict when the model is not compiled.
    """
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        return {}
    return {
        "optimizer": _optimizer_class(model).lower(),
        "loss": _loss_name(getattr(model, "loss", None)),
        "metrics": list(_logged_metrics(model)),
    }


def assert_compiled(
    model,
    optimizer: str = "adam",
    loss: str = "categorical_crossentropy",
    metric: str = "accuracy",
    what: str = "the model",
) -> None:
    """The model is compiled with the given optimizer (by class), a loss that computes the
    same values as ``loss`` on probe predictions, and an accuracy metric logged as ``metric``.

    Any form Keras accepts passes: ``"adam"`` or ``keras.optimizers.Adam()``;
    ``"categorical_crossentropy"``, ``keras.losses.categorical_crossentropy`` or
    ``keras.losses.CategoricalCrossentropy()``; ``"accuracy"`` or
    ``keras.metrics.CategoricalAccuracy(name="accuracy")``. The metric's name matters because
    it is the key of the training logs (``accuracy``, ``val_accuracy``) that later checks read.
    """
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        raise AssertionError(
            f"{what} is not compiled. Call model.compile(optimizer=..., loss=..., "
            "metrics=['accuracy']) before returning the model."
        )
    found_optimizer = _optimizer_class(model)
    if found_optimizer.lower() != optimizer.lower():
        raise AssertionError(
            f"Expected the {optimizer.capitalize()} optimizer, found {found_optimizer}."
        )
    compiled_loss = getattr(model, "loss", None)
    got, want = _loss_value(compiled_loss), _loss_value(loss)
    if got is None or want is None or not math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-6):
        hint = (
            " The output layer already applies softmax, so the loss must take probabilities "
            "(from_logits=False)."
            if "from_logits=True" in _loss_name(compiled_loss)
            else ""
        )
        raise AssertionError(
            f"Expected the loss '{loss}' (labels are one-hot vectors), found "
            f"'{_loss_name(compiled_loss)}'.{hint}"
        )
    logged = _logged_metrics(model)
    accuracy_like = [
        name for name, value in logged.items() if math.isclose(value, _PROBE_ACCURACY, abs_tol=1e-6)
    ]
    if metric not in logged or metric not in accuracy_like:
        if metric in logged:
            problem = (
                f"the metric logged as '{metric}' does not compute classification accuracy "
                f"(it gave {logged[metric]:.3f} where accuracy is {_PROBE_ACCURACY})"
            )
        elif accuracy_like:
            problem = (
                f"your accuracy metric is logged as '{accuracy_like[0]}', so training would "
                f"record '{accuracy_like[0]}' and 'val_{accuracy_like[0]}' instead"
            )
        else:
            problem = f"found metrics {sorted(logged)}"
        raise AssertionError(
            f"Expected metrics=['{metric}'] (or keras.metrics.CategoricalAccuracy(name="
            f"'{metric}')) so that training logs '{metric}' and 'val_{metric}'; {problem}."
        )


def assert_inference_deterministic(model, x, what: str = "the model") -> None:
    """Two ``model(x, training=False)`` calls give identical outputs (dropout is off at inference)."""
    first = keras.ops.convert_to_numpy(model(x, training=False))
    second = keras.ops.convert_to_numpy(model(x, training=False))
    if not _array_equal(first, second):
        raise AssertionError(
            f"Calling {what} twice on the same images with training=False gave "
            "different outputs. At inference dropout must be switched off; use "
            "keras.layers.Dropout, which does this for you."
        )


# --------------------------------------------------------------------------- accuracy
def _assert_no_instance_overrides(model) -> None:
    """``model.call = ...`` on one object would change what ``model(x)`` computes."""
    for obj in [model, *getattr(model, "layers", [])]:
        patched = [
            name
            for name in ("call", "__call__", "predict", "evaluate")
            if name in getattr(obj, "__dict__", {})
        ]
        if patched:
            raise AssertionError(
                f"The notebook replaced {', '.join(patched)} on the object "
                f"{getattr(obj, 'name', type(obj).__name__)!r}. Use the model "
                "as Keras built it."
            )


def test_accuracy(model, x, y_onehot, batch_size: int = 2000) -> float:
    """Fraction of rows whose arg-max output equals the arg-max of ``y_onehot``.

    Computed here from ``model(x_batch, training=False)``: it does not call
    ``model.evaluate`` or ``model.predict`` and uses NumPy functions bound at import.
    """
    _assert_no_instance_overrides(model)
    x = _asarray(x)
    y = _asarray(y_onehot)
    if _len(x) != _len(y):
        raise AssertionError(f"{_len(x)} images but {_len(y)} labels.")
    outputs = []
    for start in range(0, _len(x), batch_size):
        out = keras.ops.convert_to_numpy(model(x[start : start + batch_size], training=False))
        outputs.append(_asarray(out))
    probs = _concatenate(outputs) if outputs else np.zeros((0, 10))
    if probs.ndim != 2 or probs.shape[0] != _len(x) or probs.shape[1] != y.shape[1]:
        raise AssertionError(
            f"Expected the model to output one row of {y.shape[1]} class scores per "
            f"image, shape ({_len(x)}, {y.shape[1]}); found shape {probs.shape}."
        )
    predicted = _argmax(probs, axis=1)
    truth = _argmax(y, axis=1)
    correct = int((predicted == truth).sum())
    return correct / _len(x)


test_accuracy.__test__ = False  # not a pytest test, despite its name


def fresh_mission_data() -> helpers.mission_data.MissionData:
    """A new copy of the mission data, loaded from disk: a student cell cannot have altered it."""
    return helpers.mission_data.load_mission_data()


def assert_accuracy_at_least(model, x, y_onehot, threshold: float, what: str = "test") -> None:
    """Compute accuracy with :func:`test_accuracy` and require ``>= threshold``.

    Returns None on purpose: nbgrader reads a number left as a test cell's last value as
    partial credit, so a check that returned the accuracy would turn 3 points into 0.97.
    """
    acc = test_accuracy(model, x, y_onehot)
    if not acc >= threshold:
        raise AssertionError(
            f"The model's {what} accuracy is {acc:.4f}; at least {threshold:.3f} is "
            "needed. Check the architecture, the number of epochs and that the "
            "model was trained on the training data."
        )


# --------------------------------------------------------------------------- history
def assert_history(
    history,
    model=None,
    epochs: int | None = None,
    max_epochs: int | None = None,
    keys: Sequence[str] = ("loss", "accuracy", "val_loss", "val_accuracy"),
    what: str = "the training function",
) -> None:
    """``history`` is a real Keras History of ``model``'s fit, with ``keys`` recorded every epoch."""
    if history is None:
        raise AssertionError(
            f"{what} returned None. Return the History object that model.fit(...) gives back."
        )
    if not _isinstance(history, keras.callbacks.History):
        raise AssertionError(
            f"{what} should return the History object from model.fit(...), but "
            f"returned a {type(history).__name__}."
        )
    if model is not None and history.model is not model:
        raise AssertionError(
            f"The History that {what} returned belongs to a different model than "
            "the one passed in. Train the model you were given."
        )
    record = history.history
    missing = [k for k in keys if k not in record]
    if missing:
        hint = (
            " Pass validation_data=(x_val, y_val) to fit()."
            if any(k.startswith("val_") for k in missing)
            else ""
        )
        raise AssertionError(
            f"The training history has no {', '.join(missing)} (it has "
            f"{', '.join(sorted(record)) or 'nothing'}).{hint}"
        )
    n = _len(history.epoch)
    if epochs is not None and n != epochs:
        raise AssertionError(f"Expected {epochs} epochs of training, found {n}.")
    if max_epochs is not None and n > max_epochs:
        raise AssertionError(f"Expected at most {max_epochs} epochs of training, found {n}.")
    for k in keys:
        if _len(record[k]) != n:
            raise AssertionError(f"'{k}' was recorded {_len(record[k])} times in {n} epochs.")


class FitRecord(NamedTuple):
    """One ``Model.fit`` call seen by :func:`record_fits`."""

    model: Any
    args: tuple
    kwargs: dict
    history: Any

    def argument(self, name: str, default: Any = None) -> Any:
        """The value fit received for ``name``, passed by keyword or by position.

        Positions follow ``keras.Model.fit``'s own signature, so ``fit(x, y, 256, 50, 2,
        [callback])`` and ``fit(x=x, y=y, batch_size=256, ...)`` read the same.
        """
        if name in self.kwargs:
            return self.kwargs[name]
        position = _FIT_PARAMETERS.index(name) if name in _FIT_PARAMETERS else None
        if position is not None and position < _len(self.args):
            return self.args[position]
        return default

    @property
    def callbacks(self) -> list:
        """The callbacks passed to this fit call (by keyword or by position)."""
        return list(self.argument("callbacks") or [])

    @property
    def batch_size(self) -> int:
        """The batch size used: given explicitly, else Keras' default of 32."""
        return int(self.argument("batch_size") or 32)

    @property
    def train_rows(self) -> int | None:
        """How many training samples fit received (None when x was not an array)."""
        x = self.argument("x")
        return int(x.shape[0]) if hasattr(x, "shape") and _len(x.shape) else None


# fit's parameters after ``self``, in order: how positional arguments are matched to names.
_FIT_PARAMETERS = list(inspect.signature(keras.Model.fit).parameters)[1:]


@contextlib.contextmanager
def record_fits():
    """Record every ``keras.Model.fit`` call made inside the ``with`` block.

    Yields a list that fills with :class:`FitRecord` entries (model, arguments,
    returned History). The original ``fit`` is restored on exit, so
    :func:`assert_not_tampered` stays happy afterwards.
    """
    records: list[FitRecord] = []
    original = _SNAPSHOT["keras.Model.fit"][2]

    def recording_fit(self, *args, **kwargs):
        history = original(self, *args, **kwargs)
        records.append(FitRecord(self, args, dict(kwargs), history))
        return history

    keras.Model.fit = recording_fit
    try:
        yield records
    finally:
        keras.Model.fit = original


def mnist_accuracy(model, split: str = "test") -> float:
    """Accuracy on MNIST's raw ``"train"`` (60,000) or ``"test"`` images, loaded fresh from disk.

    Pixels are scaled to [0, 1] and reshaped to whatever input the model declares
    ((28, 28), (28, 28, 1) or (784,)), then :func:`test_accuracy` does the counting.
    """
    (x_train, y_train), (x_test, y_test) = helpers.datasets.load_mnist()
    x, y = (x_train, y_train) if split == "train" else (x_test, y_test)
    x = helpers.preprocessing.scale_images(x)
    shape = _input_shape(model)
    if shape is None:
        raise AssertionError(
            "The trained model has no input shape; start it with keras.Input(...)."
        )
    try:
        x = x.reshape((_len(x), *shape))
    except ValueError:
        raise AssertionError(
            f"The model expects inputs of shape {shape}; MNIST images are 28x28 "
            "pixels. Use keras.Input((28, 28)) and a Flatten layer."
        ) from None
    return test_accuracy(model, x, helpers.preprocessing.one_hot(y.astype(np.int64)))


# --------------------------------------------------------------------------- callbacks
class _ScriptedModel:
    """Stands in for a model when a callback is driven with scripted logs.

    Has what Keras' callbacks touch: ``stop_training``, ``get_weights``/``set_weights``,
    and ``metrics`` (EarlyStopping looks up whether 'accuracy' should go up or down).
    """

    def __init__(self, metric_names: Iterable[str] = ("accuracy",)):
        self.stop_training = False
        self._weights = [np.zeros(1, dtype="float32")]
        self.metrics = self._metric_list(metric_names)

    @staticmethod
    def _metric_list(names):
        try:
            from keras.src.trainers.compile_utils import MetricsList
        except ImportError:  # a future Keras moved it: EarlyStopping needs mode= then
            return []
        return [MetricsList([keras.metrics.CategoricalAccuracy(name=n) for n in names])]

    def get_weights(self):
        return [w.copy() for w in self._weights]

    def set_weights(self, weights):
        self._weights = [np.array(w) for w in weights]


class CallbackRun(NamedTuple):
    """What happened when a callback was driven with scripted logs."""

    epochs_run: int  # epochs whose on_epoch_end ran (stopping included)
    stopped: bool  # did the callback set model.stop_training?
    stopped_after_epoch: int | None  # 1-based epoch at whose end it stopped
    output: str  # what the callback printed
    error: BaseException | None  # what it raised, when allow_errors=True


def run_callback_on_logs(
    callback,
    logs_sequence: Sequence[Mapping[str, float]],
    allow_errors: bool = False,
    what: str = "your callback",
) -> CallbackRun:
    """Drive ``callback`` through epochs whose end-of-epoch logs are ``logs_sequence``.

    Calls ``on_train_begin``, then ``on_epoch_begin``/``on_epoch_end`` per epoch until the
    callback sets ``model.stop_training``, then ``on_train_end``, as ``model.fit`` does,
    with a stand-in model. Printed output is captured. An exception from the callback
    becomes an ``AssertionError`` naming the epoch and the logs, unless ``allow_errors``
    (then it is returned in ``.error``).
    """
    if not _isinstance(callback, keras.callbacks.Callback):
        raise AssertionError(
            f"Expected a keras.callbacks.Callback object, got a {type(callback).__name__}."
        )
    model = _ScriptedModel()
    callback.set_model(model)
    callback.set_params({"epochs": _len(logs_sequence), "steps": 1, "verbose": 0})
    buffer = io.StringIO()
    epochs_run, stopped_after = 0, None
    logs = {}
    try:
        with contextlib.redirect_stdout(buffer):
            callback.on_train_begin({})
            for epoch, logs in enumerate(logs_sequence):
                logs = dict(logs)
                callback.on_epoch_begin(epoch, {})
                callback.on_epoch_end(epoch, logs)
                epochs_run += 1
                if model.stop_training:
                    stopped_after = epoch + 1
                    break
            callback.on_train_end(dict(logs))
    except Exception as exc:  # noqa: BLE001 - reported to the student in words
        if allow_errors:
            return CallbackRun(
                epochs_run, model.stop_training, stopped_after, buffer.getvalue(), exc
            )
        raise AssertionError(
            f"{what} raised {type(exc).__name__}: {exc} at the end of epoch {epochs_run + 1}, "
            f"when the logs were {logs}."
        ) from None
    return CallbackRun(
        epochs_run, bool(model.stop_training), stopped_after, buffer.getvalue(), None
    )
