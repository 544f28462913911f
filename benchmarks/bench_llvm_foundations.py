"""The LLVM foundations on a hand-built fused BCE-with-logits loss + gradient kernel.

    python benchmarks/bench_llvm_foundations.py [--n 1e7] [--repeat 7] [--quick]
                                                [--only compile|call|table|crossover]

Prints, in one run (the machine is shared: compare ratios, medians of `repeat`):
  * compile time of the kernel (parse, O3, machine code) per dtype;
  * one call at N = 10 (checks included) against hand NumPy and jax.jit(value_and_grad);
  * N elements, float32 and float64: 1 and 2 threads, with and without out=, against hand NumPy,
    JAX (if installed) and the bandwidth bound, measured here as the time of a 2-thread
    streaming kernel with the same traffic (read 2 arrays, write 1);
  * the crossover: the smallest N (powers of 2) from which 2 threads beat 1.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from codegen.llvm import handmade, runtime


def times_of(fn, repeat, inner=1):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return times


def median_time(fn, repeat, inner=1):
    return statistics.median(times_of(fn, repeat, inner))


def numpy_bce(x, z):
    """Hand-written NumPy: stable loss and gradient, as a user would write them."""
    e = np.exp(-np.abs(x))
    value = np.mean(np.maximum(x, 0) - x * z + np.log1p(e))
    sig = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return value, (sig - z) / x.size


def jax_bce():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def loss(x, z):
        return jnp.mean(jax.nn.softplus(x) - x * z)
    return jax.jit(jax.value_and_grad(loss))


def jax_call(f, x, z):
    v, g = f(x, z)
    g.block_until_ready()
    return v, g


def stream_kernel(dtype):
    """out = max(x, y) over two threads: the same bytes as BCE (2 reads, 1 write)."""
    jm = handmade.map_module(["maximum"], [dtype])
    cf = handmade.map_function(jm, "maximum", dtype).native

    def run(x, y, out):
        n = x.size
        mid = n // 2 // 64 * 64
        item = x.itemsize
        pool = runtime.worker()
        h = pool.submit(cf, (x.ctypes.data + mid * item, y.ctypes.data + mid * item,
                               out.ctypes.data + mid * item, n - mid))
        cf(x.ctypes.data, y.ctypes.data, out.ctypes.data, mid)
        pool.wait(h)
    return run


def compile_times(repeat):
    """dtype -> (median seconds, median JitModule timings) of compiling the hand-built BCE
    kernel, with the on-disk object cache off (every round compiles)."""
    os.environ["LOSSGRAPH_CACHE"] = "0"
    rows = {}
    for dt in ("float32", "float64"):
        t = []
        for _ in range(max(3, repeat // 2)):
            t0 = time.perf_counter()
            k = handmade.bce_with_logits(dt)
            t.append((time.perf_counter() - t0, k.jit.timings))
        total = statistics.median(a for a, _ in t)
        parts = {key: statistics.median(b[key] for _, b in t) for key in t[0][1]}
        rows[dt] = (total, parts)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=float, default=1e7)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="N = 1e6, 3 repeats")
    ap.add_argument("--only", choices=["compile", "call", "table", "crossover"])
    args = ap.parse_args()
    n, repeat = (int(1e6), 3) if args.quick else (int(args.n), args.repeat)
    parts = [args.only] if args.only else ["compile", "call", "table", "crossover"]
    jf = jax_bce() if {"call", "table"} & set(parts) else None
    kernels = {dt: handmade.bce_with_logits(dt) for dt in ("float32", "float64")}
    rng = np.random.default_rng(0)
    if "compile" in parts:
        print("## compile (median)")
        for dt, (total, times) in compile_times(repeat).items():
            print(f"{dt}: {total * 1e3:.1f} ms (parse {times['parse'] * 1e3:.1f}, "
                  f"O3 {times['optimize'] * 1e3:.1f}, machine code {times['codegen'] * 1e3:.1f})")
    if "call" in parts:
        one_call(kernels, jf, rng, repeat)
    if "table" in parts:
        table(kernels, jf, rng, n, repeat)
    if "crossover" in parts:
        crossover(rng, repeat)


def one_call(kernels, jf, rng, repeat):
    print("\n## one call, N = 10, float32 (us, median)")
    x = rng.standard_normal(10).astype(np.float32)
    z = rng.uniform(0, 1, 10).astype(np.float32)
    k = kernels["float32"]
    out = np.empty_like(x)
    ctl = k._loop._controls()[0]
    ctl[1] = 10
    raw = (x, z, out, ctl)
    rows = {"kernel": median_time(lambda: k(x, z), repeat, 20000),
            "kernel, out=": median_time(lambda: k(x, z, out=out), repeat, 20000),
            "bare native call (no checks)": median_time(lambda: k._loop._fn(raw), repeat, 20000),
            "hand NumPy": median_time(lambda: numpy_bce(x, z), repeat, 5000)}
    if jf:
        jax_call(jf, x, z)
        rows["jax.jit(value_and_grad)"] = median_time(lambda: jax_call(jf, x, z), repeat, 2000)
    for name, t in rows.items():
        print(f"{name}: {t * 1e6:.2f} us ({t / rows['kernel']:.2f}x the kernel)")


def table(kernels, jf, rng, n, repeat):
    for dt in ("float32", "float64"):
        print(f"\n## N = {n:.0e}, {dt} (ms, median [best]; ratio to the bandwidth bound)")
        x = (rng.standard_normal(n) * 4).astype(dt)
        z = rng.uniform(0, 1, n).astype(dt)
        out = np.empty_like(x)
        k = kernels[dt]
        stream = stream_kernel(dt)
        runs = {
            "bound: 2-thread stream, same bytes": times_of(lambda: stream(x, z, out), repeat),
            "kernel, 2 threads, out=": times_of(lambda: k(x, z, out=out, threads=2), repeat),
            "kernel, 2 threads": times_of(lambda: k(x, z, threads=2), repeat),
            "kernel, 1 thread, out=": times_of(lambda: k(x, z, out=out, threads=1), repeat),
            "kernel, 1 thread": times_of(lambda: k(x, z, threads=1), repeat),
            "hand NumPy": times_of(lambda: numpy_bce(x, z), max(3, repeat // 2)),
        }
        if jf:
            jax_call(jf, x, z)
            runs["jax.jit(value_and_grad)"] = times_of(lambda: jax_call(jf, x, z), repeat)
        rows = {name: statistics.median(t) for name, t in runs.items()}
        bound = rows["bound: 2-thread stream, same bytes"]
        best = rows["kernel, 2 threads, out="]
        fastest = min(runs["bound: 2-thread stream, same bytes"])
        print(f"(bound: {3 * x.nbytes / bound / 1e9:.1f} GB/s for {3 * x.nbytes / 1e6:.0f} MB, "
              f"best run {3 * x.nbytes / fastest / 1e9:.1f})")
        for name, t in rows.items():
            print(f"{name}: {t * 1e3:.2f} [{min(runs[name]) * 1e3:.2f}] ms = {t / bound:.2f}x "
                  f"bound, {t / best:.2f}x the 2-thread kernel")


def crossover(rng, repeat):
    """Best of interleaved repeats: the least disturbed run of each (the other engineers' work
    on the shared cores only ever adds time)."""
    print("\n## crossover, float32: 1 vs 2 threads on the same two chunks (us, best of runs)")
    loop = handmade.bce_with_logits("float32")._loop
    loop.split_from = 0                   # always two chunks: only the thread count differs
    first = None
    for p in range(12, 23):
        m = 2 ** p
        x = rng.standard_normal(m).astype(np.float32)
        z = rng.uniform(0, 1, m).astype(np.float32)
        g = np.empty_like(x)
        inner = max(1, 2 ** 20 // m)
        t1 = t2 = float("inf")
        for _ in range(repeat):
            t1 = min(t1, *times_of(lambda: loop((x, z, g), m, (m,), threads=1), 1, inner))
            t2 = min(t2, *times_of(lambda: loop((x, z, g), m, (m,), threads=2), 1, inner))
        print(f"N = 2^{p}: 1 thread {t1 * 1e6:.1f}, 2 threads {t2 * 1e6:.1f} ({t1 / t2:.2f}x)")
        if first is None and t2 < t1:
            first = m
    print(f"2 threads pay off from N = {first} (runtime.SPLIT_FROM = {runtime.SPLIT_FROM})")


if __name__ == "__main__":
    main()
