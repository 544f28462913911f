"""Naive formulas are stable through every transform, without the user asking (issue 11).

Each case is a formula written the naive way and the same math written with the stable ops;
at float32 logits of +-100 and +-1e4 every path that hands out numbers (lg.value_and_grad,
lg.grad, lg.gradients + evaluate, a declared Loss, lg.hvp) must give the stable values.
"""
import numpy as np
import pytest

import lossgraph as lg

LABELS = np.array([0, 2, 1, 2])


def bce_naive(x, z):
    return lg.mean(-(z * lg.log(lg.sigmoid(x)) + (1 - z) * lg.log(1 - lg.sigmoid(x))))


def bce_stable(x, z):
    return lg.mean(z * lg.softplus(-x) + (1 - z) * lg.softplus(x))


def log_softmax_naive(x, y):
    return -lg.mean(lg.sum(y * lg.log(lg.exp(x) / lg.sum(lg.exp(x), axis=1, keepdims=True)),
                           axis=1))


def log_softmax_stable(x, y):
    return -lg.mean(lg.sum(y * lg.log_softmax(x, axis=1), axis=1))


def picked_naive(x, w):
    labels = lg.constant(LABELS)
    return lg.mean(-lg.sum(w, axis=1) * lg.log(lg.pick(lg.exp(x), labels, axis=1)
                                               / lg.sum(lg.exp(x), axis=1)))


def picked_stable(x, w):
    labels = lg.constant(LABELS)
    return lg.mean(lg.sum(w, axis=1) * (lg.logsumexp(x, axis=1) - lg.pick(x, labels, axis=1)))


CASES = {
    "bce via sigmoid": (bce_naive, bce_stable, (8,)),
    "log(exp / sum exp)": (log_softmax_naive, log_softmax_stable, (4, 3)),
    "-log(pick(exp) / sum exp)": (picked_naive, picked_stable, (4, 3)),
    "log(exp(x) / (1 + exp(x)))": (
        lambda x, z: lg.sum(z * lg.log(lg.exp(x) / (1.0 + lg.exp(x)))),
        lambda x, z: lg.sum(-z * lg.softplus(-x)), (8,)),
    "log(1 / (1 + exp(-x)))": (
        lambda x, z: lg.sum(z * lg.log(1.0 / (1.0 + lg.exp(-x)))),
        lambda x, z: lg.sum(-z * lg.softplus(-x)), (8,)),
    "log((exp(x) + exp(-x)) / 2)": (
        lambda x, z: lg.mean(lg.log((lg.exp(x - z) + lg.exp(-(x - z))) / 2.0)),
        lambda x, z: lg.mean(lg.abs(x - z) + lg.softplus(-2.0 * lg.abs(x - z)) - np.log(2.0)),
        (8,)),
    "log1p(-sigmoid(x))": (lambda x, z: lg.sum(z * lg.log1p(-lg.sigmoid(x))),
                           lambda x, z: lg.sum(-z * lg.softplus(x)), (8,)),
    "log(1 + exp(x))": (lambda x, z: lg.sum(z * lg.log(1.0 + lg.exp(x))),
                        lambda x, z: lg.sum(z * lg.softplus(x)), (8,)),
}


def _inputs(shape, scale):
    rng = np.random.default_rng(int(scale))
    x = (rng.choice([-1.0, 1.0], size=shape) * scale * rng.uniform(0.5, 1.0, shape))
    z = rng.random(shape)
    if len(shape) == 2:
        z = z / z.sum(axis=1, keepdims=True)
    return x.astype(np.float32), z.astype(np.float32)


def _reference(stable, x, z):
    """The stable formula in float64: the value and gradient every path must reproduce."""
    return lg.value_and_grad(stable)(x.astype(np.float64), z.astype(np.float64))


@pytest.mark.parametrize("scale", [100.0, 1e4])
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_transform_is_stable(name, scale):
    naive, stable, shape = CASES[name]
    x, z = _inputs(shape, scale)
    want_v, want_g = _reference(stable, x, z)
    tol = dict(rtol=2e-5, atol=2e-5 * max(1.0, float(np.max(np.abs(want_g)))))

    v, g = lg.value_and_grad(naive)(x, z)
    assert np.isfinite(v) and np.all(np.isfinite(g)), (v, g)
    assert v.dtype == np.float32 and g.dtype == np.float32
    np.testing.assert_allclose(v, want_v, rtol=2e-5, atol=1e-3)
    np.testing.assert_allclose(g, want_g, **tol)

    np.testing.assert_allclose(lg.grad(naive)(x, z), want_g, **tol)

    xn, zn = lg.input("x", shape=shape), lg.input("z", shape=shape)
    loss = naive(xn, zn)
    gx = lg.gradients(loss, xn)
    np.testing.assert_allclose(lg.evaluate([loss, gx], x=x, z=z)[1], want_g, **tol)

    declared = lg.Loss([xn, zn], loss, name=name)
    dv, dg = declared.value_and_grad(x, z)
    np.testing.assert_allclose(dv, want_v, rtol=2e-5, atol=1e-3)
    np.testing.assert_allclose(dg["x"], want_g, **tol)
    assert dg["x"].dtype == np.float32

    (h,) = lg.hvp(lambda a: naive(a, lg.constant(z)), (x,), (np.ones_like(x),))
    assert np.all(np.isfinite(h)), h


def test_literal_derivation_stays_one_keyword_away():
    x, z = lg.input("x", shape=("N",)), lg.input("z", shape=("N",))
    loss = bce_naive(x, z)
    literal = lg.gradients(loss, x, simplify=False)
    xs, zs = _inputs((8,), 100.0)
    # the literal derivation of the naive formula is the textbook's 0/0 at large |x|
    assert not np.all(np.isfinite(lg.evaluate([loss, literal], x=xs, z=zs)[1]))
    assert np.all(np.isfinite(lg.evaluate([loss, lg.gradients(loss, x)], x=xs, z=zs)[1]))
