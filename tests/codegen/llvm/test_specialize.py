"""A symbolic row dim bound at call time to a length that packs (specialize.FIXED: 2-16 and some
longer) runs a Program planned with it static (codegen.llvm.specialize): the bits of the
static-dim kernel, lg.evaluate's values; other values, and calls past the limit, run the
general Program."""
import threading

import numpy as np
import pytest

import codegen
import lossgraph as lg
import zoo
from codegen.llvm import backend, drive, lower, packed, specialize

ELEM = {"float32": "float", "float64": "double"}
from .host import LANES


@pytest.fixture(autouse=True)
def fresh_kernels():
    """Each test's kernels are new (the cache would hand back one another test called)."""
    codegen.CACHE.clear()
    yield
    codegen.CACHE.clear()


def _ce(classes):
    x = lg.input("x", shape=("N", classes))
    y = lg.input("y", shape=("N",), dtype="int64")
    return x, lg.mean(zoo.tf.sparse_softmax_cross_entropy(x, y))


def _feed(rows, classes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return {"x": (3 * rng.normal(size=(rows, classes))).astype(dtype),
            "y": rng.integers(0, classes, size=rows)}


def _want(loss, wrt, feed):
    value, grads = lg.pipeline.derive(loss, [wrt])
    return lg.evaluate([value, *grads], feed)


def _row_nests(program):
    return [st for st in program.plan.steps if isinstance(st, lower.Nest) and len(st.shape) == 2]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("classes", [10, 7, 20])
@pytest.mark.parametrize("rows", [37, drive.SPLIT_FROM // 7 + 77])     # one chunk, two
def test_symbolic_c_takes_the_packed_program_with_the_static_bits(classes, dtype, rows):
    x, loss = _ce("C")
    xs, loss_static = _ce(classes)
    k = codegen.compile(loss, wrt=[x], backend="llvm", dtype=dtype)
    ks = codegen.compile(loss_static, wrt=[xs], backend="llvm", dtype=dtype)
    feed = _feed(rows, classes, dtype, seed=classes)
    v, (g,) = k(**feed)
    vs, (gs,) = ks(**feed)
    assert k._fn.row_dims == (("C", 0, 1),)
    assert k._fn.specializations == ((dtype, (("C", classes),)),)
    program = k._fn.programs[(dtype, (("C", classes),))]
    assert program.plan.dims == ("N",)
    nest, = [n for n in _row_nests(program) if n.row_phases]
    assert nest.shape[1] == classes
    if packed.packs(classes, LANES[dtype]):        # C = 20 float64 packs with AVX-512 only
        lanes = classes * packed.group(classes, LANES[dtype])
        assert f"<{lanes} x {ELEM[dtype]}>" in k.llvm_ir
    assert f"; precision {dtype}, C = {classes}\n" in k.llvm_ir
    assert v == vs and v.dtype == vs.dtype
    np.testing.assert_array_equal(g, gs)
    want_v, want_g = _want(loss, x, feed)
    tol = 2e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(v, want_v, rtol=tol)
    np.testing.assert_allclose(g, want_g, rtol=4 * tol, atol=tol * np.abs(want_g).max())


@pytest.mark.parametrize("classes", [100, 1, 17, 48])
def test_other_row_lengths_use_the_general_program(classes):
    x, loss = _ce("C")
    k = codegen.compile(loss, wrt=[x], backend="llvm")
    feed = _feed(29, classes, "float32", seed=3)
    v, (g,) = k(**feed)
    assert k._fn.specializations == ()
    assert list(k._fn.programs) == [("float32", ())]
    general = k._fn.program("float32")
    assert general.plan.dims == ("C", "N")
    v2, (g2,) = general.call((feed["x"], feed["y"]), ())
    assert v == v2
    np.testing.assert_array_equal(g, g2)
    want_v, want_g = _want(loss, x, feed)
    np.testing.assert_allclose(v, want_v, rtol=2e-6)
    np.testing.assert_allclose(g, want_g, rtol=1e-5, atol=1e-7)
    k(**_feed(29, 10, "float32"))                 # then C = 10 specializes the same kernel
    assert k._fn.specializations == (("float32", (("C", 10),)),)


def test_no_row_dim_no_planning_and_no_key_change():
    x, z = lg.input("x", shape=("N",)), lg.input("z", shape=("N",))
    k = codegen.compile(zoo.losses.sigmoid_cross_entropy(x, z, reduction="mean"), wrt=[x],
                        backend="llvm")
    assert k._fn.row_dims == ()
    a = np.linspace(-3, 3, 11)
    k(a, (a > 0).astype(float))
    assert list(k._fn._calls) == [np.dtype("float64")]


def test_dims_in_attrs_are_fixed_too():
    """one_hot's depth, a mean's element count and an arange over C become static."""
    x = lg.input("x", shape=("N", "C"))
    y = lg.input("y", shape=("N",), dtype="int64")
    ramp = lg.arange("C")
    loss = lg.mean(lg.one_hot(y, "C") * lg.log_softmax(x, axis=1) * ramp) + lg.mean(x * x)
    k = codegen.compile(loss, wrt=[x], backend="llvm")
    feed = _feed(45, 7, "float64", seed=5)
    v, (g,) = k(**feed)
    assert k._fn.specializations == (("float64", (("C", 7),)),)
    fixed = k._fn.programs[("float64", (("C", 7),))].plan
    assert all(name != "C" for n in fixed.order for d in lower._all_dims(n)
               for name in lg.shapes._factors(d)[1])
    want_v, want_g = _want(loss, x, feed)
    np.testing.assert_allclose(v, want_v, rtol=1e-13)
    np.testing.assert_allclose(g, want_g, rtol=1e-12, atol=1e-15)


def test_at_most_limit_specializations_per_precision(monkeypatch):
    monkeypatch.setattr(specialize, "LIMIT", 2)
    x, loss = _ce("C")
    k = codegen.compile(loss, wrt=[x], backend="llvm")
    results = {}
    for classes in (3, 4, 5, 3):
        feed = _feed(23, classes, "float32", seed=classes)
        results[classes] = k(**feed), feed
    assert k._fn.specializations == (("float32", (("C", 3),)), ("float32", (("C", 4),)))
    assert ("float32", ()) in k._fn.programs
    (v, (g,)), feed = results[5]
    want_v, want_g = _want(loss, x, feed)
    np.testing.assert_allclose(v, want_v, rtol=2e-6)
    np.testing.assert_allclose(g, want_g, rtol=1e-5, atol=1e-7)


def test_first_calls_from_two_threads_build_one_program(monkeypatch):
    built = []
    real = backend.Program

    def slow_program(*args):
        built.append(args[1:])
        threading.Event().wait(0.05)           # both threads inside program() at once
        return real(*args)
    monkeypatch.setattr(backend, "Program", slow_program)
    x, loss = _ce("C")
    k = codegen.compile(loss, wrt=[x], backend="llvm")
    feeds = [_feed(301, 10, "float32", seed=s) for s in (0, 1)]
    start, out = threading.Barrier(2), [None, None]

    def run(j):
        start.wait()
        out[j] = k(**feeds[j])
    threads = [threading.Thread(target=run, args=(j,)) for j in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert built == [("float32", 2, (("C", 10),))]
    for (v, (g,)), feed in zip(out, feeds):
        v1, (g1,) = k(**feed)
        assert v == v1
        np.testing.assert_array_equal(g, g1)
        want_v, want_g = _want(loss, x, feed)
        np.testing.assert_allclose(v, want_v, rtol=2e-6)
