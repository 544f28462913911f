"""Per-call overhead of the transforms and the Loss methods at small N (steady state).

    python -m benchmarks.bench_transforms [--n 10] [--number 2000]

For MSE, BCE with logits and a focal loss on N elements (float64), it times in one run:
    numpy            the loss and its gradient written by hand
    lg.value_and_grad(f)(p, t)         traced once, then a cached plan per signature
    lg.evaluate(graphs)                what each call cost when the transform re-bound the
                                       graphs through lg.evaluate (before the plans)
    Loss.value_and_grad(p=.., t=..)    derived once per wrt, a cached plan per signature
    re-derive per call               lg.gradients + lg.evaluate on every call (what
                                       Loss.value_and_grad did before its cache)
and prints the mean per call in microseconds and as a ratio to numpy (machines are shared
and noisy: compare ratios, not times). The script only uses APIs older versions have, so
the same file measures an older checkout (PYTHONPATH=<its tree>) for a before/after.
"""
from __future__ import annotations

import argparse
import timeit

import numpy as np

import lossgraph as lg


def _sigmoid(x):
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def np_mse(p, t):
    d = p - t
    return np.mean(d * d), d * (2.0 / d.size)


def np_bce(x, z):
    loss = np.mean(np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x))))
    return loss, (_sigmoid(x) - z) / x.size


def np_focal(x, z):
    q = _sigmoid(x)
    loss = np.mean(-z * (1 - q) ** 2 * np.log(q))
    dq = -z * (-2 * (1 - q) * np.log(q) + (1 - q) ** 2 / q)
    return loss, dq * q * (1 - q) / x.size


def lg_mse(p, t):
    return lg.mean(lg.square(p - t))


def lg_bce(p, t):
    return lg.mean(lg.softplus(p) - p * t)


def lg_focal(p, t):
    q = lg.sigmoid(p)
    return lg.mean(-t * lg.square(1 - q) * lg.log(q))


CASES = [("mse", np_mse, lg_mse), ("bce", np_bce, lg_bce), ("focal", np_focal, lg_focal)]


def per_call(fn, number):
    fn()
    return min(timeit.repeat(fn, number=number, repeat=3)) / number


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--number", type=int, default=2000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    p, t = rng.normal(size=args.n), rng.random(args.n)
    print(f"per-call time at N = {args.n}, float64: us, and x numpy")
    for name, np_fn, lg_fn in CASES:
        loss = lg.Loss([lg.input("p", ("N",)), lg.input("t", ("N",))],
                       lg_fn(lg.input("p", ("N",)), lg.input("t", ("N",))), name)
        x, z = lg.input("p", (args.n,), "float64"), lg.input("t", (args.n,), "float64")
        graphs = [lg.simplify(lg_fn(x, z)), *lg.gradients(lg_fn(x, z), [x])]
        vg = lg.value_and_grad(lg_fn)
        rows = [
            ("numpy", lambda: np_fn(p, t), 1),
            ("lg.value_and_grad(f)(p, t)", lambda: vg(p, t), 1),
            ("lg.evaluate(graphs)", lambda: lg.evaluate(graphs, p=p, t=t), 1),
            ("Loss.value_and_grad(p=.., t=..)", lambda: loss.value_and_grad(p=p, t=t), 1),
            ("re-derive per call", lambda: lg.evaluate(
                [lg.simplify(loss.output), *lg.gradients(loss.output, [loss.inputs["p"]])],
                p=p, t=t), 10),
        ]
        base = None
        print(f"{name}:")
        for label, fn, fewer in rows:
            s = per_call(fn, max(1, args.number // fewer))
            base = base or s
            print(f"  {label:34s} {s * 1e6:9.1f} us  {s / base:7.1f} x numpy")


if __name__ == "__main__":
    main()
