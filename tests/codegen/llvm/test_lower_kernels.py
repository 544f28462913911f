"""The LLVM backend's lowering: every op has an entry, the benchmark loops vectorize, two threads
give the bits of one, out= buffers, odd input arrays, hostile names, concurrent calls."""
import re

import numpy as np
import pytest

import codegen
import lossgraph as lg
import zoo
from codegen.llvm import drive, lower
from lossgraph.ops import OPS

from ...threads import in_threads
from .host import LANES, VECTOR, flat_interleave


def test_every_op_has_a_native_lowering_or_a_documented_fallback():
    tables = (set(lower.ELEMENTWISE) | set(lower.REDUCTIONS) | set(lower.DECOMPOSED)
              | set(lower.VIEWS) | set(lower.GATHERS) | set(lower.FALLBACK)
              | set(lower.LEAVES))
    missing = sorted(set(OPS) - tables)
    assert not missing, f"ops with no lowering: {missing}"
    assert not sorted(tables - set(OPS)), "table entries for ops that do not exist"
    for op, reason in lower.FALLBACK.items():
        assert isinstance(reason, str) and len(reason) > 20, op


X = lg.input("x", shape=("N",))
Z = lg.input("z", shape=("N",))
LOGITS = lg.input("logits", shape=("N", "C"))
LABELS = lg.input("labels", shape=("N",), dtype="int64")
BENCH = {
    "bce": (lg.mean(lg.softplus(X) - X * Z), [X]),
    "mse": (lg.mean(lg.square(X - Z)), [X]),
    "huber": (zoo.tf.huber_loss(X, Z) if hasattr(zoo.tf, "huber_loss")
              else zoo.mxnet.HuberLoss()(X, Z), [X]),
    "softmax_ce": (zoo.tf.sparse_softmax_cross_entropy(LOGITS, LABELS), [LOGITS]),
}


@pytest.fixture(scope="module")
def kernels():
    out = {}
    for name, (loss, wrt) in BENCH.items():
        loss = loss if loss.shape == () else lg.mean(loss)
        out[name] = codegen.compile(loss, wrt=wrt, backend="llvm", dtype="float32")
        out[name](**_feed(name, 100, np.random.default_rng(0)))   # compiles float32
    return out


def _feed(name, n, rng):
    if name == "softmax_ce":
        c = 10
        return {"logits": rng.normal(size=(n // c, c)).astype(np.float32),
                "labels": rng.integers(0, c, size=n // c)}
    return {"x": rng.normal(size=n).astype(np.float32),
            "z": (rng.random(n) > 0.5).astype(np.float32)}


@pytest.mark.parametrize("name", list(BENCH))
def test_benchmark_loops_vectorize(kernels, name):
    ir = kernels[name].optimized_ir
    assert re.search(r"<(8|16) x float>", ir), f"{name}: no float vector in the optimized IR"


@pytest.mark.parametrize("name", ["bce", "mse", "huber"])
def test_flat_loops_are_pinned_to_the_host_lanes_and_interleave(kernels, name):
    """float32 flat nests take the host's float32 lanes (16 with AVX-512) interleaved
    emit.FLAT_INTERLEAVE[32] = 4 times (LLVM's own pick varied with the body; on a host of 16
    vector registers a body without an EXPENSIVE op NARROW_CHEAP_INTERLEAVE times); float64
    flat nests take float64's lanes, interleaved the same."""
    count = flat_interleave(name == "bce")

    def hint(lanes):
        return (rf'"llvm.loop.vectorize.width", i32 {lanes} }}\n'
                rf'.*"llvm.loop.interleave.count", i32 {count} }}')
    assert re.search(hint(LANES["float32"]), kernels[name].llvm_ir), name
    assert VECTOR["float32"] in kernels[name].optimized_ir, name
    loss, wrt = BENCH[name]
    k64 = codegen.compile(lg.mean(loss) if loss.shape else loss, wrt=wrt, backend="llvm",
                          dtype="float64")
    k64(**{k: v.astype(np.float64) for k, v in _feed(name, 100, np.random.default_rng(0)).items()})
    assert re.search(hint(LANES["float64"]), k64.llvm_ir), name


@pytest.mark.parametrize("name", ["bce", "softmax_ce"])
def test_two_threads_give_the_bits_of_one_and_agree_with_evaluate(kernels, name):
    n = 2 * drive.SPLIT_FROM + 130           # cut in units (codegen.llvm.drive)
    feed = _feed(name, n, np.random.default_rng(1))
    k2 = kernels[name]
    loss, wrt = BENCH[name]
    loss = loss if loss.shape == () else lg.mean(loss)
    k1 = codegen.compile(loss, wrt=wrt, backend="llvm", dtype="float32", threads=1)
    v1, (g1,) = k1(**feed)
    v2, (g2,) = k2(**feed)
    assert v1.tobytes() == v2.tobytes() and g1.tobytes() == g2.tobytes()
    y, grads = lg.pipeline.derive(loss, wrt)
    want = lg.evaluate([y, *grads], {k: v.astype(np.float64) if v.dtype.kind == "f" else v
                                     for k, v in feed.items()})
    np.testing.assert_allclose(v2, want[0], rtol=1e-5)
    np.testing.assert_allclose(g2, want[1], rtol=2e-4, atol=1e-6 * np.abs(want[1]).max())


def test_out_buffers_receive_the_gradient(kernels):
    feed = _feed("mse", 1000, np.random.default_rng(2))
    buf = np.full(1000, np.nan, dtype=np.float32)
    v, (g,) = kernels["mse"](**feed, out=(buf,))
    assert g is buf
    v_fresh, (g_fresh,) = kernels["mse"](**feed)
    assert g_fresh is not buf and np.array_equal(g_fresh, buf) and v == v_fresh


def test_strided_read_only_and_big_endian_inputs(kernels):
    rng = np.random.default_rng(3)
    base = _feed("bce", 2000, rng)
    x, z = base["x"][::2][::-1], base["z"][::2][::-1]   # strided, negatively
    want = kernels["bce"](x=x.copy(), z=z.copy())
    z.flags.writeable = False
    got = kernels["bce"](x=x, z=z)
    assert got[0] == want[0] and np.array_equal(got[1][0], want[1][0])
    k64 = codegen.compile(BENCH["bce"][0], wrt=[X], backend="llvm")
    big = base["x"].astype(">f8")
    got = k64(x=big, z=base["z"].astype(np.float64))
    ref = k64(x=base["x"].astype(np.float64), z=base["z"].astype(np.float64))
    assert got[0] == ref[0] and np.array_equal(got[1][0], ref[1][0])


@pytest.mark.parametrize("name", ["class", "λ_ünï", "__import__", "lambda"])
def test_hostile_input_names_compile_and_never_reach_the_ir(name):
    a = lg.input(name, shape=(3,))
    k = codegen.compile(lg.sum(lg.exp(a)), wrt=[a], backend="llvm")
    v, (g,) = k(np.array([0.0, 1.0, 2.0]))
    np.testing.assert_allclose(v, np.exp([0.0, 1.0, 2.0]).sum(), rtol=1e-15)
    np.testing.assert_allclose(g, np.exp([0.0, 1.0, 2.0]), rtol=1e-15)
    assert name not in k.llvm_ir


def test_concurrent_calls_are_correct(kernels):
    feeds = [_feed("softmax_ce", 4000 + 10 * i, np.random.default_rng(10 + i)) for i in range(4)]
    want = [kernels["softmax_ce"](**f) for f in feeds]

    def work(i):
        for _ in range(20):
            v, (g,) = kernels["softmax_ce"](**feeds[i])
            assert v == want[i][0] and np.array_equal(g, want[i][1][0]), i
    in_threads(work, 4)


def test_unknown_option_and_bad_threads_are_clear_errors():
    with pytest.raises(lg.errors.OptionError, match="threads"):
        codegen.compile(lg.sum(X), wrt=[X], backend="llvm", threads=3)
    with pytest.raises(lg.errors.OptionError, match="unknown option 'fast'"):
        codegen.compile(lg.sum(X), wrt=[X], backend="llvm", fast=True)


@pytest.mark.parametrize("bad", [4, -1])
def test_labels_out_of_range_raise_evaluates_error(kernels, bad):
    feed = _feed("softmax_ce", 100, np.random.default_rng(4))
    feed["logits"] = feed["logits"][:, :4].copy()
    feed["labels"] = feed["labels"] % 4
    feed["labels"][3] = bad
    k = codegen.compile(lg.mean(zoo.tf.sparse_softmax_cross_entropy(LOGITS, LABELS)),
                        wrt=[LOGITS], backend="llvm")
    with pytest.raises(lg.errors.InputError, match=f"label {bad} is out of range"):
        k(**feed)
    with pytest.raises(lg.errors.InputError, match=f"label {bad} is out of range"):
        lg.evaluate(k.schedule.values[0], feed)


def test_float32_loss_sums_accumulate_beyond_float32(kernels):
    """A float32 sum of 2e6 terms (float32 blocks folded into float64) is far closer to the
    float64 sum than a float32 running sum's 1e-4."""
    rng = np.random.default_rng(5)
    feed = {"x": (rng.random(2_000_000) + 1.0).astype(np.float32),
            "z": np.zeros(2_000_000, np.float32)}
    value, _ = kernels["mse"](**feed)
    exact = np.mean(np.square(feed["x"].astype(np.float64)))
    assert abs(float(value) - exact) / exact < 1e-6


def test_nan_and_inf_propagate_as_ieee_says(kernels):
    x = np.array([np.nan, np.inf, -np.inf, 0.5, 1e4, -1e4], dtype=np.float32)
    z = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 0.0], dtype=np.float32)
    k = kernels["bce"]
    v, (g,) = k(x=x, z=z)
    assert np.isnan(v)
    want = lg.evaluate(lg.pipeline.derive(BENCH["bce"][0], [X])[1][0], {"x": x, "z": z})
    np.testing.assert_array_equal(np.isnan(g), np.isnan(want))
    np.testing.assert_allclose(g[1:], want[1:], rtol=1e-6)
    v, (g,) = k(x=x[1:], z=z[1:])           # inf - inf = nan in the loss (x z at x = inf)
    want = lg.evaluate([lg.pipeline.derive(BENCH["bce"][0], [X])[0]], {"x": x[1:], "z": z[1:]})
    np.testing.assert_array_equal(np.isnan(v), np.isnan(want[0]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_long_rows_reuse_the_exponentials_between_phases(dtype):
    """Rows over 64 classes store e^(x - m) in the gradient's array during the sum phase and
    read it back in the gradient phase (emit.NestEmitter.plan_stash)."""
    loss = lg.mean(zoo.tf.sparse_softmax_cross_entropy(LOGITS, LABELS))
    k = codegen.compile(loss, wrt=[LOGITS], backend="llvm")
    rng = np.random.default_rng(6)
    feed = {"logits": (3 * rng.normal(size=(70, 100))).astype(dtype),
            "labels": rng.integers(0, 100, size=70)}
    v, (g,) = k(**feed)
    y, (dx,) = lg.pipeline.derive(loss, [LOGITS])
    want = lg.evaluate([y, dx], feed)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(v, want[0], rtol=tol)
    np.testing.assert_allclose(g, want[1], rtol=tol * 10, atol=tol * np.abs(want[1]).max())


@pytest.mark.parametrize("classes", [7, 10, 12, 20, 65, 72, 97, 100, 127, 1000, 1023])
def test_row_max_reaches_every_column(classes):
    """logsumexp and softmax over rows whose max sits in any of the last columns, or in the
    first, or behind a nan: the vectorized row max covers the remainder iterations too (loop
    hints once made LLVM drop them), and C = 72 or 127 compile (LLVM's vectorizer aborted the
    process on a cost-model assertion there until long rows got a fixed width)."""
    X = lg.input("x", shape=("N", classes))
    outs = [lg.logsumexp(X, axis=1), lg.softmax(X, axis=1)]
    k = codegen.compile(outs, backend="llvm", threads=1)
    cols = sorted({0, classes // 2, classes - 3, classes - 2, classes - 1})
    x = np.random.default_rng(classes).normal(size=(len(cols) + 1, classes)).astype(np.float32)
    for row, c in enumerate(cols):
        x[row, c] = 60.0
    x[-1, 1] = np.nan
    got = k(x)
    with np.errstate(all="ignore"):
        want = lg.evaluate(outs, {"x": x})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-30)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("classes", [65, 100, 127, 1000, 1023])
def test_long_rows_end_in_short_remainder_loops(classes, dtype):
    """A static row of 64 or more elements runs its whole steps as an unmasked interleaved
    vector loop (emit.NestEmitter.tail_loop), then its remainder's whole vectors, then the
    last partial vector: one masked iteration when it would take more than two loops of 8, 4,
    2, 1 elements; softmax CE's loss and gradient agree with lg.evaluate."""
    logits = lg.input("logits", shape=("N", classes))
    labels = lg.input("labels", shape=("N",), dtype="int64")
    loss = lg.mean(zoo.tf.sparse_softmax_cross_entropy(logits, labels))
    k = codegen.compile(loss, wrt=[logits], backend="llvm", threads=1, dtype=dtype)
    rng = np.random.default_rng(classes)
    feed = {"logits": (3 * rng.normal(size=(9, classes))).astype(dtype),
            "labels": rng.integers(0, classes, size=9)}
    v, (g,) = k(**feed)
    lanes = LANES[np.dtype(dtype).name]
    elem = "float" if dtype == np.float32 else "double"
    partial = classes % lanes
    widths = {int(w) for w in re.findall(r'"llvm.loop.vectorize.width", i32 (\d+)', k.llvm_ir)}
    masked_tail = bin(partial).count("1") > 2
    assert widths - {lanes} == (set() if masked_tail else {b for b in (8, 4, 2, 1) if partial & b})
    assert ("llvm.loop.vectorize.predicate.enable" in k.llvm_ir) == masked_tail
    # the main loop (interleaved: 4 whole-vector loads an iteration) is never masked: at most
    # one masked load per row loop (tail folding of a whole loop masks every one)
    opt = k.optimized_ir
    plain = opt.count(f"load <{lanes} x {elem}>")
    masked = opt.count(f"call <{lanes} x {elem}> @llvm.masked.load")
    assert plain >= 4 and plain > 3 * masked and bool(masked) == masked_tail
    y, (dx,) = lg.pipeline.derive(loss, [logits])
    want = lg.evaluate([y, dx], feed)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(v, want[0], rtol=tol)
    np.testing.assert_allclose(g, want[1], rtol=tol * 10, atol=tol * np.abs(want[1]).max())


@pytest.mark.parametrize("classes", [4, 10, 100])
def test_all_minus_inf_rows_give_what_evaluate_gives(classes):
    """softmax of a row that is all -inf is 0 in lg.evaluate (e / s with s = 0 divided by 1),
    so are the gradients built on it (logsumexp's, softmax CE's); logsumexp is -inf."""
    X = lg.input("x", shape=("N", classes))
    w = lg.constant(np.arange(1.0, classes + 1))
    y = lg.input("y", shape=("N",), dtype="int64")
    losses = {"softmax": lg.sum(lg.softmax(X, axis=1) * w),
              "logsumexp": lg.sum(lg.logsumexp(X, axis=1)),
              "softmax CE": lg.mean(zoo.tf.sparse_softmax_cross_entropy(X, y))}
    rng = np.random.default_rng(classes)
    x = rng.normal(size=(19, classes)).astype(np.float32)
    x[[0, 9, 18]] = -np.inf
    labels = rng.integers(0, classes, size=19)
    for name, loss in losses.items():
        feed = {"x": x, "y": labels} if name == "softmax CE" else {"x": x}
        k = codegen.compile(loss, wrt=[X], backend="llvm", threads=1)
        got_v, (got_g,) = k(**feed)
        value, (grad,) = lg.pipeline.derive(loss, [X])
        with np.errstate(all="ignore"):      # the reference in float64: float32's own
            want_v, want_g = lg.evaluate([value, grad], dict(feed, x=x.astype(np.float64)))
        np.testing.assert_array_equal(np.isnan(got_g), np.isnan(want_g), err_msg=name)
        # softmax's gradient s (w - sum(w s)) cancels: float32's rounding of the row sum
        # errs by up to ~3e-7 of the largest entry (NumPy in float32 as much as the kernel)
        scale = np.abs(want_g[np.isfinite(want_g)]).max()
        np.testing.assert_allclose(got_g, want_g, rtol=1e-5, atol=1e-6 * scale, err_msg=name)
        np.testing.assert_allclose(got_v, want_v, rtol=1e-5, err_msg=name)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(2, 3, 4), (1, 3, 2, 2), (8, 21, 16, 16)])
@pytest.mark.parametrize("form", ["logsumexp", "softmax", "segmentation CE"])
def test_float32_reductions_over_a_middle_axis_read_back_at_their_accumulator_type(form, shape,
                                                                                    threads):
    """A reduction over a middle axis accumulates in its array (float64 for a float32 sum); a
    later phase of the same nest (softmax's division by the sum) read that array as float32,
    which gave garbage gradients (errors of 3e4, NaN) for softmax over the channels of
    (N, C, H, W)."""
    x = lg.input("x", shape=("N",) + shape[1:])
    t = lg.input("t", shape=("N",) + shape[1:])
    loss = {"logsumexp": lambda: lg.sum(lg.logsumexp(x, axis=1)),
            "softmax": lambda: lg.sum(lg.softmax(x, axis=1) * t),
            "segmentation CE": lambda: lg.mean(lg.sum(
                t * (lg.logsumexp(x, axis=1, keepdims=True) - x), axis=1))}[form]()
    k = codegen.compile(loss, wrt=[x], backend="llvm", dtype="float32", threads=threads)
    rng = np.random.default_rng(len(shape))
    feed = {"x": (3 * rng.normal(size=shape)).astype(np.float32),
            "t": rng.random(size=shape).astype(np.float32)}
    feed = {n: feed[n] for n in k.input_names}
    v, (g,) = k(**feed)
    y, (dx,) = lg.pipeline.derive(loss, [x])
    want = lg.evaluate([y, dx], {n: a.astype(np.float64) for n, a in feed.items()})
    np.testing.assert_allclose(v, want[0], rtol=2e-6)
    np.testing.assert_allclose(g, want[1], rtol=1e-5, atol=1e-6 * np.abs(want[1]).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["max", "min"])
def test_nan_propagating_max_and_min_reductions_vectorize(op, dtype, capfd, monkeypatch):
    """max / min over a whole array (tl.maxnorm_regularizer) accumulate through llvm.maximum /
    minimum, a reduction the loop vectorizer takes: the loop is vector code, LLVM prints no
    "loop not vectorized" remark, and NaN anywhere gives NaN, as lg.evaluate. (A select on
    v > acc or v != v stayed scalar, 5.6x slower.)"""
    monkeypatch.setenv("LOSSGRAPH_CACHE", "0")
    x = lg.input("x", shape=("N",))
    loss = getattr(lg, op)(lg.abs(x) - 1.0)
    k = codegen.compile(loss, wrt=[x], backend="llvm", dtype=dtype, threads=1)
    rng = np.random.default_rng(3)
    y, (dx,) = lg.pipeline.derive(loss, [x])
    for n in (1, 7, 64, 1000, 4099):
        a = rng.normal(size=n).astype(dtype)
        for case in ("plain", "nan first", "nan last"):
            if case != "plain":
                a = a.copy()
                a[0 if case == "nan first" else -1] = np.nan
            v, (g,) = k(x=a)
            with np.errstate(invalid="ignore"):
                want = lg.evaluate([y, dx], {"x": a})
            np.testing.assert_array_equal(v, want[0])
            np.testing.assert_array_equal(g, want[1])
    lanes = LANES[np.dtype(dtype).name]
    elem = "float" if dtype == np.float32 else "double"
    intrinsic = "maximum" if op == "max" else "minimum"
    assert f"<{lanes} x {elem}> @llvm.{intrinsic}" in k.optimized_ir
    assert "remark" not in capfd.readouterr().err
