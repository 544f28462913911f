"""Fallback steps of ops that run per sample (the op record's `batch`: CTC), in two parts of
their batch axis on two threads.

    value = run(node, by_id, env, memo, threads)

With threads=2 and at least SPLIT_FROM elements in the first input, the batch is cut in
halves: the second runs on a worker thread (NumPy releases the GIL in its loops) while the
calling thread runs the first, and the parts are joined along the output's batch axis. Each
part has its own memo (ctc_loss and ctc_grad of the same half share one forward recursion).
The samples do not interact, so the result has the bits of one call; an error in a part
(an input the op rejects) is raised by one call over the whole batch, so that it names the
sample by its index there.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from lossgraph.errors import LossgraphError
from lossgraph.evaluate import _apply
from lossgraph.ops import OPS

#: elements of the first input from which a batched fallback op runs in two parts: CTC at
#: T = 50, N = 20000, C = 10 (1e7) took 0.80 s in one call (NumPy's recursions), a thread
#: handoff costs tens of us
SPLIT_FROM = 1 << 16

_POOL = []
_LOCK = threading.Lock()


def _worker():
    with _LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="lossgraph"))
        return _POOL[0]


def _part(node, by_id, axes, lo, hi):
    out = {}
    for i, axis in zip(node.inputs, axes):
        a = by_id[id(i)]
        out[id(i)] = a[(slice(None),) * axis + (slice(lo, hi),)]
    return out


def run(node, by_id, env, memo, threads):
    """node's value from its inputs' arrays (by_id), in two parts when it may be. memo: what
    lossgraph.evaluate's _Memos gives node in this call (a dict while another fallback step
    shares node's first input, else None); the parts keep their own memos in it."""
    op = OPS[node.op]
    first = by_id[id(node.inputs[0])]
    if op.batch is None or threads < 2 or first.size < SPLIT_FROM:
        return _apply(node, by_id, env, memo=memo)
    axes, out_axis = op.batch
    n = first.shape[axes[0]]
    if n < 2:
        return _apply(node, by_id, env, memo=memo)
    cut = n // 2
    key = ("parts", axes, cut)          # the same views for each op (the memo's check)
    parts = memo.get(key) if memo is not None else None
    if parts is None:
        parts = [_part(node, by_id, axes, 0, cut), _part(node, by_id, axes, cut, n)]
        if memo is not None:
            memo[key] = parts
    halves = [memo.setdefault(k, {}) for k in (0, 1)] if memo is not None else [None, None]
    try:
        later = _worker().submit(_apply, node, parts[1], env, memo=halves[1])
        try:
            head = _apply(node, parts[0], env, memo=halves[0])
        finally:
            tail = later.result()
    except LossgraphError:
        return _apply(node, by_id, env)       # the error, naming the sample in the batch
    return np.concatenate([head, tail], axis=out_axis)
