"""The argument parser of the `lossgraph` command: every command, its help and examples."""
from __future__ import annotations

import argparse

from .bench import bench_command
from .cache import cache_command
from .graph_commands import ARTIFACTS, DRAW_FORMATS, codegen_command, draw_command, show
from .loading import INPUT_HELP, LOSS_FORMS, add_loss_arguments
from .tour import tour
from .zoo_names import NAME_HELP, list_losses, print_catalog

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
    k = sub.add_parser("cache", help="where the LLVM backend keeps compiled kernels",
                       description="The directory of the LLVM backend's machine-code cache "
                                   "(codegen.llvm.objcache), its entries and their size.")
    k.add_argument("--clear", action="store_true", help="delete every entry")
    k.set_defaults(run=cache_command)
    sub.add_parser("catalog", help="the zoo catalogue as Markdown (docs/zoo-catalog.md)",
                   description="The whole catalogue as Markdown, as in docs/zoo-catalog.md."
                   ).set_defaults(run=lambda a: print_catalog())
    return top

