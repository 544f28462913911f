"""codegen.dask.value_and_grad against the in-memory kernel: equal values and gradients, the
same bits on the sync, threaded and distributed schedulers (a real 2-process LocalCluster),
one kernel call per block, lazily compiled handles on the workers, peak memory of a loss-only
evaluation well below one array, and the reductions it refuses."""
import pickle
import tracemalloc

import numpy as np
import pytest

from ..lazy import lazy

dask = lazy("dask")
da = lazy("dask.array")
distributed = lazy("distributed")

import codegen                                   # noqa: E402
import lossgraph as lg                           # noqa: E402
from codegen.interop import handle as handles    # noqa: E402
from codegen.interop.decompose import DecompositionError  # noqa: E402
from lossgraph.errors import DTypeError, InputError, OptionError, ShapeError  # noqa: E402
from zoo import losses                           # noqa: E402
from zoo.reduction import reduce as reduce_loss  # noqa: E402

BACKENDS = [b for b in ("numpy", "llvm") if b in codegen.BACKENDS]


@pytest.fixture(scope="module")
def client():
    local_cluster = distributed.LocalCluster    # the import loads distributed's config first:
    # set() below would otherwise drop the whole "distributed" section on exit
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = local_cluster(n_workers=2, threads_per_worker=1, processes=True,
                                host="127.0.0.1", dashboard_address=None, silence_logs=50)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def bce_kernel(backend):
    x, z = lg.input("logits", shape=("N",)), lg.input("labels", shape=("N",))
    return codegen.compile(losses.sigmoid_cross_entropy(x, z, reduction="mean"), wrt=[x],
                           backend=backend)


def weighted_ce_kernel(backend):
    """A mean over rows of a row-wise term, with a parameter (no batch axis) in wrt."""
    x = lg.input("logits", shape=("N", "C"))
    y = lg.input("labels", shape=("N",), dtype="int64")
    s = lg.input("scale", shape=("C",))
    loss = losses.sparse_softmax_cross_entropy(x * s, y, reduction="mean") * 0.5 + 1.0
    return codegen.compile(loss, wrt=[x, s], backend=backend)


def bce_arrays(n, chunks, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n).astype(dtype)
    b = (rng.random(n) > 0.5).astype(dtype)
    return a, b, da.from_array(a, chunks=chunks), da.from_array(b, chunks=chunks)


@pytest.mark.parametrize("backend", BACKENDS)
def test_equal_to_in_memory_kernel_on_every_scheduler(backend, client):
    k = bce_kernel(backend)
    a, b, A, B = bce_arrays(30_011, 4_000)
    value, (grad,) = k(a, b)
    loss, (G,) = codegen.dask.value_and_grad(k, A, labels=B)
    assert G.chunks == A.chunks and loss.shape == () and G.dtype == np.float32
    results = [dask.compute(loss, G, scheduler=s) for s in ("sync", "threads", client)]
    results.append(dask.compute(loss, G, scheduler=client))
    lv, gv = results[0]
    assert lv.dtype == np.float32
    np.testing.assert_allclose(lv, value, rtol=2e-6)
    np.testing.assert_allclose(gv, grad, rtol=1e-6, atol=1e-12)
    for other_lv, other_gv in results[1:]:
        assert other_lv.tobytes() == lv.tobytes()
        assert other_gv.tobytes() == gv.tobytes()


@pytest.mark.parametrize("backend", BACKENDS)
def test_parameter_gradient_and_constant_steps(backend, client):
    k = weighted_ce_kernel(backend)
    rng = np.random.default_rng(1)
    x, y, s = rng.standard_normal((1_000, 5)), rng.integers(0, 5, 1_000), rng.random(5) + 0.5
    value, (gx, gs) = k(logits=x, labels=y, scale=s)
    loss, (GX, GS) = codegen.dask.value_and_grad(
        k, logits=da.from_array(x, chunks=(130, 2)), labels=da.from_array(y, chunks=100),
        scale=s)
    assert GX.chunks == ((130,) * 7 + (90,), (5,))   # the other axes in one chunk
    lv, gxv, gsv = dask.compute(loss, GX, GS, scheduler=client)
    np.testing.assert_allclose(lv, value, rtol=1e-14)
    np.testing.assert_allclose(gxv, gx, rtol=1e-13, atol=1e-17)
    np.testing.assert_allclose(gsv, gs, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_functions_of_batch_sums_decompose(backend, client):
    """Weights normalized over the whole batch, TF's mean over the non-zero weights."""
    x, z = lg.input("logits", shape=("N",)), lg.input("labels", shape=("N",))
    w = lg.input("w", shape=("N",))
    per_sample = losses.sigmoid_cross_entropy(x, z)
    rng = np.random.default_rng(5)
    n = 5_003
    data = {"logits": rng.standard_normal(n), "labels": (rng.random(n) > 0.5) * 1.0,
            "w": rng.random(n) * (rng.random(n) > 0.3)}
    for loss in (lg.sum(per_sample * w) / lg.sum(w),
                 reduce_loss(per_sample, "sum_by_nonzero_weights", weights=w)):
        k = codegen.compile(loss, wrt=[x], backend=backend)
        value, (grad,) = k(**data)
        lazy, (G,) = codegen.dask.value_and_grad(
            k, **{name: da.from_array(a, chunks=700) for name, a in data.items()})
        assert G.chunks == ((700,) * 7 + (103,),)
        lv, gv = dask.compute(lazy, G, scheduler=client)
        np.testing.assert_allclose(lv, value, rtol=1e-13)
        np.testing.assert_allclose(gv, grad, rtol=1e-12, atol=1e-20)
        assert dask.compute(lazy, scheduler="sync")[0].tobytes() == lv.tobytes()


def test_one_kernel_call_per_block(monkeypatch):
    k = bce_kernel("numpy")
    _, _, A, B = bce_arrays(10_000, 1_000)
    _, h = codegen.dask.block_handle(k)
    real, calls = h.kernel(), []

    def counting(*arrays):
        calls.append(arrays[0].shape)
        return real(*arrays)
    monkeypatch.setitem(handles._COMPILED, h.token, counting)
    loss, (G,) = codegen.dask.value_and_grad(k, A, B)
    dask.compute(loss, G, scheduler="threads")
    assert calls.count((1_000,)) == 10 and len(calls) == 10


def test_handles_pickle_small_and_compile_once_per_worker(client):
    k = bce_kernel(BACKENDS[-1])
    _, h = codegen.dask.block_handle(k)
    data = pickle.dumps(h)
    assert len(data) < 4_000 and pickle.loads(data) == h
    assert dask.base.tokenize(h) == dask.base.tokenize(pickle.loads(data))
    compiled = codegen.dask.precompile(client, k)
    assert len(compiled) == 2 and all(h.token in tokens for tokens in compiled.values())
    tokens = client.run(lambda: dask.base.tokenize(pickle.loads(data)))
    assert set(tokens.values()) == {dask.base.tokenize(h)}


def test_loss_only_peak_memory_well_below_one_array():
    k = bce_kernel(BACKENDS[-1])
    n, chunk = 4_000_000, 100_000
    X = da.random.default_rng(0).standard_normal(n, chunks=chunk, dtype=np.float32)
    Z = (da.random.default_rng(1).random(n, chunks=chunk) > 0.5).astype(np.float32)
    tracemalloc.start()
    try:    # building the graph is inside too: it must not compute anything
        loss, _ = codegen.dask.value_and_grad(k, X, Z)
        value = loss.compute(scheduler="threads", num_workers=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_array = n * 4
    assert np.isfinite(value)
    assert peak < 0.5 * one_array, f"peak {peak / one_array:.2f}x one array"


def test_refuses_what_does_not_split():
    x, z = lg.input("logits", shape=("N",)), lg.input("labels", shape=("N",))
    w = lg.input("w", shape=("N",))
    per_sample = losses.sigmoid_cross_entropy(x, z)
    cases = {
        "two sums depending on wrt": (lg.sum(x) / lg.sum(x * x), "2 of the loss's batch sums"),
        "an input outside the sums": (lg.sum(x) * lg.max(w), "reads input 'w' outside"),
        "max over the batch": (lg.max(per_sample), "outermost step is max"),
        "a mean inside the term": (lg.mean(lg.square(x - lg.mean(x))), "reduces over the batch"),
        "softmax over the batch": (lg.mean(lg.softmax(x, axis=0) * z), "mixes rows"),
    }
    _, _, A, B = bce_arrays(100, 10)
    for what, (loss, message) in cases.items():
        k = codegen.compile(loss, wrt=[x])
        arrays = {n: A if n != "labels" else B for n in k.input_names}
        with pytest.raises(DecompositionError, match=message):
            codegen.dask.value_and_grad(k, **arrays)


def test_input_errors():
    k = bce_kernel("numpy")
    a, b, A, B = bce_arrays(100, 10)
    with pytest.raises(InputError, match="'labels' has the batch axis; expected a dask array"):
        codegen.dask.value_and_grad(k, A, b)
    with pytest.raises(InputError, match="missing input"):
        codegen.dask.value_and_grad(k, A)
    with pytest.raises(DTypeError, match="input 'labels': expected dtype float"):
        codegen.dask.value_and_grad(k, A, B.astype(bool))
    with pytest.raises(ShapeError, match="'labels'"):
        codegen.dask.value_and_grad(k, A, B[:50])
    with pytest.raises(OptionError, match="split_every must be an int >= 2"):
        codegen.dask.value_and_grad(k, A, B, split_every=1)
