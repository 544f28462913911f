"""Random graphs (tests/codegen/test_random_graphs.py's generator: broadcasting, reductions over
any axes of 0-3-d inputs with and without keepdims, where, clip, pick, normalizers, matmul): the
LLVM backend agrees with lg.evaluate, value and gradients, in float64 (rtol 1e-10) and float32
(rtol 2e-4 against evaluate in float64 of the same float32 inputs: a chain of up to 7 float32
ops, each within 2 ulp, and sums accumulated in float64); the NumPy backend is held to the same
reference by tests/codegen/test_random_graphs.py. The sized test also draws the emitter's vector
width (128, 256 or 512 bits)."""
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

import codegen
import lossgraph as lg
from lossgraph.pipeline import derive

from ..test_random_graphs import INPUTS, graphs, inputs_of_size
from .host import emitting_for

#: x's shapes the random test draws: the generator's own, packed rows (10 columns), pipelined
#: rows (40) and long ones (300)
SIZES = [(3, 4), (37, 10), (9, 40), (4, 300)]


@st.composite
def sized_graphs(draw):
    """(shapes, graph) with x's shape drawn from SIZES."""
    shapes = inputs_of_size(*draw(st.sampled_from(SIZES)))
    return shapes, draw(graphs(shapes))


DTYPES = st.sampled_from(["float64", "float32"])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.integers(0, 2 ** 16), DTYPES)
def test_random_graph_llvm_matches_evaluate(graph, seed, dtype):
    check_random(INPUTS, graph, seed, threads=2, dtype=dtype)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sized_graphs(), st.integers(0, 2 ** 16), st.sampled_from([1, 2]), DTYPES,
       st.sampled_from([128, 256, 512]))
def test_random_graph_of_random_size_llvm_matches_evaluate(sized, seed, threads, dtype, bits):
    """x of a drawn size, the kernel emitted for a drawn vector width (any host runs every
    width: a wider vector than its own is split by LLVM), so packed rows of every lane count
    are checked wherever the suite runs."""
    with emitting_for(bits):
        check_random(*sized, seed, threads=threads, dtype=dtype)


def check_random(shapes, graph, seed, threads, dtype="float64"):
    """LLVM's value and gradients of graph's loss = lg.evaluate's in float64 of the same
    inputs (rounded to dtype first)."""
    nodes, labels, loss = graph
    rng = np.random.default_rng(seed)
    arrays = {k: rng.normal(size=s).astype(dtype) for k, s in shapes.items()}
    arrays["labels"] = rng.integers(0, shapes["x"][1], size=shapes["x"][0])
    wrt = list(nodes.values())
    k = codegen.compile(loss, wrt=wrt, backend="llvm", threads=threads, dtype=dtype)
    used = {n: arrays[n] for n in k.input_names}
    value, grads = k(**used)
    same_bits(k(*used.values()), (value, grads))      # positional: the Kernel's entry
    y, want = derive(loss, wrt)
    ref = lg.evaluate([y, *want], {n.name: arrays[n.name].astype(np.float64)
                                   if arrays[n.name].dtype.kind == "f" else arrays[n.name]
                                   for n in lg.inputs_of([y, *want])})
    rtol, atol = (1e-10, 1e-12) if dtype == "float64" else (2e-4, 1e-5)
    np.testing.assert_allclose(value, ref[0], rtol=rtol, atol=atol * max(1, abs(ref[0])))
    for g, w, n in zip(grads, ref[1:], wrt):
        assert g.dtype == dtype, n.name
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol * max(1, np.abs(w).max()),
                                   err_msg=f"d/d{n.name}")


def same_bits(got, want):
    """got (a value, or nested tuples of values and gradients) is want, bit for bit."""
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want)
        for g, w in zip(got, want):
            same_bits(g, w)
        return
    g, w = np.asarray(got), np.asarray(want)
    assert g.dtype == w.dtype and g.shape == w.shape and g.tobytes() == w.tobytes()


def _agrees(loss, wrt, arrays):
    k = codegen.compile(loss, wrt=wrt, backend="llvm")
    value, grads = k(**{n: arrays[n] for n in k.input_names})
    y, want = derive(loss, wrt)
    ref = lg.evaluate([y, *want], {n.name: arrays[n.name] for n in lg.inputs_of([y, *want])})
    np.testing.assert_allclose(value, ref[0], rtol=1e-10, atol=1e-12)
    for g, w in zip(grads, ref[1:]):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_regression_unused_input_gets_a_zero_gradient():
    """Found by the random test: the gradient of an unused input is a constant leaf."""
    x, s = lg.input("x", shape=(3, 4)), lg.input("s", shape=())
    labels = lg.input("labels", shape=(3,), dtype="int64")
    loss = lg.sum(lg.pick(x, labels, axis=1)) + 0.5 * lg.sum(x)
    rng = np.random.default_rng(0)
    _agrees(loss, [x, s], {"x": rng.normal(size=(3, 4)), "s": np.array(1.5),
                           "labels": np.array([1, 3, 0])})


def test_regression_reduction_read_by_a_full_size_loop():
    """Found by the random test: a loop reading a (1, 4) reduction is not flat."""
    x = lg.input("x", shape=(3, 4))
    loss = lg.sum(lg.max(x, axis=0)) + 0.5 * lg.sum(x)
    _agrees(loss, [x], {"x": np.random.default_rng(0).normal(size=(3, 4))})


def test_regression_softmax_recomputed_in_another_nest_keeps_its_bits():
    """Found by the random test: min(softmax(x))'s gradient compares softmax(x) with its min,
    computed in another nest (short rows there took the generic exp, packed rows exp_row):
    the mask was empty and the gradient lost its softmax term."""
    x = lg.input("x", shape=(3, 4))
    loss = lg.sum(lg.min(lg.softmax(x))) + 0.5 * lg.sum(x)
    rng = np.random.default_rng(54)
    arrays = {k: rng.normal(size=s) for k, s in INPUTS.items()}
    _agrees(loss, [x], {"x": arrays["x"]})


def test_regression_a_dot_of_vectors_is_the_whole_loss():
    """Found by the random test, once sum(sum(x)) and the sums of broadcast scalars simplify
    away: sum(y @ y) + 0.5 sum(x - x) is y @ y, a fallback op's 0-d output returned as the
    value (np.ascontiguousarray made it shape (1,))."""
    x, y = lg.input("x", shape=(3, 4)), lg.input("y", shape=(4,))
    rng = np.random.default_rng(0)
    arrays = {"x": rng.normal(size=(3, 4)), "y": rng.normal(size=4)}
    _agrees(lg.sum(y @ y) + 0.5 * lg.sum(x - x), [x, y], arrays)
    _agrees(y @ y, [y], arrays)


def test_regression_a_later_nest_reads_a_stored_reciprocal():
    """Found by the random test: softmax(softmax(w, axis=0), axis=1)'s nest over w stores
    1 / s once per pixel (codegen.llvm.pixels), and a later nest dividing by s read that array
    without having it among its buffers (the division's operands are e and s, not 1 / s)."""
    x, w = lg.input("x", shape=(3, 4)), lg.input("w", shape=(2, 3, 4))
    loss = lg.sum(lg.softmax(lg.softmax(w, axis=0), axis=1)) + 0.5 * lg.sum(x)
    rng = np.random.default_rng(0)
    _agrees(loss, [x, w], {"x": rng.normal(size=(3, 4)), "w": rng.normal(size=(2, 3, 4))})
