"""fold: constant subgraphs become constants."""
from __future__ import annotations

import numpy as np

from .. import api as F
from .. import dtypes as dt
from ..ops import OPS
from ..patterns import const_value, generic_rule

FOLD_LIMIT = 100_000
UNFOLDED = frozenset({"broadcast_to"})   # const_value sees through these; folding only bloats


def _all_constant(op, input_ops):
    return bool(input_ops) and all(o in ("constant", "broadcast_to") for o in input_ops)


@generic_rule("constant-fold", "fold", "op(constants) -> constant, for small static shapes",
              admits=_all_constant)
def fold(node):
    """op(constants...) -> constant, for small static shapes."""
    op = OPS[node.op]
    if op.kind == "leaf" or not node.inputs or op.impl is None or node.op in UNFOLDED:
        return None
    values = [const_value(i) for i in node.inputs]
    if any(v is None for v in values) or not all(
            isinstance(d, int) for n in (node, *node.inputs) for d in n.shape):
        return None   # a symbolic dim (sum of ones over N is N): not a constant
    if int(np.prod(node.shape)) > FOLD_LIMIT:
        return None
    args = [np.broadcast_to(v, i.shape) for v, i in zip(values, node.inputs)]
    kw = dict(node.attrs)
    if op.wants_shape:
        kw["out_shape"] = node.shape
    with np.errstate(all="ignore"):
        try:
            out = np.asarray(op.impl(*args, **kw))
        except Exception:  # an op that rejects these constants (labels out of range): leave it
            return None
    return F.constant(out.astype(dt.numpy_dtype(node.dtype)), dtype=node.dtype)

