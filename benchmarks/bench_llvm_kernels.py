"""The LLVM backend's generated kernels against the other contestants, in one run.

    python -m benchmarks.bench_llvm_kernels [--sizes 1e6,1e7] [--dtypes float32,float64]
                                            [--losses mse,huber,...] [--repeat 7]

For each workload of benchmarks.workloads (loss + gradient w.r.t. the predictions, mean
reduction) it prints the median time of: the LLVM kernel with 2 threads and the gradient
buffer passed with out=, the same allocating its gradient, 1 thread with out=, the NumPy
backend, hand-written NumPy, jax.jit(value_and_grad) and numba (when installed); each as a
ratio to the bandwidth bound (bytes that must move / this machine's copy bandwidth, measured
in the same run). Timed calls of all contestants are interleaved round by round, so the
shared machine's noise hits them alike. Also: first compile of each kernel (llvmlite's import
excluded), and one call at N = 10. Under each workload: the speedup over JAX, and the
largest one the bandwidth bound allows (JAX's time / the bound).

With softmax_ce_10 among the losses: the same loss declared with a symbolic C
(`symbolic_rows`): per core (1 thread, process time, A/B in one process) the general
symbolic-C Program, the program a call at C = 10 runs (specialized, codegen.llvm.specialize)
and the static-C kernel; then both kernels on 2 threads against jax.jit, interleaved.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import codegen
from .losses import bandwidth
from .peers import _installed, hand_peer, jax_peer, numba_peer
from .workloads import WORKLOADS


def contestants(w, arrays):
    """name -> run() for one workload and its arrays."""
    graph = w.graph()
    p, t = arrays["pred"], arrays["target"]
    k2 = codegen.compile(graph, wrt="pred", backend="llvm", threads=2)
    k1 = codegen.compile(graph, wrt="pred", backend="llvm", threads=1)
    kn = codegen.compile(graph, wrt="pred", backend="numpy")
    buf = (np.empty_like(p),)
    out = {"llvm 2 threads, out=": lambda: k2(p, t, out=buf),
           "llvm 2 threads": lambda: k2(p, t),
           "llvm 1 thread, out=": lambda: k1(p, t, out=buf),
           "numpy backend": lambda: kn(p, t),
           "hand numpy": hand_peer(w, arrays)}
    if _installed("jax"):
        out["jax.jit"] = jax_peer(w, arrays)
    if _installed("numba"):
        out["numba"] = numba_peer(w, arrays)
    return out


#: idle time before each timed call: JAX's (XLA's) pool threads spin on the cores for a while
#: after a call, which made the next contestant's two threads look no faster than one
SETTLE = 0.03


def interleaved(runs, repeat):
    """name -> median seconds; each contestant called once untimed, then round by round."""
    for fn in runs.values():
        fn()
    times = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            time.sleep(SETTLE)
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def compile_time(w, dtype):
    """Seconds of a first compile + first call (tiny arrays) of a fresh kernel."""
    codegen.CACHE.clear() if hasattr(codegen.CACHE, "clear") else None
    arrays = w.inputs(64 if not w.classes else 64 * w.classes, dtype)
    t0 = time.perf_counter()
    k = codegen.compile(w.graph(), wrt="pred", backend="llvm", threads=1)
    k(arrays["pred"], arrays["target"])
    return time.perf_counter() - t0


def small_call(w, repeat=2000):
    arrays = w.inputs(10 if not w.classes else w.classes, "float32")
    p, t = arrays["pred"], arrays["target"]
    k = codegen.compile(w.graph(), wrt="pred", backend="llvm")
    kn = codegen.compile(w.graph(), wrt="pred", backend="numpy")
    runs = {"llvm": lambda: k(p, t), "numpy backend": lambda: kn(p, t),
            "hand numpy": hand_peer(w, arrays)}
    if _installed("jax"):
        runs["jax.jit"] = jax_peer(w, arrays)
    out = {}
    for name, fn in runs.items():
        fn()
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        out[name] = (time.perf_counter() - t0) / repeat
    return out


def _symbolic_ce(threads):
    import lossgraph as lg
    from zoo import losses as L
    x = lg.input("pred", shape=("N", "C"))
    y = lg.input("target", shape=("N",), dtype="int64")
    return codegen.compile(L.sparse_softmax_cross_entropy(x, y, reduction="mean"), wrt=[x],
                           backend="llvm", threads=threads)


def _process_median(runs, repeat):
    """name -> median process seconds per call, calls interleaved round by round."""
    for fn in runs.values():
        fn()
    times = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            t0 = time.process_time()
            fn()
            times[name].append(time.process_time() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def symbolic_rows(n, dtype, repeat):
    """Prints softmax CE over ("N", "C") at C = 10 against the static-C kernel and JAX."""
    w = WORKLOADS["softmax_ce_10"]
    arrays = w.inputs(n, dtype)
    p, t = arrays["pred"], arrays["target"]
    rows, buf = p.shape[0], (np.empty_like(p),)
    k1 = _symbolic_ce(1)
    general = k1._fn.program(dtype).call
    special = k1._fn.program_for(dtype, [p.shape, t.shape]).call
    static = codegen.compile(w.graph(), wrt="pred", backend="llvm", threads=1)
    per_core = _process_median({
        "symbolic C, general program": lambda: general((p, t), buf),
        "symbolic C, specialized program": lambda: special((p, t), buf),
        "symbolic C kernel": lambda: k1(p, t, out=buf),
        "static C kernel": lambda: static(p, t, out=buf)}, repeat)
    print(f"\n## softmax CE, symbolic C = 10, {rows:.0e} rows, {dtype}: 1 thread, process "
          f"time, ns/row; specializations {k1._fn.specializations}")
    base = per_core["symbolic C, general program"]
    print(", ".join(f"{k} {v / rows * 1e9:.1f} ({base / v:.2f}x)" for k, v in per_core.items()))
    k2 = _symbolic_ce(2)
    static2 = codegen.compile(w.graph(), wrt="pred", backend="llvm", threads=2)
    runs = {"symbolic C kernel, 2 threads, out=": lambda: k2(p, t, out=buf),
            "static C kernel, 2 threads, out=": lambda: static2(p, t, out=buf)}
    if _installed("jax"):
        runs["jax.jit"] = jax_peer(w, arrays)
    med = interleaved(runs, repeat)
    print("2 threads, wall, median ms: " +
          ", ".join(f"{k} {v * 1e3:.2f}" for k, v in med.items()))
    if "jax.jit" in med:
        print(f"    {med['jax.jit'] / med['symbolic C kernel, 2 threads, out=']:.1f}x JAX")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1e6,1e7")
    ap.add_argument("--dtypes", default="float32")
    ap.add_argument("--losses", default=",".join(WORKLOADS))
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    import llvmlite.binding  # noqa: F401  (its import is not the kernel's compile time)
    names = args.losses.split(",")
    bw = bandwidth()
    print(f"copy bandwidth: {bw / 1e9:.1f} GB/s")
    print("\n## first compile + call, float32 (ms)")
    for name in names:
        print(f"{name}: {compile_time(WORKLOADS[name], 'float32') * 1e3:.1f}")
    print("\n## one call at N = 10 (one row for softmax CE), float32 (us)")
    for name in names:
        row = small_call(WORKLOADS[name])
        print(f"{name}: " + ", ".join(f"{k} {v * 1e6:.1f}" for k, v in row.items()))
    for dtype in args.dtypes.split(","):
        for n in [int(float(s)) for s in args.sizes.split(",")]:
            print(f"\n## N = {n:.0e}, {dtype}: median ms (ratio to the bandwidth bound)")
            for name in names:
                w = WORKLOADS[name]
                arrays = w.inputs(n, dtype)
                bound = w.bytes_moved(arrays) / bw
                med = interleaved(contestants(w, arrays), args.repeat)
                cells = ", ".join(f"{k} {v * 1e3:.2f} ({v / bound:.1f})" for k, v in med.items())
                print(f"{name} [bound {bound * 1e3:.2f} ms]: {cells}")
                if "jax.jit" in med:
                    jx, best = med["jax.jit"], med["llvm 2 threads, out="]
                    print(f"    {jx / best:.1f}x JAX with out= ({jx / med['llvm 2 threads']:.1f}x "
                          f"allocating); a kernel at the bound would be {jx / bound:.1f}x")
            if "softmax_ce_10" in names:
                symbolic_rows(n, dtype, args.repeat)


if __name__ == "__main__":
    main()
