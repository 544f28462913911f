"""Canonical weight penalties against NumPy formulas written here, finite differences
(float64), precision, zero rows / columns, symbolic scales and bad input."""
import numpy as np
import pytest

import lossgraph as lg
from zoo import losses as L
from zoo.losses import regularizers as Rg

REFS = {
    "l1": lambda w: np.abs(w).sum(),
    "l2": lambda w: (w ** 2).sum(),
    "li": lambda w: np.sqrt((w ** 2).sum(1)).sum(),
    "lo": lambda w: np.sqrt((w ** 2).sum(0)).sum(),
    "maxnorm": lambda w: np.abs(w).max(),
    "maxnorm_o": lambda w: np.abs(w).max(0).sum(),
    "maxnorm_i": lambda w: np.abs(w).max(1).sum(),
}
NAMES = list(REFS)


def weights(seed, shape=(4, 3)):
    return np.random.default_rng(seed).normal(size=shape)


def test_exported_from_zoo_losses():
    for name in Rg.__all__:
        assert getattr(L, name) is getattr(Rg, name)
    assert sorted(Rg.__all__) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_value_matches_numpy(name):
    w = weights(0)
    np.testing.assert_allclose(getattr(Rg, name)(w, 0.3), 0.3 * REFS[name](w), rtol=1e-12)
    np.testing.assert_allclose(getattr(Rg, name)(w), REFS[name](w), rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_finite_differences(name):
    w = weights(1)
    x = lg.input("w", shape=w.shape)
    grad = lg.evaluate(lg.gradients(getattr(Rg, name)(x, 0.7), x), w=w)
    h, fd = 1e-6, np.zeros(w.shape)
    for pos in np.ndindex(*w.shape):
        up, dn = w.copy(), w.copy()
        up[pos] += h
        dn[pos] -= h
        fd[pos] = 0.7 * (REFS[name](up) - REFS[name](dn)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_float32_in_float32_out(name):
    w = weights(2).astype(np.float32)
    out = getattr(Rg, name)(w, 0.25)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 0.25 * REFS[name](w.astype(np.float64)), rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_zero_weights_give_zero_penalty_and_finite_gradient(name):
    x = lg.input("w", shape=(3, 2))
    loss = getattr(Rg, name)(x, 1.0)
    w = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, -2.0]])   # two zero rows
    value, grad = lg.evaluate([loss, lg.gradients(loss, x)], w=np.zeros((3, 2)))
    assert value == 0.0 and np.all(np.isfinite(grad))
    value, grad = lg.evaluate([loss, lg.gradients(loss, x)], w=w)
    np.testing.assert_allclose(value, REFS[name](w))
    assert np.all(np.isfinite(grad))


def test_group_norm_gradients_at_zero_rows_and_columns_are_zero():
    x = lg.input("w", shape=(2, 2))
    w = np.array([[3.0, 0.0], [4.0, 0.0]])             # a zero column (a zero row in w.T)
    np.testing.assert_allclose(lg.evaluate(lg.gradients(Rg.lo(x), x), w=w),
                               [[0.6, 0.0], [0.8, 0.0]])
    np.testing.assert_allclose(lg.evaluate(lg.gradients(Rg.li(x), x), w=w.T),
                               [[0.6, 0.8], [0.0, 0.0]])


def test_tflearn_l2_convention_is_half_the_scale():
    # TFLearn L2(t, wd) = wd * tf.nn.l2_loss(t) = wd * sum(t^2) / 2
    t = weights(3)
    np.testing.assert_allclose(Rg.l2(t, 0.001 / 2.0), 0.001 * (t ** 2).sum() / 2)


def test_symbolic_scale_and_node_weights():
    s = lg.input("s", shape=())
    w = lg.input("w", shape=("N", "M"))
    out = Rg.li(w, s)
    assert isinstance(out, lg.Node) and out.shape == ()
    wv = weights(4)
    np.testing.assert_allclose(lg.evaluate(out, w=wv, s=2.0), 2.0 * REFS["li"](wv))
    # an array w with a Node scale builds on nodes too (w becomes a constant)
    np.testing.assert_allclose(lg.evaluate(Rg.maxnorm(wv, s), s=0.5),
                               0.5 * REFS["maxnorm"](wv))


def test_any_rank_for_l1_l2_maxnorm_and_matrix_only_for_the_rest():
    w = weights(5, (2, 3, 4))
    for name in ("l1", "l2", "maxnorm"):
        np.testing.assert_allclose(getattr(Rg, name)(w, 1.0), REFS[name](w))
    for name in ("li", "lo", "maxnorm_o", "maxnorm_i"):
        with pytest.raises(lg.ShapeError, match="^w: expected a 2-D"):
            getattr(Rg, name)(w, 1.0)
