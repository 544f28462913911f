"""`show`, `draw` and `codegen`: the commands that take one LOSS and print or draw its graph,
gradients or generated kernel."""
from __future__ import annotations

import sys
from pathlib import Path

from lossgraph.names import quote

from .loading import (MODULE_FUNCTION, ZOO_NAME, float_inputs, load_loss, sample_arrays)
from .usage import UsageError
from .zoo_names import show_loss

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


