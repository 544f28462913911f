"""The function transforms (grad, value_and_grad, hvp) and the Loss methods, with JAX's
contract: unused arguments get zero gradients, keyword arguments pass through, has_aux,
argnums tuples, parameter names as input names, nesting, and the per-signature caches.
Gradients are checked against central differences in float64."""
import collections

import numpy as np
import pytest

import lossgraph as lg
import lossgraph.pipeline

from ..threads import in_threads
from .references import assert_close, central_difference


def fd(f, arrays, index):
    """d f / d arrays[index] by central differences, f a NumPy function of the arrays."""
    return central_difference(lambda arrs: float(f(*arrs)), [np.array(a, dtype=np.float64)
                                                          for a in arrays], index)


def np_mse(p, t):
    return np.mean((p - t) ** 2)


def mse(pred, target):
    return lg.mean(lg.square(pred - target))


@pytest.fixture
def derive_calls(monkeypatch):
    """Counts calls to lossgraph.pipeline.derive (what every transform derives through)."""
    calls = []
    real = lossgraph.pipeline.derive

    def counting(*a, **k):
        calls.append(a)
        return real(*a, **k)
    monkeypatch.setattr(lossgraph.pipeline, "derive", counting)
    return calls


# --- values and gradients against finite differences

def test_grad_and_value_and_grad(rng):
    w, t = rng.normal(size=5), rng.normal(size=5)
    value, gw = lg.value_and_grad(mse)(w, t)
    assert_close(value, np_mse(w, t))
    assert_close(gw, fd(np_mse, [w, t], 0), rtol=1e-6)
    gw2, gt = lg.grad(mse, argnums=(0, 1))(w, t)
    assert_close(gw2, gw)
    assert_close(gt, fd(np_mse, [w, t], 1), rtol=1e-6)
    v32, g32 = lg.value_and_grad(mse)(w.astype(np.float32), t.astype(np.float32))
    assert v32.dtype == np.float32 and g32.dtype == np.float32


def test_argnums_tuple_in_any_order_matches_finite_differences(rng):
    def f(a, b, c):
        return lg.sum(lg.tanh(a * b) + c * a) + lg.logsumexp(b * c)

    def ref(a, b, c):
        return np.sum(np.tanh(a * b) + c * a) + np.log(np.sum(np.exp(b * c)))
    arrs = [rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)]
    gc, ga = lg.grad(f, argnums=(2, 0))(*arrs)
    assert_close(gc, fd(ref, arrs, 2), rtol=1e-6, atol=1e-9)
    assert_close(ga, fd(ref, arrs, 0), rtol=1e-6, atol=1e-9)
    assert isinstance(lg.grad(f, argnums=(1,))(*arrs), tuple)


def test_grad_with_integer_labels_not_in_argnums(rng):
    def nll(logits, labels):
        return -lg.sum(lg.pick(lg.log_softmax(logits), labels))
    x, y = rng.normal(size=(2, 3)), np.array([2, 0])
    g = lg.grad(nll)(x, y)

    def ref(x):
        return -np.sum(x[[0, 1], y] - np.log(np.exp(x).sum(1)))
    assert_close(g, fd(ref, [x], 0), rtol=1e-6, atol=1e-9)
    with pytest.raises(lg.GradientError, match=r"argument 1 \('labels'\) has dtype int64"):
        lg.grad(nll, argnums=(0, 1))(x, y)


def test_python_scalars_and_lists(rng):
    g = lg.grad(lambda x, s: lg.sum(lg.square(x) * s), argnums=(0, 1))([1.0, 2.0], 3.0)
    assert_close(g[0], [6.0, 12.0])
    assert_close(g[1], 5.0)
    x32 = np.ones(2, dtype=np.float32)
    value, gx = lg.value_and_grad(lambda x, s: lg.sum(x * s))(x32, 0.5)
    assert value.dtype == np.float32 and gx.dtype == np.float32  # a Python float is weak
    with pytest.raises(lg.GradientError, match=r"argument 0 \('x'\) has dtype int64"):
        lg.grad(lambda x: lg.sum(x))([1, 2])


# --- arguments the output does not use

def test_unused_positional_arguments_get_zero_gradients():
    x = np.arange(3.0)
    assert_close(lg.grad(lambda a, b, c: lg.sum(a * b))(x, x, x), x)
    ga, gb, gc = lg.grad(lambda a, b, c: lg.sum(a * b), argnums=(0, 1, 2))(
        x, x, x.astype(np.float32).reshape(3, 1))
    assert_close(ga, x)
    assert_close(gb, x)
    assert gc.shape == (3, 1) and gc.dtype == np.float32
    np.testing.assert_array_equal(gc, 0.0)


def test_a_mask_the_loss_ignores(rng):
    def loss(pred, target, mask):
        return lg.mean(lg.square(pred - target))
    p, t, m = rng.normal(size=4), rng.normal(size=4), np.ones(4, dtype=bool)
    value, (gp, gt) = lg.value_and_grad(loss, argnums=(0, 1))(p, t, m)
    assert_close(value, np_mse(p, t))
    assert_close(gp, fd(np_mse, [p, t], 0), rtol=1e-6)
    assert_close(gt, fd(np_mse, [p, t], 1), rtol=1e-6)


def test_constant_output_has_value_and_zero_gradients():
    x = np.ones((2, 3), dtype=np.float32)
    value, g = lg.value_and_grad(lambda x: lg.constant(3.0))(x)
    assert float(value) == 3.0
    assert g.shape == (2, 3) and g.dtype == np.float32
    np.testing.assert_array_equal(g, 0.0)
    np.testing.assert_array_equal(lg.grad(lambda x: 1.5)(np.ones(2)), 0.0)


def test_hvp_of_linear_function_is_zero_and_ignores_unused_tangents():
    (h,) = lg.hvp(lambda x: lg.sum(2 * x), (np.ones(3),), (np.ones(3),))
    assert h.shape == (3,)
    np.testing.assert_array_equal(h, 0.0)
    ha, hb = lg.hvp(lambda a, b: lg.sum(a * a), (np.ones(2), np.ones(2)),
                    (np.array([1.0, 2.0]), np.ones(2)))
    assert_close(ha, [2.0, 4.0])
    np.testing.assert_array_equal(hb, 0.0)


def test_evaluate_stays_strict_about_misspelled_names():
    x = lg.input("x", (2,))
    with pytest.raises(lg.InputError, match="unexpected input 'y'"):
        lg.evaluate(lg.sum(x), x=np.ones(2), y=np.ones(2))


# --- keyword arguments, has_aux

def test_keyword_arguments_are_inputs_not_differentiated(rng):
    p, t = rng.normal(size=4), rng.normal(size=4)
    value, gp = lg.value_and_grad(mse)(p, target=t)
    assert_close(value, np_mse(p, t))
    assert_close(gp, fd(np_mse, [p, t], 0), rtol=1e-6)
    with pytest.raises(lg.InputError, match="argnums 0 refers to positional arguments.*got 0"):
        lg.grad(mse)(pred=p, target=t)

    def scaled(x, *, scale):
        return lg.sum(x * scale)
    assert_close(lg.grad(scaled)(p, scale=np.full(4, 2.0)), np.full(4, 2.0))


def test_has_aux_returns_evaluated_aux_trees(rng):
    Pair = collections.namedtuple("Pair", "lo hi")

    def f(pred, target):
        err = pred - target
        aux = {"mse": lg.mean(lg.square(err)), "bounds": Pair(lg.min(err), lg.max(err)),
               "note": "kept", "list": [lg.abs(err)]}
        return lg.sum(lg.square(err)), aux
    p, t = rng.normal(size=5), rng.normal(size=5)
    (value, aux), gp = lg.value_and_grad(f, has_aux=True)(p, t)
    assert_close(value, np.sum((p - t) ** 2))
    assert_close(gp, 2 * (p - t))
    assert_close(aux["mse"], np_mse(p, t))
    assert isinstance(aux["bounds"], Pair)
    assert_close(aux["bounds"].lo, np.min(p - t))
    assert_close(aux["bounds"].hi, np.max(p - t))
    assert aux["note"] == "kept" and isinstance(aux["list"], list)
    assert_close(aux["list"][0], np.abs(p - t))
    g, aux2 = lg.grad(f, has_aux=True)(p, t)
    assert_close(g, gp)
    assert_close(aux2["mse"], aux["mse"])
    with pytest.raises(lg.GradientError, match=r"has_aux=True.*\(loss, aux\)"):
        lg.grad(lambda x: lg.sum(x), has_aux=True)(p)
    with pytest.raises(lg.GradientError, match="has_aux=True"):
        lg.grad(lambda x: (lg.sum(x), lg.mean(x)))(p)


# --- names, errors, nesting

def test_inputs_take_the_parameter_names():
    def loss(pred, target, *rest, **kw):
        return lg.sum(pred * target * rest[0] * kw["we-ight"])
    vg = lg.value_and_grad(loss)
    value, grad = vg.trace(np.ones(2), np.ones(2), np.ones(2), **{"we-ight": np.ones(2)})
    assert {n.name for n in lg.inputs_of([grad])} == {"target", "arg2", "we_ight"}
    assert "target" in str(grad) and "pred" in str(value)
    _, g = lg.value_and_grad(lambda arg1, *a: lg.sum(arg1 * a[0])).trace(np.ones(2), np.ones(2))
    assert {n.name for n in lg.inputs_of([g])} == {"arg1_2"}  # made unique
    _, g = lg.value_and_grad(lambda θ: lg.sum(θ * θ)).trace(np.ones(2))
    assert [n.name for n in lg.inputs_of([g])] == ["θ"]


def test_errors_name_the_function_and_the_parameter():
    with pytest.raises(lg.InputError, match=r"grad\(mse\): .* got 1 positional \(keyword"):
        lg.grad(mse, argnums=1)(np.ones(3), target=np.ones(3))
    with pytest.raises(lg.GradientError, match=r"argument 1 \('target'\) has dtype int64"):
        lg.value_and_grad(mse, argnums=1)(np.ones(3), np.arange(3))
    with pytest.raises(lg.ShapeError, match="'target'"):
        lg.grad(mse)(np.ones(3), np.ones(4))
    with pytest.raises(lg.InputError, match="'z', which is not among its inputs 'x'"):
        lg.grad(lambda x: lg.sum(x * lg.input("z", (2,))))(np.ones(2))
    with pytest.raises(lg.OptionError, match="argnums"):
        lg.grad(mse, argnums=(0, 0))
    with pytest.raises(lg.InputError, match="argnums 2"):
        lg.grad(mse, argnums=2)(np.ones(2), np.ones(2))


def test_argument_dtypes_widen_as_evaluate_does_and_others_are_named(rng):
    def nll(logits, labels):
        return -lg.sum(lg.pick(lg.log_softmax(logits), labels))
    x = rng.normal(size=(3, 4))
    want = lg.grad(nll)(x, np.array([3, 0, 1]))
    assert_close(lg.grad(nll)(x, np.array([3, 0, 1], dtype=np.uint8)), want)
    g16 = lg.grad(nll)(x.astype(np.float16), np.array([3, 0, 1]))
    assert g16.dtype == np.float32  # float16 computes in float32
    f = lg.grad(lambda x, labels: lg.sum(x))
    with pytest.raises(lg.DTypeError, match="argument 'x' has dtype complex128"):
        f(np.ones(2, dtype=complex), np.ones(2))
    with pytest.raises(lg.DTypeError, match="argument 'x' is not an array of numbers"):
        f([lg.input("a"), 1.0], np.ones(2))


def test_loss_plan_reruns_value_checks_for_converted_arrays():
    @lg.loss
    def picked(x: lg.Float["N", "C"], y: lg.Int32["N"]):
        return lg.sum(lg.pick(x, y, axis=1))
    x = np.arange(6.0).reshape(2, 3)
    assert_close(picked(x, np.array([2, 0], dtype=np.int64)), 5.0)
    with pytest.raises(lg.DTypeError, match="outside int32's range"):
        picked(x, np.array([2, 2 ** 40], dtype=np.int64))  # same signature, new values


def test_non_scalar_output_hint_fits_grad():
    with pytest.raises(lg.GradientError) as e:
        lg.grad(lambda pred: lg.square(pred))(np.ones(3))
    assert "grad(<lambda>)" in str(e.value) and "lg.sum or lg.mean" in str(e.value)
    assert "grad_output" not in str(e.value)


def test_nested_grad_matches_finite_differences_of_the_gradient(rng):
    def f(x):
        return lg.sum(lg.softplus(x) * x)
    inner = lg.grad(f)
    x, v = rng.normal(size=4), rng.normal(size=4)
    outer = lg.grad(lambda x: lg.sum(inner(x) * v))(x)
    eps = 1e-5
    want = (inner(x + eps * v) - inner(x - eps * v)) / (2 * eps)  # H v (H symmetric)
    assert_close(outer, want, rtol=1e-6, atol=1e-8)
    assert_close(lg.hvp(f, (x,), (v,))[0], want, rtol=1e-6, atol=1e-8)
    nested_hvp = lg.grad(lambda x: lg.sum(lg.hvp(f, (x,), (lg.constant(v),))[0] * v))(x)
    eps = 1e-4  # d/dx v^T H(x) v, against differences of lg.hvp itself
    want3 = [(lg.hvp(f, (x + eps * e,), (v,))[0] @ v - lg.hvp(f, (x - eps * e,), (v,))[0] @ v)
             / (2 * eps) for e in np.eye(4)]
    assert_close(nested_hvp, want3, rtol=1e-5, atol=1e-7)
    value, g = lg.value_and_grad(f)(lg.input("x", (4,)))  # Nodes in, graphs out
    assert isinstance(value, lg.Node) and isinstance(g, lg.Node)
    with pytest.raises(lg.GradientError, match="array while other arguments are Nodes"):
        lg.grad(lambda a, b: lg.sum(a * b), argnums=1)(lg.input("a", (2,)), np.ones(2))


def test_hvp_against_finite_differences_of_the_gradient(rng):
    def f(a, b):
        return lg.sum(lg.softplus(a * b) + lg.square(lg.tanh(a))) + lg.logsumexp(a)
    a, b = rng.normal(size=4), rng.normal(size=4)
    va, vb = rng.normal(size=4), rng.normal(size=4)
    ha, hb = lg.hvp(f, (a, b), (va, vb))
    grad = lg.grad(f, argnums=(0, 1))
    eps = 1e-5
    plus = grad(a + eps * va, b + eps * vb)
    minus = grad(a - eps * va, b - eps * vb)
    assert_close(ha, (plus[0] - minus[0]) / (2 * eps), rtol=1e-6, atol=1e-8)
    assert_close(hb, (plus[1] - minus[1]) / (2 * eps), rtol=1e-6, atol=1e-8)
    with pytest.raises(lg.InputError, match="2 primals but 1 tangents"):
        lg.hvp(f, (a, b), (va,))
    with pytest.raises(lg.InputError, match=r"tangent of argument 0 \('a'\) has shape \(3,\)"):
        lg.hvp(f, (a, b), (va[:3], vb))


def test_hvp_of_piecewise_linear_function_is_zero():
    (h,) = lg.hvp(lambda x: lg.sum(lg.relu(x) + lg.abs(x)), (np.array([-1.0, 2.0]),),
                  (np.ones(2),))
    np.testing.assert_array_equal(h, [0.0, 0.0])


def naive_bce(x, z):
    return lg.mean(-(z * lg.log(lg.sigmoid(x)) + (1 - z) * lg.log(1 - lg.sigmoid(x))))


@lg.loss
def naive_bce_loss(x: lg.Float["N"], z: lg.Float["N"]):
    return naive_bce(x, z)


def test_naive_bce_through_every_transform_at_float32_extremes():
    """Every transform differentiates the stabilized loss: finite, and equal to the stable
    textbook forms computed in float64."""
    x = np.array([-100.0, 100.0, -1e4, 1e4, 0.5], dtype=np.float32)
    z = np.array([1.0, 0.0, 0.0, 1.0, 1.0], dtype=np.float32)
    v = np.linspace(-1, 1, 5).astype(np.float32)
    x64 = x.astype(np.float64)
    s = 0.5 + 0.5 * np.tanh(x64 / 2)
    value = np.mean(np.logaddexp(0, x64) - x64 * z)
    grad, hv = (s - z) / 5, s * (1 - s) * v / 5
    loss_value, loss_grads = naive_bce_loss.value_and_grad(x, z, wrt="x")
    vg_value, vg_grad = lg.value_and_grad(naive_bce)(x, z)
    values = {"value_and_grad": vg_value, "Loss.value_and_grad": loss_value,
              "Loss call": naive_bce_loss(x, z)}
    grads = {"value_and_grad": vg_grad, "grad": lg.grad(naive_bce)(x, z),
             "Loss.value_and_grad": loss_grads["x"], "Loss.gradients": lg.evaluate(
                 naive_bce_loss.gradients("x")["x"], x=x, z=z)}
    for via, val in values.items():
        assert val.dtype == np.float32, via
        assert_close(val, value, rtol=1e-6, what=via)
    for via, g in grads.items():
        assert g.dtype == np.float32, via
        assert_close(g, grad, rtol=1e-5, atol=1e-8, what=via)
    (h,) = lg.hvp(lambda x: naive_bce(x, z), (x,), (v,))
    assert h.dtype == np.float32
    assert_close(h, hv, rtol=1e-5, atol=1e-8, what="hvp")


# --- caches

def test_transform_cache_is_per_signature_and_bounded():
    calls = []

    def f(x):
        calls.append(x.shape)
        return lg.sum(lg.square(x))
    g = lg.grad(f)
    g(np.ones(3))
    g(np.zeros(3))
    assert len(calls) == 1 and len(g.cache) == 1
    g(np.ones(3, dtype=np.float32))
    g(np.ones(4))
    assert len(calls) == 3 and len(g.cache) == 3
    for n in range(5, 80):
        g(np.ones(n))
    assert len(g.cache) == 64
    assert_close(g(np.arange(3.0)), [0.0, 2.0, 4.0])


def test_steady_state_calls_do_not_re_derive(derive_calls):
    vg = lg.value_and_grad(mse)
    vg(np.ones(3), np.zeros(3))
    assert len(derive_calls) == 1
    vg(np.ones(3), np.ones(3))
    vg(np.ones(3), target=np.ones(3))  # another signature: traced once more
    assert len(derive_calls) == 2


def test_transform_cache_is_thread_safe():
    g = lg.grad(lambda x: lg.sum(x * x * x))
    results = {}

    def work(k):
        for n in range(1, 12):
            x = np.full(n, float(k))
            results[(k, n)] = np.array_equal(g(x), 3 * x * x)
    in_threads(work, 4)
    assert all(results.values()) and len(results) == 44
    assert len(g.cache) == 11


# --- Loss methods

@lg.loss
def bce(logits: lg.Float["N"], targets: lg.Float["N"]):
    return lg.mean(lg.softplus(logits) - logits * targets)


def np_bce(x, z):
    return np.mean(np.logaddexp(0, x) - x * z)


def test_loss_value_and_grad_positional_and_by_name(rng):
    x, z = rng.normal(size=5), (rng.random(5) > 0.5).astype(float)
    v1, g1 = bce.value_and_grad(x, z)
    v2, g2 = bce.value_and_grad(logits=x, targets=z)
    v3, g3 = bce.value_and_grad(x, targets=z, wrt="logits")
    assert_close(v1, np_bce(x, z))
    assert_close(v2, v1)
    assert_close(v3, v1)
    assert_close(g1["logits"], fd(np_bce, [x, z], 0), rtol=1e-6, atol=1e-9)
    assert_close(g1["targets"], fd(np_bce, [x, z], 1), rtol=1e-6, atol=1e-9)
    assert_close(g2["logits"], g1["logits"])
    assert list(g3) == ["logits"]
    with pytest.raises(lg.InputError, match="given twice"):
        bce.value_and_grad(x, logits=x)
    with pytest.raises(lg.InputError, match="missing input 'targets'"):
        bce.value_and_grad(x)
    with pytest.raises(lg.InputError, match="unexpected input 'target'"):
        bce.value_and_grad(x, target=z)


def test_loss_derives_once_per_wrt_and_binds_once_per_signature(derive_calls, rng):
    @lg.loss
    def focal(p: lg.Float["N"], t: lg.Float["N"]):
        q = lg.sigmoid(p)
        return lg.mean(-t * lg.square(1 - q) * lg.log(q))
    x, z = rng.normal(size=4), np.ones(4)
    focal.value_and_grad(x, z)
    assert len(derive_calls) == 1
    v, g = focal.value_and_grad(x, z)
    focal.value_and_grad(rng.normal(size=7), np.ones(7))  # new shapes: no new derivation
    assert len(derive_calls) == 1
    focal.gradients()
    focal.gradients("p")
    assert len(derive_calls) == 2
    focal.gradients("p")
    assert len(derive_calls) == 2

    def ref(x, z):
        q = 1 / (1 + np.exp(-x))
        return np.mean(-z * (1 - q) ** 2 * np.log(q))
    assert_close(v, ref(x, z))
    assert_close(g["p"], fd(ref, [x, z], 0), rtol=1e-6)


def test_loss_cache_checks_each_new_signature(rng):
    x = rng.normal(size=3)
    bce(x, np.ones(3))
    with pytest.raises(lg.ShapeError):
        bce(x, np.ones(4))
    with pytest.raises(lg.DTypeError):
        bce(x, np.ones(3, dtype=np.int64))

    @lg.loss
    def scaled(x: lg.Float["N"], s: lg.Float[()]):
        return lg.sum(x * s)
    assert_close(scaled(x, 2), 2 * np.sum(x))  # a Python int binds a float input
    assert_close(scaled.value_and_grad(x, 2)[1]["s"], np.sum(x))
    with pytest.raises(lg.DTypeError):
        scaled(x, np.int64(2))


def test_loss_cache_is_bounded(derive_calls):
    @lg.loss
    def sq(x: lg.Float["N"]):
        return lg.sum(lg.square(x))
    for n in range(1, 41):
        assert_close(sq.value_and_grad(np.ones(n))[1]["x"], np.full(n, 2.0))
    assert len(sq._cache("plans")) == 32 and len(derive_calls) == 1


def test_large_arrays_free_intermediates_like_evaluate(rng):
    """Above FREE_FROM elements a plan drops values after their last use, as lg.evaluate
    does: the transform's peak memory is evaluate's, not the sum of every intermediate."""
    import tracemalloc

    from lossgraph.transforms import FREE_FROM

    def ce(logits, labels):
        return lg.mean(lg.logsumexp(logits, axis=1) - lg.pick(logits, labels, axis=1))
    x, y = rng.normal(size=(FREE_FROM // 2, 10)), rng.integers(0, 10, size=FREE_FROM // 2)
    vg = lg.value_and_grad(ce)
    vg(x, y)
    graphs = vg.trace(x, y)
    peaks = []
    for run in (lambda: vg(x, y), lambda: lg.evaluate(list(graphs), logits=x, labels=y)):
        tracemalloc.start()
        run()
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[0] <= 1.1 * peaks[1], peaks
