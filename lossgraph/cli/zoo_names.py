"""Zoo names on the command line: lookup (canonical names, library functions, aliases, close
matches) and the `list`, `show NAME` and `catalog` commands over zoo entries."""
from __future__ import annotations

import difflib
import importlib
import inspect

from lossgraph.names import quote

from .usage import UsageError

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
