"""One epoch of the same two-layer net, from scratch in NumPy and in Keras.

Architecture 784 -> 100 (ReLU) -> 10 (softmax), cross-entropy, plain SGD with
learning rate 0.1, batch 100, the same MNIST rows in the same order. Three
timings in one process:

* ``numpy_naive``: the readable float64 version, as lecture 2 writes it (new arrays
  every step);
* ``numpy_fast``: float32, every buffer allocated once, in-place operations, no
  Python loop over samples;
* ``keras``: ``model.fit`` for one epoch, after a warm-up epoch so graph tracing
  is not counted (the first, traced epoch is reported too).
"""

from __future__ import annotations

import time

import numpy as np

HIDDEN, CLASSES, LR, BATCH = 100, 10, 0.1, 100


def _init(rng, dtype):
    w1 = (rng.standard_normal((784, HIDDEN)) * np.sqrt(2 / 784)).astype(dtype)
    w2 = (rng.standard_normal((HIDDEN, CLASSES)) * np.sqrt(2 / HIDDEN)).astype(dtype)
    return w1, np.zeros(HIDDEN, dtype), w2, np.zeros(CLASSES, dtype)


def numpy_naive_epoch(x, t, params):
    """Readable version: float64, fresh arrays in every step."""
    w1, b1, w2, b2 = params
    for i in range(0, len(x), BATCH):
        xb, tb = x[i : i + BATCH], t[i : i + BATCH]
        h = np.maximum(xb @ w1 + b1, 0)
        s = h @ w2 + b2
        s = s - s.max(axis=1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=1, keepdims=True)
        ds = (p - tb) / len(xb)
        dw2, db2 = h.T @ ds, ds.sum(axis=0)
        dh = (ds @ w2.T) * (h > 0)
        dw1, db1 = xb.T @ dh, dh.sum(axis=0)
        w1 -= LR * dw1
        b1 -= LR * db1
        w2 -= LR * dw2
        b2 -= LR * db2


class FastMLP:
    """float32, preallocated buffers, in-place ops: the same maths with no allocation per step."""

    def __init__(self, params, batch=BATCH):
        self.w1, self.b1, self.w2, self.b2 = (p.astype(np.float32) for p in params)
        f = np.float32
        self.h = np.empty((batch, HIDDEN), f)
        self.s = np.empty((batch, CLASSES), f)
        self.m = np.empty((batch, 1), f)
        self.dh = np.empty((batch, HIDDEN), f)
        self.dw1 = np.empty_like(self.w1)
        self.dw2 = np.empty_like(self.w2)
        self.mask = np.empty((batch, HIDDEN), bool)

    def step(self, xb, tb):
        h, s, m, dh = self.h, self.s, self.m, self.dh
        np.matmul(xb, self.w1, out=h)
        h += self.b1
        np.maximum(h, 0, out=h)
        np.matmul(h, self.w2, out=s)
        s += self.b2
        np.max(s, axis=1, keepdims=True, out=m)
        s -= m
        np.exp(s, out=s)
        np.sum(s, axis=1, keepdims=True, out=m)
        s /= m
        s -= tb
        s *= 1.0 / len(xb)  # s is now dL/dscores
        np.matmul(s, self.w2.T, out=dh)
        np.greater(h, 0, out=self.mask)
        dh *= self.mask
        np.matmul(h.T, s, out=self.dw2)
        np.matmul(xb.T, dh, out=self.dw1)
        self.b2 -= LR * s.sum(axis=0)
        self.b1 -= LR * dh.sum(axis=0)
        self.dw2 *= LR
        self.w2 -= self.dw2
        self.dw1 *= LR
        self.w1 -= self.dw1

    def epoch(self, x, t):
        for i in range(0, len(x) - len(x) % BATCH, BATCH):
            self.step(x[i : i + BATCH], t[i : i + BATCH])

    def accuracy(self, x, y):
        h = np.maximum(x @ self.w1 + self.b1, 0)
        return float(np.mean(np.argmax(h @ self.w2 + self.b2, axis=1) == y))


def keras_model(params):
    import keras

    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(HIDDEN, activation="relu"),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )
    model.set_weights([p.astype(np.float32) for p in params])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=LR),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def run(n: int = 60000) -> dict[str, float]:
    """Seconds per epoch for each implementation on the first ``n`` training rows, plus the ratios."""
    from helpers import load_mnist, seed_everything
    from helpers.preprocessing import flatten_images, one_hot, scale_images

    seed_everything(0)
    (x, y), (xt, yt) = load_mnist()
    x, t = flatten_images(scale_images(x[:n])), one_hot(y[:n])
    params = _init(np.random.default_rng(0), np.float64)

    naive = [p.copy() for p in params]
    x64, t64 = x.astype(np.float64), t.astype(np.float64)
    start = time.perf_counter()
    numpy_naive_epoch(x64, t64, naive)
    naive_s = time.perf_counter() - start

    fast = FastMLP(params)
    start = time.perf_counter()
    fast.epoch(x, t)
    fast_s = time.perf_counter() - start

    model = keras_model(params)
    start = time.perf_counter()
    model.fit(x, t, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    keras_first_s = time.perf_counter() - start
    start = time.perf_counter()
    model.fit(x, t, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    keras_s = time.perf_counter() - start

    xt_flat = flatten_images(scale_images(xt))
    return {
        "rows": n,
        "numpy_naive_s": naive_s,
        "numpy_fast_s": fast_s,
        "keras_first_epoch_s": keras_first_s,
        "keras_s": keras_s,
        "naive_over_keras": naive_s / keras_s,
        "fast_over_keras": fast_s / keras_s,
        "numpy_fast_test_accuracy_1_epoch": fast.accuracy(xt_flat, yt),
    }


if __name__ == "__main__":
    for k, v in run().items():
        print(f"{k:34s} {v:.4f}" if isinstance(v, float) else f"{k:34s} {v}")
