"""The `lossgraph` command (the application layer: the one module of lossgraph that may import
zoo and codegen, lazily inside its commands).

Exit codes: 0 success, 1 error (a LossgraphError, reported on stderr without a traceback),
2 usage (unknown command, option or loss name). A closed output pipe (`lossgraph list | head`)
ends the command quietly.
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import inspect
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from lossgraph.errors import FormulaError
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
  lossgraph show "mean(log(1 + exp(-y * x)))" --input x:N --input y:N
                                 a formula over named inputs, read by a fixed grammar
  lossgraph draw huber -o huber.svg --grad --values
                                 forward and backward graphs, with sample values
  lossgraph codegen bce --backend llvm --ir
                                 the generated NumPy source or LLVM IR of loss + gradient
  lossgraph bench mse --quick    loss + gradient speed against hand NumPy and the peers

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
    raise UsageError(f"no loss named {quote(name)}{hint} (`lossgraph list` shows them all; "
                     f"a formula declares its inputs with --input)")


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


# --- LOSS: a zoo name, module:function, or a formula over --input declarations

LOSS_HELP = ("a zoo loss (huber, tf.log_loss, mxnet.SoftmaxCELoss, mse; as for `show`), a "
             "Python function as module:function (see below), or a formula over the inputs "
             "declared with --input, like \"mean(log(1 + exp(-y * x)))\"")
INPUT_HELP = ("declare a formula's input: NAME:DIMS[:DTYPE], dims comma-separated names or "
              "integers (x:N, X:N,C, y:N:int64, w: for a scalar); dtype float (default), "
              "float32, float64, int, int32, int64 or bool; repeat for each input")
LOSS_FORMS = """\
LOSS forms:
  a zoo name        huber, tf.log_loss, mxnet.SoftmaxCELoss, mse (any case); a zoo loss is
                    built over symbolic inputs (as in `lossgraph show`) with reduction="mean"
  module:function   imported with importlib (the current directory first); the object may be
                    an lg.Loss, a Node, a function taking no arguments that returns either, a
                    function whose parameters are annotated with specs (lg.Float["N"], as for
                    @lg.loss), or a function whose parameters are inputs declared with --input
  a formula         anything else, or any LOSS given with --input: numbers, inputs,
                    + - * / ** @, unary -, comparisons, parentheses and lg's functions (exp log
                    log1p sqrt abs tanh sigmoid softplus relu sum mean max min logsumexp
                    softmax log_softmax where clip square maximum minimum xlogy one_hot pick
                    ...) with keyword arguments (sum(x, axis=1)); never evaluated as Python"""
MODULE_FUNCTION = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*)")
ZOO_NAME = re.compile(r"[\w.\-]+")


def add_loss_arguments(p):
    p.add_argument("loss", metavar="LOSS", help=LOSS_HELP)
    p.add_argument("-i", "--input", dest="inputs", action="append", default=[],
                   metavar="NAME:DIMS[:DTYPE]", help=INPUT_HELP)


def declared_inputs(specs):
    """lg.input nodes from --input NAME:DIMS[:DTYPE] (each name once)."""
    from lossgraph.formula import input_spec
    nodes = [input_spec(s) for s in specs]
    names = [n.name for n in nodes]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        raise UsageError(f"--input {quote(twice)} is declared twice")
    return nodes


def load_losses(text, specs):
    """The lg.Loss objects LOSS stands for (several for a library name with options that
    choose between zoo losses, else one)."""
    import lossgraph as lg
    from lossgraph.formula import parse
    inputs = declared_inputs(specs)
    module = MODULE_FUNCTION.fullmatch(text.strip())
    if module:
        return [module_loss(module.group(1), module.group(2), inputs)]
    if not inputs and ZOO_NAME.fullmatch(text.strip()):
        return [zoo_loss(name) for name in resolve(text)]
    try:
        graph = parse(text, inputs)
    except FormulaError as e:
        if inputs:
            raise
        raise FormulaError(f"{e}\n(declare a formula's inputs with --input NAME:DIMS, like "
                           f"--input x:N)") from None
    return [lg.Loss(inputs, graph, "loss")]


def load_loss(text, specs):
    """The one lg.Loss LOSS stands for; UsageError when it names several."""
    losses = load_losses(text, specs)
    if len(losses) > 1:
        raise UsageError(f"{quote(text)} stands for {len(losses)} zoo losses (its options "
                         f"choose): {', '.join(l.name for l in losses)}; name one of them")
    return losses[0]


def zoo_loss(name, reduction="mean"):
    """Canonical zoo loss `name` over its symbolic sample inputs, as an lg.Loss."""
    import lossgraph as lg
    import zoo
    from zoo import inventory
    fn = getattr(zoo.losses, name)
    inputs = inventory.sample_inputs(name, fn)
    reduces = "reduction" in inspect.signature(fn).parameters
    out = fn(**inputs, reduction=reduction) if reduces else fn(**inputs)
    return lg.Loss(list(inputs.values()), out, name)


def module_loss(module_name, attr, inputs):
    """The lg.Loss that module:function builds (the contract is LOSS_FORMS')."""
    import lossgraph as lg
    where = f"{module_name}:{attr}"
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise UsageError(f"{quote(where)}: no module named {quote(e.name)} (looked in the "
                             f"current directory and on sys.path)") from None
        raise lg.LossgraphError(f"importing {module_name}: {type(e).__name__}: {e}") from None
    except Exception as e:
        raise lg.LossgraphError(f"importing {module_name}: {type(e).__name__}: {e}") from None
    finally:
        sys.path.remove(os.getcwd())
    if not hasattr(module, attr):
        public = [n for n in vars(module) if not n.startswith("_")]
        close = difflib.get_close_matches(attr, public, n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise UsageError(f"{quote(where)}: module {module_name} has no {quote(attr)}{hint}")
    obj = getattr(module, attr)
    if callable(obj) and not isinstance(obj, (lg.Loss, lg.Node)):
        obj = call_builder(obj, where, inputs)
    if isinstance(obj, lg.Loss):
        return obj
    if isinstance(obj, lg.Node):
        declared = inputs or lg.inputs_of([obj])
        return lg.Loss(declared, obj, attr)
    raise UsageError(f"{quote(where)} is a {type(obj).__name__}; expected an lg.Loss, a Node "
                     f"or a function building one (`lossgraph show --help` says how)")


def call_builder(fn, where, inputs):
    """What fn builds: with spec-annotated parameters it is an @lg.loss; otherwise each
    parameter is the --input of its name (none: called without arguments)."""
    import lossgraph as lg
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    required = [p for p in params if p.default is p.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    by_name = {n.name: n for n in inputs}
    try:
        if required and all(isinstance(p.annotation, (lg.Spec, str)) for p in required) \
                and not inputs:
            return lg.loss(fn)
        missing = [p.name for p in required if p.name not in by_name]
        if missing:
            raise UsageError(f"{quote(where)} takes {', '.join(p.name for p in required)}: "
                             f"declare {'each' if len(missing) > 1 else 'it'} with --input "
                             f"NAME:DIMS (missing: {', '.join(missing)})")
        names = {p.name for p in params}
        unused = [n for n in by_name if n not in names]
        if unused and not any(p.kind == p.VAR_KEYWORD for p in params):
            raise UsageError(f"--input {quote(unused[0])}: {quote(where)} has no parameter of "
                             f"that name (it takes {', '.join(sorted(names)) or 'none'})")
        out = fn(**by_name)
    except (UsageError, lg.LossgraphError):
        raise
    except Exception as e:
        raise lg.LossgraphError(f"{where} raised {type(e).__name__}: {e}") from None
    if isinstance(out, lg.Node) and inputs:
        return lg.Loss(inputs, out, getattr(fn, "__name__", "loss"))
    return out


def named_dims(inputs):
    """The symbolic dims of the declared inputs, first seen first."""
    return list(dict.fromkeys(d for node in inputs.values() for d in node.shape
                              if not isinstance(d, int)))


def filled_arrays(inputs, dims, float_dtype="float64", seed=0, decimals=None):
    """Seeded arrays for declared inputs with the named dims sized by `dims`: floats uniform in
    (0.1, 0.9) (inside the domain of log, sqrt and log(1 - p); inputs declared "float" in
    float_dtype; rounded to `decimals` if given), integers in [0, 3), booleans random."""
    import numpy as np
    rng = np.random.default_rng(seed)
    out = {}
    for name, node in inputs.items():
        shape = tuple(dims.get(d, d) for d in node.shape)
        if node.dtype.startswith("int"):
            out[name] = rng.integers(0, 3, size=shape).astype(
                "int64" if node.dtype == "int" else node.dtype)
        elif node.dtype == "bool":
            out[name] = rng.random(shape) > 0.5
        else:
            a = rng.uniform(0.1, 0.9, size=shape)
            a = np.round(a, decimals) if decimals is not None else a
            out[name] = a.astype(node.dtype if node.dtype != "float" else float_dtype)
    return out


def sample_arrays(inputs, seed=0, float_dtype="float64"):
    """Seeded small arrays for declared inputs: each named dim its own size (3, 4, ...),
    floats rounded to two decimals (see filled_arrays)."""
    dims = {d: 3 + k for k, d in enumerate(named_dims(inputs))}
    return filled_arrays(inputs, dims, float_dtype, seed, decimals=2)


def float_inputs(loss):
    import lossgraph as lg
    return [n for n, i in loss.inputs.items() if lg.dtypes.is_float(i.dtype)]


def show(args):
    """`show`: zoo entries as before; other LOSS forms as their graph, LaTeX and gradients."""
    if not args.inputs and not MODULE_FUNCTION.fullmatch(args.loss.strip()) \
            and ZOO_NAME.fullmatch(args.loss.strip()):
        return show_loss(args.loss)
    show_graph(load_loss(args.loss, args.inputs))
    return 0


def show_graph(loss):
    """A Loss that is not from the zoo: inputs, graph (as written and simplified), LaTeX, and
    the gradient w.r.t. each float input."""
    import lossgraph as lg
    simple = lg.simplify(loss.output)
    ins = ", ".join(f"{n}: {i.dtype}[{', '.join(map(str, i.shape))}]"
                    for n, i in loss.inputs.items())
    print(f"{loss.name}({ins})")
    print(f"  as written: {loss.output}")
    print(f"  graph     : {simple}")
    print(f"  LaTeX     : {lg.latex(simple)}")
    for name in float_inputs(loss):
        try:
            print(f"  d {loss.name} / d {name}: {loss.gradients([name])[name]}")
        except lg.LossgraphError as e:
            print(f"  d {loss.name} / d {name}: none ({type(e).__name__}: {e})")


# --- draw, codegen, bench

DRAW_FORMATS = ("svg", "png", "pdf", "dot", "gv")


def draw_command(args):
    """The stabilized graph of LOSS (with --grad its gradients) drawn to args.output."""
    import lossgraph as lg
    loss = load_loss(args.loss, args.inputs)
    out = Path(args.output)
    fmt = out.suffix[1:].lower()
    if fmt not in DRAW_FORMATS:
        raise UsageError(f"-o {quote(args.output)}: the file name must end in "
                         f"{', '.join('.' + f for f in DRAW_FORMATS)} (the format)")
    wrt = args.wrt or (float_inputs(loss) if args.grad else [])
    grads = loss.gradients(wrt) if wrt else {}
    labels = [loss.name] + [f"d {loss.name} / d {k}" for k in grads]
    values = sample_arrays(loss.inputs) if args.values else None
    dot = lg.draw(lg.simplify(loss.output), *grads.values(), values=values, labels=labels,
                  title=args.title)
    if fmt in ("dot", "gv"):
        out.write_text(dot.source)
        path = str(out)
    else:
        path = lg.render(dot, out)
    shapes = ", ".join(f"{k}{list(v.shape)}" for k, v in (values or {}).items())
    print(f"wrote {path}" + (f" (values on sample inputs {shapes}, seed 0)" if values else ""))
    return 0


ARTIFACTS = {"source": "the generated source", "llvm_ir": "the LLVM IR",
             "optimized_ir": "the optimized LLVM IR", "asm": "the machine code"}


def codegen_command(args):
    """Print the kernel's generated source (or IR / assembly) for LOSS and its gradients."""
    import codegen
    import lossgraph as lg
    loss = load_loss(args.loss, args.inputs)
    wrt = args.wrt if args.wrt is not None else float_inputs(loss)[:1]
    if args.backend not in codegen.BACKENDS:
        raise UsageError(f"--backend {args.backend}: not available here (backends: "
                         f"{', '.join(sorted(codegen.BACKENDS))})")
    kernel = codegen.compile(loss, wrt=wrt or None, backend=args.backend, dtype=args.dtype)
    what = args.artifact or ("source" if args.backend == "numpy" else "llvm_ir")
    if args.dtype and what != "source":
        # the LLVM backend compiles each precision on first use: one call on sample arrays
        # makes the text shown that of --dtype
        try:
            kernel(**sample_arrays(kernel.schedule.inputs, float_dtype=args.dtype))
        except lg.LossgraphError as e:
            print(f"lossgraph codegen: note: sample arrays do not fit this loss ({e}); the IR "
                  f"shown may be another precision's", file=sys.stderr)
    try:
        text = getattr(kernel, what)
    except AttributeError:
        raise UsageError(f"the {args.backend} backend produces no {ARTIFACTS[what][4:]}; "
                         f"it shows {', '.join(k for k in ARTIFACTS if _has(kernel, k))}"
                         ) from None
    print(f"# {kernel!r}")
    print(text.rstrip("\n"))
    return 0


def _has(kernel, what):
    try:
        getattr(kernel, what)
        return True
    except AttributeError:
        return False


# zoo loss -> the benchmark workloads (benchmarks/workloads.py) that time it
BENCH_WORKLOADS = {"squared_error": ("mse",), "huber": ("huber",),
                   "sigmoid_cross_entropy": ("bce_logits",),
                   "sparse_softmax_cross_entropy": ("softmax_ce_10", "softmax_ce_1000")}


def benchmark_module():
    """benchmarks.losses of this source checkout: the benchmark lives beside the packages, not
    in them, so `lossgraph bench` needs the checkout (`pip install -e .`)."""
    root = Path(__file__).resolve().parents[1]
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


def parser():
    from lossgraph import __version__
    top = argparse.ArgumentParser(prog="lossgraph", description=DESCRIPTION, epilog=EXAMPLES,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--version", action="version", version=f"lossgraph {__version__}")
    sub = top.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    raw = argparse.RawDescriptionHelpFormatter
    t = sub.add_parser("tour", help="a guided tour of the core on a custom loss",
                       description="Declare, simplify, differentiate, evaluate, print, draw, "
                                   "save and compile a custom loss, step by step (under a "
                                   "minute).", formatter_class=raw,
                       epilog="examples:\n  lossgraph tour\n  lossgraph tour --out tour/      "
                              "keep the drawing in tour/")
    t.add_argument("--out", metavar="DIR", help="directory for the drawing (default: a temp dir)")
    t.set_defaults(run=lambda a: tour(a.out))
    sub.add_parser("list", help="every loss in the zoo and the library functions exposing it",
                   description="Every canonical loss of the zoo: name, kind, and the library "
                               "functions (flavours) that expose it.").set_defaults(
        run=lambda a: list_losses())
    s = sub.add_parser("show", help="one loss: formula, LaTeX, gradient, library conventions",
                       formatter_class=raw,
                       description="One loss: its formula, simplified graph and LaTeX, its "
                                   "derived gradients and, for a zoo loss, each library's "
                                   "convention.",
                       epilog=f"""{LOSS_FORMS}

zoo names: {NAME_HELP}

examples:
  lossgraph show huber
  lossgraph show tf.log_loss
  lossgraph show MSE
  lossgraph show "mean(log(1 + exp(-y * x)))" --input x:N --input y:N
  lossgraph show "mean(logsumexp(X, axis=1) - pick(X, y, axis=1))" -i X:N,C -i y:N:int64
  lossgraph show mylosses:focal""")
    add_loss_arguments(s)
    s.set_defaults(run=show)
    d = sub.add_parser("draw", help="draw a loss (and its gradients) to svg, png, pdf or dot",
                       formatter_class=raw,
                       description="Draw the stabilized graph of LOSS with graphviz; --grad "
                                   "adds the backward graphs, --values overlays the value of "
                                   "every node on seeded sample arrays. Writing .svg, .png or "
                                   ".pdf needs graphviz's `dot` program; .dot (or .gv) writes "
                                   "the DOT source without it.",
                       epilog=f"""{LOSS_FORMS}

examples:
  lossgraph draw huber -o huber.svg
  lossgraph draw bce -o bce.png --grad --values --title "BCE and its gradient"
  lossgraph draw "mean(softplus(-y * x))" -i x:N -i y:N -o f.dot --grad""")
    add_loss_arguments(d)
    d.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="the picture; its suffix is the format: " +
                        ", ".join("." + f for f in DRAW_FORMATS))
    d.add_argument("--grad", action="store_true",
                   help="also draw the gradients (w.r.t. every float input, or --wrt)")
    d.add_argument("--wrt", action="append", metavar="NAME",
                   help="draw the gradient w.r.t. this input (repeatable; implies --grad)")
    d.add_argument("--values", action="store_true",
                   help="overlay values computed on seeded sample arrays (each named dim "
                        "3, 4, ... long; floats in (0.1, 0.9); integers in [0, 3))")
    d.add_argument("--title", help="a caption on top of the picture")
    d.set_defaults(run=draw_command)
    c = sub.add_parser("codegen", help="print the generated NumPy source or LLVM IR of a loss",
                       formatter_class=raw,
                       description="Compile LOSS and its gradients (codegen.compile) and print "
                                   "what the backend generated: the NumPy backend's Python "
                                   "source, or the LLVM backend's IR (--ir, the default), "
                                   "optimized IR or assembly.",
                       epilog=f"""{LOSS_FORMS}

examples:
  lossgraph codegen huber
  lossgraph codegen bce --backend llvm --dtype float32 --optimized-ir
  lossgraph codegen ce --wrt logits --backend llvm --asm
  lossgraph codegen "mean(square(p - t))" -i p:N -i t:N --wrt p""")
    add_loss_arguments(c)
    c.add_argument("--backend", choices=("numpy", "llvm"), default="numpy",
                   help="the code generator (default numpy)")
    c.add_argument("--dtype", choices=("float32", "float64"),
                   help="compile for this precision (default: the inputs' at each call; the "
                        "LLVM IR shown is then the float64 one)")
    c.add_argument("--wrt", action="append", metavar="NAME",
                   help="differentiate w.r.t. this input (repeatable; default: the first "
                        "float input)")
    shown = c.add_mutually_exclusive_group()
    for flag, key in (("--source", "source"), ("--ir", "llvm_ir"),
                      ("--optimized-ir", "optimized_ir"), ("--asm", "asm")):
        shown.add_argument(flag, dest="artifact", action="store_const", const=key,
                           help=f"print {ARTIFACTS[key]}")
    c.set_defaults(run=codegen_command, artifact=None)
    b = sub.add_parser("bench", help="loss + gradient speed of the backends against the peers",
                       formatter_class=raw,
                       description="The benchmark of benchmarks/losses.py (the same code as "
                                   "`python -m benchmarks.losses`): loss + gradient w.r.t. the "
                                   "predictions for every lossgraph backend, lg.value_and_grad, "
                                   "hand-written NumPy and, when installed, torch, JAX and "
                                   "numba, each checked against a float64 reference first; a "
                                   "progress bar, then a table of ratios to the memory-"
                                   "bandwidth bound, to the fastest and to hand NumPy. Needs "
                                   "the source checkout (pip install -e \".[bench]\").",
                       epilog="""LOSS: a workload (mse, huber, bce_logits, softmax_ce_10,
  softmax_ce_1000) or a zoo loss one of them times (mse, huber, bce_with_logits,
  sparse_ce and their other names); none: all of them.

examples:
  lossgraph bench --quick                  every workload at N = 1e6, fewer repeats
  lossgraph bench mse huber --sizes 1e4,1e6 --dtypes float32
  lossgraph bench sparse_ce --json bench.json
  lossgraph bench "mean(softplus(-y * x))" -i x:N -i y:N --sizes 1e5 --quick""")
    b.add_argument("loss", metavar="LOSS", nargs="*",
                   help="the workloads to time (default: all), zoo losses they time, or one "
                        "formula (with --input) or module:function, timed with every backend "
                        "against lg.value_and_grad")
    b.add_argument("-i", "--input", dest="inputs", action="append", default=[],
                   metavar="NAME:DIMS[:DTYPE]", help=INPUT_HELP)
    b.add_argument("--sizes", metavar="N,N,...",
                   help="elements of the predictions (default 1e4,1e5,1e6,1e7; 1e6 with "
                        "--quick)")
    b.add_argument("--dtypes", default="float32,float64", metavar="DTYPE,...",
                   help="precisions (default float32,float64)")
    b.add_argument("--json", metavar="FILE", help="also write the measurements as JSON")
    b.add_argument("--quick", action="store_true", help="fewer repeats (and 1e6 only unless "
                                                         "--sizes is given)")
    b.set_defaults(run=bench_command)
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
    except (UsageError, FormulaError) as e:   # a malformed LOSS is bad usage, like a bad name
        kind = "error" if isinstance(e, UsageError) else type(e).__name__
        print(f"lossgraph {args.command}: {kind}: {e}", file=sys.stderr)  # after parse_args
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
