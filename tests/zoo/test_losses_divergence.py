"""Canonical divergences and similarities against NumPy formulas written here, Axon's documented
numbers, finite differences (float64), precision, weights, stability and bad input."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lossgraph as lg
from zoo import losses as L
from zoo.losses import divergence as D
from .zoo_refs import case_suite

B, C = 4, 5


def dist(rng):
    p = rng.uniform(0.05, 0.95, size=(B, C))
    return p / p.sum(-1, keepdims=True)


def real(rng):
    return rng.normal(size=(B, C))


def unit(rng):
    x = real(rng)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def np_cos(a, b, axis=-1, eps=1e-8):
    dot = (a * b).sum(axis)
    return dot / np.maximum(np.linalg.norm(a, axis=axis) * np.linalg.norm(b, axis=axis), eps)


def np_kl(p, q):
    return p * np.log(p / q)


def np_js(p, q):
    m = (p + q) / 2
    return 0.5 * (np_kl(p, m) + np_kl(q, m)).sum(-1)


# name, function, kwargs, argument generators, NumPy reference, differentiable arg positions
CASES = [
    ("kl", D.kl_divergence, {}, [dist, dist], lambda z, p: np_kl(z, p).sum(-1), [0, 1]),
    ("kl_axis0", D.kl_divergence, {"axis": 0}, [dist, dist], lambda z, p: np_kl(z, p).sum(0),
     [0, 1]),
    ("kl_elementwise_log_input", D.kl_divergence, {"log_input": True, "eps": 1e-12, "axis": None},
     [dist, lambda r: np.log(dist(r))], lambda z, lq: z * (np.log(z + 1e-12) - lq), [0, 1]),
    ("kl_elementwise_log_target", D.kl_divergence,
     {"log_input": True, "log_target": True, "axis": None},
     [lambda r: np.log(dist(r)), lambda r: np.log(dist(r))],
     lambda lz, lq: np.exp(lz) * (lz - lq), [0, 1]),
    ("js", D.js_divergence, {}, [dist, dist], np_js, [0, 1]),
    ("cosine_similarity", D.cosine_similarity, {}, [real, real], np_cos, [0, 1]),
    ("cosine_similarity_axis0", D.cosine_similarity, {"axis": 0, "eps": 1e-6}, [real, real],
     lambda a, b: np_cos(a, b, 0), [0, 1]),
    ("cosine_distance", D.cosine_distance, {}, [unit, unit], lambda a, b: 1 - (a * b).sum(-1),
     [0, 1]),
    ("cosine_distance_raw", D.cosine_distance, {"axis": 0}, [real, real],
     lambda a, b: 1 - (a * b).sum(0), [0, 1]),
    ("cosine_distance_normalize", D.cosine_distance, {"normalize": True}, [real, real],
     lambda a, b: 1 - np_cos(a, b), [0, 1]),
]
IDS = [c[0] for c in CASES]


def test_exported_from_zoo_losses():
    for name in D.__all__:
        assert getattr(L, name) is getattr(D, name)


(test_value_matches_numpy, test_reductions, test_gradient_finite_differences,
 test_float32_in_float32_out) = case_suite(CASES, f32_rtol=1e-4, f32_atol=1e-5)


def test_kl_matches_axon_doc_example():
    # Axon 0.5.1 kl_divergence doc example (docs/zoo-conventions.md 5.5), float32
    z = np.array([[0, 1], [0, 0]], dtype=np.uint8)
    p = np.array([[0.6, 0.4], [0.4, 0.6]], dtype=np.float32)
    out = D.kl_divergence(z, p)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [0.916289210319519, -3.080907390540233e-6], rtol=1e-5)
    np.testing.assert_allclose(D.kl_divergence(z, p, reduction="mean"), 0.45814305543899536,
                               rtol=1e-5)


def test_cosine_similarity_matches_axon_doc_and_tests():
    # Axon 0.5.1 cosine_similarity doc example and tests (docs/zoo-conventions.md 5.11)
    x = np.array([[1.0, 0.0], [1.0, 1.0]], dtype=np.float32)
    z = np.array([[0.0, 1.0], [1.0, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(D.cosine_similarity(z, x, axis=1, eps=1e-6), [0.0, 1.0],
                               atol=2e-7)
    np.testing.assert_allclose(D.cosine_similarity(z, x, axis=0, eps=1e-6),
                               [0.7071067690849304, 0.7071067690849304], rtol=1e-6)


def test_kl_zero_target_terms_and_exact_zero_probabilities():
    z = np.array([[1.0, 0.0, 0.0]])
    p = np.array([[1.0, 0.0, 0.0]])
    # no clip: 0 log 0 = 0 exactly, and the gradient w.r.t. pred is finite
    q = lg.input("q", shape=(1, 3))
    loss = D.kl_divergence(z, q, eps=0.0, reduction="sum")
    value, grad = lg.evaluate([loss, lg.gradients(loss, q)], q=p)
    assert value == 0.0
    np.testing.assert_allclose(grad, [[-1.0, 0.0, 0.0]])
    # clipped (Axon): finite, and equal to the clipped formula
    zc, pc = np.clip(z, 1e-7, 1), np.clip(p, 1e-7, 1)
    np.testing.assert_allclose(D.kl_divergence(z, p), (zc * np.log(zc / pc)).sum(-1))
    # log input: log q = -inf where the target is 0 gives 0 (MXNet gives NaN)
    lq = lg.input("lq", shape=(1, 3))
    loss = D.kl_divergence(z, lq, log_input=True, eps=1e-12, axis=None, reduction="sum")
    value, grad = lg.evaluate([loss, lg.gradients(loss, lq)],
                              lq=np.array([[0.0, -np.inf, -np.inf]]))
    np.testing.assert_allclose(value, np.log(1 + 1e-12))
    np.testing.assert_allclose(grad, [[-1.0, 0.0, 0.0]])


def test_js_is_symmetric_bounded_and_finite_at_disjoint_support():
    p = np.array([[1.0, 0.0], [0.5, 0.5]])
    q = np.array([[0.0, 1.0], [0.5, 0.5]])
    out = D.js_divergence(p, q)
    np.testing.assert_allclose(out, [np.log(2.0), 0.0], atol=1e-15)
    np.testing.assert_allclose(D.js_divergence(q, p), out)


def test_cosine_zero_vector_is_finite_with_eps_and_has_finite_gradient():
    a = lg.input("a", shape=(2, 3))
    b = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    for fn, kw in [(D.cosine_similarity, {}), (D.cosine_distance, {"normalize": True})]:
        loss = fn(a, b, reduction="sum", **kw)
        value, grad = lg.evaluate([loss, lg.gradients(loss, a)], a=np.zeros((2, 3)))
        assert np.isfinite(value) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(D.cosine_similarity(np.zeros((2, 3)), b), [0.0, 0.0])
    # eps = 0 is TensorLayer's plain quotient: a zero vector is 0/0
    assert np.all(np.isnan(D.cosine_similarity(np.zeros((1, 3)), b[:1], eps=0.0)))


def test_norm_gradient_at_zero_is_zero():
    x = lg.input("x", shape=(2, 3))
    n = D.norm(x, 1)
    value, grad = lg.evaluate([n, lg.gradients(lg.sum(n), x)],
                              x=np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 4.0]]))
    np.testing.assert_allclose(value, [0.0, 5.0])
    np.testing.assert_allclose(grad, [[0, 0, 0], [0.6, 0, 0.8]])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=6, max_size=6),
       st.lists(st.floats(0.0, 1.0), min_size=6, max_size=6))
def test_divergence_bounds_on_random_distributions(a, b):
    # exact zeros included: KL >= 0 on a shared support, 0 <= JS <= log 2, |cos| <= 1
    p = np.array(a) + np.eye(6)[0]
    q = np.array(b) + np.eye(6)[1]
    p, q = p / p.sum(), q / q.sum()
    js = D.js_divergence(p, q)
    assert np.isfinite(js) and -1e-12 <= js <= np.log(2) + 1e-12
    np.testing.assert_allclose(js, D.js_divergence(q, p), atol=1e-15)
    q_pos = np.maximum(q, 1e-3) / np.maximum(q, 1e-3).sum()
    kl = D.kl_divergence(p, q_pos, eps=0.0)
    assert np.isfinite(kl) and kl >= -1e-12
    cos = D.cosine_similarity(p - 0.2, q - 0.1)
    assert np.isfinite(cos) and abs(cos) <= 1 + 1e-12


def test_weights_and_nodes():
    rng = np.random.default_rng(5)
    a, b = real(rng), real(rng)
    w = rng.random(B)
    np.testing.assert_allclose(D.cosine_similarity(a, b, weights=w, reduction="sum"),
                               (np_cos(a, b) * w).sum())
    out = D.js_divergence(lg.input("p", shape=(B, C)), dist(rng))
    assert isinstance(out, lg.Node) and out.shape == (B,)


def test_bad_input_errors_name_the_argument():
    rng = np.random.default_rng(6)
    a = real(rng)
    with pytest.raises(lg.ShapeError):
        D.cosine_similarity(a, np.ones((B, C + 1)))
    with pytest.raises(lg.OptionError, match="reduction"):
        D.kl_divergence(dist(rng), dist(rng), reduction="avg")
    with pytest.raises(lg.ShapeError, match="weights"):
        D.kl_divergence(dist(rng), dist(rng), weights=np.ones(C))
    with pytest.raises(lg.OptionError, match="axis"):
        D.js_divergence(a, a, axis=2)
