"""Loss + gradient speed of every lossgraph backend against hand NumPy and the peers.

    python -m benchmarks.losses [--sizes 1e4,1e5,1e6,1e7] [--losses mse,huber,...]
                                [--dtypes float32,float64] [--quick] [--out DIR]

For MSE, Huber, BCE with logits and softmax CE (C = 10 and C = 1000), at each size (elements
of the predictions) and precision, it measures in one run: this machine's memory bandwidth
(a large copy), then each contestant (benchmarks.peers) after checking its loss and gradient
against a float64 reference (lg.evaluate of the pipeline graphs on float64 copies). It reports
each median as a ratio to the bandwidth bound (bytes that must move / bandwidth) and to the
fastest contestant, plus the per-call time at N = 10 (overhead). Timed calls of all
contestants are interleaved, so the machine's noise hits them alike; in its turn each is
called twice and the second call timed. Writes
DIR/losses.json and, with matplotlib, DIR/losses.png (time vs N per workload).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import lossgraph as lg
from lossgraph.pipeline import derive

from .peers import peers
from .workloads import WORKLOADS


def bandwidth(nbytes=256 << 20, repeat=5):
    """Bytes per second of a large copy (read + write), best of repeat."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    best = min(_time(lambda: np.copyto(dst, src)) for _ in range(repeat))
    return 2 * src.nbytes / best


def _time(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def reference(w, arrays):
    """(loss, gradient) in float64: lg.evaluate of the stabilized loss and its gradient."""
    p, t = w.nodes()
    y, (g,) = derive(w.loss(p, t), [p])
    a64 = {k: (v.astype(np.float64) if v.dtype.kind == "f" else v) for k, v in arrays.items()}
    return lg.evaluate([y, g], a64)


def agrees(result, ref, dtype):
    value, grad = float(result[0]), np.asarray(result[1], dtype=np.float64)
    rtol = 1e-9 if dtype == "float64" else 2e-3
    scale = np.max(np.abs(ref[1]), initial=1e-30)
    return (abs(value - ref[0]) <= rtol * max(abs(ref[0]), 1e-30)
            and grad.shape == ref[1].shape
            and np.max(np.abs(grad - ref[1]), initial=0.0) <= rtol * scale)


def repeats(n, quick):
    r = 200 if n <= 1e4 else 50 if n <= 1e5 else 21 if n <= 1e6 else 7
    return max(5, r // 2) if quick else r


def measure(w, n, dtype, contestants, quick):
    """{peer: {"median_s", "ok"}} for one workload, size and precision."""
    arrays = w.inputs(n, dtype)
    ref = reference(w, arrays)
    runs, out = {}, {}
    for name, prepare in contestants.items():
        try:
            run = prepare(w, arrays)
            ok = bool(agrees(run(), ref, dtype))
        except Exception as e:      # a peer that cannot run this case is reported, not fatal
            out[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"[:200]}
            continue
        out[name] = {"ok": ok}
        if ok:
            runs[name] = run
        else:
            out[name]["error"] = "result differs from the float64 reference"
    for name, ts in interleaved(runs, repeats(n, quick), out).items():
        out[name]["median_s"] = statistics.median(ts)
    out["_bytes"] = w.bytes_moved(arrays)
    return out


def interleaved(runs, repeat, report):
    """{name: [seconds]}: each run timed repeat times, round-robin; in its turn each run is
    called twice and the second call timed (the first pays the page faults of memory the
    previous contestant returned to the system). A run that raises is dropped and its error
    recorded in report[name]."""
    times = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in list(runs.items()):
            try:
                run()
                times[name].append(_time(run))
            except Exception as e:
                report[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"[:200]}
                del runs[name], times[name]
    return times


def table(results, bw):
    lines = []
    for (wname, n, dtype), res in results.items():
        bound = res["_bytes"] / bw
        timed = {k: v for k, v in res.items() if not k.startswith("_") and "median_s" in v}
        best = min(v["median_s"] for v in timed.values()) if timed else float("nan")
        lines.append(f"\n{wname}  N={n:.0e}  {dtype}  (bound {bound * 1e3:.3f} ms)")
        lines.append(f"  {'contestant':22s} {'median ms':>10s} {'x bound':>8s} {'x best':>7s} "
                     f"{'x hand':>7s} {'x eval':>7s}")
        hand = timed.get("hand numpy", {}).get("median_s", float("nan"))
        ev = timed.get("lg.value_and_grad", {}).get("median_s", float("nan"))
        for name, v in res.items():
            if name.startswith("_"):
                continue
            if "median_s" not in v:
                lines.append(f"  {name:22s} {'-':>10s}  {v.get('error', '')}")
                continue
            t = v["median_s"]
            lines.append(f"  {name:22s} {t * 1e3:10.3f} {t / bound:8.1f} {t / best:7.2f} "
                         f"{t / hand:7.2f} {t / ev:7.2f}")
    return "\n".join(lines)


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    names = sorted({w for w, _, _ in results})
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 4), squeeze=False)
    for ax, wname in zip(axes[0], names):
        series = {}
        for (w, n, dtype), res in results.items():
            if w != wname:
                continue
            for peer, v in res.items():
                if not peer.startswith("_") and "median_s" in v:
                    series.setdefault((peer, dtype), []).append((n, v["median_s"]))
        for (peer, dtype), pts in sorted(series.items()):
            pts.sort()
            ax.loglog(*zip(*pts), "-" if dtype == "float32" else "--", marker="o",
                      label=f"{peer} {dtype}")
        ax.set_title(wname)
        ax.set_xlabel("elements N")
        ax.set_ylabel("median s")
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def overhead(contestants, workloads):
    """Median per-call time at N = 10 (MSE, float64): the fixed cost of a call."""
    w = WORKLOADS["mse"] if "mse" in workloads else WORKLOADS[workloads[0]]
    arrays = w.inputs(10, "float64")
    out = {}
    runs = {}
    for name, prepare in contestants.items():
        try:
            run = prepare(w, arrays)
            run()
            runs[name] = run
        except Exception as e:
            out[name] = {"error": f"{type(e).__name__}: {e}"[:200]}
    for name, ts in interleaved(runs, 1000, out).items():
        out[name] = {"median_us": statistics.median(ts) * 1e6}
    return w.name, out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.losses",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1e4,1e5,1e6,1e7",
                    help="elements of the predictions, comma separated (default %(default)s)")
    ap.add_argument("--losses", default=",".join(WORKLOADS),
                    help="workloads, comma separated (default %(default)s)")
    ap.add_argument("--dtypes", default="float32,float64", help="default %(default)s")
    ap.add_argument("--quick", action="store_true", help="fewer repeats (and 1e6 only, "
                    "unless --sizes is given)")
    ap.add_argument("--out", default=".", help="directory for losses.json and losses.png")
    args = ap.parse_args(argv)
    sizes = [int(float(s)) for s in ("1e6" if args.quick and "--sizes" not in (argv or [])
                                     and args.sizes == ap.get_default("sizes")
                                     else args.sizes).split(",")]
    names = [n.strip() for n in args.losses.split(",")]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        ap.error(f"unknown loss {unknown[0]!r}; choose from {', '.join(WORKLOADS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run(names, sizes, args.dtypes.split(","), args.quick, json_path=out / "losses.json",
        png_path=out / "losses.png")


def run(names, sizes, dtypes, quick, json_path=None, png_path=None):
    """Measure workloads `names` at each size and dtype with a progress bar, print the table
    of ratios and write the JSON (and, with matplotlib, the plot); returns the payload.
    `python -m benchmarks.losses` and `lossgraph bench` both run this."""
    try:
        from tqdm import tqdm
    except ImportError:                 # the bench extra is missing: a plain progress line
        def tqdm(items, desc, unit):
            for k, item in enumerate(items):
                print(f"\r{desc}: {k}/{len(items)} {unit}s", end="", file=sys.stderr,
                      flush=True)
                yield item
            print(f"\r{desc}: {len(items)}/{len(items)} {unit}s", file=sys.stderr)
    contestants = peers()
    bw = bandwidth()
    results = {}
    cases = [(n, s, d) for n in names for s in sizes for d in dtypes]
    for wname, n, dtype in tqdm(cases, desc="losses", unit="case"):
        results[(wname, n, dtype)] = measure(WORKLOADS[wname], n, dtype, contestants, quick)
    ow_name, ow = overhead(contestants, names)
    bw = max(bw, bandwidth())        # the better of two measurements: the machine is shared
    print(f"memory bandwidth: {bw / 1e9:.1f} GB/s (copy, read + write)")
    print(table(results, bw))
    print(f"\nper-call time at N = 10 ({ow_name}, float64):")
    for name, v in ow.items():
        print(f"  {name:22s} " + (f"{v['median_us']:8.1f} us" if "median_us" in v
                                  else v.get("error", "")))
    payload = {"machine": platform.platform(), "bandwidth_bytes_per_s": bw,
               "overhead_n10": ow,
               "results": [{"loss": w, "n": n, "dtype": d, **{"bytes": r["_bytes"]},
                            "contestants": {k: v for k, v in r.items() if not k.startswith("_")}}
                           for (w, n, d), r in results.items()]}
    written = []
    if json_path is not None:
        Path(json_path).write_text(json.dumps(payload, indent=1))
        written.append(str(json_path))
    if png_path is not None and plot(results, png_path):
        written.append(str(png_path))
    if written:
        print(f"\nwrote {' and '.join(written)}")
    return payload


if __name__ == "__main__":
    main()
