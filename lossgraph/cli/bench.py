"""`lossgraph bench`: the workloads of benchmarks/losses.py, or any LOSS timed with every
backend against lg.value_and_grad."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

from lossgraph.names import quote

from .loading import MODULE_FUNCTION, float_inputs, load_loss, filled_arrays, named_dims
from .usage import UsageError
from .zoo_names import resolve

# zoo loss -> the benchmark workloads (benchmarks/workloads.py) that time it
BENCH_WORKLOADS = {"squared_error": ("mse",), "huber": ("huber",),
                   "sigmoid_cross_entropy": ("bce_logits",),
                   "sparse_softmax_cross_entropy": ("softmax_ce_10", "softmax_ce_1000"),
                   "softmax_cross_entropy": ("soft_ce_10",)}


def benchmark_module():
    """benchmarks.losses of this source checkout: the benchmark lives beside the packages, not
    in them, so `lossgraph bench` needs the checkout (`pip install -e .`)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "benchmarks" / "losses.py").is_file():
        raise UsageError(f"the benchmark (benchmarks/losses.py) is not beside this install "
                         f"({root}); run `lossgraph bench` from a source checkout installed "
                         f"with pip install -e \".[bench]\"")
    if str(root) not in sys.path:
        sys.path.append(str(root))
    return importlib.import_module("benchmarks.losses")


def bench_workloads(names, workloads):
    """Workload names for LOSS arguments: a workload's own name or a zoo loss it times."""
    chosen = []
    for name in names:
        if name in workloads:
            chosen.append(name)
            continue
        try:
            canonical = resolve(name)
        except UsageError:
            canonical = []
        hits = [w for c in canonical for w in BENCH_WORKLOADS.get(c, ())]
        if not hits:
            raise UsageError(f"no benchmark workload for {quote(name)}; the benchmark times "
                             f"{', '.join(workloads)} (or the zoo losses "
                             f"{', '.join(BENCH_WORKLOADS)})")
        chosen += hits
    return list(dict.fromkeys(chosen)) or list(workloads)


def sized_arrays(inputs, n, float_dtype, seed=0):
    """Seeded arrays for declared inputs with about n elements in the largest: the first named
    dim takes what the other named dims (10 each) leave (values as filled_arrays)."""
    import numpy as np
    names = named_dims(inputs)
    dims = {d: 10 for d in names[1:]}
    if names:
        rest = max((int(np.prod([dims.get(d, d) for d in node.shape if d != names[0]]))
                    for node in inputs.values() if names[0] in node.shape), default=1)
        dims[names[0]] = max(1, n // max(rest, 1))
    return filled_arrays(inputs, dims, float_dtype, seed)


def bench_graph(text, specs, sizes, dtypes, quick):
    """Loss + gradient of any LOSS (a formula, module:function or zoo loss without a workload)
    with every registered backend and lg.value_and_grad, checked against lg.evaluate first;
    medians and their ratio to lg.value_and_grad, timed in one run."""
    import statistics
    import time

    import numpy as np

    import codegen
    import lossgraph as lg
    loss = load_loss(text, specs)
    wrt = float_inputs(loss)
    kernels = {b: codegen.compile(loss, wrt=wrt or None, backend=b) for b in codegen.BACKENDS}
    repeats = 5 if quick else 15
    print(f"{loss.name}: loss + gradient w.r.t. {', '.join(wrt) or 'nothing'}, median of "
          f"{repeats}, ratio to lg.value_and_grad (lower is faster)")
    for n in sizes:
        for dtype in dtypes:
            arrays = sized_arrays(loss.inputs, n, dtype)
            want, grads = loss.value_and_grad(**arrays) if wrt else (loss(**arrays), {})
            runs = {"lg.value_and_grad": (lambda a=arrays: loss.value_and_grad(**a)) if wrt
                    else (lambda a=arrays: loss(**a))}
            for b, k in kernels.items():
                got = k(**arrays)
                value = got[0] if wrt else got
                tol = 1e-4 if dtype == "float32" else 1e-9
                if not np.allclose(value, want, rtol=tol, atol=tol):
                    raise lg.LossgraphError(f"bench: the {b} kernel gives {value}, "
                                            f"lg.evaluate {want}")
                runs[f"lossgraph-{b}"] = lambda k=k, a=arrays: k(**a)
            times = {}
            for _ in range(repeats):          # interleaved, so load hits every contestant
                for name, run in runs.items():
                    t0 = time.perf_counter()
                    run()
                    times.setdefault(name, []).append(time.perf_counter() - t0)
            base = statistics.median(times["lg.value_and_grad"])
            elements = max(a.size for a in arrays.values())
            for name, ts in times.items():
                med = statistics.median(ts)
                print(f"  {elements:>10,d} {dtype}  {name:22s} {med * 1e3:10.3f} ms  "
                      f"{med / base:6.2f}x")
    return 0


def bench_command(args):
    try:
        sizes = [int(float(s)) for s in (args.sizes or ("1e6" if args.quick else
                                                        "1e4,1e5,1e6,1e7")).split(",")]
    except ValueError:
        raise UsageError(f"--sizes {quote(args.sizes)}: expected comma-separated element "
                         f"counts like 1e4,1e6") from None
    if any(n < 1 or n > 10 ** 9 for n in sizes):
        raise UsageError(f"--sizes {quote(args.sizes)}: each size must be in [1, 1e9]")
    dtypes = args.dtypes.split(",")
    bad = [d for d in dtypes if d not in ("float32", "float64")]
    if bad:
        raise UsageError(f"--dtypes: expected float32 and/or float64, got {quote(bad[0])}")
    graph_form = args.inputs or (len(args.loss) == 1 and
                                 MODULE_FUNCTION.fullmatch(args.loss[0].strip()))
    if graph_form:
        if len(args.loss) != 1:
            raise UsageError("bench with --input (a formula) or module:function takes one LOSS")
        return bench_graph(args.loss[0], args.inputs, sizes, dtypes, args.quick)
    bench = benchmark_module()
    from benchmarks.workloads import WORKLOADS
    try:
        names = bench_workloads(args.loss, WORKLOADS)
    except UsageError:
        if len(args.loss) != 1:
            raise
        # a zoo loss with no hand-written workload: its graph with every backend
        return bench_graph(args.loss[0], [], sizes, dtypes, args.quick)
    bench.run(names, sizes, dtypes, args.quick, json_path=args.json)
    return 0

