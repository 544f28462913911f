"""The `lossgraph` command (the application layer: the one module of lossgraph that may import
zoo and codegen, lazily inside its commands).

Exit codes: 0 success, 1 error (a LossgraphError, reported on stderr without a traceback),
2 usage (unknown command, option or loss name). A closed output pipe (`lossgraph list | head`)
ends the command quietly.
"""
from __future__ import annotations

import argparse
import difflib
import inspect
import os
import sys
import tempfile
from pathlib import Path

from lossgraph.names import quote

DESCRIPTION = """\
Loss functions as symbolic expression graphs: derive, simplify, print and draw their
gradients, and browse a zoo of the losses of TensorLayer, TensorFlow contrib, MXNet Gluon,
TFLearn and Axon."""

EXAMPLES = """\
examples:
  lossgraph tour                 the core, step by step, on a custom loss
  lossgraph list                 every zoo loss and the library functions that expose it
  lossgraph show huber           one loss: formula, LaTeX, gradient, each library's convention
  lossgraph show tf.log_loss     a library's function, as `list` prints it
  lossgraph show mse             a common alias (mse, mae, bce, ce, kl, ...)
  lossgraph catalog > zoo.md     the whole catalogue as Markdown

exit codes: 0 success, 1 error, 2 usage (unknown command, option or loss name)"""

NAME_HELP = ("a zoo loss, as `lossgraph list` prints it: a canonical name (huber), a library's "
             "function (tf.log_loss, mxnet.SoftmaxCELoss) or a common alias (mse, bce, ce); "
             "case and '_'/'-' do not matter")

# Common short names -> canonical zoo losses (a flavour's own names are looked up separately).
ALIASES = {
    "mse": "squared_error", "mae": "absolute_error", "bce": "binary_cross_entropy",
    "bce_with_logits": "sigmoid_cross_entropy", "ce": "softmax_cross_entropy",
    "cross_entropy": "softmax_cross_entropy", "sparse_ce": "sparse_softmax_cross_entropy",
    "kl": "kl_divergence", "kld": "kl_divergence", "js": "js_divergence",
    "jsd": "js_divergence", "pinball": "quantile", "dice": "dice_coefficient",
    "reverse_huber": "berhu", "auc": "roc_auc_surrogate",
}


class UsageError(Exception):
    """Bad command-line input that argparse cannot see (exit code 2)."""


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
    print("\nNext: `lossgraph list` shows the loss zoo; see README.md.")
    return 0


def list_losses():
    import zoo
    entries = zoo.catalog()
    for e in entries:
        print(f"{e.name:30s} {e.kind:15s} {', '.join(_flavour_names(e)) or '-'}")
    print(f"\n{len(entries)} losses; `lossgraph show NAME` for one.")
    return 0


def _flavour_names(entry):
    return [_shown(f) for f in entry.flavours]


def _shown(flavour):
    """A library function as `list` prints it: tf.log_loss."""
    return f"{flavour.module.split('.')[-1]}.{flavour.name}"


def _key(name):
    """Names match whatever their case, underscores, dashes and a leading `zoo.`."""
    name = name.strip().lower()
    for prefix in ("zoo.losses.", "zoo.", "losses."):
        name = name[len(prefix):] if name.startswith(prefix) else name
    return name.replace("_", "").replace("-", "")


def name_tables(canonical_names, flavours):
    """Lookup tables from most to least specific: canonical names, library functions as `list`
    prints them (tf.log_loss), aliases, bare library function names. Each maps a key to
    (the name as displayed, the canonical names it stands for)."""
    canonical, qualified, alias, bare = {}, {}, {}, {}
    for name in canonical_names:
        canonical[_key(name)] = (name, [name])
        for f in flavours.get(name, ()):
            qualified.setdefault(_key(_shown(f)), (_shown(f), []))[1].append(name)
            bare.setdefault(_key(f.name), (f.name, []))[1].append(name)
    for short, target in ALIASES.items():
        alias[_key(short)] = (short, [target])
    return canonical, qualified, alias, bare


def resolve(name):
    """The canonical zoo losses NAME stands for; UsageError with close names when none."""
    from zoo import inventory
    tables = name_tables(inventory.canonical_names(), inventory.flavour_map())
    for table in tables:
        if _key(name) in table:
            return list(dict.fromkeys(table[_key(name)][1]))
    shown = {key: display for table in tables for key, (display, _) in table.items()}
    close = difflib.get_close_matches(_key(name), list(shown), n=4, cutoff=0.6)
    hint = (f"; did you mean {' or '.join(dict.fromkeys(shown[k] for k in close))}?"
            if close else "")
    raise UsageError(f"no loss named {quote(name)}{hint} (`lossgraph list` shows them all)")


def show_loss(name):
    from zoo import inventory
    names = resolve(name)
    if len(names) > 1:
        print(f"{name} stands for {len(names)} zoo losses (its options choose): "
              f"{', '.join(names)}\n")
    flavours = inventory.flavour_map()
    for i, canonical in enumerate(names):
        print("\n" * bool(i), end="")
        show_entry(inventory.entry(canonical, flavours))
    return 0


def show_entry(entry):
    """One catalogue entry: summary, arguments, simplified graph and LaTeX, gradient, flavours."""
    import importlib

    import lossgraph as lg
    import zoo
    from zoo import inventory
    fn = getattr(zoo.losses, entry.name)
    inputs = inventory.sample_inputs(entry.name, fn)
    reduces = "reduction" in inspect.signature(fn).parameters  # penalties are already scalars
    loss = lg.simplify(fn(**inputs, reduction="sum") if reduces else fn(**inputs))
    print(f"{entry.name} ({entry.kind}): {entry.summary}")
    print(f"  arguments: {', '.join(entry.arguments)}")
    print(f"  graph    : {loss}")
    print(f"  LaTeX    : {entry.formula}")
    wrt = [n for n in inputs.values() if lg.dtypes.is_float(n.dtype)][:1]
    if wrt:
        try:
            (g,) = lg.gradients(loss, wrt)
            print(f"  d {'sum' if reduces else entry.name} / d {wrt[0].name}: {lg.simplify(g)}")
        except lg.GradientError as e:
            print(f"  no gradient: {e}")
    for f in entry.flavours:
        doc = inspect.getdoc(getattr(importlib.import_module(f.module), f.name)) or ""
        source = next((" ".join(p.split()) for p in doc.split("\n\n")
                       if p.strip().startswith("Source convention")), "")
        print(f"  {f.module}.{f.name}" + (f"\n      {source}" if source else ""))


def print_catalog():
    from zoo import inventory
    print(inventory.to_markdown())
    return 0


def parser():
    from lossgraph import __version__
    top = argparse.ArgumentParser(prog="lossgraph", description=DESCRIPTION, epilog=EXAMPLES,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--version", action="version", version=f"lossgraph {__version__}")
    sub = top.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    t = sub.add_parser("tour", help="a guided tour of the core on a custom loss",
                       description="Declare, simplify, differentiate, evaluate, print, draw "
                                   "and save a custom loss, step by step.")
    t.add_argument("--out", metavar="DIR", help="directory for the drawing (default: a temp dir)")
    t.set_defaults(run=lambda a: tour(a.out))
    sub.add_parser("list", help="every loss in the zoo and the library functions exposing it",
                   description="Every canonical loss of the zoo: name, kind, and the library "
                               "functions (flavours) that expose it.").set_defaults(
        run=lambda a: list_losses())
    s = sub.add_parser("show", help="one loss: formula, LaTeX, gradient, library conventions",
                       description="One zoo loss: its formula, simplified graph and LaTeX, its "
                                   "derived gradient and each library's convention.",
                       epilog="examples: lossgraph show huber; lossgraph show tf.log_loss; "
                              "lossgraph show MSE")
    s.add_argument("name", metavar="NAME", help=NAME_HELP)
    s.set_defaults(run=lambda a: show_loss(a.name))
    sub.add_parser("catalog", help="the zoo catalogue as Markdown (docs/zoo-catalog.md)",
                   description="The whole catalogue as Markdown, as in docs/zoo-catalog.md."
                   ).set_defaults(run=lambda a: print_catalog())
    return top


def main(argv=None):
    """Run the command line; returns the exit code (argparse exits 2 itself on bad usage)."""
    import lossgraph as lg
    args = None
    try:
        top = parser()
        args = top.parse_args(argv)
        if not hasattr(args, "run"):
            top.print_help()
            code = 0
        else:
            code = args.run(args)
        sys.stdout.flush()
        return code
    except UsageError as e:
        print(f"lossgraph {args.command}: error: {e}", file=sys.stderr)  # after parse_args
        return 2
    except lg.LossgraphError as e:
        where = f"lossgraph {args.command}" if args else "lossgraph"
        print(f"{where}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:        # the reader left (`lossgraph list | head`): stop quietly
        _discard_stdout()
        return 1
    except KeyboardInterrupt:
        return 130


def _discard_stdout():
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
