"""LOSS on the command line: a zoo name, module:function, or a formula over --input
declarations, built into an lg.Loss; and seeded arrays for its inputs."""
from __future__ import annotations

import difflib
import importlib
import inspect
import os
import re
import sys

from lossgraph.errors import FormulaError
from lossgraph.names import quote

from .usage import UsageError
from .zoo_names import resolve

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

