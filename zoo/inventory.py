"""The catalogue: every canonical loss with its formula, arguments, source convention and the
flavours that expose it, all derived from the code itself.

- the canonical losses are `zoo.losses.__all__`;
- each flavour module declares `CANONICAL = {flavour_name: canonical_name}` (a value may also be
  a tuple of canonical names, for a flavour function whose options select between losses);
- each formula is `lg.latex` of the loss built over symbolic inputs (`SAMPLE_INPUTS` below),
  simplified (so default constants fold: delta = 1 prints no "1 *");
- arguments come from `inspect.signature`, the source convention from the docstring.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
from dataclasses import dataclass

import lossgraph as lg

FLAVOURS = ("tensorlayer", "tf", "mxnet", "tflearn", "axon", "torch")

# Symbolic stand-ins for a loss's tensor parameters: (shape, dtype) by parameter name, with
# per-loss overrides where the name alone does not say (integer class labels, CTC layouts).
DEFAULT_INPUT = (("N", "C"), "float")
SAMPLE_INPUTS = {
    "sparse_softmax_cross_entropy": {"labels": (("N",), "int64")},
    "margin_ranking": {"x1": (("N",), "float"), "x2": (("N",), "float"),
                       "y": (("N",), "float")},
    "cosine_embedding": {"y": (("N",), "float")},
    "ctc": {"log_probs": (("T", "N", "C"), "float"), "logits": (("T", "N", "C"), "float"),
            "labels": (("N", "S"), "int64"), "input_lengths": (("N",), "int64"),
            "label_lengths": (("N",), "int64")},
    "nll": {"labels": (("N",), "int64")},
    "multi_margin": {"labels": (("N",), "int64")},
    "multilabel_margin": {"labels": (("N", "C"), "int64")},
    "sequence_cross_entropy": {"logits": (("N", "T", "C"), "float"),
                               "targets": (("N", "T"), "int64"),
                               "mask": (("N", "T"), "float")},
}


@dataclass(frozen=True)
class Flavour:
    """One library's name for a canonical loss: zoo module and the original name."""
    module: str
    name: str


@dataclass(frozen=True)
class Entry:
    """One canonical loss."""
    name: str
    kind: str                 # the zoo.losses module it lives in: regression, classification, ...
    formula: str              # LaTeX of the graph built over symbolic inputs
    arguments: tuple          # "name" or "name=default", in signature order
    summary: str              # the docstring's first paragraph (the formula line)
    source: str               # the docstring's "Source convention: ..." paragraph
    flavours: tuple           # Flavour records


def _tensor_params(fn):
    """The parameters @dual names as tensors, else the required positional ones."""
    named = getattr(fn, "tensor_params", None)
    if named:
        return named
    return tuple(p.name for p in inspect.signature(fn).parameters.values()
                 if p.default is inspect.Parameter.empty and
                 p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def sample_inputs(name, fn):
    """lg.input nodes for the required tensor parameters of canonical loss `name`."""
    sig = inspect.signature(fn)
    overrides = SAMPLE_INPUTS.get(name, {})
    args = {}
    for p in _tensor_params(fn):
        param = sig.parameters[p]
        if param.default is not inspect.Parameter.empty and p not in overrides:
            continue                                  # optional tensors (weights, masks) stay off
        shape, dtype = overrides.get(p, DEFAULT_INPUT)
        args[p] = lg.input(p, shape=shape, dtype=dtype)
    return args


def formula(name):
    """LaTeX of canonical loss `name`, built over symbolic inputs."""
    fn = getattr(_losses(), name)
    try:
        return lg.latex(lg.simplify(fn(**sample_inputs(name, fn))))
    except lg.LossgraphError as e:
        raise lg.LossgraphError(f"catalog: cannot build {name!r} over symbolic inputs "
                                f"({e}); add its shapes to zoo.inventory.SAMPLE_INPUTS") from e


def _arguments(fn):
    out = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            out.append(("*" if p.kind == p.VAR_POSITIONAL else "**") + p.name)
        elif p.default is inspect.Parameter.empty:
            out.append(p.name)
        else:
            out.append(f"{p.name}={p.default!r}")
    return tuple(out)


def _doc_parts(fn):
    doc = inspect.getdoc(fn) or ""
    paragraphs = [p.strip() for p in doc.split("\n\n") if p.strip()]
    summary = " ".join(paragraphs[0].split()) if paragraphs else ""
    source = next((" ".join(p.split()) for p in paragraphs
                   if p.startswith("Source convention")), "")
    return summary, source


def _losses():
    return importlib.import_module("zoo.losses")


def canonical_names():
    losses = _losses()
    return sorted(n for n in losses.__all__ if callable(getattr(losses, n)))


def flavour_modules():
    """The flavour modules present in this tree (a missing module is skipped; a broken one
    raises)."""
    mods = []
    for name in FLAVOURS:
        if importlib.util.find_spec(f"zoo.{name}") is not None:
            mods.append(importlib.import_module(f"zoo.{name}"))
    return mods


def flavour_map():
    """canonical name -> Flavour records, from each flavour module's CANONICAL table."""
    found = {}
    for mod in flavour_modules():
        for original, targets in mod.CANONICAL.items():
            for target in (targets,) if isinstance(targets, str) else targets:
                found.setdefault(target, []).append(Flavour(mod.__name__, original))
    return found


def entry(name, flavours=None):
    """The catalogue Entry of canonical loss `name` (flavours: a flavour_map(), if at hand)."""
    fn = getattr(_losses(), name)
    flavours = flavour_map() if flavours is None else flavours
    summary, source = _doc_parts(fn)
    kind = fn.__module__.rsplit(".", 1)[-1]
    return Entry(name, kind, formula(name), _arguments(fn), summary, source,
                 tuple(flavours.get(name, ())))


def catalog():
    """One Entry per canonical loss, sorted by name."""
    flavours = flavour_map()
    return [entry(name, flavours) for name in canonical_names()]


def to_markdown(entries=None):
    """The catalogue as a Markdown document (one section per loss)."""
    entries = catalog() if entries is None else entries
    lines = ["# Loss catalogue", ""]
    for e in entries:
        lines += [f"## `{e.name}` ({e.kind})", "", e.summary, "", f"$$ {e.formula} $$", "",
                  f"Arguments: `{', '.join(e.arguments)}`", ""]
        if e.source:
            lines += [e.source, ""]
        if e.flavours:
            names = ", ".join(f"`{f.module}.{f.name}`" for f in e.flavours)
            lines += [f"Flavours: {names}", ""]
    return "\n".join(lines)


__all__ = ["catalog", "entry", "to_markdown", "formula", "sample_inputs", "canonical_names",
           "flavour_map", "flavour_modules", "Entry", "Flavour"]
