"""A compiled loss on Dask arrays chunked along the batch axis: lazy loss and gradients.

    loss, (dlogits,) = codegen.dask.value_and_grad(kernel, logits=X, labels=Y)
    loss, dlogits = dask.compute(loss, dlogits)      # together: one kernel call per block

The loss must be a sum or a mean over the batch of row-separable terms, or a scalar function
of several such sums of which one reads the differentiated inputs (sum(w l) / sum(w), TF's mean
over non-zero weights); codegen.interop.decompose says which, and refuses the rest. Each block runs the kernel of the *sum* once and
keeps its (partial sum, gradient block) pair (one blockwise layer); map_blocks splits the pairs;
the partial sums are added by dask's tree reduction with a pinned split_every, so a given
chunking gives the same bits on every scheduler and every run; the mean's 1/N is evaluated from
the arrays' shapes and applied lazily. Gradients come in wrt order, with the inputs' chunks
(an input without the batch axis gets its block gradients summed the same way).

Blocks find their kernel through a KernelHandle (the graph's JSON and compile options):
pickled in a few kilobytes, compiled once per worker process. precompile(client, kernel) does
that on every worker ahead of time (and on workers that join later).
"""
from __future__ import annotations

import functools
import hashlib

import dask.array as da
import numpy as np

import lossgraph as lg
from lossgraph import dtypes as dt
from lossgraph.errors import InputError, OptionError, ShapeError
from lossgraph.shapes import bind_dims, check_pending

from .calling import gather
from .decompose import SumsPlan, apply_steps, decompose
from .handle import KernelHandle, compiled_here

SPLIT_EVERY = 8


def block_handle(kernel, options=None):
    """(plan, the handle of the per-block kernel: the loss's batch sum, or its sums).

    Examples:
        >>> p, t = lg.input("pred", shape=("N",)), lg.input("target", shape=("N",))
        >>> k = codegen.compile(lg.mean(lg.square(p - t)), wrt=[p])
        >>> plan, handle = codegen.dask.block_handle(k)
        >>> type(plan).__name__, type(handle).__name__
        ('Plan', 'KernelHandle')

    Raises:
        DecompositionError (an OptionError): the loss is not a batch sum or mean of row-separable
            terms (nor a scalar function of such sums); the message says which step is not.
    """
    plan = decompose(kernel)
    sums = list(plan.sums) if isinstance(plan, SumsPlan) else plan.block_sum
    return plan, KernelHandle.of(sums, kernel.schedule.inputs.values(), kernel.wrt,
                                 kernel.backend, kernel.dtype, f"{kernel.name}_block",
                                 **(options or {}))


def value_and_grad(kernel, *arrays, split_every=SPLIT_EVERY, options=None, **named_arrays):
    """(lazy 0-d loss, tuple of lazy gradients in kernel.wrt order) of kernel on dask arrays.

    arrays: positional in kernel.input_names order, or by name; inputs with the batch axis
    must be dask arrays; other axes are rechunked to one chunk, and inputs without the batch
    axis (NumPy or dask) are passed whole to every block. split_every: the tree reduction's
    fan-in (pinned, so the loss's bits depend only on the chunking). options: compile options
    of the block kernel (kernel objects do not record them). Compute the loss and the
    gradients together (dask.compute(loss, *grads)) for one kernel call per block.

    Math: with blocks B_1..B_m of the batch, L = f(sum_j S_j) where S_j is the block kernel's
    sum on B_j (f = identity for a sum, 1/N for a mean), and dL/dx restricted to B_j = f' dS_j/dx.

    Examples:
        >>> import dask, dask.array as da
        >>> p, t = lg.input("pred", shape=("N",)), lg.input("target", shape=("N",))
        >>> k = codegen.compile(lg.mean(lg.square(p - t)), wrt=[p])
        >>> X = da.from_array(np.array([1.0, 2.0, 3.0, 4.0]), chunks=2)
        >>> loss, (g,) = codegen.dask.value_and_grad(k, pred=X, target=da.zeros(4, chunks=2))
        >>> dask.compute(loss, g)          # 30 / 4 and 2 x / 4
        (np.float64(7.5), array([0.5, 1. , 1.5, 2. ]))

    Raises:
        OptionError: split_every not an int >= 2; DecompositionError (an OptionError) for a loss
            that does not split into batch blocks.
        InputError: a missing, unknown or doubled input; a batched input that is not a dask
            array.
        ShapeError / DTypeError: arrays that do not fit the kernel's inputs.
    """
    if not isinstance(split_every, int) or isinstance(split_every, bool) or split_every < 2:
        raise OptionError(f"value_and_grad: split_every must be an int >= 2 (the tree "
                          f"reduction's fan-in), got {split_every!r}")
    plan, handle = block_handle(kernel, options)
    names, nodes = kernel.input_names, list(kernel.schedule.inputs.values())
    given = gather(kernel, arrays, named_arrays, "arrays")
    batch = plan.batch_dim
    batched = [node.ndim and node.shape[0] == batch for node in nodes]
    dims = _global_dims(kernel, names, nodes, given)
    float_dtype = _float_dtype(nodes, given, kernel.dtype)
    given = _chunked(kernel, names, nodes, given, batched)

    args, letters = [], iter(f"a{i}" for i in range(10_000))
    for a, b in zip(given, batched):
        index = ("b",) if b else ()
        index += tuple(next(letters) for _ in range(a.ndim - len(index)))
        args += [a, index]
    pairs = da.blockwise(_run_block, ("b",), *args, handle=handle, concatenate=True,
                         adjust_chunks={"b": 1}, dtype=object,
                         meta=np.empty((0,), dtype=object), name=_name("lossgraph-block",
                                                                         handle, given))
    if isinstance(plan, SumsPlan):
        return _sums_loss_and_grads(kernel, plan, pairs, given, batched, dims, float_dtype,
                                    split_every)
    steps = plan.factors(dims, float_dtype)
    loss = _total(pairs, 0, float_dtype, split_every)
    for op, c in steps:     # lazy, on the 0-d sum: the same arithmetic as apply_steps
        loss = da.map_blocks(_step_value, loss, op=op, c=c, dtype=float_dtype)
    grads = []
    for k, w in enumerate(kernel.wrt):
        p = names.index(w)
        if batched[p]:
            grads.append(_batch_grad(pairs, k, given[p], steps, float_dtype))
        else:
            grads.append(_summed_grad(pairs, k, given[p], steps, float_dtype, split_every))
    return loss, tuple(grads)


def _global_dims(kernel, names, nodes, given):
    """The symbolic dims bound by the whole arrays' shapes (evaluate's rules and errors)."""
    dims, sources, pending = {}, {}, []
    for n, node, a in zip(names, nodes, given):
        shape = np.shape(a) if not hasattr(a, "shape") else tuple(a.shape)
        if any(isinstance(s, float) and np.isnan(s) for s in shape):
            raise ShapeError(f"{kernel.name}: input {n!r} has unknown chunk sizes "
                             f"(compute_chunk_sizes() first)")
        pending += bind_dims(node.shape, shape, dims, f"input {n!r}", sources)
        dtype = a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype
        dt.coerce(node.dtype, np.empty((0,), dtype), f"input {n!r}")   # now, not at compute
    check_pending(pending, dims)
    return dims


def _float_dtype(nodes, given, fixed):
    if fixed:
        return np.dtype(fixed)
    floats = [np.dtype(a.dtype).name for node, a in zip(nodes, given) if node.dtype == "float"]
    return np.dtype(dt.promote(*floats) if floats else "float64")


def _chunked(kernel, names, nodes, given, batched):
    """Dask arrays: batch inputs chunked alike along axis 0 and whole along the others;
    the rest in one chunk."""
    out, rows = [], None
    for n, node, a, b in zip(names, nodes, given, batched):
        if b and not isinstance(a, da.Array):
            raise InputError(f"{kernel.name}: input {n!r} has the batch axis; expected a dask "
                             f"array chunked along it, got {type(a).__name__}")
        a = a if isinstance(a, da.Array) else da.from_array(np.asarray(a), chunks=-1)
        if b:
            rows = rows or a.chunks[0]
            a = a.rechunk((rows,) + (-1,) * (a.ndim - 1))
        else:
            a = a.rechunk(-1)
        out.append(a)
    if rows is None:
        raise InputError(f"{kernel.name}: no input carries the batch axis; nothing to chunk")
    return out


def _name(prefix, handle, arrays):
    h = hashlib.sha256(handle.token.encode())
    for a in arrays:
        h.update(a.name.encode())
    return f"{prefix}-{h.hexdigest()[:24]}"


def _run_block(*blocks, handle):
    out = handle.kernel()(*blocks)
    value, grads = out if handle.wrt else (out, ())
    cell = np.empty((1,), dtype=object)     # one block of the pairs array: (partial, grads)
    cell[0] = (np.asarray(value), tuple(grads))
    return cell


def _partial(pair, i):
    return np.asarray(pair[0][0]).reshape(-1)[i:i + 1]


def _total(pairs, i, float_dtype, split_every):
    """The tree-reduced sum of the blocks' i-th partial sums (a lazy 0-d array)."""
    partials = da.map_blocks(_partial, pairs, i=i, dtype=float_dtype,
                             meta=np.empty((0,), dtype=float_dtype))
    return partials.sum(split_every=split_every)


def _sums_loss_and_grads(kernel, plan, pairs, given, batched, dims, float_dtype, split_every):
    """loss = F(totals); d loss/dx = dF/dS_1(totals) * dS_1/dx, per block (SumsPlan)."""
    totals = [_total(pairs, i, float_dtype, split_every) for i in range(len(plan.sums))]
    outer, d_outer = plan.functions(dims, kernel.wrt)
    names = [s.attrs["name"] for s in plan.slots]
    loss = da.map_blocks(_outer_value, *totals, graph=lg.to_json(outer), names=names,
                         dtype=float_dtype)
    if d_outer is None:
        return loss, ()
    coef = da.map_blocks(_outer_value, *totals, graph=lg.to_json(d_outer), names=names,
                         dtype=float_dtype)
    grads = []
    for k, w in enumerate(kernel.wrt):
        p = kernel.input_names.index(w)
        a = given[p]
        if batched[p]:
            extra = {f"g{i}": a.shape[i] for i in range(1, a.ndim)}
            grads.append(da.blockwise(
                _scaled_grad_block, ("b",) + tuple(extra), pairs, ("b",), coef, (), k=k,
                new_axes=extra, adjust_chunks={"b": a.chunks[0]}, dtype=float_dtype,
                meta=np.empty((0,) * a.ndim, dtype=float_dtype)))
        else:
            grads.append(_summed_grad(pairs, k, a, (), float_dtype, split_every) * coef)
    return loss, tuple(grads)


def _outer_value(*totals, graph, names):
    """F (or dF/dS_1) of the totals, by the reference evaluator, in the totals' dtype."""
    node = _graph(graph)
    used = {n.attrs["name"] for n in lg.topo_order([node]) if n.op == "input"}
    value = lg.evaluate(node, {n: t for n, t in zip(names, totals) if n in used})
    return np.asarray(value, dtype=np.asarray(totals[0]).dtype)


@functools.lru_cache(maxsize=64)
def _graph(text):
    return lg.from_json(text)


def _scaled_grad_block(pair, coef, k):
    g = pair[0][1][k]
    return np.asarray(coef, dtype=g.dtype) * g


def _step_value(v, op, c):
    return apply_steps(((op, c),), value=v)[0]


def _grad_block(pair, k, steps):
    return apply_steps(steps, grad=pair[0][1][k])[1]


def _batch_grad(pairs, k, a, steps, float_dtype):
    extra = {f"g{i}": a.shape[i] for i in range(1, a.ndim)}
    return da.blockwise(_grad_block, ("b",) + tuple(extra), pairs, ("b",), k=k, steps=steps,
                        new_axes=extra, adjust_chunks={"b": a.chunks[0]},
                        dtype=float_dtype, meta=np.empty((0,) * a.ndim, dtype=float_dtype))


def _partial_grad(pair, k):
    return np.asarray(pair[0][1][k])[None]


def _summed_grad(pairs, k, a, steps, float_dtype, split_every):
    extra = {f"g{i}": a.shape[i] for i in range(a.ndim)}
    parts = da.blockwise(_partial_grad, ("b",) + tuple(extra), pairs, ("b",), k=k,
                         new_axes=extra, dtype=float_dtype,
                         meta=np.empty((0,) * (a.ndim + 1), dtype=float_dtype))
    total = parts.sum(axis=0, split_every=split_every)
    for op, c in steps:
        total = da.map_blocks(_step_grad, total, op=op, c=c, dtype=float_dtype)
    return total


def _step_grad(g, op, c):
    return apply_steps(((op, c),), grad=g)[1]


# --- workers -------------------------------------------------------------------------------

def precompile(client, kernel, options=None):
    """Compile kernel's block kernel on every worker of a dask.distributed Client now (and on
    workers that join later, through a WorkerPlugin). Returns {worker: compiled tokens}.

    Examples:
        >>> from distributed import Client
        >>> p, t = lg.input("pred", shape=("N",)), lg.input("target", shape=("N",))
        >>> k = codegen.compile(lg.mean(lg.square(p - t)), wrt=[p])
        >>> with Client(processes=False, n_workers=1, dashboard_address=None) as client:
        ...     tokens = codegen.dask.precompile(client, k)
        >>> _, handle = codegen.dask.block_handle(k)
        >>> [handle.token in t for t in tokens.values()]        # one worker, k's block kernel
        [True]

    Raises:
        DecompositionError (an OptionError): as block_handle.
        ImportError: dask.distributed is not installed.
    """
    _, handle = block_handle(kernel, options)
    client.register_plugin(_Precompile([handle]))
    return client.run(compiled_here)


try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:      # distributed is optional: precompile needs it, the rest does not
    WorkerPlugin = object


class _Precompile(WorkerPlugin):
    def __init__(self, handles):
        self.handles = list(handles)
        self.name = "lossgraph-precompile-" + "-".join(h.token[:12] for h in self.handles)

    def setup(self, worker):
        for h in self.handles:
            h.kernel()
