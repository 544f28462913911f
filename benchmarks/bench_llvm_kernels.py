"""The LLVM backend's generated kernels against the other contestants, in one run.

    python -m benchmarks.bench_llvm_kernels [--sizes 1e6,1e7] [--dtypes float32,float64]
                                            [--losses mse,huber,...] [--repeat 7]
                                            [--warmup 10] [--calls 5] [--settle 0.03]
                                            [--ramp 25]

For each workload of benchmarks.workloads (loss + gradient w.r.t. the predictions, mean
reduction) it times: the LLVM kernel with 2 threads and the gradient buffer passed with out=,
the same allocating its gradient, 1 thread with out=, the NumPy backend, hand-written NumPy,
jax.jit(value_and_grad) and numba (when installed), and for BCE the hand-built kernel the shared
note's figures came from (codegen.llvm.handmade, 2 threads, out=: what this machine allows in
this run); each as a ratio to the bandwidth bound
(bytes that must move / this machine's 1-thread copy bandwidth, measured in the same run;
two threads have more, and back-to-back calls find part of their inputs in this machine's
large shared L3, so a 2-thread figure can beat it). The strict bound is printed beside it:
a 2-thread np.copyto of the same bytes in arrays of the workload's size, timed steady state
like the kernels, and the 2-thread kernel's ratio to it.

Two figures per contestant, both medians:
  steady  the main figure: calls back to back, as a training loop makes them. Each contestant
          runs in blocks: an idle settle, `warmup` untimed calls (after idle the first calls of
          a block are slower: caches and page state of a machine others use, and XLA's pool
          threads; `--ramp` prints the ramp), then `calls` timed calls. Blocks are interleaved
          round by round (`repeat` rounds), so the shared machine's noise hits all alike, and
          the settle lets XLA's spinning threads stop before the next contestant's block.
  cold    one call after the same idle, every call (`repeat` rounds, interleaved): what a
          lone call costs.
Under each workload: the speedup over JAX (steady, and cold), and the largest one the
bandwidth bound allows (JAX's steady time / the bound). Also: first compile + call of each
kernel in a fresh process (median of 3; llvmlite's and the backend's imports excluded), cold
(the on-disk object cache off) and warm (from it), beside jax.jit's first call (its trace and
XLA compile; jax's import and client excluded), and one call at N = 10.

With softmax_ce_10 among the losses: the same loss declared with a symbolic C
(`symbolic_rows`): per core (1 thread, process time, A/B in one process) the general
symbolic-C Program, the program a call at C = 10 runs (specialized, codegen.llvm.specialize)
and the static-C kernel; then both kernels on 2 threads against jax.jit, steady state.
"""
from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
import statistics
import sys
import tempfile
import time

import numpy as np

import codegen

from codegen.llvm import handmade

from .fresh import fresh_seconds
from .losses import bandwidth
from .peers import _installed, hand_peer, jax_peer, numba_peer
from .workloads import WORKLOADS


def copy_two_threads(nbytes, args):
    """Steady-state seconds of a 2-thread np.copyto moving nbytes (half read, half written)
    in arrays of the workload's own size, by the same block protocol as the kernels: the
    strictest bound, since at this size part of it is served from the shared L3."""
    src = np.ones(max(nbytes // 16, 2))
    dst = np.empty_like(src)
    h = src.size // 2
    with ThreadPoolExecutor(1) as pool:
        def copy():
            f = pool.submit(np.copyto, dst[h:], src[h:])
            np.copyto(dst[:h], src[:h])
            f.result()
        return steady({"copy": copy}, args.repeat, args.warmup, args.calls,
                      args.settle)["copy"]


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
    if w.name in YARDSTICKS:
        yard = YARDSTICKS[w.name](p.dtype)
        out[YARDSTICK] = lambda: yard(p, t, out=buf[0], threads=2)
    if _installed("jax"):
        out["jax.jit"] = jax_peer(w, arrays)
    if _installed("numba"):
        out["numba"] = numba_peer(w, arrays)
    return out


#: hand-built IR kernels of a workload (codegen.llvm.handmade: the loop the shared note's
#: figures came from, on today's mathlib), timed beside the generated one: what this machine
#: allows in this run, where the note's 9.4x JAX was measured on a quieter day
YARDSTICKS = {"bce_logits": handmade.bce_with_logits}
YARDSTICK = "hand-built kernel, 2 threads, out="


#: idle seconds before each block (and each cold call): JAX's (XLA's) pool threads spin on the
#: cores for a while after a call, which made the next contestant's two threads look no faster
#: than one
SETTLE = 0.03
#: untimed calls that open each steady-state block: the ramp after idle is over by then
#: (BCE 1e7 float32, 2 threads: the first calls up to 1.5x slower, JAX's too; `--ramp`)
WARMUP = 10
#: timed back-to-back calls per block
CALLS = 5


def steady(runs, repeat, warmup=WARMUP, calls=CALLS, settle=SETTLE):
    """name -> median seconds of back-to-back calls: per round each contestant in turn runs
    one block (settle idle, `warmup` untimed calls, `calls` timed ones)."""
    times = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            time.sleep(settle)
            for _ in range(warmup):
                fn()
            for _ in range(calls):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def cold(runs, repeat, settle=SETTLE):
    """name -> median seconds of one call after `settle` idle, round by round."""
    for fn in runs.values():
        fn()
    return steady(runs, repeat, warmup=0, calls=1, settle=settle)


def ramp(runs, calls, repeat, settle=SETTLE):
    """name -> the median seconds of the k-th back-to-back call after `settle` idle, k < calls
    (blocks interleaved round by round): how many warm-up calls a block needs."""
    for fn in runs.values():
        fn()
    times = {name: [[] for _ in range(calls)] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            time.sleep(settle)
            for k in range(calls):
                t0 = time.perf_counter()
                fn()
                times[name][k].append(time.perf_counter() - t0)
    return {name: [statistics.median(t) for t in ts] for name, ts in times.items()}


def both(runs, args):
    """name -> (steady, cold) median seconds, by the command line's protocol."""
    st = steady(runs, args.repeat, args.warmup, args.calls, args.settle)
    co = cold(runs, args.repeat, args.settle)
    return {name: (st[name], co[name]) for name in runs}


_COMPILE_ONCE = """
from benchmarks.workloads import WORKLOADS
w = WORKLOADS[sys.argv[1]]
arrays = w.inputs(64 if not w.classes else 64 * w.classes, sys.argv[2])
graph = w.graph()
t0 = time.perf_counter()
k = codegen.compile(graph, wrt="pred", backend="llvm", threads=1)
k(arrays["pred"], arrays["target"])
print(time.perf_counter() - t0)
"""


_JAX_ONCE = """
import jax
import numpy as np
from benchmarks.peers import _jax_loss
from benchmarks.workloads import WORKLOADS
jax.config.update("jax_enable_x64", True)
jax.jit(lambda a: a + 1)(np.zeros(3)).block_until_ready()    # XLA's client is not compile time
w = WORKLOADS[sys.argv[1]]
arrays = w.inputs(64 if not w.classes else 64 * w.classes, sys.argv[2])
t0 = time.perf_counter()
f = jax.jit(jax.value_and_grad(_jax_loss(w.name)))
f(arrays["pred"], arrays["target"])[1].block_until_ready()
print(time.perf_counter() - t0)
"""


_IMPORT_ONCE = """
import llvmlite.binding, numpy, lossgraph, codegen
t0 = time.perf_counter()
import codegen.llvm.backend
print(time.perf_counter() - t0)
"""


def backend_import_time(processes=3):
    """Median seconds of importing the LLVM backend (codegen.llvm.backend and the modules it
    needs; llvmlite.binding, numpy and lossgraph imported before), each in a fresh process:
    what the first compile of a process pays on top of compile_time."""
    return statistics.median(fresh_seconds(_IMPORT_ONCE, [], {}, imports="import time\n")
                             for _ in range(processes))


def jax_compile_time(w, dtype, processes=3):
    """Median seconds of jax.jit(value_and_grad)'s first call (trace, XLA compile, run) on the
    same tiny arrays, each in a fresh process whose imports and XLA client come first."""
    return statistics.median(fresh_seconds(_JAX_ONCE, [w.name, dtype], {})
                             for _ in range(processes))


def compile_time(w, dtype, processes=3):
    """(cold, warm): median seconds of a first compile + first call (tiny arrays), each in a
    fresh process whose imports (llvmlite, the backend's modules) are done before the clock
    starts; cold with the on-disk object cache off (codegen.llvm.objcache), warm from a
    private cache an earlier process filled."""
    def once(env):
        return fresh_seconds(_COMPILE_ONCE, [w.name, dtype], env)
    cold = [once({"LOSSGRAPH_CACHE": "0"}) for _ in range(processes)]
    with tempfile.TemporaryDirectory() as where:
        env = {"LOSSGRAPH_CACHE": "1", "LOSSGRAPH_CACHE_DIR": where}
        once(env)
        warm = [once(env) for _ in range(processes)]
    return statistics.median(cold), statistics.median(warm)


def small_call(w, repeat=2000):
    arrays = w.inputs(10 if not w.classes else w.classes, "float32")
    p, t = arrays["pred"], arrays["target"]
    k = codegen.compile(w.graph(), wrt="pred", backend="llvm")
    kn = codegen.compile(w.graph(), wrt="pred", backend="numpy")
    runs = {"llvm": lambda: k(p, t), "numpy backend": lambda: kn(p, t),
            "hand numpy": hand_peer(w, arrays)}
    if _installed("jax"):
        runs["jax.jit"] = jax_peer(w, arrays)
    for fn in runs.values():
        for _ in range(repeat // 4):
            fn()
    blocks = {name: [] for name in runs}
    for _ in range(7):              # rounds interleaved: the host's slow phases hit all alike
        for name, fn in runs.items():
            t0 = time.perf_counter()
            for _ in range(repeat):
                fn()
            blocks[name].append((time.perf_counter() - t0) / repeat)
    return {name: statistics.median(b) for name, b in blocks.items()}


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


def symbolic_rows(n, dtype, args):
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
        "static C kernel": lambda: static(p, t, out=buf)}, args.repeat)
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
    med = steady(runs, args.repeat, args.warmup, args.calls, args.settle)
    print("2 threads, wall, steady-state median ms: " +
          ", ".join(f"{k} {v * 1e3:.2f}" for k, v in med.items()))
    if "jax.jit" in med:
        print(f"    {med['jax.jit'] / med['symbolic C kernel, 2 threads, out=']:.1f}x JAX")


def print_ramp(w, n, dtype, args):
    """The k-th call's median after idle, k = 1 .. args.ramp, of the 2-thread kernel and JAX."""
    arrays = w.inputs(n, dtype)
    runs = contestants(w, arrays)
    runs = {k: runs[k] for k in ("llvm 2 threads, out=", "llvm 1 thread, out=", "jax.jit")
            if k in runs}
    print(f"\n## ramp after {args.settle * 1e3:.0f} ms idle, {w.name}, N = {n:.0e}, {dtype}: "
          f"median ms of the k-th call, k = 1 .. {args.ramp} ({args.repeat} rounds)")
    for name, ts in ramp(runs, args.ramp, args.repeat, args.settle).items():
        print(f"{name}: " + " ".join(f"{t * 1e3:.3g}" for t in ts))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1e6,1e7")
    ap.add_argument("--dtypes", default="float32")
    ap.add_argument("--losses", default=",".join(WORKLOADS))
    ap.add_argument("--repeat", type=int, default=7, help="rounds (blocks per contestant)")
    ap.add_argument("--warmup", type=int, default=WARMUP, help="untimed calls opening a block")
    ap.add_argument("--calls", type=int, default=CALLS, help="timed calls per block")
    ap.add_argument("--settle", type=float, default=SETTLE, help="idle seconds before a block")
    ap.add_argument("--ramp", type=int, default=0,
                    help="instead of the tables: the first RAMP calls after idle, per call")
    args = ap.parse_args(argv)
    import llvmlite.binding  # noqa: F401  (its import is not the kernel's compile time)
    names = args.losses.split(",")
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        ap.error(f"--losses: unknown {', '.join(unknown)}; expected names from "
                 f"{', '.join(WORKLOADS)}")
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    if args.ramp:
        for dtype in args.dtypes.split(","):
            for n in sizes:
                for name in names:
                    print_ramp(WORKLOADS[name], n, dtype, args)
        return
    bw = bandwidth()
    print(f"copy bandwidth: {bw / 1e9:.1f} GB/s (np.copyto, 1 thread)")
    note = " (PYTHONDONTWRITEBYTECODE: every module compiled again)" \
        if sys.flags.dont_write_bytecode else ""
    print(f"\nimport of the LLVM backend, median of 3 fresh processes: "
          f"{backend_import_time() * 1e3:.1f} ms{note} (llvmlite.binding's own import aside)")
    print("\n## first compile + call, float32, median of 3 fresh processes (ms): cold (object "
          "cache off), warm (the kernel's machine code on disk); jax.jit's first call beside")
    for name in names:
        cold, warm = compile_time(WORKLOADS[name], "float32")
        line = f"{name}: cold {cold * 1e3:.1f}, warm {warm * 1e3:.1f}"
        if _installed("jax"):
            jax_first = jax_compile_time(WORKLOADS[name], "float32")
            line += f"; jax.jit first call {jax_first * 1e3:.1f} (cold takes {cold / jax_first:.2f}x)"
        print(line)
    print("\n## one call at N = 10 (one row for softmax CE), float32 (us; median of 7 rounds of "
          "2000 calls per contestant, the contestants interleaved, after 500 warm-up calls)")
    for name in names:
        row = small_call(WORKLOADS[name])
        print(f"{name}: " + ", ".join(f"{k} {v * 1e6:.1f}" for k, v in row.items()))
    for dtype in args.dtypes.split(","):
        for n in sizes:
            print(f"\n## N = {n:.0e}, {dtype}: median ms, steady state / cold call (ratio to the "
                  f"bandwidth bound); blocks of {args.warmup} + {args.calls} calls, "
                  f"{args.repeat} rounds")
            for name in names:
                w = WORKLOADS[name]
                arrays = w.inputs(n, dtype)
                bound = w.bytes_moved(arrays) / bw
                copy2 = copy_two_threads(w.bytes_moved(arrays), args)
                med = both(contestants(w, arrays), args)
                cells = ", ".join(f"{k} {st * 1e3:.3g} ({st / bound:.1f}) / {co * 1e3:.3g} "
                                  f"({co / bound:.1f})" for k, (st, co) in med.items())
                print(f"{name} [bound {bound * 1e3:.3g} ms; 2-thread copy of the same bytes, "
                      f"steady {copy2 * 1e3:.3g} ms]: {cells}")
                st2 = med["llvm 2 threads, out="][0]
                print(f"    llvm 2 threads, out=: {st2 / copy2:.2f}x the 2-thread copy")
                if "jax.jit" in med:
                    (jx, jc), (best, bc) = med["jax.jit"], med["llvm 2 threads, out="]
                    alloc = med["llvm 2 threads"][0]
                    print(f"    {jx / best:.1f}x JAX with out= ({jx / alloc:.1f}x allocating), "
                          f"cold {jc / bc:.1f}x; a kernel at the bound would be "
                          f"{jx / bound:.1f}x")
                    if YARDSTICK in med:
                        yard = med[YARDSTICK][0]
                        print(f"    hand-built kernel: {jx / yard:.1f}x JAX; the generated "
                              f"kernel takes {best / yard:.2f}x its time")
            if "softmax_ce_10" in names:
                symbolic_rows(n, dtype, args)


if __name__ == "__main__":
    main()
