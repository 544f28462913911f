"""The `lossgraph` command: the application layer (may import zoo and codegen, lazily).

    lossgraph --version
    lossgraph tour [--out DIR]     walk through declaring, differentiating, simplifying,
                                   evaluating, printing, drawing and saving a custom loss
    lossgraph list                 every loss in the zoo, with the flavours that expose it
    lossgraph show NAME            one zoo loss: formula, gradient, arguments, flavours
    lossgraph catalog              the whole catalogue as Markdown (docs/zoo-catalog.md)
"""
from __future__ import annotations

import argparse
import inspect
import sys
import tempfile
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

    _section("3. Simplify: stability rewrites, and which rules fired")
    loss = lg.simplify(naive)
    print(f"  simplified = {loss}")
    print(lg.explain(naive))

    _section("4. Derive the gradient; it is a graph too")
    (g,) = lg.gradients(loss, [x])
    print(f"  d loss / d logits, as derived  : {lg.to_text(g, max_len=160)}")
    g = lg.simplify(g)
    print(f"  ... after lg.simplify          : {g}")

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
    print("\nNext: `lossgraph list` shows the loss zoo; see README.md.")
    return 0


def list_losses():
    import zoo
    entries = zoo.catalog()
    for e in entries:
        flavours = ", ".join(f"{f.module.split('.')[-1]}.{f.name}" for f in e.flavours) or "-"
        print(f"{e.name:30s} {e.kind:15s} {flavours}")
    print(f"\n{len(entries)} losses; `lossgraph show NAME` for one.")
    return 0


def show_loss(name):
    import importlib

    import lossgraph as lg
    import zoo
    from zoo import inventory
    entry = next((e for e in zoo.catalog() if e.name == name), None)
    if entry is None:
        print(f"lossgraph show: no loss named {name!r}; `lossgraph list` shows them all",
              file=sys.stderr)
        return 2
    fn = getattr(zoo.losses, name)
    inputs = inventory.sample_inputs(name, fn)
    loss = fn(**inputs, reduction="sum")
    print(f"{entry.name} ({entry.kind}): {entry.summary}")
    print(f"  arguments: {', '.join(entry.arguments)}")
    print(f"  graph    : {loss}")
    print(f"  LaTeX    : {entry.formula}")
    wrt = [n for n in inputs.values() if lg.dtypes.is_float(n.dtype)][:1]
    if wrt:
        try:
            (g,) = lg.gradients(loss, wrt)
            print(f"  d sum / d {wrt[0].name}: {lg.simplify(g)}")
        except lg.GradientError as e:
            print(f"  no gradient: {e}")
    for f in entry.flavours:
        doc = inspect.getdoc(getattr(importlib.import_module(f.module), f.name)) or ""
        source = next((" ".join(p.split()) for p in doc.split("\n\n")
                       if p.strip().startswith("Source convention")), "")
        print(f"  {f.module}.{f.name}" + (f"\n      {source}" if source else ""))
    return 0


def print_catalog():
    from zoo import inventory
    print(inventory.to_markdown())
    return 0


def main(argv=None):
    from lossgraph import __version__
    parser = argparse.ArgumentParser(prog="lossgraph", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"lossgraph {__version__}")
    sub = parser.add_subparsers(dest="command")
    t = sub.add_parser("tour", help="a guided tour of the core on a custom loss")
    t.add_argument("--out", help="directory for the drawing (default: a temp dir)")
    t.set_defaults(run=lambda a: tour(a.out))
    sub.add_parser("list", help="every loss in the zoo").set_defaults(run=lambda a: list_losses())
    s = sub.add_parser("show", help="one loss of the zoo")
    s.add_argument("name")
    s.set_defaults(run=lambda a: show_loss(a.name))
    sub.add_parser("catalog", help="the zoo catalogue as Markdown").set_defaults(
        run=lambda a: print_catalog())
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
