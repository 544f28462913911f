"""Core graph-transform speed: build, gradients, simplify and evaluate on a 10,000-node chain.

"gradients, literal" is the reverse-mode derivation alone (simplify=False); "gradients (stable
pipeline)" is what lg.gradients does by default: simplify the loss, derive, simplify;
"gradients(small losses)" is lg.gradients of MSE, BCE with logits and sparse softmax CE
(bench_evaluate's graphs) end to end, the per-loss cost users meet most.

    python -m benchmarks.bench_core [--n 10000] [--repeat 5] [--before DIR]

Prints the median of each step in ms (CPU time: the machines are shared and noisy), and each
as a ratio to building the chain in the same run. --before DIR also loads the lossgraph
package of another checkout (e.g. a `git worktree` of an older commit) and times it in the
same rounds, alternating with this one, with the ratio before / now per step.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import lossgraph

try:
    from .bench_evaluate import lg_bce, lg_mse, lg_sparse_ce, load_checkout
except ImportError:                      # run as a script: python benchmarks/bench_core.py
    from bench_evaluate import lg_bce, lg_mse, lg_sparse_ce, load_checkout


def chain(n, salt=0.0, lg=lossgraph):
    """About n nodes (3 per step): alternating tanh(y) * 1 + 0 and y * 0.5 + sigmoid(y); salt
    makes the constants (so every node) new, since equal graphs are shared by hash-consing."""
    x = lg.input("x", shape=("N",))
    y = x
    for i in range(n // 3):
        y = lg.tanh(y) * 1.0 + 0.0 if i % 2 else y * (0.5 + salt) + lg.sigmoid(y)
    return x, lg.sum(y)


def where_chain(n, salt=0.0, lg=lossgraph):
    """n // 5 steps of y = where(y > 0, log(1 + y^2), (0.5 + salt) y): every step is NaN-guarded."""
    x = lg.input("x", shape=("N",))
    y = x
    for _ in range(n // 5):
        y = lg.where(y > 0, lg.log(1.0 + y * y), y * (0.5 + salt))
    return x, lg.sum(y)


def small_losses(lg, salt):
    """(loss, prediction) of MSE, BCE with logits and sparse softmax CE over fresh inputs."""
    tag = f"{round(salt * 1e6)}"   # (distinct per repeat: salts are 1e-3 apart)
    p, t = lg.input("p" + tag, shape=("N",)), lg.input("t" + tag, shape=("N",))
    x = lg.input("x" + tag, shape=("N", 10))
    y = lg.input("y" + tag, shape=("N",), dtype="int64")
    return [(lg_mse(lg, p, t), p), (lg_bce(lg, p, t), p), (lg_sparse_ce(lg, x, y), x)]


def steps(n):
    """name -> (make_input(lg, r), fn(lg, arg)): every repeat r works on newly built nodes."""
    salt = lambda r: 1e-9 * (r + 1)  # noqa: E731
    literal = lambda lg, xy: lg.gradients(xy[1], xy[0], simplify=False)  # noqa: E731
    return {
        "build": (lambda lg, r: r, lambda lg, r: chain(n, salt(r), lg)),
        "gradients, literal": (lambda lg, r: chain(n, salt(r) + 0.5, lg), literal),
        "simplify(literal gradient)": (
            lambda lg, r: literal(lg, chain(n, salt(r) + 0.25, lg)), lambda lg, g: lg.simplify(g)),
        "gradients (stable pipeline)": (lambda lg, r: chain(n, salt(r) + 0.75, lg),
                                        lambda lg, xy: lg.gradients(xy[1], xy[0])),
        "simplify(loss)": (lambda lg, r: chain(n, salt(r) + 0.125, lg)[1],
                           lambda lg, y: lg.simplify(y)),
        "gradients(where chain), literal": (lambda lg, r: where_chain(n, salt(r), lg), literal),
        "gradients(small losses)": (lambda lg, r: small_losses(lg, 1e6 * salt(r)),
                                    lambda lg, cases: [lg.gradients(y, [w]) for y, w in cases]),
    }


def timed(impls, make_input, fn, repeat):
    """Median CPU time per implementation; the implementations alternate, repeat by repeat."""
    times = {label: [] for label in impls}
    for r in range(repeat):
        for label, lg in impls.items():
            arg = make_input(lg, r)
            t0 = time.process_time()
            fn(lg, arg)
            times[label].append(time.process_time() - t0)
    return {label: statistics.median(ts) for label, ts in times.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--before", help="another checkout's directory, timed alongside")
    args = ap.parse_args()
    impls = {"now": lossgraph}
    if args.before:
        impls = {"before": load_checkout(args.before), "now": lossgraph}
    graphs = {}
    for label, lg in impls.items():
        x, y = chain(args.n, 0.0, lg)
        g = lg.gradients(y, x, simplify=False)
        graphs[label] = [y, lg.simplify(g)]
    print(f"chain of {len(lg.topo_order([y]))} nodes (gradient graph: "
          f"{len(lg.topo_order([g]))} nodes, simplified: {len(lg.topo_order(graphs[label][1:]))})")
    results = {name: timed(impls, make, fn, args.repeat) for name, (make, fn) in
               steps(args.n).items()}
    arr = np.random.default_rng(0).normal(size=1000)
    results["evaluate loss+grad, N=1000"] = timed(
        impls, lambda lg, r: graphs[next(k for k, v in impls.items() if v is lg)],
        lambda lg, outs: lg.evaluate(outs, x=arr), args.repeat)
    build = results["build"]
    for name, t in results.items():
        line = f"  {name:32s}"
        for label, v in t.items():
            line += f" {label} {v * 1e3:8.1f} ms {v / build[label]:6.2f} x build"
        if args.before:
            line += f"   before / now {t['before'] / t['now']:5.2f}"
        print(line)


if __name__ == "__main__":
    main()
