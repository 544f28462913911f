"""emit.prefetch_row as a kept loop: PREFETCH_GROUP lines per iteration, the remaining lines
and the row's last byte after it, in the IR as emitted and after O3 (the loop is not
unrolled, unless it has two iterations: C = 127 float32 is peeled); the results do not
depend on the group (the prefetches never change a value) and agree with lg.evaluate. The
host rule (emit.prefetch_rows_on_host) is patched on, so the code is tested on every host;
the last tests check the rule itself and that a kernel without prefetches has the same
bits."""
import numpy as np
import pytest

import codegen
import lossgraph as lg
from codegen.llvm import emit
from zoo import losses as L

CALL = 'call void @"llvm.prefetch.p0"'
RULE = emit.prefetch_rows_on_host.__wrapped__          # the host rule, before the fixture


@pytest.fixture(autouse=True)
def prefetching_host(monkeypatch):
    monkeypatch.setattr(emit, "prefetch_rows_on_host", lambda: True)
    codegen.CACHE.clear()
    yield
    codegen.CACHE.clear()


def _kernel(classes, group):
    old = emit.PREFETCH_GROUP
    emit.PREFETCH_GROUP = group
    try:
        x = lg.input("x", shape=("N", classes))
        y = lg.input("y", shape=("N",), dtype="int64")
        loss = L.sparse_softmax_cross_entropy(x, y, reduction="mean")
        k = codegen.compile(loss, wrt=[x], backend="llvm", dtype="float32", threads=1,
                            name=f"ce{classes}_group{group}")
        k(**_feed(classes, 3, 0))
    finally:
        emit.PREFETCH_GROUP = old
    return k, loss, x


def _feed(classes, rows, seed):
    rng = np.random.default_rng(seed)
    return {"x": (2 * rng.normal(size=(rows, classes))).astype(np.float32),
            "y": rng.integers(0, classes, size=rows)}


@pytest.mark.parametrize("classes", [127, 500, 1000, 1025])
def test_the_next_row_is_prefetched_by_a_kept_loop(classes):
    size = classes * 4
    lines = -(-size // 64)
    group = emit.PREFETCH_GROUP
    k, loss, x = _kernel(classes, group)
    want_calls = group + lines % group + 1
    assert k.llvm_ir.count(CALL) == want_calls
    kept = k.optimized_ir.count("call void @llvm.prefetch.p0")
    if lines // group > 2:
        assert kept == want_calls
    else:                                   # O3 may peel a loop of two iterations
        assert kept in (want_calls, lines + 1)
    one, _, _ = _kernel(classes, 1)
    assert one.llvm_ir.count(CALL) == 2
    y, grads = lg.pipeline.derive(loss, [x])
    for rows in (1, 2, 37):
        feed = _feed(classes, rows, rows)
        (v, (g,)), (v1, (g1,)) = k(**feed), one(**feed)
        assert v.tobytes() == v1.tobytes() and g.tobytes() == g1.tobytes()
        want = lg.evaluate([y, *grads], {"x": feed["x"].astype(np.float64), "y": feed["y"]})
        np.testing.assert_allclose(v, want[0], rtol=1e-5)
        np.testing.assert_allclose(g, want[1], rtol=1e-4, atol=1e-6 * np.abs(want[1]).max())


@pytest.mark.parametrize("cpu, prefetches", [("sapphirerapids", True), ("skylake-avx512", True),
                                             ("znver4", False), ("znver3", False)])
def test_amd_zen_hosts_do_not_prefetch_rows(monkeypatch, cpu, prefetches):
    import llvmlite.binding as llvm
    monkeypatch.setattr(llvm, "get_host_cpu_name", lambda: cpu)
    assert RULE() is prefetches


def test_a_kernel_without_row_prefetches_gives_the_same_bits(monkeypatch):
    k, _, _ = _kernel(1000, emit.PREFETCH_GROUP)
    monkeypatch.setattr(emit, "prefetch_rows_on_host", lambda: False)
    codegen.CACHE.clear()
    x = lg.input("x", shape=("N", 1000))
    y = lg.input("y", shape=("N",), dtype="int64")
    bare = codegen.compile(L.sparse_softmax_cross_entropy(x, y, reduction="mean"), wrt=[x],
                           backend="llvm", dtype="float32", threads=1, name="ce1000_bare")
    feed = _feed(1000, 37, 5)
    (v, (g,)), (vb, (gb,)) = k(**feed), bare(**feed)
    assert CALL not in bare.llvm_ir and CALL in k.llvm_ir
    assert v.tobytes() == vb.tobytes() and g.tobytes() == gb.tobytes()
