"""The fast NumPy step computes the same update as the readable one."""

import numpy as np

from benchmarks import numpy_vs_keras as nk


def test_fast_step_equals_naive_step():
    rng = np.random.default_rng(0)
    x = rng.random((200, 784))
    t = np.eye(10)[rng.integers(0, 10, 200)]
    params = nk._init(np.random.default_rng(1), np.float64)
    naive = [p.copy() for p in params]
    nk.numpy_naive_epoch(x, t, naive)
    fast = nk.FastMLP(params)
    fast.epoch(x.astype(np.float32), t.astype(np.float32))
    for a, b in zip(naive, (fast.w1, fast.b1, fast.w2, fast.b2), strict=True):
        assert np.allclose(a, b, atol=1e-4), np.abs(a - b).max()


def test_run_on_a_tiny_setting():
    out = nk.run(n=1000)
    assert out["rows"] == 1000
    assert out["numpy_fast_s"] > 0 and out["keras_s"] > 0
    assert 0.0 <= out["numpy_fast_test_accuracy_1_epoch"] <= 1.0
