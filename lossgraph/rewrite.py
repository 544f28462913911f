"""simplify, explain and guard_nans: pattern rules (lossgraph/rules.py) run to a fixpoint.

Every rewrite keeps the node's shape and dtype (a rule whose result differs is skipped) and
its value. Passes are iterative over a topological order, so deep graphs never recurse.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from . import api as F
from .graph import make, topo_order
from .ops import OPS
from .patterns import RULES, const_value
from . import rules as _rules  # noqa: F401  (importing it registers the rules)

MAX_PASSES = 64
MAX_STEPS_PER_NODE = 64


@dataclass
class Step:
    rule: str
    doc: str
    origin: str
    before: str
    after: str

    def __str__(self):
        return f"{self.rule:26s} {self.before}  ->  {self.after}"


@dataclass
class Explanation:
    """What simplify did: the result and each rule that fired, in order."""
    result: object
    steps: list = field(default_factory=list)

    def __iter__(self):
        return iter(self.steps)

    def __len__(self):
        return len(self.steps)

    @property
    def rules(self):
        return [s.rule for s in self.steps]

    def __str__(self):
        if not self.steps:
            return "no rule fired: the graph is already simplified"
        lines = [f"{len(self.steps)} rewrites:"] + [f"  {s}" for s in self.steps]
        lines.append(f"result: {self.result}")
        return "\n".join(lines)


def _index(rules):
    by_op, generic = {}, []
    for r in rules:
        for op in (r.root_ops or ()):
            by_op.setdefault(op, []).append((r.name, r.apply, r.doc, r.origin))
        if r.root_ops is None:
            generic.append((r.name, r.apply, r.doc, r.origin))
    return by_op, generic


_BY_OP, _GENERIC = _index(RULES)


def _rewrite_once(node, trace):
    """The first applicable rule's result at this node (shape and dtype kept), or None."""
    for name, apply, doc, origin in _BY_OP.get(node.op, []) + _GENERIC:
        out = apply(node)
        if out is None or out is node:
            continue
        out = F.as_node(out)
        if out.shape != node.shape or out.dtype != node.dtype:
            if out.shape == node.shape and const_value(out) is not None:
                out = F.constant(const_value(out), dtype=node.dtype)
            elif out.shape != node.shape and out.dtype == node.dtype and _grows_to(out, node):
                out = F.broadcast_to(out, node.shape)
            else:
                continue
            if out is node:
                continue
        if trace is not None:
            from .printing import to_text
            trace.append(Step(name, doc, origin, to_text(node, max_len=120),
                              to_text(out, max_len=120)))
        return out
    return None


def _grows_to(small, node):
    try:
        return F.broadcast_to(small, node.shape).shape == node.shape
    except Exception:  # does not broadcast: the rule is skipped
        return False


# Nodes in normal form: no rule fires at them or anywhere below. Graphs are immutable, so
# this stays true; it makes a fixpoint pass (and a repeated simplify) linear and cheap.
_NORMAL: "weakref.WeakSet" = weakref.WeakSet()


def _pass(roots, trace):
    mapped = {}
    for node in topo_order(roots):
        if node in _NORMAL:
            mapped[id(node)] = node
            continue
        inputs = tuple(mapped[id(i)] for i in node.inputs)
        cur = node if all(a is b for a, b in zip(inputs, node.inputs)) else \
            make(node.op, *inputs, **node.attrs)
        for _ in range(MAX_STEPS_PER_NODE):
            nxt = _rewrite_once(cur, trace)
            if nxt is None:
                if all(i in _NORMAL for i in cur.inputs):
                    _NORMAL.add(cur)
                break
            cur = nxt
        mapped[id(node)] = cur
    return [mapped[id(r)] for r in roots]


def _run(roots, trace=None):
    for _ in range(MAX_PASSES):
        new = _pass(roots, trace)
        if all(a is b for a, b in zip(new, roots)):
            return new
        roots = new
    return roots


def simplify(node):
    """Rewrite a node (or a list of nodes) with the rules until nothing changes."""
    single = not isinstance(node, (list, tuple))
    roots = [F.as_node(n) for n in ([node] if single else node)]
    out = _run(roots)
    return out[0] if single else out


def explain(node):
    """simplify, and report each rule that fired: Explanation(result, steps)."""
    trace = []
    result = _run([F.as_node(node)], trace)[0]
    return Explanation(result, trace)


# --- NaN guard ---------------------------------------------------------------------------
# op -> positions whose argument makes the derivative singular at some point, and a value
# at which that derivative is finite
SINGULAR = {"log": ((0, 1.0),), "log1p": ((0, 0.0),), "sqrt": ((0, 1.0),),
            "divide": ((1, 1.0),), "xlogy": ((1, 1.0),), "power": ((0, 1.0),)}


def _guarded(branch, cond, active_when):
    """branch = f(x), used only where cond == active_when: every singular op in its elementwise
    part gets a safe argument elsewhere, e.g. x * log(x) -> x * log(where(c, x, 1))."""
    mapped = {}
    for n in _elementwise_region(branch):
        args = [mapped.get(id(i), i) for i in n.inputs]
        for pos, safe in SINGULAR.get(n.op, ()):
            x = args[pos]
            if const_value(x) is not None:
                continue
            safe_x = F.where(cond, x, safe) if active_when else F.where(cond, safe, x)
            if safe_x.shape == x.shape and safe_x.dtype == x.dtype:
                args[pos] = safe_x
        mapped[id(n)] = n if all(a is b for a, b in zip(args, n.inputs)) else \
            make(n.op, *args, **n.attrs)
    return mapped.get(id(branch), branch)


GUARD_DEPTH = 6   # how far below a where's branch singular ops are looked for


def _elementwise_region(root):
    """The elementwise nodes within GUARD_DEPTH of root through elementwise nodes other than
    where (a nested where guards its own branches), inputs first. Bounded, so guarding a chain
    of n wheres costs O(n), not O(n^2)."""
    if OPS[root.op].kind != "elementwise":
        return []
    order, seen, stack = [], set(), [(root, 0, False)]
    while stack:
        n, depth, done = stack.pop()
        if done:
            order.append(n)
            continue
        if id(n) in seen:
            continue
        seen.add(id(n))
        stack.append((n, depth, True))
        if n.op == "where" and n is not root or depth >= GUARD_DEPTH:
            continue
        stack.extend((i, depth + 1, False) for i in n.inputs
                     if id(i) not in seen and OPS[i.op].kind == "elementwise")
    return order


def guard_nans(node):
    """where(c, a, f(x)) with a singular f' -> where(c, a, f(where(c, safe, x))), both branches.

    Forward values are unchanged (the guarded entries are the ones where discards), and the
    gradient through the discarded branch is exactly 0 instead of 0 * inf = NaN.
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
