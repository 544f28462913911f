"""Compiled kernels inside PyTorch and JAX, and on Dask arrays: times as ratios in one run.

    python -m benchmarks.bench_interop [--backend llvm] [--repeat 7] [--skip-dask] [--big 1e8]
                                       [--skip-torch] [--skip-frameworks]

0. The memory bandwidth now (a 2-thread float32 stream), since the machine's load varies.
1. Forward + backward of BCE with logits (N = 1e6) and softmax CE (1e5 x 10 = 1e6 elements),
   float32: `kernel.to_torch()` / `kernel.to_jax()` against PyTorch's own loss and `jax.jit`
   of JAX's own formula (targets: at most 0.6x and 0.7x their time), with
   `to_torch(mode="function")` and `to_jax(path="callback")` alongside; at N = 10 the per-call
   overhead (the wrapper's time minus the bare kernel call's). The JAX rows are timed in turn
   within each round. Then the cost per call inside one jit (a lax.scan of 200 steps).
2. Dask, BCE with logits in float32 at 1e7 and --big elements, inputs generated blockwise
   (so nothing is shipped), loss + gradient computed together and the gradient reduced on the
   spot: one in-memory kernel call (same generation, same reduction), the threaded scheduler,
   and a 2-worker LocalCluster, for several chunk sizes; and the peak memory (tracemalloc) of a
   loss-only evaluation as a multiple of one input array. The indented rows time the kernel's
   work alone (inputs already in memory): one call, and the threaded scheduler over
   da.from_array chunks.
Medians over --repeat runs; the machine is shared, so read the ratios.
"""
from __future__ import annotations

import argparse
import tracemalloc

import numpy as np

import codegen
import lossgraph as lg
from zoo import losses

from .bench_llvm_foundations import median_time


def median_s(fn, repeat, inner=1):
    """The median seconds per call after one warm-up call."""
    fn()
    return median_time(fn, repeat, inner)


def kernels(backend):
    x, z = lg.input("logits", shape=("N",)), lg.input("labels", shape=("N",))
    bce = codegen.compile(losses.sigmoid_cross_entropy(x, z, reduction="mean"), wrt=[x],
                          backend=backend)
    xc = lg.input("logits", shape=("N", "C"))
    y = lg.input("labels", shape=("N",), dtype="int64")
    ce = codegen.compile(losses.sparse_softmax_cross_entropy(xc, y, reduction="mean"),
                         wrt=[xc], backend=backend)
    return bce, ce


def data(n, rng):
    """(BCE logits, labels), (CE logits (n/10, 10), labels) in float32, n elements each."""
    return ((rng.standard_normal(n).astype(np.float32),
             (rng.random(n) > 0.5).astype(np.float32)),
            (rng.standard_normal((n // 10, 10)).astype(np.float32),
             rng.integers(0, 10, n // 10)))


def torch_rows(bce, ce, n, repeat, rng):
    import torch
    F = torch.nn.functional
    (a, b), (c, y) = data(n, rng)
    rows = []
    for name, kernel, ref, args in [("BCE with logits", bce, F.binary_cross_entropy_with_logits,
                                     (a, b)),
                                    ("softmax CE", ce, F.cross_entropy, (c, y))]:
        x = torch.from_numpy(args[0].copy()).requires_grad_()
        t = torch.from_numpy(args[1])
        f, fn = kernel.to_torch(), kernel.to_torch(mode="function")

        def run(loss_fn):
            def step():
                x.grad = None
                loss_fn(x, t).backward()
            return step
        inner = 200 if n <= 100 else 1
        own = median_s(run(ref), repeat, inner)
        rows.append((name, n, "torch", own, median_s(run(f), repeat, inner),
                     median_s(run(fn), repeat, inner),
                     median_s(lambda: kernel(*args), repeat, inner)))
    return rows


def interleaved(fns, repeat, inner=1):
    """Median seconds per call of each fn, timed in turn within every round (after one
    warm-up call each), so that the shared machine's load falls on all of them alike."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for t, fn in zip(times, fns):
            t.append(median_time(fn, 1, inner))
    return [float(np.median(t)) for t in times]


def jax_losses():
    import jax
    import jax.numpy as jnp

    def own_bce(x, z):
        return jnp.mean(jnp.logaddexp(0.0, x) - x * z)

    def own_ce(x, y):
        return jnp.mean(jax.nn.logsumexp(x, axis=1)
                        - jnp.take_along_axis(x, y[:, None], 1)[:, 0])
    return own_bce, own_ce


def jax_rows(bce, ce, n, repeat, rng):
    """(name, n, "jax", own, to_jax, to_jax(path="callback"), bare kernel) in seconds."""
    import jax
    import jax.numpy as jnp

    from codegen.interop.jax import to_jax
    own_bce, own_ce = jax_losses()
    (a, b), (c, y) = data(n, rng)
    rows = []
    for name, kernel, ref, args in [("BCE with logits", bce, own_bce, (a, b)),
                                    ("softmax CE", ce, own_ce, (c, y))]:
        jargs = [jnp.asarray(v) for v in args]
        f = kernel.to_jax()
        fns = [jax.jit(jax.value_and_grad(g)) for g in (ref, f, to_jax(kernel, path="callback"))]
        inner = 200 if n <= 100 else 1
        times = interleaved([lambda g=g: jax.block_until_ready(g(*jargs)) for g in fns]
                            + [lambda: kernel(*args)], repeat, inner)
        rows.append((f"{name} ({f.path})", n, "jax", *times))
    return rows


def jax_in_graph(bce, ce, repeat, rng, n=10, steps=200):
    """Seconds per step of a jitted lax.scan of `steps` value_and_grad calls at N = n (the
    logits move by the loss each step, so no call is hoisted): JAX's own loss, to_jax."""
    import jax

    own_bce, own_ce = jax_losses()
    (a, b), (c, y) = data(n, rng)
    rows = []
    for name, kernel, ref, args in [("BCE with logits", bce, own_bce, (a, b)),
                                    ("softmax CE", ce, own_ce, (c, y))]:
        def looped(loss):
            vg = jax.value_and_grad(loss)

            def step(x, _):
                v, g = vg(x, args[1])
                return x - 1e-3 * g + 1e-30 * v, v
            return jax.jit(lambda x: jax.lax.scan(step, x, None, length=steps))
        fns = [looped(ref), looped(kernel.to_jax())]
        times = interleaved([lambda g=g: jax.block_until_ready(g(args[0])) for g in fns],
                            repeat)
        rows.append((name, *[t / steps for t in times]))
    return rows


def bandwidth(repeat, n=10_000_000):
    """GB/s of a 2-thread stream reading two float32 arrays and writing one (the bound of
    benchmarks/bench_llvm_foundations.py), measured now."""
    from .bench_llvm_foundations import stream_kernel
    x, z, out = (np.ones(n, np.float32) for _ in range(3))
    run = stream_kernel("float32")
    t = median_s(lambda: run(x, z, out), repeat)
    return 3 * x.nbytes / t / 1e9


def print_framework(rows):
    print(f"{'loss':26} {'N':>9} {'framework':9} {'own ms':>9} {'ours ms':>9} {'ratio':>6} "
          f"{'alt / own':>9} {'kernel ms':>9} {'overhead us':>11}")
    for name, n, fw, own, ours, fn, bare in rows:
        fn_ratio = f"{fn / own:9.2f}" if fn is not None else f"{'':9}"
        print(f"{name:26} {n:9.0e} {fw:9} {own * 1e3:9.3f} {ours * 1e3:9.3f} "
              f"{ours / own:6.2f} {fn_ratio} {bare * 1e3:9.3f} {(ours - bare) * 1e6:11.1f}")


# --- dask --------------------------------------------------------------------------------

def dask_inputs(n, chunk):
    import dask.array as da
    x = da.random.default_rng(0).standard_normal(n, chunks=chunk, dtype=np.float32)
    z = (da.random.default_rng(1).random(n, chunks=chunk, dtype=np.float32) > 0.5)
    return x, z.astype(np.float32)


def in_memory(kernel, n):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32)
    z = (rng.random(n, dtype=np.float32) > 0.5).astype(np.float32)
    value, (g,) = kernel(x, z)
    return value, g.sum()


def on_dask(kernel, n, chunk, scheduler):
    import dask
    x, z = dask_inputs(n, chunk)
    loss, (g,) = codegen.dask.value_and_grad(kernel, x, z)
    return dask.compute(loss, g.sum(), scheduler=scheduler)


def on_arrays(kernel, x, z):
    """Dask over arrays already in memory (da.from_array): the kernel's work alone."""
    import dask
    loss, (g,) = codegen.dask.value_and_grad(kernel, x, z)
    return dask.compute(loss, g.sum(), scheduler="threads")


def peak_ratio(fn, n):
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / (4 * n)


def dask_rows(kernel, sizes, chunks_of, repeat):
    import dask
    import dask.array as da
    import distributed
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None,
                                           silence_logs=50)
    client = distributed.Client(cluster)
    codegen.dask.precompile(client, kernel)
    rows = []
    try:
        for n in sizes:
            r = repeat if n <= 1e7 else 1
            base = median_s(lambda: in_memory(kernel, n), r)
            mem = peak_ratio(lambda: in_memory(kernel, n)[0], n)
            rows.append((n, "in-memory call", None, base, 1.0, mem))
            rng = np.random.default_rng(0)
            x, z = rng.standard_normal(n, dtype=np.float32), np.ones(n, np.float32)
            t = median_s(lambda: kernel(x, z)[1][0].sum(), r)
            rows.append((n, "  kernel alone", None, t, t / base, None))
            for chunk in chunks_of(n)[1:3]:
                xz = [da.from_array(v, chunks=chunk) for v in (x, z)]    # tokenized once
                t = median_s(lambda: on_arrays(kernel, *xz), r)
                rows.append((n, "  threads, alone", chunk, t, t / base, None))
            del x, z
            for chunk in chunks_of(n):
                t = median_s(lambda: on_dask(kernel, n, chunk, "threads"), r)
                x, z = dask_inputs(n, chunk)
                loss, _ = codegen.dask.value_and_grad(kernel, x, z)
                mem = peak_ratio(lambda: loss.compute(scheduler="threads"), n)
                rows.append((n, "threads", chunk, t, t / base, mem))
                t = median_s(lambda: on_dask(kernel, n, chunk, client), r)
                rows.append((n, "LocalCluster x2", chunk, t, t / base, None))
    finally:
        client.close()
        cluster.close()
    return rows


def print_dask(rows):
    print(f"\n{'N':>9} {'where':16} {'chunk':>9} {'blocks':>7} {'s':>8} {'/ in-memory':>11} "
          f"{'peak (loss only) / one array':>29}")
    for n, where, chunk, t, ratio, mem in rows:
        blocks = f"{int(np.ceil(n / chunk)):7d}" if chunk else f"{'1':>7}"
        chunk_s = f"{chunk:9.1e}" if chunk else f"{'-':>9}"
        mem_s = f"{mem:29.2f}" if mem is not None else f"{'':29}"
        print(f"{n:9.0e} {where:16} {chunk_s} {blocks} {t:8.3f} {ratio:11.2f} {mem_s}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="llvm" if "llvm" in codegen.BACKENDS else "numpy")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--big", type=float, default=1e8, help="the large dask size (elements)")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--skip-frameworks", action="store_true")
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--torch-threads", type=int, default=1,
                    help="torch.set_num_threads: PyTorch's intra-op pool and the kernel's own "
                         "threads share 2 cores (default 1; 0 keeps torch's default)")
    args = ap.parse_args()
    if args.torch_threads and not args.skip_torch:
        import torch
        torch.set_num_threads(args.torch_threads)
    bce, ce = kernels(args.backend)
    rng = np.random.default_rng(0)
    print(f"backend={args.backend}, float32, medians of {args.repeat}, "
          f"torch threads={args.torch_threads or 'default'}")
    if not args.skip_frameworks:
        print(f"memory bandwidth now (2-thread stream, float32 1e7): "
              f"{bandwidth(args.repeat):.1f} GB/s")
        rows = []
        for n in (1_000_000, 10):
            if not args.skip_torch:
                rows += torch_rows(bce, ce, max(n, 10), args.repeat, rng)
            rows += jax_rows(bce, ce, max(n, 10), args.repeat, rng)
        print("\nforward + backward; ratio = ours / the framework's own loss; alt / own = "
              "to_torch(mode='function') or to_jax(path='callback'), over own; overhead = "
              "ours - the bare kernel call; (path) = the path to_jax() took")
        print_framework(rows)
        print("\ninside one jit: lax.scan of 200 value_and_grad steps at N = 10, us per step")
        print(f"{'loss':16} {'own':>8} {'to_jax':>8} {'ratio':>6}")
        for name, own, ours in jax_in_graph(bce, ce, args.repeat, rng):
            print(f"{name:16} {own * 1e6:8.2f} {ours * 1e6:8.2f} {ours / own:6.2f}")
    if not args.skip_dask:
        big = int(args.big)
        rows = dask_rows(bce, [10_000_000, big],
                         lambda n: [c for c in (250_000, 1_000_000, 2_500_000, 10_000_000)
                                    if n // c >= 4 and n // c <= 1_000], max(3, args.repeat // 2))
        print_dask(rows)


if __name__ == "__main__":
    main()
