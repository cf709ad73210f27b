"""Golden submissions: correct answers written in the other styles Keras accepts, and the
rule cases, each with the automatic score it deserves.

The grader judges what a model is and does, not how its source is spelled (GUIDE.md). These
cases hold it to that through the real grading pipeline: for every mission, two correct
answers in styles other than the reference's (the reference is the third) must get full
marks, and a few cheap cases show each rule the statements spell out:

* an activation passed as a string, a function (``keras.activations.relu``), a TensorFlow op
  (``tf.nn.relu``, whose Python name for softmax is ``softmax_v2``) or a separate layer
  (``ReLU()``, ``Activation("relu")``, ``Softmax()``) is the same activation, and a wrong
  activation still loses the structure points;
* Mission 3's builder may leave the Dropout layer out when ``rate`` is 0 (lecture 5's
  ``if dropout_rate > 0:``);
* Mission 4's callback reads ``"accuracy"`` only: falling back to Keras 2's ``"acc"`` loses
  the missing-key test, as its statement and visible test say;
* Mission 5 (NumPy backprop): each typical backward-pass mistake loses the points of the
  parts it breaks, keeps the others, and its feedback names the mistake (``feedback``).

A case starts from a ``mission_support.submission`` ("reference": every answer filled in, or
"partial": no training, graded in seconds) and replaces whole answer cells, as a student
would write them. ``tests/test_missions.py`` grades them in its one shared grading pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from mission_support import cell_by_id, submission

M1, M2, M3, M4, M5 = (
    "mission1_base_model",
    "mission2_early_stopping",
    "mission3_dropout",
    "mission4_callback_99",
    "mission5_backprop_numpy",
)


@dataclass(frozen=True)
class Golden:
    name: str  # also the student id
    mission: str
    what: str  # one line: the style or the rule it shows
    base: str  # "reference" or "partial" (see mission_support.submission)
    cells: dict[str, str]  # answer cell id -> the student's whole cell
    expected: float  # the automatic score it deserves
    feedback: str = ""  # text the feedback page must show (the mistake, named)

    def notebook(self):
        nb = submission(self.mission, self.base)
        for cell_id, source in self.cells.items():
            cell_by_id(nb, cell_id).source = source.strip() + "\n"
        return nb


# --------------------------------------------------------------------------- mission 1
M1_FUNCTIONAL_TF_OPS = '''
import tensorflow as tf


def build_base_model():
    """The TensorFlow tutorials' style: functional API, tf.nn activations, objects."""
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(units=50, activation=tf.nn.relu)(x)
    outputs = keras.layers.Dense(units=10, activation=tf.nn.softmax)(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="base_model")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss=keras.losses.CategoricalCrossentropy(),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    return model
'''
M1_TRAIN_KEYWORDS = """
def train_base_model(model, x_train, y_train, x_val, y_val, epochs=10):
    history = model.fit(x=x_train, y=y_train, batch_size=128, epochs=epochs, verbose=2,
                        validation_data=(x_val, y_val))
    return history
"""
M1_ACTIVATION_LAYERS = '''
def build_base_model():
    """Keras 2 habits: model.add, input_shape=, activation layers, a loss function."""
    model = keras.Sequential(name="base")
    model.add(keras.layers.Flatten(input_shape=(28, 28, 1)))
    model.add(keras.layers.Dense(50))
    model.add(keras.layers.ReLU())
    model.add(keras.layers.Dense(10))
    model.add(keras.layers.Activation("softmax"))
    model.compile(optimizer="Adam", loss=keras.losses.categorical_crossentropy,
                  metrics=["accuracy"])
    return model
'''
M1_TRAIN_POSITIONAL = """
def train_base_model(model, x_train, y_train, x_val, y_val, epochs=10):
    return model.fit(x_train, y_train, 128, epochs, 2, validation_data=(x_val, y_val))
"""
M1_SIGMOID = """
def build_base_model():
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(50, activation=keras.activations.sigmoid),
        keras.layers.Dense(10, activation=keras.activations.softmax),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model
"""

# --------------------------------------------------------------------------- mission 2
M2_STOPPER_POSITIONAL = """
def make_early_stopping():
    # restore_best_weights left False: I keep the last epoch's weights, which are at most
    # three epochs past the best one and score almost the same.
    return keras.callbacks.EarlyStopping("val_accuracy", patience=3, mode="max")
"""
M2_TRAIN_KEYWORDS = """
def train_with_early_stopping(model, x_train, y_train, x_val, y_val):
    callbacks = [make_early_stopping()]
    history = model.fit(x=x_train, y=y_train, epochs=50, batch_size=256,
                        validation_data=(x_val, y_val), callbacks=callbacks, verbose=2)
    return history
"""
M2_STOPPER_IMPORTED = """
from keras.callbacks import EarlyStopping


def make_early_stopping():
    # restore_best_weights=True: the model I keep is the one validation liked best.
    return EarlyStopping(monitor="val_accuracy", min_delta=0.0, patience=3, verbose=1,
                         restore_best_weights=True)
"""
M2_TRAIN_POSITIONAL = """
def train_with_early_stopping(model, x_train, y_train, x_val, y_val):
    # fit(x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data)
    return model.fit(x_train, y_train, 256, 50, 2, [make_early_stopping()], 0.0,
                     (x_val, y_val))
"""

# --------------------------------------------------------------------------- mission 3
M3_LECTURE5_STYLE = '''
def build_dropout_model(hidden_units=50, rate=0.5):
    """Lecture 5's pattern: the Dropout layer only when there is something to drop."""
    model = keras.Sequential()
    model.add(keras.Input(shape=(28, 28, 1)))
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(hidden_units))
    model.add(keras.layers.Activation("relu"))
    if rate > 0:
        model.add(keras.layers.Dropout(rate))
    model.add(keras.layers.Dense(10))
    model.add(keras.layers.Softmax())
    model.compile(optimizer=keras.optimizers.Adam(), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model
'''
M3_FUNCTIONAL_TF_OPS = """
import tensorflow as tf


def build_dropout_model(hidden_units=50, rate=0.5):
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.Dense(hidden_units, activation=tf.nn.relu)(keras.layers.Flatten()(inputs))
    h = keras.layers.Dropout(rate=rate)(h)
    outputs = keras.layers.Dense(10, activation=tf.nn.softmax)(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss=keras.losses.CategoricalCrossentropy(),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    return model
"""

# --------------------------------------------------------------------------- mission 4
M4_CALLBACK_GET = '''
class StopAtAccuracy(keras.callbacks.Callback):
    """Stop at the end of the first epoch whose training accuracy reaches the target."""

    def __init__(self, target=0.99):
        super().__init__()
        self.target = float(target)

    def on_epoch_end(self, epoch, logs=None):
        accuracy = (logs or {}).get("accuracy")
        if accuracy is None:
            raise ValueError(f"no 'accuracy' in the logs {logs}; compile with "
                             "metrics=['accuracy']")
        if accuracy >= self.target:
            print(f"Reached {accuracy:.2%} training accuracy in epoch {epoch + 1}: stopping.")
            self.model.stop_training = True
'''
M4_TRAIN_FUNCTIONAL = """
def train_mnist():
    (x_train, y_train), (x_test, y_test) = helpers.load_mnist()
    x_train = x_train / 255.0
    inputs = keras.Input(shape=(28, 28))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(512)(x)
    x = keras.layers.ReLU()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    history = model.fit(x_train, y_train, batch_size=128, epochs=10,
                        callbacks=[StopAtAccuracy(0.99)], verbose=2)
    return history.epoch, history.history["accuracy"][-1]
"""
M4_CALLBACK_TRY = """
class StopAtAccuracy(keras.callbacks.Callback):
    def __init__(self, target=0.99):
        super().__init__()
        self.target = target

    def on_epoch_end(self, epoch, logs=None):
        try:
            accuracy = logs["accuracy"]
        except (KeyError, TypeError):
            raise KeyError("accuracy") from None
        if accuracy >= self.target:
            print("accuracy reached the target, stopping")
            self.model.stop_training = True
"""
M4_TRAIN_ADD_TF_OPS = """
import tensorflow as tf


def train_mnist():
    (x_train, y_train), _ = helpers.load_mnist()
    x_train = helpers.preprocessing.scale_images(x_train)
    model = keras.Sequential()
    model.add(keras.Input((28, 28)))
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(512, activation=tf.nn.relu))
    model.add(keras.layers.Dense(10, activation=tf.nn.softmax))
    model.compile(optimizer="Adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    stopper = StopAtAccuracy(target=0.99)
    history = model.fit(x_train, y_train, epochs=10, batch_size=128, callbacks=[stopper],
                        verbose=2)
    return list(history.epoch), float(history.history["accuracy"][-1])
"""
M4_ACC_FALLBACK = """
class StopAtAccuracy(keras.callbacks.Callback):
    def __init__(self, target=0.99):
        super().__init__()
        self.target = target

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        accuracy = logs.get("accuracy", logs.get("acc"))  # falls back to Keras 2's name
        if accuracy is None:
            raise KeyError("accuracy")
        if accuracy >= self.target:
            print("stopping")
            self.model.stop_training = True
"""

# --------------------------------------------------------------------------- mission 5
M5_LAYERS_OTHER_STYLE = '''
def affine_forward(x, w, b):
    """out = x @ w + b, written with np.dot; the cache is a dict."""
    return np.dot(x, w) + b, {"x": x, "w": w}


def affine_backward(dout, cache):
    x, w = cache["x"], cache["w"]
    return np.dot(dout, w.T), np.dot(x.T, dout), np.sum(dout, axis=0)
'''
M5_RELU_WHERE = """
def relu_forward(x):
    out = np.where(x > 0, x, 0.0)
    return out, x


def relu_backward(dout, cache):
    x = cache
    return np.where(x > 0, dout, 0.0)
"""
M5_SOFTMAX_LOGSUMEXP = """
def softmax_loss(scores, y):
    n = len(y)
    z = scores - np.max(scores, axis=1, keepdims=True)
    probs = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
    loss = float(np.mean(np.log(np.sum(np.exp(z), axis=1)) - z[np.arange(n), y]))
    one_hot = np.zeros_like(scores)
    one_hot[np.arange(n), y] = 1
    return loss, (probs - one_hot) / n
"""
M5_DROPOUT_BINOMIAL = """
def dropout_forward(x, p, rng, train=True):
    # a 0/1 mask from the given generator, scaled by 1 / (1 - p); nothing at test time
    if train:
        mask = (rng.binomial(1, 1.0 - p, size=x.shape) / (1.0 - p)).astype(x.dtype)
        return x * mask, mask
    return x, np.ones_like(x)


def dropout_backward(dout, cache):
    return dout * cache
"""
M5_MOMENTUM_DICT = """
def sgd_momentum(w, dw, velocity, lr=0.05, momentum=0.9):
    v = momentum * velocity
    v = v - lr * dw
    return w + v, v
"""

# The typical mistakes, one per submission, each a whole answer cell as a student writes it.
M5_DB_AVERAGED = """
def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.mean(axis=0)
"""
M5_DX_RESHAPED = """
def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    dx = (w @ dout.T).reshape(x.shape)  # shaped like x, but the entries of dx.T
    return dx, x.T @ dout, dout.sum(axis=0)
"""
M5_RELU_MASK_FROM_DOUT = """
def relu_forward(x):
    out = np.maximum(0, x)
    return out, out


def relu_backward(dout, cache):
    return dout * (dout > 0)
"""
M5_SOFTMAX_NOT_DIVIDED = """
def softmax_loss(scores, y):
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(n), y]).mean()
    dscores = probs.copy()
    dscores[np.arange(n), y] -= 1
    return float(loss), dscores
"""
M5_DROPOUT_UNSCALED = """
def dropout_forward(x, p, rng, train=True):
    if not train:
        return x, None
    mask = rng.random(x.shape) >= p
    return x * mask, mask


def dropout_backward(dout, cache):
    return dout if cache is None else dout * cache
"""
M5_DROPOUT_NEW_MASK = """
def dropout_forward(x, p, rng, train=True):
    if not train:
        return x, None
    mask = (rng.random(x.shape) >= p) / (1 - p)
    return x * mask, (p, rng)


def dropout_backward(dout, cache):
    p, rng = cache
    return dout * (rng.random(dout.shape) >= p) / (1 - p)  # a new mask
"""
M5_VELOCITY_NOT_KEPT = """
def sgd_momentum(w, dw, velocity, lr=0.05, momentum=0.9):
    velocity = -lr * dw
    return w + velocity, velocity
"""
M5_MOMENTUM_UPHILL = """
def sgd_momentum(w, dw, velocity, lr=0.05, momentum=0.9):
    v = momentum * velocity + lr * dw
    return w + v, v
"""
M5_OTHER_STYLE = {
    "affine_layer": M5_LAYERS_OTHER_STYLE,
    "relu_layer": M5_RELU_WHERE,
    "softmax_loss": M5_SOFTMAX_LOGSUMEXP,
    "dropout_layer": M5_DROPOUT_BINOMIAL,
    "momentum_update": M5_MOMENTUM_DICT,
}


def _m5_mistake(name, what, cell, source, expected, feedback):
    """A Mission 5 submission with one typical mistake: partial base (no training)."""
    return Golden(name, M5, what, "partial", {cell: source}, expected, feedback)


GOLDEN = [
    Golden(
        "golden-m1-functional-tf-ops",
        M1,
        "functional API, tf.nn.relu/tf.nn.softmax, "
        "Adam/CategoricalCrossentropy/CategoricalAccuracy(name='accuracy') objects, fit "
        "by keywords",
        "reference",
        {"build_base_model": M1_FUNCTIONAL_TF_OPS, "train_base_model": M1_TRAIN_KEYWORDS},
        10,
    ),
    Golden(
        "golden-m1-activation-layers",
        M1,
        "model.add, Flatten(input_shape=...), Dense + "
        "ReLU() and Dense + Activation('softmax'), loss as a function, fit positionally",
        "reference",
        {"build_base_model": M1_ACTIVATION_LAYERS, "train_base_model": M1_TRAIN_POSITIONAL},
        10,
    ),
    Golden(
        "rule-m1-wrong-activation",
        M1,
        "sigmoid hidden layer given as a function: structure 0, compile 2, no training",
        "partial",
        {"build_base_model": M1_SIGMOID},
        2,
    ),
    Golden(
        "golden-m2-keywords",
        M2,
        "EarlyStopping('val_accuracy', mode='max') without restore_best_weights, fit by keywords",
        "reference",
        {
            "make_early_stopping": M2_STOPPER_POSITIONAL,
            "train_with_early_stopping": M2_TRAIN_KEYWORDS,
        },
        10,
    ),
    Golden(
        "golden-m2-positional",
        M2,
        "EarlyStopping imported by name with verbose=1, fit "
        "with every argument positional (callbacks included)",
        "reference",
        {
            "make_early_stopping": M2_STOPPER_IMPORTED,
            "train_with_early_stopping": M2_TRAIN_POSITIONAL,
        },
        10,
    ),
    Golden(
        "golden-m3-no-dropout-at-rate-0",
        M3,
        "lecture 5's `if rate > 0:` (no Dropout "
        "layer at rate 0), Activation('relu') and Softmax() layers, model.add",
        "reference",
        {"build_dropout_model": M3_LECTURE5_STYLE},
        10,
    ),
    Golden(
        "golden-m3-functional-tf-ops",
        M3,
        "functional API, tf.nn activations, loss and metric objects",
        "reference",
        {"build_dropout_model": M3_FUNCTIONAL_TF_OPS},
        10,
    ),
    Golden(
        "golden-m4-get-functional",
        M4,
        "logs.get + ValueError; functional model with a ReLU layer, optimizer/loss/metric objects",
        "reference",
        {"stop_at_accuracy": M4_CALLBACK_GET, "train_mnist": M4_TRAIN_FUNCTIONAL},
        10,
    ),
    Golden(
        "golden-m4-keyerror-add",
        M4,
        "try/except KeyError; model.add with tf.nn activations, helpers' scale_images",
        "reference",
        {"stop_at_accuracy": M4_CALLBACK_TRY, "train_mnist": M4_TRAIN_ADD_TF_OPS},
        10,
    ),
    Golden(
        "rule-m4-acc-fallback",
        M4,
        "the callback falls back to 'acc': loses the missing-key test (2); no train_mnist",
        "partial",
        {"stop_at_accuracy": M4_ACC_FALLBACK},
        4,
    ),
    Golden(
        "golden-m5-other-style",
        M5,
        "np.dot and a dict cache, np.where ReLU, log-sum-exp loss, rng.binomial dropout mask",
        "reference",
        M5_OTHER_STYLE,
        18,
    ),
    Golden(
        "golden-m5-where-relu-two-step-momentum",
        M5,
        "np.where ReLU caching x itself, momentum in two steps; the rest as the reference",
        "reference",
        {"relu_layer": M5_RELU_WHERE, "momentum_update": M5_MOMENTUM_DICT},
        18,
    ),
    # affine 3 and the whole net 2 lost: 15 - 5
    _m5_mistake(
        "mistake-m5-db-averaged",
        "db = dout.mean(axis=0)",
        "affine_layer",
        M5_DB_AVERAGED,
        10,
        "db looks averaged over the batch",
    ),
    _m5_mistake(
        "mistake-m5-dx-transposed",
        "dx = (w @ dout.T).reshape(x.shape)",
        "affine_layer",
        M5_DX_RESHAPED,
        10,
        "holds its transpose, reshaped",
    ),
    # ReLU 2 and the whole net 2 lost
    _m5_mistake(
        "mistake-m5-relu-mask-from-dout",
        "relu_backward masks with dout > 0",
        "relu_layer",
        M5_RELU_MASK_FROM_DOUT,
        11,
        "the mask was taken from dout",
    ),
    # softmax 3 and the whole net 2 lost
    _m5_mistake(
        "mistake-m5-softmax-not-divided",
        "dscores = softmax - onehot, no / N",
        "softmax_loss",
        M5_SOFTMAX_NOT_DIVIDED,
        10,
        "dscores is not divided by N",
    ),
    # dropout 3 lost; forward and backward agree, so the whole net's gradients are right
    _m5_mistake(
        "mistake-m5-dropout-unscaled",
        "no 1 / (1 - p)",
        "dropout_layer",
        M5_DROPOUT_UNSCALED,
        12,
        "not scaled by 1 / (1 - p)",
    ),
    # dropout 3 and the whole net 2 (its dropout-on check) lost
    _m5_mistake(
        "mistake-m5-dropout-new-mask",
        "dropout_backward draws a new mask",
        "dropout_layer",
        M5_DROPOUT_NEW_MASK,
        10,
        "the mask is not reused",
    ),
    # momentum 2 lost
    _m5_mistake(
        "mistake-m5-velocity-not-kept",
        "velocity = -lr * dw",
        "momentum_update",
        M5_VELOCITY_NOT_KEPT,
        13,
        "the old velocity is ignored",
    ),
    _m5_mistake(
        "mistake-m5-momentum-uphill",
        "v = momentum * v + lr * dw",
        "momentum_update",
        M5_MOMENTUM_UPHILL,
        13,
        "the step goes uphill",
    ),
]
