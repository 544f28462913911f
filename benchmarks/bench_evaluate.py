"""The reference evaluator against hand-written NumPy: loss + gradient, and peak memory.

    python -m benchmarks.bench_evaluate [--n 1000000] [--repeat 9] [--before DIR]

For MSE, BCE with logits and softmax cross-entropy with integer labels (C = 10; n elements,
so n / 10 rows), in float32 and float64, it times in one run:
    numpy     the loss and its gradient written by hand (the stable textbook formulas)
    vg        lg.value_and_grad(f) (steady state: traced and simplified once, then cached)
    eval      lg.evaluate([loss, grad], ...) of the stable loss and its simplified gradient
The candidates take turns, round after round (each called twice in its turn, the second call
timed), and each gets the fastest of its rounds: the machines are shared and noisy, so
compare the ratios to numpy, not the times.
Then the tracemalloc peak of sparse CE (loss + gradient) at n rows x 10 classes in float64,
for NumPy and lg.evaluate, as a multiple of the logits' size.

--before DIR also loads the lossgraph package of another checkout (e.g. a `git worktree` of
an older commit) under another name and measures it in the same rounds, for before/after
figures from one run.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import tracemalloc

import numpy as np

import lossgraph

C = 10


# --- hand-written NumPy: (loss, gradient w.r.t. the predictions)
def np_mse(p, t):
    d = p - t
    return np.mean(d * d), d * (2.0 / d.size)


def np_bce(x, z):
    e = np.exp(-np.abs(x))
    loss = np.mean(np.maximum(x, 0) - x * z + np.log1p(e))
    s = np.where(x >= 0, 1, e) / (1 + e)
    return loss, (s - z) / x.size


def np_sparse_ce(x, y):
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(x.shape[0])
    loss = np.mean(np.log(s[:, 0]) + m[:, 0] - x[rows, y])
    e /= s
    e[rows, y] -= 1
    e /= x.shape[0]
    return loss, e


# --- the same losses as functions of nodes, over a lossgraph module L
def lg_mse(L, p, t):
    return L.mean(L.square(p - t))


def lg_bce(L, x, z):
    return L.mean(L.softplus(x) - x * z)


def lg_sparse_ce(L, x, y):
    return L.mean(L.logsumexp(x, axis=1) - L.pick(x, y))


def cases(n, dtype, rng):
    """name -> (numpy fn, lossgraph builder, prediction array, target array)."""
    p = rng.normal(size=n).astype(dtype)
    t = rng.normal(size=n).astype(dtype)
    z = (rng.uniform(size=n) < 0.5).astype(dtype)
    x = rng.normal(size=(n // C, C)).astype(dtype)
    y = rng.integers(0, C, size=n // C)
    return {"mse": (np_mse, lg_mse, p, t), "bce": (np_bce, lg_bce, p * 4, z),
            "softmax_ce": (np_sparse_ce, lg_sparse_ce, x, y)}


def graph_of(L, build, a, b):
    """The stable loss and its simplified gradient as graphs, and the arrays by input name."""
    pa = L.input("pred", shape=a.shape, dtype=a.dtype.name)
    tb = L.input("target", shape=b.shape, dtype=b.dtype.name)
    loss = build(L, pa, tb)
    (g,) = L.gradients(loss, [pa])
    return [L.simplify(loss), g], {"pred": a, "target": b}


def candidates(L, build, a, b):
    """(vg call, evaluate call) for one lossgraph module."""
    vg = L.value_and_grad(lambda pred, target: build(L, pred, target))
    outs, arrays = graph_of(L, build, a, b)
    return (lambda: vg(a, b)), (lambda: L.evaluate(outs, arrays))


def fastest_ms(fns, rounds):
    """Each fn's fastest call in ms. The fns take turns, round after round, so a burst of
    load on the machine hits them all alike; in its turn a fn is called twice and the second
    call timed, so it meets the allocator as its own previous call left it (right after
    another fn's frees, the first call pays page faults that a loop of one fn does not)."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for k, f in enumerate(fns):
            f()
            t0 = time.perf_counter()
            f()
            best[k] = min(best[k], time.perf_counter() - t0)
    return [1e3 * t for t in best]


def time_cases(n, rounds, impls):
    rng = np.random.default_rng(0)
    rows = []
    for dtype in ("float32", "float64"):
        for name, (nfn, build, a, b) in cases(n, np.dtype(dtype), rng).items():
            fns = [lambda: nfn(a, b)]
            for L in impls.values():
                fns += candidates(L, build, a, b)
            rows.append((name, dtype, fastest_ms(fns, rounds)))
    return rows


def peak_mb(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def memory(n, impls):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, C))
    y = rng.integers(0, C, size=n)
    peaks = {"numpy": peak_mb(lambda: np_sparse_ce(x, y))}
    for label, L in impls.items():
        outs, arrays = graph_of(L, lg_sparse_ce, x, y)
        L.evaluate(outs, arrays)
        peaks[label] = peak_mb(lambda: L.evaluate(outs, arrays))
    return x.nbytes / 2 ** 20, peaks


def load_checkout(path):
    """The lossgraph package of another checkout, as module 'lossgraph_before' (its imports
    inside the package are relative, so it loads beside this one)."""
    pkg = f"{path}/lossgraph"
    spec = importlib.util.spec_from_file_location("lossgraph_before", f"{pkg}/__init__.py",
                                                  submodule_search_locations=[pkg])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["lossgraph_before"] = mod
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--before", help="another checkout's directory, measured alongside")
    args = ap.parse_args()
    impls = {"lg": lossgraph}
    if args.before:
        impls = {"before": load_checkout(args.before), "lg": lossgraph}
    print(f"loss + gradient at {args.n:,} elements (softmax CE: {args.n // C:,} x {C}), "
          f"fastest of {args.repeat} interleaved rounds; ratios to hand-written NumPy")
    head = f"{'loss':<11}{'dtype':<9}{'numpy ms':>9}"
    for label in impls:
        head += f"{label + ' vg':>14}{label + ' eval':>14}"
    print(head)
    for name, dtype, ms in time_cases(args.n, args.repeat, impls):
        line = f"{name:<11}{dtype:<9}{ms[0]:9.2f}"
        for k in range(len(impls)):
            line += f"{ms[1 + 2 * k] / ms[0]:14.2f}{ms[2 + 2 * k] / ms[0]:14.2f}"
        print(line)
    size, peaks = memory(args.n, impls)
    print(f"sparse CE {args.n:,} x {C} float64, tracemalloc peak of loss + gradient, as a "
          f"multiple of the logits ({size:.0f} MB):")
    print("  " + ", ".join(f"{k} {v:.0f} MB ({v / size:.2f}x)" for k, v in peaks.items()))


if __name__ == "__main__":
    main()
