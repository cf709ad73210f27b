import numpy as np
import pytest

from helpers.gradcheck import numerical_gradient, numerical_gradient_array, relative_error


def test_numerical_gradient_of_quadratic():
    x = np.random.default_rng(0).normal(size=(3, 4))
    before = x.copy()
    grad = numerical_gradient(lambda z: np.sum(z**2), x)
    assert relative_error(grad, 2 * x) < 1e-8
    assert np.array_equal(x, before), "x must be restored after perturbation"


def test_numerical_gradient_array_checks_a_layer():
    rng = np.random.default_rng(1)
    x, w, dout = rng.normal(size=(5, 3)), rng.normal(size=(3, 2)), rng.normal(size=(5, 2))
    dx = numerical_gradient_array(lambda z: z @ w, x, dout)
    assert relative_error(dx, dout @ w.T) < 1e-8


def test_wrong_gradient_is_caught():
    x = np.linspace(-1, 1, 7)
    assert relative_error(numerical_gradient(lambda z: np.sum(z**3), x), 2 * x) > 1e-2


def test_relative_error_properties():
    a = np.array([1.0, 2.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(a, np.ones(3))


def test_integer_input_is_refused():
    with pytest.raises(TypeError, match="float"):
        numerical_gradient(lambda z: 0.0, np.arange(3))


def test_norm_relative_error_ignores_rounding_noise_on_near_zero_entries():
    from helpers.gradcheck import norm_relative_error

    exact = np.array([1.0, -2.0, 0.0])
    noisy = exact + np.array([0.0, 0.0, 1e-11])  # a dropped unit: 0 in one, noise in the other
    assert relative_error(exact, noisy) > 1e-4  # the elementwise measure fails any tolerance
    assert norm_relative_error(exact, noisy) < 1e-10
    assert norm_relative_error(exact, exact / 4) > 0.5  # a wrong factor still shows
    with pytest.raises(ValueError, match="shapes differ"):
        norm_relative_error(exact, np.ones(2))
