"""`lossgraph tour`: the core, step by step, on a custom loss; step 9 compiles it."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path


def _section(title):
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)))


def tour(out_dir=None):
    import numpy as np

    import lossgraph as lg

    _section("1. Declare inputs with symbolic shapes")
    x = lg.input("logits", shape=("N",))
    z = lg.input("targets", shape=("N",))
    w = lg.input("w", shape=())
    print(f"x = lg.input('logits', shape=('N',))  ->  {x!r}")
    print(f"z = lg.input('targets', shape=('N',)) ->  {z!r}")
    print(f"w = lg.input('w', shape=())           ->  {w!r}")

    _section("2. Build a custom loss the way its formula reads")
    print("A weighted binary cross-entropy written naively, log(sigmoid(x)):")
    naive = lg.mean(-(w * z * lg.log(lg.sigmoid(x)) + (1 - z) * lg.log(1 - lg.sigmoid(x))))
    print(f"  loss = {naive}")
    try:
        lg.input("a", shape=("N", 3)) + lg.input("b", shape=("N", 4))
    except lg.ShapeError as e:
        print(f"Shapes are checked while building: ShapeError: {e}")

    _section("3. Stable by default: the rewrites, and which rules fired")
    loss = lg.simplify(naive)
    print(f"  simplified = {loss}")
    print("  Every transform (gradients, grad, value_and_grad, hvp, Loss, the compilers)")
    print("  works on this stabilized graph; lg.explain says what changed:")
    print("  " + str(lg.explain(naive)).replace("\n", "\n  "))

    _section("4. Derive the gradient; it is a graph too")
    (literal,) = lg.gradients(naive, [x], simplify=False)
    print(f"  literal derivation (simplify=False, for teaching):\n    "
          f"{lg.to_text(literal, max_len=200)}")
    (g,) = lg.gradients(naive, [x])
    print(f"  lg.gradients (stable, simplified, the default):\n    {g}")

    _section("5. Evaluate with the reference NumPy interpreter")
    rng = np.random.default_rng(0)
    arrays = dict(logits=rng.normal(size=5).astype(np.float32) * 50,
                  targets=(rng.random(5) > 0.5).astype(np.float32), w=np.float32(2.0))
    value, grad = lg.evaluate([loss, g], arrays)
    naive_value = lg.evaluate(naive, arrays)
    print(f"  logits  = {arrays['logits']}")
    print(f"  loss    = {value!r}   (naive graph: {naive_value!r})")
    print(f"  d/dx    = {grad}")
    f = lg.value_and_grad(lambda p, t: lg.mean(lg.square(p - t)))
    v, dp = f(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.0]))
    print(f"  lg.value_and_grad(mse)(p, t) = {v:.4f}, {dp}")

    _section("6. Print: text, LaTeX, SymPy")
    print(f"  text : {loss}")
    print(f"  LaTeX: {lg.latex(loss)}")
    print(f"  dLaTeX: {lg.latex(g)}")
    print(f"  SymPy: {lg.to_sympy(g)}")

    _section("7. Draw forward and backward graphs (graphviz)")
    dot = lg.draw(loss, g, values=arrays)
    out = Path(out_dir or tempfile.mkdtemp(prefix="lossgraph-tour-"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "loss.gv").write_text(dot.source)
    print(f"  DOT source ({len(dot.source.splitlines())} lines) -> {out / 'loss.gv'}")
    try:
        path = lg.render(dot, out / "loss", format="svg")
        print(f"  rendered -> {path}")
    except lg.RenderError as e:
        print(f"  (not rendered: {e})")

    _section("8. Save and load as plain JSON; declare a Loss once")
    text = lg.to_json([loss, g])
    back = lg.from_json(text)
    print(f"  {len(text)} bytes of JSON; round trip gives the same graph: {back[0] is loss}")

    @lg.loss
    def weighted_bce(logits: lg.Float["N"], targets: lg.Float["N"], w: lg.Float[()]):
        return lg.mean(w * targets * lg.softplus(-logits) + (1 - targets) * lg.softplus(logits))
    print(f"  {weighted_bce!r}")
    print(f"  gradients: {weighted_bce.gradients(['logits'])}")
    tour_codegen(naive, x, loss, g)
    print("\nNext: `lossgraph list` shows the loss zoo; `lossgraph codegen`, `draw` and "
          "`bench` take any of its names or a formula; see README.md.")
    return 0


CALLS = 7           # timed calls per contestant in the tour's step 9


def tour_codegen(naive, x, loss, g, n=100_000):
    """Step 9: compile the tour's loss with each backend, check each against lg.evaluate on
    n elements and time one call of each (a demo: a few calls, best of them)."""
    import numpy as np

    import codegen
    import lossgraph as lg
    _section("9. Compile to fast kernels: NumPy source and LLVM")
    rng = np.random.default_rng(1)
    arrays = dict(logits=rng.normal(size=n) * 4, targets=(rng.random(n) > 0.5) * 1.0,
                  w=np.float64(2.0))
    ref_value, ref_grad = lg.evaluate([loss, g], arrays)
    timings = {"lg.evaluate": best_time(lambda: lg.evaluate([loss, g], arrays))}
    for backend in [b for b in ("numpy", "llvm") if b in codegen.BACKENDS]:
        t0 = time.perf_counter()
        k = codegen.compile(naive, wrt=[x], backend=backend)
        value, (grad,) = k(**arrays)
        compiled = time.perf_counter() - t0
        err = max(abs(value - ref_value) / abs(ref_value),
                  float(np.max(np.abs(grad - ref_grad)) / np.max(np.abs(ref_grad))))
        agree = "agrees with" if err < 1e-9 else "DIFFERS from"
        print(f"  codegen.compile(loss, wrt=[x], backend={backend!r}): built in "
              f"{compiled * 1e3:.0f} ms; {agree} lg.evaluate (max relative error {err:.1e})")
        timings[f"{backend} kernel"] = best_time(lambda: k(**arrays))
        if backend == "numpy":
            start = k.source.find(f"\ndef {k.name}(")
            body = k.source[start:].strip().splitlines()[:8] if start >= 0 else []
            print("  the generated NumPy function begins (`lossgraph codegen` prints it all):"
                  "\n    " + "\n    ".join(body))
    if "llvm" not in codegen.BACKENDS:
        print("  (the LLVM backend is not available here)")
    base = timings["lg.evaluate"]
    print(f"  loss + gradient on {n:,} float64 elements (best of {CALLS} calls each, one run):")
    for name, t in timings.items():
        print(f"    {name:12s} {t * 1e3:8.3f} ms   {base / t:5.1f}x as fast as lg.evaluate")
    print("  `lossgraph codegen bce --backend llvm` prints a kernel's IR; `lossgraph bench` "
          "times the backends against hand NumPy, torch, JAX and numba.")


def best_time(fn, calls=None):
    """The best of a few timed calls (after one untimed call): a demo's measure."""
    fn()
    best = float("inf")
    for _ in range(calls or CALLS):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best

