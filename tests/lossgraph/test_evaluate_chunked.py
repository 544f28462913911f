"""Chunked regions (lossgraph/chunked.py) give the bits of op-by-op evaluation.

The reference for every comparison is the same evaluator with chunked.ENABLED = False. The
chunk is made small (CHUNK = 128 elements, regions from 256) so that arrays of a few thousand
elements run in many chunks, with seams everywhere; the pairwise-sum replica is checked
against np.add.reduce directly.
"""
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import lossgraph as lg
from lossgraph import chunked
from lossgraph.graph import topo_order
from lossgraph.ops import OPS
from lossgraph.pipeline import derive

from ..codegen.zoo_cases import CASES, EXTREME

EV = sys.modules["lossgraph.evaluate"]


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(chunked, "CHUNK", 128)
    monkeypatch.setattr(chunked, "MIN_BYTES", 2048)
    monkeypatch.setattr(EV, "PLAN_MIN_SIZE", 0)


def same_bits(a, b):
    """Same dtype, shape and bits; every nan equal to every nan (payloads aside)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind != "f":
        return np.array_equal(a, b)
    na, nb = np.isnan(a), np.isnan(b)
    return np.array_equal(na, nb) and a[~na].tobytes() == b[~nb].tobytes()


def both_ways(outs, arrays):
    """(chunked results, op-by-op results, how many regions ran chunked) of lg.evaluate."""
    return both_ways_of(lambda: lg.evaluate(outs, arrays))


def both_ways_of(call):
    """(call() chunked, call() op by op, how many regions ran chunked)."""
    ran = []
    real = chunked.run_region

    def spy(c, values, take):
        got = real(c, values, take)
        ran.append(got is not None)
        return got
    chunked.run_region = spy
    try:
        got = call()
    finally:
        chunked.run_region = real
    chunked.ENABLED = False
    try:
        want = call()
    finally:
        chunked.ENABLED = True
    return got, want, sum(ran)


# --- (a) every zoo loss, loss and gradients, at sizes that run in many chunks

# Samples become GROW times as many (arrays whose leading axis is the sample axis): 800 rows
# of 4 classes run in 3 row chunks of at least ROWS_MIN elements.
GROW = 160


def grown(case, f32, seed=0):
    """The case's nodes, arrays and graphs with the sample axis tiled GROW times, or at the
    case's own sizes when its arrays do not all grow together (fixed label tables)."""
    name, fn, makers = case
    rng = np.random.default_rng(seed)
    small = [np.asarray(m(rng)) for m in makers]
    for grow in (GROW, 1):
        arrays = [np.concatenate([a] * grow) if a.ndim and a.shape[0] == 5 else a
                  for a in small]
        if f32:
            arrays = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in arrays]
        nodes = [lg.input(f"a{i}", shape=a.shape, dtype="float" if a.dtype.kind == "f"
                          else a.dtype.name) for i, a in enumerate(arrays)]
        try:
            out = fn(*nodes)
            floats = [n for n in nodes if n.dtype == "float"]
            scalar = out if out.shape == () else lg.sum(out)
            y, grads = derive(scalar, floats)
            feed = {f"a{i}": a for i, a in enumerate(arrays)}
            lg.evaluate([out], feed)
            return [out, y, *grads], feed
        except lg.LossgraphError:
            if grow == 1:
                raise
    raise AssertionError("unreachable")


@pytest.mark.parametrize("f32", [False, True], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES + EXTREME, ids=[c[0] for c in CASES + EXTREME])
def test_zoo_losses_and_gradients_have_the_op_by_op_bits(case, f32, small_chunks):
    outs, feed = grown(case, f32)
    got, want, _ = both_ways(outs, feed)
    for g, w, node in zip(got, want, outs):
        assert same_bits(g, w), lg.to_text(node)[:200]


def test_most_zoo_losses_run_a_chunked_region(small_chunks):
    """The comparison above is not vacuous: regions form in most zoo graphs."""
    hits = 0
    for case in CASES:
        outs, feed = grown(case, False)
        hits += both_ways(outs, feed)[2] > 0
    assert hits >= len(CASES) // 2, (hits, len(CASES))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", ["squared_error", "huber", "sigmoid_cross_entropy",
                                  "absolute_error", "log_cosh"])
def test_value_and_grad_at_the_default_chunk_has_the_op_by_op_bits(loss, dtype):
    """The real chunk (CHUNK, MIN_BYTES as shipped) on 600,000 elements: lg.value_and_grad's
    value and gradient, chunked and op by op."""
    from zoo import losses
    fn = getattr(losses, loss)
    rng = np.random.default_rng(7)
    p = (2 * rng.normal(size=600_000)).astype(dtype)
    t = (rng.random(600_000) > 0.5).astype(dtype) if loss == "sigmoid_cross_entropy" else \
        rng.normal(size=600_000).astype(dtype)
    vg = lg.value_and_grad(lambda a, b: fn(a, b, reduction="mean"))
    (value, grad), (want_value, want_grad), ran = both_ways_of(lambda: vg(p, t))
    assert ran
    assert same_bits(value, want_value) and same_bits(grad, want_grad)


# --- (b) random elementwise graphs and shapes

UNARY = ["exp", "log", "log1p", "expm1", "sqrt", "abs", "negative", "square", "tanh",
         "sigmoid", "softplus", "sign"]
BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "xlogy", "power"]
SPECIAL = [1.0, -1.0, 0.0, -0.0, np.inf, -np.inf, np.nan, 1e-300, 88.0, -700.0]


@st.composite
def graphs(draw):
    """(outputs, arrays): a random DAG of elementwise ops over two full arrays and a size-1
    one, read by full sums, trailing-axis reductions and other outputs."""
    lead = draw(st.sampled_from([257, 300, 513, 1000, 1031]))
    tail = draw(st.sampled_from([(), (1,), (3,), (7,), (16,), (17,), (2, 5)]))
    shape = (lead,) + tail
    dtype = draw(st.sampled_from(["float32", "float64"]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    arrays = {}
    for name in ("x", "y"):
        a = rng.normal(size=shape) * draw(st.sampled_from([1.0, 30.0]))
        k = draw(st.integers(0, 12))
        a.reshape(-1)[rng.integers(0, a.size, size=k)] = rng.choice(SPECIAL, size=k)
        zeros = draw(st.sampled_from([0, 0, 2, 1]))     # none, half or all of it -0.0
        if zeros:
            a.reshape(-1)[: a.size // zeros] = -0.0
        arrays[name] = a.astype(dtype)
    small = draw(st.sampled_from([(), (1,), (1,) * len(shape)]))
    arrays["s"] = np.full(small, draw(st.sampled_from([0.5, -2.0, 0.0, -0.0])), dtype)
    nodes = [lg.input(k, shape=a.shape, dtype=dtype) for k, a in arrays.items()]
    for _ in range(draw(st.integers(1, 9))):
        pick = draw(st.sampled_from(["unary", "binary", "where", "clip", "cast"]))
        a = draw(st.sampled_from(nodes))
        b = draw(st.sampled_from(nodes))
        if pick == "unary":
            n = getattr(lg, draw(st.sampled_from(UNARY)))(a)
        elif pick == "binary":
            op = draw(st.sampled_from(BINARY))
            n = {"add": lambda: a + b, "subtract": lambda: a - b, "multiply": lambda: a * b,
                 "divide": lambda: a / b, "maximum": lambda: lg.maximum(a, b),
                 "minimum": lambda: lg.minimum(a, b), "power": lambda: a ** b,
                 "xlogy": lambda: lg.xlogy(a, b)}[op]()
        elif pick == "where":
            n = lg.where(a > b, a, b * 2.0)
        elif pick == "clip":
            n = lg.clip(a, -1.0, 2.0)
        else:
            other = "float32" if dtype == "float64" else "float64"
            n = lg.cast(lg.cast(a, other) * 3.0, dtype)
        nodes.append(n)
    full = [n for n in nodes if n.shape == shape]
    assume(len(full) > 2)
    outs = [lg.sum(full[-1]), lg.sum(full[-1] * full[-2], keepdims=True)]
    if len(shape) >= 2:
        fn = draw(st.sampled_from([lg.sum, lg.max, lg.min, lg.prod]))
        axes = tuple(range(1, len(shape)))
        outs.append(fn(full[-1], axis=axes[-1], keepdims=draw(st.booleans())))
        outs.append(lg.sum(full[-2], axis=axes))
    outs += draw(st.lists(st.sampled_from(full), max_size=2))
    used = {n.attrs["name"] for n in topo_order(outs) if n.op == "input"}
    return outs, {k: a for k, a in arrays.items() if k in used}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                  HealthCheck.too_slow])
@given(graphs())
def test_random_elementwise_graphs_have_the_op_by_op_bits(case):
    outs, arrays = case
    old = chunked.CHUNK, chunked.MIN_BYTES, EV.PLAN_MIN_SIZE
    chunked.CHUNK, chunked.MIN_BYTES, EV.PLAN_MIN_SIZE = 128, 2048, 0
    try:
        got, want, _ = both_ways(outs, arrays)
    finally:
        chunked.CHUNK, chunked.MIN_BYTES, EV.PLAN_MIN_SIZE = old
    for g, w in zip(got, want):
        assert same_bits(g, w)


def test_a_chain_that_reads_back_its_own_sum_runs_in_two_regions(small_chunks, rng):
    """exp(x) / sum(exp(x)) needs the whole sum before the division: the division and what
    follows form a second region, run after the first; and a node outside that reads a
    region's values (a reshape) and feeds the chain again splits it the same way."""
    a = rng.normal(size=4000)
    x = lg.input("x", shape=a.shape)
    e = lg.exp(x)
    p = e / lg.sum(e)
    folded = lg.reshape(lg.reshape(lg.tanh(x) * 2.0, (2000, 2)), (4000,))
    outs = [lg.sum(lg.square(p) * 3.0), lg.sum(lg.log1p(lg.sigmoid(x) * folded) + 1.0)]
    got, want, ran = both_ways(outs, {"x": a})
    assert ran >= 3 and all(same_bits(g, w) for g, w in zip(got, want))


def test_a_non_contiguous_input_runs_op_by_op_with_the_same_bits(small_chunks, rng):
    a = rng.normal(size=(40, 300)).T          # (300, 40), F-ordered
    x = lg.input("x", shape=a.shape)
    outs = [lg.sum(lg.square(lg.exp(x) - 1.0)), lg.tanh(x) * 2.0 + 1.0]
    got, want, ran = both_ways(outs, {"x": a})
    assert ran == 0 and all(same_bits(g, w) for g, w in zip(got, want))
    got, want, ran = both_ways(outs, {"x": np.ascontiguousarray(a)})
    assert ran == 1 and all(same_bits(g, w) for g, w in zip(got, want))


# --- (c) the pairwise sum replica

SIZES = list(range(1, 300)) + [511, 1000, 1024, 4097, 8191, 8192, 8193, 32767, 32768, 32769,
                               65537, 100_003, 1_000_003]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairwise_sum_by_leaves_is_numpys_sum_bit_for_bit(dtype):
    rng = np.random.default_rng(11)
    for n in SIZES:
        x = (rng.normal(size=n) * 10.0 ** rng.uniform(-6, 6, size=n)).astype(dtype)
        want = np.add.reduce(x)
        assert want.tobytes() == OPS["sum"].impl(x, (0,), False).tobytes()
        for leaf in (128, 1000, 32768):
            assert chunked.pairwise_sum(x, leaf).tobytes() == want.tobytes(), (n, leaf)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairwise_sum_keeps_signed_zeros_infinities_and_nan(dtype):
    for n in (1, 7, 129, 1000, 70_000):
        for fill in (-0.0, 0.0):
            x = np.full(n, fill, dtype)
            got = chunked.pairwise_sum(x, 128)
            assert got.tobytes() == np.add.reduce(x).tobytes()
            assert np.signbit(got) == np.signbit(np.add.reduce(x))
        x = np.full(n, -0.0, dtype)
        x[n // 2] = np.inf
        assert chunked.pairwise_sum(x, 128) == np.add.reduce(x) == np.inf
        x[n - 1] = -np.inf if n > 1 else np.nan
        with np.errstate(invalid="ignore"):
            assert np.isnan(chunked.pairwise_sum(x, 128)) and np.isnan(np.add.reduce(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_sum_over_all_axes_of_a_contiguous_array_is_one_pairwise_sum(dtype):
    """What lets a flat region fuse sum(x) of an n-D x: NumPy sums it as one 1-D run."""
    rng = np.random.default_rng(12)
    for shape in [(300, 7), (1000, 37), (5, 6, 1031), (65537, 2)]:
        x = rng.normal(size=shape).astype(dtype)
        axes = tuple(range(x.ndim))
        want = chunked.pairwise_sum(x.reshape(-1), 1000).tobytes()
        assert OPS["sum"].impl(x, axes, False).tobytes() == want
        assert OPS["sum"].impl(x, axes, True).tobytes() == want


def test_pairwise_leaves_tile_the_range_in_order():
    for n in (129, 1000, 32769, 1_000_000):
        leaves = chunked.pairwise_leaves(n, 128)
        assert leaves[0][0] == 0 and leaves[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(leaves, leaves[1:]))
        assert all(0 < b - a <= 128 for a, b in leaves)
        assert all(a % 8 == 0 for a, _ in leaves)
