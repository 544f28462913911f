"""Core graph-transform speed: build, gradients, simplify and evaluate on a 10,000-node chain.

"gradients, literal" is the reverse-mode derivation alone (simplify=False); "gradients (stable
pipeline)" is what lg.gradients does by default: simplify the loss, derive, simplify.

    python benchmarks/bench_core.py [--n 10000] [--repeat 5]

Prints the median of each step in ms, and each as a ratio to building the chain in the same
run (the machines are shared and noisy: compare ratios, not absolute times).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import lossgraph as lg


def chain(n, salt=0.0):
    """About n nodes (3 per step): alternating tanh(y) * 1 + 0 and y * 0.5 + sigmoid(y); salt
    makes the constants (so every node) new, since equal graphs are shared by hash-consing."""
    x = lg.input("x", shape=("N",))
    y = x
    for i in range(n // 3):
        y = lg.tanh(y) * 1.0 + 0.0 if i % 2 else y * (0.5 + salt) + lg.sigmoid(y)
    return x, lg.sum(y)


def where_chain(n, salt=0.0):
    """n // 5 steps of y = where(y > 0, log(1 + y^2), (0.5 + salt) y): every step is NaN-guarded."""
    x = lg.input("x", shape=("N",))
    y = x
    for _ in range(n // 5):
        y = lg.where(y > 0, lg.log(1.0 + y * y), y * (0.5 + salt))
    return x, lg.sum(y)


def timed(make_input, fn, repeat):
    """Median over fresh (cold) graphs: every repeat works on newly built nodes."""
    times, out = [], None
    for r in range(repeat):
        arg = make_input(r)
        t0 = time.perf_counter()
        out = fn(arg)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    salt = lambda r: 1e-9 * (r + 1)  # noqa: E731
    t_build, (x, y) = timed(salt, lambda s: chain(args.n, s), args.repeat)
    nodes = len(lg.topo_order([y]))
    literal = lambda xy: lg.gradients(xy[1], xy[0], simplify=False)  # noqa: E731
    t_grad, g = timed(lambda r: chain(args.n, salt(r) + 0.5), literal, args.repeat)
    t_simp, gs = timed(lambda r: literal(chain(args.n, salt(r) + 0.25)), lg.simplify,
                       args.repeat)
    t_pipe, _ = timed(lambda r: chain(args.n, salt(r) + 0.75),
                      lambda xy: lg.gradients(xy[1], xy[0]), args.repeat)
    t_simp_y, _ = timed(lambda r: chain(args.n, salt(r) + 0.125)[1], lg.simplify, args.repeat)
    t_where, _ = timed(lambda r: where_chain(args.n, salt(r)), literal, args.repeat)
    arr = np.random.default_rng(0).normal(size=1000)
    t_eval, _ = timed(lambda r: [y, gs], lambda outs: lg.evaluate(outs, x=arr),
                      args.repeat)
    print(f"chain of {nodes} nodes (gradient graph: {len(lg.topo_order([g]))} nodes, "
          f"simplified: {len(lg.topo_order([gs]))})")
    for name, t in [("build", t_build), ("gradients, literal", t_grad),
                    ("simplify(literal gradient)", t_simp),
                    ("gradients (stable pipeline)", t_pipe),
                    ("simplify(loss)", t_simp_y), ("gradients(where chain), literal", t_where),
                    ("evaluate loss+grad, N=1000", t_eval)]:
        print(f"  {name:28s} {t * 1e3:9.1f} ms   {t / t_build:6.2f} x build")


if __name__ == "__main__":
    main()
