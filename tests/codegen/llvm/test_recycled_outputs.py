"""Returned arrays of at least fastcall.RECYCLE bytes are recycled: a call may hand back the
array its slot returned two calls before, when nothing holds it any more (not the array, not a
view of it). An array anyone still holds is never written again. RECYCLE is made small here."""
import numpy as np
import pytest

import codegen
import lossgraph as lg
from codegen.llvm import drive, fastcall
from zoo import losses as L

from ...threads import in_threads

X = lg.input("x", shape=("N",))
Z = lg.input("z", shape=("N",))
N = 1000


@pytest.fixture
def kernel(monkeypatch, request):
    monkeypatch.setattr(fastcall, "RECYCLE", 256)
    return codegen.compile(L.squared_error(X, Z, reduction="mean"), wrt=[X], backend="llvm",
                           threads=1, name=f"recycle_{request.node.name}")


def feeds(count, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=N).astype(np.float32), rng.normal(size=N).astype(np.float32))
            for _ in range(count)]


def want(x, z):
    return 2 * (x.astype(np.float64) - z) / N


def test_a_loop_that_drops_its_gradients_runs_on_two_buffers(kernel):
    pointers = []
    for x, z in feeds(8):
        value, (g,) = kernel(x, z)
        np.testing.assert_allclose(g, want(x, z), rtol=1e-5, atol=1e-9)
        pointers.append(g.ctypes.data)
    assert len(set(pointers[2:])) == 2 and pointers[2] == pointers[4] == pointers[6]


def test_held_gradients_and_views_of_them_are_never_written_again(kernel):
    data = feeds(10, seed=1)
    kept, views, copies = [], [], []
    for j, (x, z) in enumerate(data):
        value, (g,) = kernel(x, z)
        if j % 2:
            kept.append(g)
        else:
            views.append(g[3:9])
        copies.append(g.copy())
        del g
    for j, g in enumerate(kept):
        np.testing.assert_array_equal(g, copies[2 * j + 1])
    for j, v in enumerate(views):
        np.testing.assert_array_equal(v, copies[2 * j][3:9])


def test_small_outputs_and_out_buffers_are_not_pooled(monkeypatch, kernel):
    x, z = feeds(1)[0]
    buf = np.empty_like(x)
    for _ in range(3):
        value, (g,) = kernel(x, z, out=(buf,))
        assert g is buf
    monkeypatch.setattr(fastcall, "RECYCLE", 1 << 40)
    k = codegen.compile(L.squared_error(X, Z, reduction="mean"), wrt=[X], backend="llvm",
                        threads=1, name="recycle_never")
    seen = set()
    held = []
    for _ in range(4):
        held.append(k(x, z)[1][0])
        seen.add(held[-1].ctypes.data)
    assert len(seen) == 4


def test_threads_recycle_their_own_buffers(kernel):
    data = feeds(4, seed=2)

    def work(j):
        x, z = data[j]
        for _ in range(200):
            value, (g,) = kernel(x, z)
            np.testing.assert_allclose(g, want(x, z), rtol=1e-5, atol=1e-9)
    in_threads(work, 4)


def test_calls_split_over_both_threads_recycle_too(monkeypatch):
    monkeypatch.setattr(fastcall, "RECYCLE", 256)
    k = codegen.compile(L.squared_error(X, Z, reduction="mean"), wrt=[X], backend="llvm",
                        threads=2, name="recycle_two_threads")
    n = 2 * drive.SPLIT_FROM + 100
    rng = np.random.default_rng(5)
    pointers = []
    for _ in range(6):
        x, z = rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)
        value, (g,) = k(x, z)
        np.testing.assert_allclose(g, 2 * (x.astype(np.float64) - z) / n, rtol=1e-5,
                                   atol=1e-12)
        pointers.append(g.ctypes.data)
    assert len(set(pointers[2:])) == 2
