"""The graded missions end to end: notebooks' nbgrader metadata, the grading helpers,
release, autograding, scores, feedback and the `make grade` code path.

The slow part runs ONE grading pass over a scratch copy of the course (never the
repository's autograder/ folder): for every mission a reference submission (the
instructor notebook), the blank release and a partly correct submission, the golden
submissions of ``tests/golden_submissions.py`` (correct answers in other accepted styles,
and the rule cases), plus one unreadable notebook. All slow tests read that pass's results.
"""

from __future__ import annotations

import csv
import html
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from golden_submissions import GOLDEN
from mission_support import (  # noqa: E402
    PARTIAL,
    make_course,
    nbmeta,
    release_nb,
    run_grade,
    source_nb,
    submission,
)

from autograder import MISSIONS  # noqa: E402
from autograder.feedback import HideTestCode, is_test_cell  # noqa: E402

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def auto_points(nb) -> float:
    return sum(float(nbmeta(c)["points"]) for c in nb.cells if is_test_cell(c))


def all_points(nb) -> float:
    return sum(float(nbmeta(c).get("points", 0)) for c in nb.cells if nbmeta(c).get("grade"))


# =========================================================================== fast checks
@pytest.mark.parametrize("mission", MISSIONS)
def test_source_notebook_metadata(mission):
    nb = source_nb(mission)
    ids = [nbmeta(c).get("grade_id") for c in nb.cells if nbmeta(c)]
    assert len(ids) == len(set(ids)), f"duplicate grade ids in {mission}"
    for cell in nb.cells:
        meta = nbmeta(cell)
        assert meta, f"{mission}: cell {cell.id} has no nbgrader metadata"
        assert meta["schema_version"] == 3
        assert set(meta) >= {"grade", "grade_id", "locked", "schema_version", "solution", "task"}
        if meta["grade"]:
            assert meta["points"] > 0
        if is_test_cell(cell):
            assert meta["locked"] and "### BEGIN HIDDEN TESTS" in cell.source, cell.id
            assert "grading.assert_not_tampered()" in HIDDEN.search(cell.source).group(1)
        if meta["solution"] and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" in cell.source, cell.id
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert (
        code[0].source.split()
        == "import helpers helpers.check_environment() helpers.seed_everything(42)".split()
    )
    first_solution = next(i for i, c in enumerate(nb.cells) if nbmeta(c)["solution"])
    grading_import = next(
        i for i, c in enumerate(nb.cells) if "from helpers import grading" in c.source
    )
    assert grading_import < first_solution and nbmeta(nb.cells[grading_import])["locked"]
    # the intro states the points
    intro = nb.cells[0].source
    assert f"**Points: {all_points(nb):g}**" in intro, f"{mission}: intro misstates the points"


@pytest.mark.parametrize("mission", MISSIONS)
def test_test_cells_leave_no_value_behind(mission):
    """nbgrader reads a number left as a test cell's last value as partial credit (3 points
    would become 0.97): every test cell must end in an assert or a grading.assert_* call."""
    import ast

    for cell in source_nb(mission).cells:
        if not is_test_cell(cell):
            continue
        last = ast.parse(cell.source).body[-1]
        ok = isinstance(last, ast.Assert) or (
            isinstance(last, ast.Expr)
            and isinstance(last.value, ast.Call)
            and ast.unparse(last.value.func).startswith("grading.assert_")
        )
        assert ok, f"{mission}: test cell {cell.id} ends in `{ast.unparse(last)}`"
        assert not any(o.output_type == "execute_result" for o in cell.get("outputs", [])), cell.id


def test_grading_asserts_return_none(grading):
    import keras

    model = _mlp(
        keras,
        keras.layers.Dense(50, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    )
    assert grading.assert_dense_architecture(model) is None
    assert grading.assert_compiled(model) is None
    import numpy as np

    x = np.random.default_rng(1).random((20, 28, 28, 1), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[np.asarray(model(x, training=False)).argmax(axis=1)]
    assert grading.assert_accuracy_at_least(model, x, y, 0.99) is None


def test_mission3_has_a_manually_graded_answer():
    nb = source_nb("mission3_dropout")
    manual = [c for c in nb.cells if c.cell_type == "markdown" and nbmeta(c).get("grade")]
    assert len(manual) == 1 and nbmeta(manual[0])["solution"] and nbmeta(manual[0])["points"] == 5
    assert auto_points(nb) == 10 and all_points(nb) == 15


@pytest.mark.parametrize("mission", MISSIONS)
def test_release_is_clean(mission):
    nb = release_nb(mission)
    for cell in nb.cells:
        assert not cell.get("outputs"), f"{mission}: release cell {cell.id} has outputs"
        for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", "Model answer", "Rubric"):
            assert marker not in cell.source, f"{mission}: release cell {cell.id} leaks {marker!r}"


def test_feedback_preprocessor_hides_test_code():
    cell = nbformat.v4.new_code_cell(
        "assert secret_check(model)\n### BEGIN HIDDEN TESTS\nhidden_thing()\n### END HIDDEN TESTS",
        metadata={
            "nbgrader": {
                "grade": True,
                "grade_id": "t1",
                "locked": True,
                "points": 2,
                "schema_version": 3,
                "solution": False,
                "task": False,
            }
        },
    )
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="checked\n"),
        nbformat.v4.new_output("stream", name="stderr", text="  File x, line 3, in hidden_thing\n"),
        nbformat.v4.new_output(
            "error",
            ename="AssertionError",
            evalue="Expected 50 units.",
            traceback=["Traceback", "----> 3 hidden_thing()", "AssertionError"],
        ),
    ]
    student = nbformat.v4.new_code_cell(
        "x = 1",
        metadata={
            "nbgrader": {
                "grade": False,
                "grade_id": "s",
                "locked": False,
                "schema_version": 3,
                "solution": True,
                "task": False,
            }
        },
    )
    nb = nbformat.v4.new_notebook(cells=[cell, student])
    nb, _ = HideTestCode().preprocess(nb, {})
    assert nb.cells[0].source == "# Test `t1` (hidden tests not shown)"
    # prints of a test cell are dropped too: code the test runs could print the test itself
    assert [o.output_type for o in nb.cells[0].outputs] == ["error"]
    assert nb.cells[0].outputs[0].traceback == ["AssertionError: Expected 50 units."]
    assert nb.cells[1].source == "x = 1"


# --------------------------------------------------------------------------- grading helpers
@pytest.fixture(scope="module")
def grading():
    from helpers import grading

    return grading


def _mlp(keras, *layers):
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), *layers])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def test_architecture_messages(grading):
    import keras

    good = _mlp(
        keras,
        keras.layers.Dense(50, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    )
    grading.assert_dense_architecture(good, params=39_760)
    grading.assert_compiled(good)
    assert grading.describe_layers(good) == ["Flatten", "Dense(50, relu)", "Dense(10, softmax)"]
    wide = _mlp(
        keras,
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    )
    with pytest.raises(
        AssertionError, match="Expected 50 units in the hidden Dense layer, found 64"
    ):
        grading.assert_dense_architecture(wide)
    seed = _mlp(
        keras,
        keras.layers.Dense(50, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    )
    spec = [
        grading.LayerSpec("Flatten"),
        grading.LayerSpec("Dense", 50, "relu"),
        grading.LayerSpec("Dropout", rate=0.5),
        grading.LayerSpec("Dense", 10, "softmax"),
    ]
    with pytest.raises(AssertionError, match="Dropout comes after a softmax output layer"):
        grading.assert_layers(seed, spec)
    sgd = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    sgd.compile(optimizer="sgd", loss="mse")
    with pytest.raises(AssertionError, match="Expected the Adam optimizer"):
        grading.assert_compiled(sgd)
    with pytest.raises(AssertionError, match="returned None"):
        grading.assert_is_model(None, "build_base_model()")


# Every way Keras accepts to write Mission 1's hidden and output layers: (name, layers).
def _activation_styles(keras):
    import tensorflow as tf

    L = keras.layers  # noqa: N806 - the usual alias
    return {
        "strings": [L.Dense(50, activation="relu"), L.Dense(10, activation="softmax")],
        "keras.activations": [
            L.Dense(50, activation=keras.activations.relu),
            L.Dense(10, activation=keras.activations.softmax),
        ],
        "tf.nn ops": [L.Dense(50, activation=tf.nn.relu), L.Dense(10, activation=tf.nn.softmax)],
        "keras.ops": [
            L.Dense(50, activation=keras.ops.relu),
            L.Dense(10, activation=keras.ops.softmax),
        ],
        "ReLU/Softmax layers": [L.Dense(50), L.ReLU(), L.Dense(10), L.Softmax()],
        "Activation layers": [
            L.Dense(50),
            L.Activation("relu"),
            L.Dense(10),
            L.Activation(tf.nn.softmax),
        ],
        "linear + Activation": [
            L.Dense(50, activation="linear"),
            L.Activation("relu"),
            L.Dense(10, activation=None),
            L.Activation("softmax"),
        ],
    }


def test_activation_is_judged_by_behaviour_in_every_style(grading):
    import keras
    import tensorflow as tf

    assert tf.nn.softmax.__name__ == "softmax_v2"  # why names cannot be trusted
    for style, layers in _activation_styles(keras).items():
        model = _mlp(keras, *layers)
        assert grading.describe_layers(model) == [
            "Flatten",
            "Dense(50, relu)",
            "Dense(10, softmax)",
        ], style
        grading.assert_dense_architecture(model, params=39_760, what=style)
    functional_in = keras.Input((28, 28, 1))
    hidden = keras.layers.Dense(50, activation=tf.nn.relu)(keras.layers.Flatten()(functional_in))
    functional = keras.Model(
        functional_in, keras.layers.Dense(10, activation=tf.nn.softmax)(hidden)
    )
    grading.assert_dense_architecture(functional, params=39_760)
    added = keras.Sequential()
    added.add(keras.layers.Flatten(input_shape=(28, 28, 1)))
    for layer in _activation_styles(keras)["ReLU/Softmax layers"]:
        added.add(layer)
    grading.assert_dense_architecture(added, params=39_760)
    assert grading.activation_name(tf.nn.softmax) == "softmax"
    stray = _mlp(keras, keras.layers.ReLU(), keras.layers.Dense(10), keras.layers.Softmax())
    assert grading.describe_layers(stray) == ["Flatten", "Activation(relu)", "Dense(10, softmax)"]
    assert grading.activation_name([keras.activations.linear, keras.layers.ReLU()]) == "relu"


def test_wrong_activation_fails_in_every_style(grading):
    import keras
    import tensorflow as tf

    L = keras.layers  # noqa: N806
    wrong = {
        "sigmoid string": (
            [L.Dense(50, activation="sigmoid"), L.Dense(10, activation="softmax")],
            "Expected the hidden Dense layer to use the 'relu' activation, found 'sigmoid'",
        ),
        "tanh op": (
            [L.Dense(50, activation=tf.nn.tanh), L.Dense(10, activation="softmax")],
            "found 'tanh'",
        ),
        "no output activation": (
            [L.Dense(50), L.ReLU(), L.Dense(10)],
            "Expected the output Dense layer to use the 'softmax' activation, found 'linear'",
        ),
        "leaky layer": (
            [L.Dense(50), L.LeakyReLU(negative_slope=0.1), L.Dense(10), L.Softmax()],
            "found 'LeakyReLU (not a standard activation)'",
        ),
        "home-made": (
            [L.Dense(50, activation=lambda x: 2 * x), L.Dense(10, activation="softmax")],
            "not a standard activation",
        ),
    }
    for style, (layers, message) in wrong.items():
        with pytest.raises(AssertionError, match=re.escape(message)):
            grading.assert_dense_architecture(_mlp(keras, *layers), what=style)


def test_compile_is_judged_by_class_and_behaviour(grading):
    import keras
    import tensorflow as tf

    accepted = [
        ("adam", "categorical_crossentropy", ["accuracy"]),
        (
            keras.optimizers.Adam(),
            keras.losses.CategoricalCrossentropy(),
            [keras.metrics.CategoricalAccuracy(name="accuracy")],
        ),
        (
            tf.keras.optimizers.Adam(learning_rate=1e-3),
            keras.losses.categorical_crossentropy,
            ["accuracy"],
        ),
        (
            "Adam",
            tf.keras.losses.CategoricalCrossentropy(),
            [keras.metrics.CategoricalAccuracy("accuracy")],
        ),
    ]
    for optimizer, loss, metrics in accepted:
        model = _mlp_uncompiled(keras)
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        grading.assert_compiled(model)
        assert grading.compile_settings(model) == {
            "optimizer": "adam",
            "loss": "categorical_crossentropy",
            "metrics": ["accuracy"],
        }
    rejected = [
        ("sgd", "categorical_crossentropy", ["accuracy"], "Expected the Adam optimizer, found SGD"),
        (keras.optimizers.AdamW(), "categorical_crossentropy", ["accuracy"], "found AdamW"),
        ("adam", "mse", ["accuracy"], "found 'mean_squared_error'"),
        (
            "adam",
            keras.losses.CategoricalCrossentropy(from_logits=True),
            ["accuracy"],
            "from_logits=False",
        ),
        ("adam", "categorical_crossentropy", ["acc"], "logged as 'acc'"),
        (
            "adam",
            "categorical_crossentropy",
            [keras.metrics.CategoricalAccuracy()],
            "logged as 'categorical_accuracy'",
        ),
        (
            "adam",
            "categorical_crossentropy",
            [keras.metrics.Accuracy(name="accuracy")],
            "does not compute classification accuracy",
        ),
        ("adam", "categorical_crossentropy", None, "found metrics []"),
    ]
    for optimizer, loss, metrics, message in rejected:
        model = _mlp_uncompiled(keras)
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        with pytest.raises(AssertionError, match=re.escape(message)):
            grading.assert_compiled(model)
    with pytest.raises(AssertionError, match="is not compiled"):
        grading.assert_compiled(_mlp_uncompiled(keras))


def _mlp_uncompiled(keras):
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def test_dropout_rate_zero_may_keep_or_leave_out_the_layer(grading):
    import keras

    def spec(units, rate):
        return [
            grading.LayerSpec("Flatten"),
            grading.LayerSpec("Dense", units, "relu"),
            grading.LayerSpec("Dropout", rate=rate),
            grading.LayerSpec("Dense", 10, "softmax"),
        ]

    def model(units, rate, keep_identity):
        dropout = [keras.layers.Dropout(rate)] if rate > 0 or keep_identity else []
        return _mlp(
            keras,
            keras.layers.Dense(units),
            keras.layers.ReLU(),
            *dropout,
            keras.layers.Dense(10, activation="softmax"),
        )

    grading.assert_layers(model(16, 0.0, keep_identity=True), spec(16, 0.0))
    grading.assert_layers(model(16, 0.0, keep_identity=False), spec(16, 0.0))
    grading.assert_layers(model(64, 0.2, keep_identity=False), spec(64, 0.2))
    with pytest.raises(
        AssertionError,
        match=r"Expected a dropout rate of 0 \(a Dropout\(0.0\) "
        r"layer, or no Dropout layer at all\), found 0.5",
    ):
        grading.assert_layers(model(16, 0.5, keep_identity=False), spec(16, 0.0))
    with pytest.raises(AssertionError, match="Expected 4 layers"):
        grading.assert_layers(model(64, 0.0, keep_identity=False), spec(64, 0.2))
    with pytest.raises(AssertionError, match="Expected a dropout rate of 0.2, found 0.5"):
        grading.assert_layers(model(64, 0.5, keep_identity=False), spec(64, 0.2))
    # The seed's mistake is still named when the softmax is a separate layer.
    seed = _mlp(
        keras,
        keras.layers.Dense(50, activation="relu"),
        keras.layers.Dense(10),
        keras.layers.Softmax(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    )
    with pytest.raises(AssertionError, match="Dropout comes after a softmax output layer"):
        grading.assert_layers(seed, spec(50, 0.5))


def test_fit_record_reads_positional_and_keyword_arguments(grading):
    import keras
    import numpy as np

    model = _mlp(keras, keras.layers.Dense(10, activation="softmax"))
    x = np.zeros((8, 28, 28, 1), dtype="float32")
    y = np.eye(10, dtype="float32")[np.arange(8) % 10]
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=1)
    with grading.record_fits() as fits:
        model.fit(x, y, 4, 1, 0, [stopper])
        model.fit(x=x, y=y, batch_size=8, epochs=1, verbose=0, callbacks=[stopper])
    assert [(f.batch_size, f.train_rows, f.callbacks) for f in fits] == [
        (4, 8, [stopper]),
        (8, 8, [stopper]),
    ]
    grading.assert_not_tampered()


def _exec_cells(golden, keras):
    """Run a golden case's answer cells (definitions only, nothing trains) in a namespace."""
    import numpy as np

    import helpers

    namespace = {"keras": keras, "np": np, "helpers": helpers}
    for source in golden.cells.values():
        exec(compile(source, golden.name, "exec"), namespace)  # noqa: S102 - our own test data
    return namespace


@pytest.mark.parametrize(
    "golden", [g for g in GOLDEN if g.mission != "mission2_early_stopping"], ids=lambda g: g.name
)
def test_golden_answers_pass_the_quick_checks(grading, golden):
    """Each golden case's builder or callback, checked in-process as the notebooks' tests do
    (the slow grading pass then confirms the score); the rule cases fail where they should."""
    import keras

    ns = _exec_cells(golden, keras)
    if "build_base_model" in ns:

        def check():
            return grading.assert_dense_architecture(ns["build_base_model"](), params=39_760)

        if golden.expected == 10:
            check()
            grading.assert_compiled(ns["build_base_model"]())
        else:
            with pytest.raises(AssertionError, match="found 'sigmoid'"):
                check()
    if "build_dropout_model" in ns:
        for units, rate in ((50, 0.5), (64, 0.2), (16, 0.0), (128, 0.35)):
            grading.assert_layers(
                ns["build_dropout_model"](hidden_units=units, rate=rate),
                [
                    grading.LayerSpec("Flatten"),
                    grading.LayerSpec("Dense", units, "relu"),
                    grading.LayerSpec("Dropout", rate=rate),
                    grading.LayerSpec("Dense", 10, "softmax"),
                ],
            )
        grading.assert_compiled(ns["build_dropout_model"]())
    if "StopAtAccuracy" in ns:
        logs = [{"accuracy": a} for a in (0.95, 0.989, 0.99, 0.995)]
        assert grading.run_callback_on_logs(ns["StopAtAccuracy"](), logs).stopped_after_epoch == 3
        run = grading.run_callback_on_logs(
            ns["StopAtAccuracy"](), [{"loss": 0.1, "acc": 0.995}], allow_errors=True
        )
        strict = run.error is not None and "accuracy" in str(run.error) and not run.stopped
        assert strict == (golden.expected == 10)


M5 = "mission5_backprop_numpy"


@pytest.mark.parametrize("golden", [g for g in GOLDEN if g.mission == M5], ids=lambda g: g.name)
def test_mission5_cases_score_and_name_their_mistake_in_process(grading, golden):
    """Mission 5's golden cases through the notebook's own test cells (hidden tests included),
    in this process, training left out: the points of the cells that pass add up to the
    case's score (less the accuracy test's 3 when the case trains), and the message of a
    failing cell names the mistake. The slow grading pass confirms it through nbgrader."""
    import numpy as np

    source = source_nb(M5)
    namespace = {"np": np, "grading": grading, "helpers": __import__("helpers")}
    for cell in source.cells:
        if nbmeta(cell).get("solution") and cell.cell_type == "code":
            code = golden.cells.get(cell.id, cell.source)
            exec(compile(code, cell.id, "exec"), namespace)  # noqa: S102 - our own notebooks
    earned, messages = 0.0, []
    for cell in source.cells:
        if not is_test_cell(cell) or cell.id == "test_accuracy":
            continue
        try:
            exec(compile(cell.source, cell.id, "exec"), dict(namespace))  # noqa: S102
            earned += nbmeta(cell)["points"]
        except AssertionError as exc:
            messages.append(str(exc))
    trained = 3 if golden.base == "reference" else 0
    assert earned == golden.expected - trained, (earned, messages)
    if golden.feedback:
        assert any(golden.feedback in m for m in messages), messages


@pytest.mark.slow
@pytest.mark.parametrize("case", [g for g in GOLDEN if g.feedback], ids=lambda g: g.name)
def test_feedback_names_the_mistake(graded, case):
    """Each typical backward-pass mistake is named in the student's feedback page."""
    page = graded["root"] / "autograder" / "feedback" / case.name / case.mission
    text = _visible_text(next(page.glob("*.html")))
    assert case.feedback in text, (case.name, case.feedback)


def test_accuracy_is_computed_from_outputs(grading):
    import keras
    import numpy as np

    model = _mlp(keras, keras.layers.Dense(10, activation="softmax"))
    x = np.random.default_rng(0).random((50, 28, 28, 1), dtype=np.float32)
    probs = np.asarray(model(x, training=False))
    y = np.eye(10, dtype=np.float32)[probs.argmax(axis=1)]
    assert grading.test_accuracy(model, x, y, batch_size=7) == 1.0
    y_wrong = np.roll(y, 1, axis=1)
    assert grading.test_accuracy(model, x, y_wrong) == 0.0


def test_callback_driver_and_early_stopping(grading):
    import keras

    stopper = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", patience=3, restore_best_weights=True
    )
    logs = [{"val_accuracy": v} for v in (0.90, 0.92, 0.91, 0.915, 0.93, 0.925, 0.92, 0.929, 0.99)]
    run = grading.run_callback_on_logs(stopper, logs)
    assert run.stopped_after_epoch == 8 and run.epochs_run == 8
    run = grading.run_callback_on_logs(
        keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=2), logs
    )
    assert run.stopped_after_epoch == 4

    class Broken(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs.get("acc") >= 0.99:  # the seed's Keras 2 key
                self.model.stop_training = True

    with pytest.raises(AssertionError, match="raised TypeError"):
        grading.run_callback_on_logs(Broken(), [{"accuracy": 0.99}])
    run = grading.run_callback_on_logs(Broken(), [{"accuracy": 0.99}], allow_errors=True)
    assert isinstance(run.error, TypeError)


def test_tamper_detection(grading):
    import builtins

    import keras
    import numpy as np

    grading.assert_not_tampered()
    saved = (np.argmax, keras.Model.evaluate, builtins.print)
    try:
        np.argmax = lambda *a, **k: 0
        keras.Model.evaluate = lambda *a, **k: [0.0, 1.0]
        with pytest.raises(
            AssertionError,
            match=r"keras\.Model\.evaluate.*numpy\.argmax|"
            r"numpy\.argmax.*keras\.Model\.evaluate",
        ):
            grading.assert_not_tampered()
    finally:
        np.argmax, keras.Model.evaluate, builtins.print = saved
    grading.assert_not_tampered()
    with grading.record_fits():
        pass
    grading.assert_not_tampered()


def test_mission_data_split():
    from helpers.mission_data import load_mission_data

    d = load_mission_data()
    assert d.x_train.shape == (50_000, 28, 28, 1) and d.x_val.shape == (10_000, 28, 28, 1)
    assert d.x_test.shape == (10_000, 28, 28, 1) and d.y_train.shape == (50_000, 10)
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    assert (d.y_val.argmax(axis=1) == d.labels_val).all()
    import helpers

    (x_all, y_all), _ = helpers.load_mnist()
    assert (d.labels_val == y_all[50_000:]).all()  # the last 10,000 training images


# =========================================================================== slow: one grading run
@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A scratch copy of the course with release/ regenerated into it."""
    return make_course(tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="module")
def graded(course):
    """Grade reference, blank, partial and golden submissions of every mission (one pass)."""
    incoming = course / "incoming"
    for kind in ("reference", "blank", "partial"):
        for mission in MISSIONS:
            folder = incoming / kind / mission
            folder.mkdir(parents=True)
            nbformat.write(submission(mission, kind), folder / f"{mission}.ipynb")
    for case in GOLDEN:
        folder = incoming / case.name / case.mission
        folder.mkdir(parents=True)
        nbformat.write(case.notebook(), folder / f"{case.mission}.ipynb")
    broken = incoming / "broken" / "mission1_base_model"
    broken.mkdir(parents=True)
    (broken / "mission1_base_model.ipynb").write_text("{ this is not a notebook")
    proc = run_grade(incoming, course, "--jobs", "2")
    print(proc.stdout[-6000:], proc.stderr[-3000:])
    rows = list(csv.DictReader((course / "autograder" / "grades.csv").open()))
    return {"proc": proc, "rows": rows, "root": course}


def _row(graded, student, mission):
    matches = [
        r for r in graded["rows"] if r["student_id"] == student and r["assignment"] == mission
    ]
    assert len(matches) == 1, f"no single CSV row for {student}/{mission}"
    return matches[0]


@pytest.mark.slow
def test_grade_pipeline_runs_and_writes_outputs(graded):
    proc, root = graded["proc"], graded["root"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert set(graded["rows"][0]) >= {"assignment", "student_id", "score", "max_score"}
    for student in ("reference", "blank", "partial"):
        for mission in MISSIONS:
            _row(graded, student, mission)
            html_files = list((root / "autograder" / "feedback" / student / mission).glob("*.html"))
            assert len(html_files) == 1, f"no feedback for {student}/{mission}"
    # one broken notebook is reported in one line and does not stop the others
    failed = [ln for ln in proc.stderr.splitlines() if ln.startswith("FAILED")]
    assert len(failed) == 1 and failed[0].startswith("FAILED broken/mission1_base_model:"), failed


@pytest.mark.slow
@pytest.mark.parametrize("mission", MISSIONS)
def test_reference_scores_full_automatic_marks(graded, mission):
    row = _row(graded, "reference", mission)
    nb = source_nb(mission)
    assert float(row["score"]) == auto_points(nb), row
    assert float(row["max_score"]) == all_points(nb)


@pytest.mark.slow
@pytest.mark.parametrize("mission", MISSIONS)
def test_blank_release_scores_zero(graded, mission):
    assert float(_row(graded, "blank", mission)["score"]) == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("mission", MISSIONS)
def test_partial_submission_scores_in_between(graded, mission):
    score = float(_row(graded, "partial", mission)["score"])
    assert 0 < score < auto_points(source_nb(mission))
    assert score == PARTIAL[mission][1]


@pytest.mark.slow
def test_seed_dropout_model_loses_structure_points(graded):
    from nbgrader.api import Gradebook

    from autograder import COURSE_ID, db_url

    with Gradebook(db_url(graded["root"]), COURSE_ID) as gb:
        nb = gb.find_submission_notebook("mission3_dropout", "mission3_dropout", "partial")
        scores = {g.name: g.score for g in nb.grades if g.cell_type == "code"}
    assert scores["test_dropout_structure"] == 0 and scores["test_accuracy"] == 0
    assert scores["test_inference_deterministic"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("case", GOLDEN, ids=[c.name for c in GOLDEN])
def test_golden_submission_gets_its_deserved_score(graded, case):
    """Correct answers in every accepted style get full marks; each rule case its score."""
    row = _row(graded, case.name, case.mission)
    assert float(row["score"]) == case.expected, (case.what, row)


def test_golden_cases_cover_three_styles_per_mission():
    """With the reference, at least three correct styles per mission get full marks."""
    for mission in MISSIONS:
        full = [
            c
            for c in GOLDEN
            if c.mission == mission and c.expected == auto_points(source_nb(mission))
        ]
        assert len(full) >= 2, mission


def _visible_text(path: Path) -> str:
    text = re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8"))
    return html.unescape(text)


@pytest.mark.slow
def test_feedback_shows_messages_not_hidden_code(graded):
    root = graded["root"]
    hidden_lines = set()
    for mission in MISSIONS:
        for cell in source_nb(mission).cells:
            match = HIDDEN.search(cell.source)
            if match:
                hidden_lines |= {
                    ln.strip() for ln in match.group(1).splitlines() if len(ln.strip()) > 25
                }
    pages = sorted((root / "autograder" / "feedback").glob("*/*/*.html"))
    assert len(pages) == 3 * len(MISSIONS) + len(GOLDEN)
    for page in pages:
        text = _visible_text(page)
        mission = page.parent.name
        n_tests = sum(is_test_cell(c) for c in source_nb(mission).cells)
        assert text.count("(hidden tests not shown)") == n_tests, page
        leaked = [ln for ln in hidden_lines if ln in text]
        assert not leaked, f"{page} shows hidden test code: {leaked[:3]}"
        assert "HIDDEN TESTS" not in text and "assert_not_tampered" not in text
    seed_page = _visible_text(
        root / "autograder" / "feedback" / "partial" / "mission3_dropout" / "mission3_dropout.html"
    )
    assert "Dropout comes after a softmax output layer" in seed_page
    assert "# Test `test_dropout_structure` (hidden tests not shown)" in seed_page


@pytest.mark.slow
def test_blank_release_fails_every_test_under_validate_invert(course):
    notebooks = [str(course / "release" / m / f"{m}.ipynb") for m in MISSIONS]
    from autograder.release import nbgrader_env

    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", "validate", "--invert", *notebooks],
        cwd=course,
        capture_output=True,
        text=True,
        timeout=1800,
        env=nbgrader_env(),
    )
    out = proc.stdout + proc.stderr
    assert out.count("Success! The notebook does not pass any tests.") == len(MISSIONS), out[-4000:]


@pytest.mark.slow
def test_committed_release_matches_generated(course):
    for mission in MISSIONS:
        committed = release_nb(mission)
        generated = nbformat.read(course / "release" / mission / f"{mission}.ipynb", as_version=4)
        assert [(c.cell_type, c.source) for c in committed.cells] == [
            (c.cell_type, c.source) for c in generated.cells
        ], f"release/{mission} is out of date: run `make release`"
        assert [nbmeta(c) for c in committed.cells] == [nbmeta(c) for c in generated.cells]


def test_points_are_consistent_with_release():
    for mission in MISSIONS:
        assert auto_points(release_nb(mission)) == auto_points(source_nb(mission))
        assert all_points(release_nb(mission)) == all_points(source_nb(mission))
