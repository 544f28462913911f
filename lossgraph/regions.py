"""The elementwise region below a node: where rewrites that reason about a branch look."""
from __future__ import annotations

from .ops import OPS

REGION_DEPTH = 6   # how far below a node the region reaches (keeps chains of wheres linear)


def elementwise_region(root, depth=REGION_DEPTH, enter_where=False):
    """Elementwise nodes within `depth` of root through elementwise nodes, inputs first.

    A nested where is included but not entered unless enter_where (it handles its own
    branches). Bounded, so visiting a chain of n wheres costs O(n), not O(n^2)."""
    if OPS[root.op].kind != "elementwise":
        return []
    order, seen, stack = [], set(), [(root, 0, False)]
    while stack:
        n, d, done = stack.pop()
        if done:
            order.append(n)
            continue
        if id(n) in seen:
            continue
        seen.add(id(n))
        stack.append((n, d, True))
        if (n.op == "where" and n is not root and not enter_where) or d >= depth:
            continue
        stack.extend((i, d + 1, False) for i in n.inputs
                     if id(i) not in seen and OPS[i.op].kind == "elementwise")
    return order
