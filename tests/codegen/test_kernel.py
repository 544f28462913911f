"""codegen.compile / Kernel / jit / Loss.compile: calling conventions, the errors lg.evaluate
gives for bad input, gradient buffers, symbolic dims, the kernel cache and its thread safety."""
import threading

import numpy as np
import pytest

import codegen
import lossgraph as lg
from lossgraph.pipeline import derive

rng = np.random.default_rng(0)


@pytest.fixture(scope="module")
def ce():
    x = lg.input("logits", shape=("N", "C"))
    y = lg.input("labels", shape=("N",), dtype="int64")
    loss = lg.mean(lg.logsumexp(x, axis=1) - lg.pick(x, y, axis=1))
    return x, y, loss, codegen.compile(loss, wrt=[x])


def reference(loss, wrt, **arrays):
    y, grads = derive(loss, wrt)
    vals = lg.evaluate([y, *grads], arrays)
    return vals[0], vals[1:]


def test_positional_and_keyword_calls_agree_with_evaluate(ce):
    x, y, loss, k = ce
    a, b = rng.normal(size=(6, 4)), rng.integers(0, 4, size=6)
    want_v, (want_g,) = reference(loss, [x], logits=a, labels=b)
    for v, (g,) in (k(a, b), k(logits=a, labels=b), k(a, labels=b)):
        assert v == pytest.approx(want_v, rel=1e-12)
        np.testing.assert_allclose(g, want_g, rtol=1e-12)
        assert isinstance(v, np.floating)


def test_no_wrt_returns_the_value_and_several_outputs_a_tuple():
    p, t = lg.input("p", shape=("N",)), lg.input("t", shape=("N",))
    a, b = rng.normal(size=5), rng.normal(size=5)
    assert codegen.compile(lg.sum(p * t))(a, b) == pytest.approx(np.dot(a, b), rel=1e-12)
    k = codegen.compile([lg.mean(lg.square(p - t)), lg.max(p)], wrt="p")
    (v, m), (g,) = k(p=a, t=b)
    assert m == a.max() and v == pytest.approx(np.mean((a - b) ** 2), rel=1e-12)
    np.testing.assert_allclose(g, 2 * (a - b) / 5, rtol=1e-12)


def test_one_kernel_serves_every_batch_size_and_precision(ce):
    x, y, loss, k = ce
    for n in (1, 7, 33):
        for dtype in (np.float32, np.float64):
            a, b = rng.normal(size=(n, 4)).astype(dtype), rng.integers(0, 4, size=n)
            v, (g,) = k(a, b)
            assert g.dtype == dtype and g.shape == (n, 4) and v.dtype == dtype
            want_v, (want_g,) = reference(loss, [x], logits=a, labels=b)
            np.testing.assert_allclose(g, want_g, rtol=1e-5 if dtype == np.float32 else 1e-12)


def same_error(call, reference_call):
    """call raises exactly what reference_call (lg.evaluate) raises: class and message."""
    with pytest.raises(lg.LossgraphError) as want:
        reference_call()
    with pytest.raises(type(want.value)) as got:
        call()
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("arrays", [
    {"logits": np.zeros((3, 4))},                                             # missing
    {"logits": np.zeros((3, 4)), "labels": np.zeros(3, int), "z": 1.0},        # extra
    {"logits": np.zeros((3, 4, 1)), "labels": np.zeros(3, int)},               # ndim
    {"logits": np.zeros((3, 4)), "labels": np.zeros(3)},                       # dtype
    {"logits": np.zeros((3, 4), np.int64), "labels": np.zeros(3, int)},        # dtype
    {"logits": np.zeros((3, 4)), "labels": np.zeros(5, int)},                  # dims: N
    {"logits": np.zeros((3, 4)), "labels": np.array([0, 4, 1])},               # label range
    {"logits": [[0.0, 1.0]], "labels": np.array([3])},                         # list, range
    {"logits": lg.input("q"), "labels": np.zeros(3, int)},                     # a Node
], ids=["missing", "extra", "ndim", "label-dtype", "logit-dtype", "dims", "range", "list",
        "node"])
def test_bad_input_gets_the_evaluate_error(ce, arrays):
    x, y, loss, k = ce
    y_, grads = derive(loss, [x])
    same_error(lambda: k(**arrays), lambda: lg.evaluate([y_, *grads], arrays))


def test_inconsistent_dims_name_both_inputs():
    a, b = lg.input("a", shape=("N",)), lg.input("b", shape=("N",))
    k = codegen.compile(lg.sum(a * b))
    with pytest.raises(lg.ShapeError, match="input 'b'.*'N'.*already bound.*input 'a'"):
        k(np.zeros(3), np.zeros(4))


def test_positional_count_and_duplicates(ce):
    _, _, _, k = ce
    with pytest.raises(lg.InputError, match="takes 2 inputs"):
        k(np.zeros((2, 4)), np.zeros(2, int), np.zeros(2))
    with pytest.raises(lg.InputError, match="'logits' given twice"):
        k(np.zeros((2, 4)), logits=np.zeros((2, 4)))


def test_python_scalars_and_lists_are_accepted_like_evaluate():
    p = lg.input("p", shape=(2,))
    s = lg.input("s")
    k = codegen.compile(lg.sum(p * s), wrt=["p", "s"])
    v, (gp, gs) = k([1.0, 2.0], 3.0)
    assert v == 9.0 and gs == 3.0
    np.testing.assert_array_equal(gp, [3.0, 3.0])


def test_out_buffers_are_written_and_returned(ce):
    x, y, loss, k = ce
    a, b = rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)
    buf = np.full((5, 4), np.nan)
    v, (g,) = k(a, b, out=(buf,))
    assert g is buf
    np.testing.assert_allclose(buf, reference(loss, [x], logits=a, labels=b)[1][0], rtol=1e-12)


@pytest.mark.parametrize("bad, message", [
    (lambda a: (np.zeros((5, 3)),), "expected shape (5, 4)"),
    (lambda a: (np.zeros((5, 4), np.float32),), "expected dtype float64"),
    (lambda a: (np.zeros((4, 5)).T,), "C-contiguous"),
    (lambda a: (a,), "shares memory with input 'logits'"),
    (lambda a: [np.zeros((5, 4))], "tuple of 1"),
    (lambda a: (np.zeros((5, 4)), np.zeros((5, 4))), "tuple of 1"),
])
def test_out_buffers_are_checked(ce, bad, message):
    _, _, _, k = ce
    a, b = rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)
    with pytest.raises(lg.InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        k(a, b, out=bad(a))


def test_out_buffers_may_not_alias_each_other():
    p, q = lg.input("p", shape=(3,)), lg.input("q", shape=(3,))
    k = codegen.compile(lg.sum(p * q), wrt=["p", "q"])
    buf = np.zeros(3)
    with pytest.raises(lg.InputError, match=r"out\[1\].*shares memory with out\[0\]"):
        k(np.ones(3), np.ones(3), out=(buf, buf))


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_out_buffers_that_are_views_are_checked_for_overlap(backend):
    """codegen.argcheck.build_out_check: two arrays owning their data never overlap; a view
    (of an input, of another buffer, or one array's halves) goes to the full check."""
    p, q = lg.input("p", shape=(3,)), lg.input("q", shape=(3,))
    k = codegen.compile(lg.sum(p * q * q), wrt=["p", "q"], backend=backend)
    a, b = np.arange(3.0), np.arange(3.0) + 1
    whole = np.zeros(6)
    v, (gp, gq) = k(a, b, out=(whole[:3], whole[3:]))          # disjoint halves: fine
    np.testing.assert_allclose(whole, np.concatenate([b * b, 2 * a * b]))
    inputs = np.stack([a, b])
    with pytest.raises(lg.InputError, match=r"out\[0\].*shares memory with input 'q'"):
        k(inputs[0], inputs[1], out=(inputs[1], np.zeros(3)))
    with pytest.raises(lg.InputError, match=r"out\[1\].*shares memory with out\[0\]"):
        k(a, b, out=(whole[:3], whole[2:5]))
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    with pytest.raises(lg.InputError, match="writeable"):
        k(a, b, out=(frozen, np.zeros(3)))
    with pytest.raises(lg.InputError, match="shares memory with input 'p'"):
        k(a, b, out=(a, np.zeros(3)))


def test_out_check_fast_path_agrees_with_may_share_memory():
    from codegen.argcheck import build_out_check
    p, q = lg.input("p", shape=(4,)), lg.input("q", shape=(4,))
    fits = build_out_check([p, q], [0, 1])
    a, b, base = np.zeros(4), np.zeros(4), np.zeros(12)
    assert fits((np.zeros(4), np.zeros(4)), a, b)
    assert fits((base[:4], base[4:8]), a, b)
    assert not fits((base[:4], base[3:7]), a, b)
    assert not fits((a, np.zeros(4)), a, b)
    assert not fits((base[:4],), a, b)
    assert not fits((np.zeros(4, np.float32), np.zeros(4)), a, b)
    assert not fits((np.zeros(4), np.zeros(4)), a.astype(np.float32), b)
    assert not fits((np.zeros(8)[::2], np.zeros(4)), a, b)


def test_repr_and_properties(ce):
    x, y, loss, k = ce
    r = repr(k)
    for part in ("logits: float(N, C)", "labels: int64(N,)", "d/d(logits)", "backend=numpy"):
        assert part in r
    assert "def loss_and_grad(logits, labels" in k.source
    assert k.graph.wrt == (x,) and k.graph.values[0].shape == ()
    with pytest.raises(AttributeError, match="numpy backend produces no llvm_ir"):
        k.llvm_ir


def test_compiling_twice_returns_the_cached_kernel(ce):
    x, y, loss, k = ce
    assert codegen.compile(loss, wrt=[x]) is k
    assert codegen.compile(loss, wrt=["logits"]) is not codegen.compile(loss)
    assert codegen.compile(loss, wrt=[x], dtype="float32") is not k


def test_compile_from_threads_gives_one_kernel():
    p = lg.input("p", shape=("N",))
    loss = lg.sum(lg.softplus(p * 1.2345))
    got = []
    threads = [threading.Thread(target=lambda: got.append(codegen.compile(loss, wrt="p")))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(k) for k in got}) == 1


def test_dtype_option_fixes_the_precision():
    p = lg.input("p", shape=("N",))
    k = codegen.compile(lg.sum(lg.square(p)), wrt="p", dtype="float32")
    assert k(np.ones(3, np.float32))[1][0].dtype == np.float32
    with pytest.raises(lg.DTypeError, match="compiled for dtype float32"):
        k(np.ones(3))
    with pytest.raises(lg.OptionError, match="dtype must be float32, float64 or None"):
        codegen.compile(lg.sum(p), dtype="int64")


def test_bad_compile_arguments():
    p = lg.input("p", shape=("N",))
    with pytest.raises(lg.OptionError, match="backend must be one of"):
        codegen.compile(lg.sum(p), backend="cuda")
    with pytest.raises(lg.GradientError, match="wrt 'q' is not an input"):
        codegen.compile(lg.sum(p), wrt="q")
    with pytest.raises(lg.GradientError, match="must be a scalar"):
        codegen.compile(p * 2, wrt="p")
    with pytest.raises(TypeError, match="compile: loss must be"):
        codegen.compile("p")
    with pytest.raises(lg.OptionError, match="unknown option"):
        codegen.compile(lg.sum(p), fastmath=True)


def test_unused_wrt_input_gets_zero_gradient():
    p, q = lg.input("p", shape=("N",)), lg.input("q", shape=(2,))
    v, (gp, gq) = codegen.compile(lg.sum(p), wrt=[p, q])(np.ones(3), np.ones(2))
    np.testing.assert_array_equal(gq, [0.0, 0.0])
    assert gq.flags.writeable and gq.dtype == np.float64


def test_loss_compile_takes_declared_inputs_in_order():
    @lg.loss
    def bce(x: lg.Float["N"], z: lg.Float["N"]):
        return lg.mean(lg.softplus(x) - x * z)

    k = bce.compile(wrt="x")
    a, b = rng.normal(size=4), (rng.random(4) > 0.5).astype(float)
    v, (g,) = k(a, b)
    want = bce.value_and_grad(a, b, wrt="x")
    assert v == pytest.approx(want[0], rel=1e-12)
    np.testing.assert_allclose(g, want[1]["x"], rtol=1e-12)
    assert "def bce(x, z" in k.source and bce.compile(wrt="x") is k


def test_jit_matches_value_and_grad():
    def f(pred, target, unused, *, scale):
        return lg.mean(lg.square(pred - target)) * scale

    a, b, c, s = rng.normal(size=4), rng.normal(size=4), rng.normal(size=2), np.array(2.0)
    fast, slow = codegen.jit(f, argnums=(0, 2)), lg.value_and_grad(f, argnums=(0, 2))
    (v, (ga, gc)), (wv, (wa, wc)) = fast(a, b, c, scale=s), slow(a, b, c, scale=s)
    assert v == pytest.approx(wv, rel=1e-12)
    np.testing.assert_allclose(ga, wa, rtol=1e-12)
    np.testing.assert_array_equal(gc, wc)
    assert "def f(pred, target, unused, scale" in fast.cache.get_or_build(
        next(iter(fast.cache._data)), None)[0].source
    fast(a.astype(np.float32), b, c, scale=s)
    assert len(fast.cache) == 2


def test_jit_has_aux_and_single_argnum():
    def f(p, t):
        return lg.sum(p * t), {"mean": lg.mean(p), "tag": "kept"}

    a, b = rng.normal(size=3), rng.normal(size=3)
    (v, aux), g = codegen.jit(f, has_aux=True)(a, b)
    (wv, waux), wg = lg.value_and_grad(f, has_aux=True)(a, b)
    assert v == pytest.approx(wv) and aux["tag"] == "kept"
    assert aux["mean"] == pytest.approx(waux["mean"], rel=1e-12)
    np.testing.assert_allclose(g, wg, rtol=1e-12)
    with pytest.raises(lg.GradientError, match="gradients need float"):
        codegen.jit(lambda p, t: lg.sum(p))(np.array([1, 2]), b)


def test_jit_cache_is_bounded_per_function():
    f = codegen.jit(lambda p: lg.sum(lg.square(p)), maxsize=2)
    for n in (1, 2, 3):
        v, g = f(np.ones(n))
        np.testing.assert_array_equal(g, 2 * np.ones(n))
    assert len(f.cache) == 2


def test_product_dims_are_read_and_checked():
    a, b = lg.input("a", shape=("N", "T")), lg.input("b", shape=("N*T",))
    loss = lg.mean(lg.reshape(a, (-1,)) * b)
    k = codegen.compile(loss, wrt=[a, b])
    x, y = rng.normal(size=(2, 3)), rng.normal(size=6)
    value, (ga, gb) = k(x, y)
    want = reference(loss, [a, b], a=x, b=y)
    assert value == pytest.approx(want[0], rel=1e-12)
    np.testing.assert_allclose(ga, want[1][0], rtol=1e-12)
    np.testing.assert_allclose(gb, want[1][1], rtol=1e-12)
    stable, grads = derive(loss, [a, b])
    same_error(lambda: k(x, np.zeros(5)), lambda: lg.evaluate([stable, *grads], a=x, b=np.zeros(5)))
