"""First compile + call of every canonical zoo loss with the LLVM backend, one fresh process each.

    python -m benchmarks.bench_zoo_compile [--repeat 3] [--only NAME,...] [--warm]

Each loss (zoo.losses, the names of zoo.inventory.canonical_names) is built on its sample
inputs (dims N = 64, C = 10, T = 12, S = 4), reduced to its mean when it is not a scalar, and
compiled for float32 with the gradient w.r.t. its first float input; the clock covers
codegen.compile and the first call (the imports of llvmlite and the backend come before it,
as in bench_llvm_kernels). Cold: the on-disk object cache off (every kernel optimized and
compiled by LLVM); --warm: from a cache an earlier process filled. Prints each loss's median
over `repeat` processes, slowest first, then the distribution: median, 90th percentile, and
how many take more than 60 ms (the first-compile target of a typical zoo loss).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile

from .fresh import fresh_seconds

TARGET_MS = 60.0

_ONCE = """
import numpy as np
import lossgraph as lg
import zoo.inventory as inv
import zoo.losses as losses
from benchmarks.bench_zoo_compile import sample_arrays
name = sys.argv[1]
fn = getattr(losses, name)
nodes = inv.sample_inputs(name, fn)
y = fn(**nodes)
loss = y if y.shape == () else lg.mean(y)
wrt = [n for n in nodes.values() if n.dtype == "float"][:1]
arrays = sample_arrays(nodes)
t0 = time.perf_counter()
k = codegen.compile(loss, wrt=wrt, backend="llvm", dtype="float32", threads=1)
with np.errstate(all="ignore"):
    k(**arrays)
print(time.perf_counter() - t0)
"""

DIMS = {"N": 64, "C": 10, "T": 12, "S": 4}


def sample_arrays(nodes, seed=0):
    """Arrays for a loss's sample input nodes: floats in (0.05, 0.95) (probabilities and
    scores alike), int64 labels in [0, C) (CTC's in [1, C), its lengths T and S)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    out = {}
    for name, n in nodes.items():
        shape = tuple(DIMS[d] if isinstance(d, str) else d for d in n.shape)
        if n.dtype == "float":
            out[name] = rng.uniform(0.05, 0.95, size=shape).astype(np.float32)
        elif name == "input_lengths":
            out[name] = np.full(shape, DIMS["T"], dtype=np.int64)
        elif name == "label_lengths":
            out[name] = np.full(shape, DIMS["S"], dtype=np.int64)
        else:
            low = 1 if "S" in n.shape else 0            # CTC's blank is label 0
            out[name] = rng.integers(low, DIMS["C"], size=shape).astype(n.dtype)
    return out


def once(name, env):
    return 1e3 * fresh_seconds(_ONCE, [name], env)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per loss")
    ap.add_argument("--only", default="", help="comma-separated canonical names")
    ap.add_argument("--warm", action="store_true", help="from the on-disk object cache")
    args = ap.parse_args(argv)
    import zoo.inventory as inv
    names = [n for n in inv.canonical_names() if not args.only or n in args.only.split(",")]
    with tempfile.TemporaryDirectory() as where:
        env = {"LOSSGRAPH_CACHE": "1", "LOSSGRAPH_CACHE_DIR": where} if args.warm else \
            {"LOSSGRAPH_CACHE": "0"}
        if args.warm:
            for name in names:
                once(name, env)
        times = {}
        for _ in range(args.repeat):              # rounds interleave the losses
            for name in names:
                times.setdefault(name, []).append(once(name, env))
    med = {n: statistics.median(t) for n, t in times.items()}
    kind = "warm (from the disk cache)" if args.warm else "cold (object cache off)"
    print(f"## first compile + call, float32, {kind}, median of {args.repeat} fresh processes "
          "(ms)")
    for name in sorted(med, key=med.get, reverse=True):
        print(f"{name:32s} {med[name]:7.1f}")
    values = sorted(med.values())
    p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
    over = [n for n in med if med[n] > TARGET_MS]
    print(f"\n{len(values)} losses: median {statistics.median(values):.1f} ms, 90th percentile "
          f"{p90:.1f}, max {values[-1]:.1f}; over {TARGET_MS:.0f} ms: {len(over)}"
          + (f" ({', '.join(sorted(over))})" if over else ""))


if __name__ == "__main__":
    main()
