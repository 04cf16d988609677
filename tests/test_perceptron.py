import numpy as np
import pytest

from profond.perceptron import (
    add_bias, perceptron_loss, perceptron_update, predict, separable_data, train_perceptron, xor_data,
)


def test_update_moves_only_on_mistakes():
    w = np.array([0.0, 1.0, 0.0])
    x_ok, x_bad = np.array([1.0, 2.0, 0.0]), np.array([1.0, -2.0, 0.0])
    np.testing.assert_array_equal(perceptron_update(w, x_ok, 1.0, lr=0.5), w)
    np.testing.assert_allclose(perceptron_update(w, x_bad, 1.0, lr=0.5), [0.5, 0.0, 0.0])


def test_converges_on_separable_data():
    x, y = separable_data(200, seed=1)
    res = train_perceptron(x, y, max_epochs=200, seed=0)
    assert res.converged
    assert res.errors[-1] == 0
    assert (predict(res.w, add_bias(x)) == y).all()
    assert perceptron_loss(res.w, add_bias(x), y) == 0.0


def test_fails_on_xor():
    x, y = xor_data(25, seed=0)
    res = train_perceptron(x, y, max_epochs=50, seed=0)
    assert not res.converged
    assert len(res.errors) == 50
    # Aucune droite ne classe bien plus de 3 des 4 coins : au moins un quart d'erreurs.
    assert min(res.errors) >= 25


def test_loss_is_positive_on_mistakes():
    xb = add_bias(np.array([[1.0], [-1.0]]))
    w = np.array([0.0, 1.0])
    assert perceptron_loss(w, xb, np.array([1.0, -1.0])) == 0.0
    assert perceptron_loss(w, xb, np.array([-1.0, 1.0])) == pytest.approx(1.0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="-1 et \\+1"):
        train_perceptron([[0.0], [1.0]], [0, 1])
    with pytest.raises(ValueError, match="forme"):
        train_perceptron([[0.0], [1.0]], [1, -1, 1])
    with pytest.raises(ValueError, match="`x`"):
        add_bias(np.zeros(3))
    with pytest.raises(ValueError, match="lr"):
        train_perceptron([[0.0], [1.0]], [1, -1], lr=0.0)
