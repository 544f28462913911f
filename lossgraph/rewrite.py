"""simplify, explain and guard_nans: pattern rules (lossgraph/rules.py) run to a fixpoint.

Every rewrite keeps the node's shape and dtype (a rule whose result differs is skipped) and
its value. Passes are iterative over a topological order, so deep graphs never recurse.
"""
from __future__ import annotations

from operator import attrgetter

import numpy as np
from dataclasses import dataclass, field

from . import api as F
from .graph import _NO_ATTRS, Node, cycle_collector_paused, existing, make, topo_order
from .regions import elementwise_region
from .patterns import CONSTANT_OPS, RULES, Const, const_value
from . import rules as _rules  # noqa: F401  (importing it registers the rules)
from .rules import linalg as _rules_linalg  # noqa: F401  (matmul rules)

MAX_STEPS_PER_NODE = 64


@dataclass
class Step:
    """One rule firing: the node before and after (text kept for printing)."""
    rule: str
    doc: str
    origin: str
    phase: str
    before_node: object
    after_node: object

    @property
    def before(self):
        from .printing import to_text
        return to_text(self.before_node, max_len=120)

    @property
    def after(self):
        from .printing import to_text
        return to_text(self.after_node, max_len=120)

    @property
    def changes_math(self):
        """A rewrite a reader should see (a stability form, an identity that changes the
        formula), not bookkeeping of signs, coefficients and shapes."""
        return self.phase in ("algebra", "stability")

    def __str__(self):
        return f"{self.rule:26s} {self.before}  ->  {self.after}"

    def shown(self):
        """The step as a person would write it: the result tidied (-softplus(-(-x)) reads
        -softplus(x))."""
        from .printing import to_text
        after = to_text(simplify(self.after_node), max_len=120)
        return f"{self.rule:26s} {self.before}  ->  {after}"


@dataclass
class Explanation:
    """What simplify did: the result and each rule that fired, in order.

    str() lists the rewrites that change the math and folds the tidying steps into one line;
    explain(node, tidy=True) (or .full()) lists every step."""
    result: object
    steps: list = field(default_factory=list)
    tidy: bool = False

    def __iter__(self):
        return iter(self.steps)

    def __len__(self):
        return len(self.steps)

    @property
    def rules(self):
        return [s.rule for s in self.steps]

    def full(self):
        return Explanation(self.result, self.steps, tidy=True)

    def __str__(self):
        steps = [s for s in self.steps if s.before != s.after]
        if not steps:
            return "no rule fired: the graph is already simplified"
        if self.tidy:
            lines = [f"{len(steps)} rewrites:"] + [f"  {s}" for s in steps]
        else:
            shown = [s for s in steps if s.changes_math]
            rest = len(steps) - len(shown)
            lines = [f"{len(shown)} rewrites change the formula:"]
            lines += [f"  {s.shown()}" for s in shown]
            if rest:
                kinds = sorted({s.rule for s in steps if not s.changes_math})
                lines.append(f"  + {rest} tidying step{'s' * (rest > 1)} ({', '.join(kinds)}); "
                             f"lg.explain(node, tidy=True) lists them")
        lines.append(f"result: {self.result}")
        return "\n".join(lines)


def _child_ops(pattern):
    """For each input position of a pattern, the ops it admits there (None: any)."""
    if pattern.children == (Ellipsis,) or pattern.ops is None:
        return None
    out = []
    for c in pattern.children:
        if isinstance(c, Const):
            out.append(CONSTANT_OPS)
        else:
            out.append(None if c.ops is None else frozenset(c.ops))
    return tuple(out)


def _same_inputs(pattern):
    """Pairs of input positions a pattern binds to one name (x * x): the same node, so the
    same op, at both."""
    if pattern.ops is None or pattern.children == (Ellipsis,):
        return ()
    names = [c.bind for c in pattern.children]
    return tuple((names.index(b), j) for j, b in enumerate(names)
                 if b is not None and names.index(b) != j)


_ENTRIES = [(r, _child_ops(r.pattern), _same_inputs(r.pattern)) for r in RULES]
_CANDIDATES: dict = {}
_op_of = attrgetter("op")


def _candidates(node):
    """The rules whose pattern can match at node, judged by its op and its inputs' ops
    (cached per such key, (op, *input ops): one flat tuple): most rules are never tried
    where they cannot fire."""
    key = (node.op, *map(_op_of, node.inputs))
    got = _CANDIDATES.get(key)
    if got is None:
        got, input_ops = [], key[1:]
        for r, kids, same in _ENTRIES:
            if r.root_ops is not None and node.op not in r.root_ops:
                continue
            if kids is not None and (len(kids) != len(node.inputs) or any(
                    k is not None and op not in k for k, op in zip(kids, input_ops))):
                continue
            if any(input_ops[i] != input_ops[j] for i, j in same):
                continue
            if r.admits is not None and not r.admits(node.op, input_ops):
                continue
            got.append((r, r.indexed()))
        _CANDIDATES[key] = got
    return got


_SPLITS: dict = {}


def _split(key):
    """The leading candidates at key whose patterns are flat (x * 1, x * 0), as functions
    of the node's inputs (Rule.on_inputs), paired with the candidates from each on."""
    got = _SPLITS.get(key)
    if got is None:
        rules = _CANDIDATES[key]
        got = []
        for i, (r, _) in enumerate(rules):
            f = r.on_inputs()
            if f is None:
                break
            got.append((f, rules[i:]))
        got = _SPLITS[key] = (tuple(got), rules[len(got):])
    return got


def _rewrite_once(node, trace, rules=None):
    """The first applicable rule's result at this node (shape and dtype kept), or None;
    rules: its candidates, if the caller has looked them up."""
    if rules is None:
        rules = _CANDIDATES.get((node.op, *map(_op_of, node.inputs)))
    for r, apply in rules if rules is not None else _candidates(node):
        out = apply(node)
        if out is None or out is node:
            continue
        if type(out) is not Node:
            out = F.as_node(out)
        if out._sig != node._sig:
            if out.shape == node.shape and const_value(out) is not None:
                out = F.constant(const_value(out), dtype=node.dtype)
            elif out.shape != node.shape and out.dtype == node.dtype and _grows_to(out, node):
                out = F.broadcast_to(out, node.shape)
            else:
                continue
            if out is node:
                continue
        if trace is not None:
            trace.append(Step(r.name, r.doc, r.origin, r.phase, node, out))
        return out
    return None


def _grows_to(small, node):
    try:
        return F.broadcast_to(small, node.shape).shape == node.shape
    except Exception:  # does not broadcast: the rule is skipped
        return False


# Each node's Node._normal records what is known: True when it is in normal form (no rule
# fires at it or anywhere below), else, for graphs simplified before, its normal form. Graphs
# are immutable, so both stay true: a repeated simplify (and the shared parts of the loss and
# its gradient) cost a lookup per node.
_set_normal = Node._normal.__set__


def _normalize(roots, trace):
    """Bottom-up rewriting in one walk: a node is rewritten once its inputs are in normal form,
    and a rule's result is normalized in turn (only its new nodes are visited), so no second
    pass over the graph is needed. Iterative: depth is no limit. While tracing, only nodes
    known to be normal are skipped, so explain reports every rule that fires."""
    tracing = trace is not None
    done = {}                      # node -> its normal form, for this call
    steps = {}                     # node -> rewrites taken to reach it (a bound against cycles)
    redirect = {}                  # node -> the node it was rewritten to, not yet normal
    keep = []                      # nodes whose normal form is recorded at the end
    pending = {}                   # (op, inputs) -> result, for nodes rewritten unbuilt
    stack = list(roots)
    pop, push, keep_node = stack.pop, stack.append, keep.append
    done_get = done.get
    candidates_get, make, rewrite = _CANDIDATES.get, Node._make, _rewrite_once
    split_get, pending_get = _SPLITS.get, pending.get
    while stack:
        n = stack[-1]
        if n in done:
            pop()
            continue
        known = n._normal
        if known is not None and (known is True or not tracing):
            done[n] = n if known is True else known
            pop()
            continue
        if n in redirect:          # (a membership test: no call for the common miss)
            to = redirect[n]
            if to in done:
                done[n] = done[to]
                pop()
            else:
                push(to)
            continue
        ins = n.inputs             # inputs done this call: the common arities spelled out
        arity = len(ins)
        if arity == 2 and (a := done_get(ins[0])) is not None and \
                (b := done_get(ins[1])) is not None:
            inputs, changed, key = (a, b), a is not ins[0] or b is not ins[1], (n.op, a.op, b.op)
        elif arity == 1 and (a := done_get(ins[0])) is not None:
            inputs, changed, key = (a,), a is not ins[0], (n.op, a.op)
        else:
            inputs, waiting, changed = [], False, False
            for i in ins:
                form = done_get(i)
                if form is None:
                    form = i._normal
                    if form is True:
                        form = i
                    elif form is None or tracing:
                        push(i)
                        waiting = True
                        continue
                inputs.append(form)
                changed = changed or form is not i
            if waiting:
                continue
            inputs = tuple(inputs)
            key = (n.op, *[i.op for i in inputs])
        rules = None
        count = steps[n] if n in steps else 0
        if changed and not tracing and n.attrs is _NO_ATTRS:   # (every empty attrs is it)
            # a rule of the inputs alone first (x * 1 -> x): whose result is already normal
            # needs no node built for it (the node would only be replaced at once)
            split = split_get(key) if count < MAX_STEPS_PER_NODE else None
            if split is None and count < MAX_STEPS_PER_NODE and key in _CANDIDATES:
                split = _split(key)
            if split is not None:
                first, rules = split     # the rules left to try once the node is built
                out = None
                for f, from_here in first:
                    out = f(n, inputs)
                    if out is not None:      # a result, or NEEDS_NODE
                        rules = from_here
                        break
                if type(out) is Node and out._sig == n._sig and out is not n and \
                        out not in redirect and (out.attrs is not _NO_ATTRS or (
                            out.op, out.inputs) not in pending) and \
                        existing(n.op, inputs) is None:
                    # the node op(*inputs) is not built: its rewrite is known by content
                    # (the guard against rules undoing each other asks `pending` for it)
                    keep_node(out)
                    steps[out] = count + 1
                    redirect[n] = out
                    pending[n.op, inputs] = out
                    form = done_get(out)
                    if form is None:
                        push(out)
                    else:
                        done[n] = form
                        pop()
                    continue
        cur = make(n.op, inputs, n.attrs) if changed else n
        if changed:      # (cur is kept, for its normal form, unless it is marked normal here)
            form = done_get(cur)
            if form is None:
                form = cur._normal
                form = cur if form is True else None if tracing else form
            if form is not None:
                keep_node(cur)
                done[n] = form
                pop()
                continue
        elif pending and n.attrs is _NO_ATTRS:
            to = pending_get((n.op, n.inputs))
            if to is not None:     # n is a node rewritten before it was built
                keep_node(cur)
                redirect[n] = to
                continue
        out = None
        if count < MAX_STEPS_PER_NODE:
            if rules is None:
                rules = candidates_get(key)
                if rules is None:
                    rules = _candidates(cur)
            if rules:
                out = rewrite(cur, trace, rules)
        if out is None:
            _set_normal(cur, True)
            done[n] = done[cur] = cur
            pop()
            continue
        if out is n or out in redirect or pending and out.attrs is _NO_ATTRS and (
                out.op, out.inputs) in pending:    # rules that undo each other: stop here
            keep_node(cur)
            done[n] = done[cur] = cur
            pop()
            continue
        keep_node(cur)
        keep_node(out)
        steps[out] = count + 1
        redirect[n] = out
        if changed:
            redirect[cur] = out
        form = done_get(out)     # what the next visit of n would do, without that visit
        if form is None:
            push(out)
        else:
            done[n] = form
            pop()
    results = [done[r] for r in roots]
    if not tracing:
        for n in keep:
            if n._normal is not True and n in done:
                _set_normal(n, done[n])
    return results


def _run(roots, trace=None):
    with cycle_collector_paused():
        out = _normalize(roots, trace)
        _rules.linear.clear_memos()  # (before the collector's pass over what is still alive)
    if trace is None:
        for r, o in zip(roots, out):
            if r is not o:
                _set_normal(r, o)
    return out


def simplify(node):
    """Rewrite a node (or a list of nodes) with the rules until nothing changes.

    The result computes the same function (stability rewrites make it finite where the formula
    as written overflows); `explain` says which rules fired.

    Examples:
        >>> x = lg.input("x", shape=("N",))
        >>> print(lg.simplify(lg.log(1 + lg.exp(x))))
        softplus(x)

    Raises:
        TypeError: node is not a Node, a number or an array.
    """
    single = not isinstance(node, (list, tuple))
    roots = [F.as_node(n) for n in ([node] if single else node)]
    out = _run(roots)
    return out[0] if single else out


def explain(node, tidy=False):
    """simplify, and report each rule that fired: Explanation(result, steps).

    Printed, it shows the rewrites that change the formula (stability forms, identities) and
    one line for the tidying steps (signs, coefficients, shapes); tidy=True lists all.

    Examples:
        >>> x = lg.input("x", shape=("N",))
        >>> print(lg.explain(lg.log(1 + lg.exp(x))).result)
        softplus(x)

    Raises:
        TypeError: node is not a Node, a number or an array.
    """
    trace = []
    result = _run([F.as_node(node)], trace)[0]
    return Explanation(result, trace, tidy=tidy)


# --- NaN guard ---------------------------------------------------------------------------
# op -> positions whose argument makes the derivative singular at some point, and a value
# at which that derivative is finite
SINGULAR = {"log": ((0, 1.0),), "log1p": ((0, 0.0),), "sqrt": ((0, 1.0),),
            "divide": ((1, 1.0),), "xlogy": ((1, 1.0),), "power": ((0, 1.0),)}


def _guarded(branch, cond, active_when):
    """branch = f(x), used only where cond == active_when: every singular op in its elementwise
    part gets a safe argument elsewhere, e.g. x * log(x) -> x * log(where(c, x, 1))."""
    mapped = {}
    for n in elementwise_region(branch):
        args = [mapped.get(id(i), i) for i in n.inputs]
        for pos, safe in SINGULAR.get(n.op, ()):
            x = args[pos]
            if const_value(x) is not None or _already_safe(x, cond, active_when, safe):
                continue
            safe_x = F.where(cond, x, safe) if active_when else F.where(cond, safe, x)
            if safe_x.shape == x.shape and safe_x.dtype == x.dtype:
                args[pos] = safe_x
        mapped[id(n)] = n if all(a is b for a, b in zip(args, n.inputs)) else \
            make(n.op, *args, **n.attrs)
    return mapped.get(id(branch), branch)


def _already_safe(x, cond, active_when, safe):
    """x is where(cond, ...) whose discarded side is already a safe constant (the user's own
    safe-sqrt trick, or an earlier guard): guarding it again would only nest wheres."""
    if x.op != "where" or x.inputs[0] is not cond:
        return False
    v = const_value(x.inputs[2] if active_when else x.inputs[1])
    return v is not None and v.size > 0 and bool(np.all(v == safe) or safe == 1.0 and np.all(v > 0))


def guard_nans(node):
    """where(c, a, f(x)) with a singular f' -> where(c, a, f(where(c, safe, x))), both branches.

    Forward values are unchanged (the guarded entries are the ones where discards), and the
    gradient through the discarded branch is exactly 0 instead of 0 * inf = NaN.

    Examples:
        >>> x = lg.input("x", shape=("N",))
        >>> print(lg.guard_nans(lg.where(x > 0, lg.sqrt(x), 0.0)))
        where(x > 0, sqrt(where(x > 0, x, 1)), 0)
    """
    node = F.as_node(node)
    mapped = {}
    for n in topo_order([node]):
        inputs = [mapped[id(i)] for i in n.inputs]
        if n.op == "where":
            c, a, b = inputs
            inputs = [c, _guarded(a, c, True), _guarded(b, c, False)]
        mapped[id(n)] = n if all(x is y for x, y in zip(inputs, n.inputs)) else \
            make(n.op, *inputs, **n.attrs)
    return mapped[id(node)]


# --- the rule tables as documentation --------------------------------------------------
PHASE_TITLES = {"stability": "Stability rewrites", "algebra": "Identities",
                "fold": "Constant folding", "tidy": "Tidying (normal forms)"}


def rules_markdown(phases=("stability", "algebra", "tidy", "fold")):
    """Every rewrite rule as Markdown tables, one per phase: name, what it does and why, and
    where it is defined (docs/stability.md is this text; a test keeps it current)."""
    lines = []
    for phase in phases:
        rules = [r for r in RULES if r.phase == phase]
        lines += [f"## {PHASE_TITLES[phase]} ({len(rules)})", "", "| rule | rewrite, and why |"
                  " defined at |", "| --- | --- | --- |"]
        lines += [f"| `{r.name}` | {r.doc.replace('|', '&#124;')} | `lossgraph/rules/"
                  f"{r.origin.split(':')[0]}` |" for r in rules]
        lines.append("")
    return "\n".join(lines)
