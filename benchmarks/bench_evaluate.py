"""The reference evaluator against hand-written NumPy: loss + gradient, and peak memory.

    python -m benchmarks.bench_evaluate [--n 1000000] [--repeat 7]

For MSE, BCE with logits and softmax cross-entropy with integer labels (C = 10; n elements,
so n / 10 rows), in float32 and float64, it times in one run:
    numpy     the loss and its gradient written by hand (the stable textbook formulas)
    vg        lg.value_and_grad(f) (steady state: traced and simplified once, then cached)
    evaluate  lg.evaluate([loss, grad], ...) of the simplified gradient graph
and prints the medians in ms and each as a ratio to numpy (machines are shared and noisy:
compare ratios, not times). Then the tracemalloc peak of sparse CE (loss + gradient) at
n rows x 10 classes in float64, for NumPy and lg.evaluate, as a multiple of the logits' size.
"""
from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np

import lossgraph as lg

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


# --- the same losses as lossgraph functions of nodes
def lg_mse(p, t):
    return lg.mean(lg.square(p - t))


def lg_bce(x, z):
    return lg.mean(lg.softplus(x) - x * z)


def lg_sparse_ce(x, y):
    return lg.mean(lg.logsumexp(x, axis=1) - lg.pick(x, y))


def cases(n, dtype, rng):
    """name -> (numpy fn, lossgraph fn, prediction array, target array)."""
    p = rng.normal(size=n).astype(dtype)
    t = rng.normal(size=n).astype(dtype)
    z = (rng.uniform(size=n) < 0.5).astype(dtype)
    x = rng.normal(size=(n // C, C)).astype(dtype)
    y = rng.integers(0, C, size=n // C)
    return {"mse": (np_mse, lg_mse, p, t), "bce": (np_bce, lg_bce, p * 4, z),
            "softmax_ce": (np_sparse_ce, lg_sparse_ce, x, y)}


def median_ms(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def graph_of(lfn, a, b):
    """The stable loss and its simplified gradient as graphs, and the arrays by input name."""
    pa = lg.input("pred", shape=a.shape, dtype=a.dtype.name)
    tb = lg.input("target", shape=b.shape, dtype=b.dtype.name)
    loss = lfn(pa, tb)
    (g,) = lg.gradients(loss, [pa])
    return [lg.simplify(loss), g], {"pred": a, "target": b}


def time_cases(n, repeat):
    rng = np.random.default_rng(0)
    rows = []
    for dtype in ("float32", "float64"):
        for name, (nfn, lfn, a, b) in cases(n, np.dtype(dtype), rng).items():
            vg = lg.value_and_grad(lfn)
            outs, arrays = graph_of(lfn, a, b)
            t_np = median_ms(lambda: nfn(a, b), repeat)
            t_vg = median_ms(lambda: vg(a, b), repeat)
            t_ev = median_ms(lambda: lg.evaluate(outs, arrays), repeat)
            rows.append((name, dtype, t_np, t_vg, t_ev))
    return rows


def peak_mb(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def memory(n):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, C))
    y = rng.integers(0, C, size=n)
    outs, arrays = graph_of(lg_sparse_ce, x, y)
    lg.evaluate(outs, arrays)
    return x.nbytes / 2 ** 20, peak_mb(lambda: np_sparse_ce(x, y)), \
        peak_mb(lambda: lg.evaluate(outs, arrays))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    print(f"loss + gradient at {args.n:,} elements (softmax CE: {args.n // C:,} x {C}), "
          f"median of {args.repeat}")
    print(f"{'loss':<11}{'dtype':<9}{'numpy ms':>9}{'vg ms':>9}{'eval ms':>9}"
          f"{'vg/numpy':>10}{'eval/numpy':>12}")
    for name, dtype, t_np, t_vg, t_ev in time_cases(args.n, args.repeat):
        print(f"{name:<11}{dtype:<9}{t_np:9.2f}{t_vg:9.2f}{t_ev:9.2f}"
              f"{t_vg / t_np:10.2f}{t_ev / t_np:12.2f}")
    size, p_np, p_lg = memory(args.n)
    print(f"sparse CE {args.n:,} x {C} float64, tracemalloc peak (logits {size:.0f} MB): "
          f"numpy {p_np:.0f} MB ({p_np / size:.2f}x), lg.evaluate {p_lg:.0f} MB "
          f"({p_lg / size:.2f}x), ratio {p_lg / p_np:.2f}")


if __name__ == "__main__":
    main()
