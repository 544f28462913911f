"""The reference evaluator's elementwise regions, run in cache-sized chunks.

A region is a set of elementwise nodes over one iteration shape S (every input of exactly
shape S, or of size 1), plus the reductions that consume them where chunking keeps the bits:

- flat regions: the arrays are walked as 1-D, in chunks; a sum over all axes is summed leaf
  by leaf of NumPy's pairwise tree (numpy/_core/src/umath/loops_utils.h.src `pairwise_sum`:
  a segment of more than 128 elements splits at n2 = n / 2 rounded down to a multiple of 8),
  each leaf by np.add.reduce, and the leaves are added in the same tree: the bits of np.sum.
- row regions (a reduction over trailing axes consumes them): chunks are runs of rows
  (leading axis), and the reduction's impl reduces each run: a row's reduction does not
  depend on the rows around it.

Each op is applied through its op-table impl (`out=` into a chunk-sized scratch buffer or
into a slice of its full-size result where it `writes_out`), so a chunk gives the bits the
whole array gives. Values used only inside the region live in scratch reused across
chunks; values that escape (outputs, read by other nodes) are written chunk by chunk into
full-size arrays, which may be a dying input's buffer. Ops that need the whole array (shares,
wants_shape, any kind but elementwise) end a region.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from . import dtypes as dt
from .errors import LossgraphError
from .lru import LRU
from .ops import OPS
from .ops.elementwise import CHUNK as PART
from .ops.reduce import COLUMNS_FROM
from .shapes import resolve_dim

ENABLED = True       # False: every node op by op (the tests' reference for the chunked bits)
# elements per chunk of 8-byte values: the parts sigmoid and softplus already run in (256 KB,
# well inside the 2 MB L2); a region whose widest values are float32 takes twice as many
CHUNK = PART
# Regions whose arrays are smaller run op by op: below about 1 MB they sit in the L2 cache
# anyway and chunks only add calls (MSE, BCE, Huber loss + gradient, chunked / op by op, one
# run: 1.11, 1.03, 1.02 at 120,000 float32 elements; 0.98, 0.94, 0.97 at 250,000).
MIN_BYTES = 1 << 20
ALIGN = 64           # flat chunks without a pairwise sum start at multiples of this
# Row chunks hold at least this many elements: the reductions over a short last axis take
# their column loop from there on (ops/reduce.py `_columns`), NumPy's row loop below, and the
# two differ in float32 sums and in the sign of a zero max.
ROWS_MIN = COLUMNS_FROM


def pairwise_leaves(n, leaf):
    """(start, stop) of the segments NumPy's pairwise sum of n elements splits into, down to
    segments of at most `leaf` (>= 128) elements, in order."""
    out, stack = [], [(0, n)]
    while stack:
        lo, m = stack.pop()
        if m <= leaf:
            out.append((lo, lo + m))
            continue
        m2 = m // 2
        m2 -= m2 % 8
        stack.append((lo + m2, m - m2))
        stack.append((lo, m2))
    return out


def pairwise_combine(n, leaf, parts):
    """The leaves' sums (in pairwise_leaves order, each np.add.reduce with initial=-0.0, so
    exactly its segment's pairwise sum) added as NumPy's pairwise tree adds them, onto the
    reduction's identity +0.0 as np.add.reduce does (a sum of -0.0s is +0.0)."""
    it = iter(parts)

    def walk(m):
        if m <= leaf:
            return next(it)
        m2 = m // 2
        m2 -= m2 % 8
        left = walk(m2)
        return left + walk(m - m2)
    total = walk(n)
    return type(total)(0.0) + total


def pairwise_sum(x, leaf):
    """np.add.reduce(x) of a contiguous 1-D float array, bit for bit, by leaves of <= leaf."""
    zero = x.dtype.type(-0.0)
    parts = [np.add.reduce(x[a:b], initial=zero) for a, b in pairwise_leaves(x.size, leaf)]
    return pairwise_combine(x.size, leaf, parts)


# Reductions over all axes a flat region can take, keyed by op name, with how the chunks'
# partial results are made and combined into the bits of the op's impl: "pairwise", the
# leaves and tree above (np.sum; a max or min is not here: which zero of -0.0 and 0.0 it
# keeps depends on the order it meets them).
FULL_REDUCTIONS = {"sum": "pairwise"}


@dataclass(eq=False)
class Region:
    """Members (elementwise, in topological order) and sinks (reductions of members), run
    together chunk by chunk; mode "flat" or "rows" (None until a sink decides)."""
    shape: tuple
    members: list = field(default_factory=list)
    sinks: list = field(default_factory=list)
    mode: str = None
    needs: set = field(default_factory=set)       # regions that must run before this one


def _size(shape):
    return math.prod(shape)


class _Finder:
    """Regions of one topological order, for concrete dims and float dtype."""

    def __init__(self, order, env, keep):
        self.order, self.keep = order, keep
        self.pos = {id(n): k for k, n in enumerate(order)}
        self.shape = {id(n): _resolved(n, env.dims) for n in order}
        self.dtype = {id(n): dt.numpy_dtype(n.dtype, env.float_dtype) for n in order}
        self.region_of, self.sink_of, self.after = {}, {}, {}
        self.regions = []
        self.consumers = {}
        for n in order:
            for i in n.inputs:
                self.consumers.setdefault(id(i), []).append(n)

    def pre(self, i):
        """Regions that must have run before input i is available."""
        r = self.region_of.get(id(i)) or self.sink_of.get(id(i))
        return {r} if r is not None else self.after.get(id(i), set())

    def reaches(self, q, r):
        """Whether region q must run after region r (q needs r, directly or not)."""
        seen, stack = set(), [q]
        while stack:
            x = stack.pop()
            if x is r:
                return True
            if id(x) in seen:
                continue
            seen.add(id(x))
            stack.extend(x.needs)
        return False

    def legal(self, n, r):
        """n may join r: no input of n needs r to have run (no cycle through other nodes)."""
        for i in n.inputs:
            if self.region_of.get(id(i)) is r:
                continue
            if any(q is r or self.reaches(q, r) for q in self.pre(i)):
                return False
        return True

    def join(self, n, r, as_sink=False):
        """Add n to r; r then needs whatever n's outside inputs need."""
        for i in n.inputs:
            if self.region_of.get(id(i)) is not r:
                r.needs |= self.pre(i)
        (r.sinks if as_sink else r.members).append(n)
        (self.sink_of if as_sink else self.region_of)[id(n)] = r

    def member_shape(self, n):
        """The iteration shape n can be a member over, or None."""
        op = OPS[n.op]
        s = self.shape[id(n)]
        if op.kind != "elementwise" or op.shares or op.wants_shape or s is None:
            return None
        wide = max(self.dtype[id(x)].itemsize for x in (n, *n.inputs))
        if _size(s) * wide < MIN_BYTES:
            return None
        for i in n.inputs:
            si = self.shape[id(i)]
            if si is None or (si != s and _size(si) != 1):
                return None
        return s

    def sink_mode(self, n, r):
        """"flat" or "rows" when reduction n of a member of r can be a sink of r, else None."""
        op = OPS[n.op]
        if op.kind != "reduction" or op.shares or op.wants_shape:
            return None
        x, axes, ndim = n.inputs[0], tuple(n.attrs["axis"]), len(r.shape)
        if axes == tuple(range(ndim)):
            same = self.dtype[id(n)] == self.dtype[id(x)]
            ok = n.op in FULL_REDUCTIONS and same and self.dtype[id(x)].kind == "f"
            return "flat" if ok else None
        return "rows" if ndim >= 2 and 0 not in axes else None

    def find(self):
        """The regions worth chunking: each node joins a region of its inputs (or another of
        its shape) where no cycle arises, a reduction of a member joins as a sink."""
        for n in self.order:
            s = self.member_shape(n)
            if s is not None:
                self._place(n, s)
                continue
            if OPS[n.op].kind == "reduction" and n.inputs and id(n.inputs[0]) in self.region_of:
                r = self.region_of[id(n.inputs[0])]
                mode = self.sink_mode(n, r)
                if mode is not None and r.mode in (None, mode) and self.legal(n, r):
                    r.mode = mode
                    self.join(n, r, as_sink=True)
                    continue
            self.after[id(n)] = set().union(*(self.pre(i) for i in n.inputs))
        return [r for r in self.regions if r.sinks or self.internal(r) >= 2]

    def internal(self, r):
        """How many members no node outside r reads: the full-size arrays r saves. (Op by op
        the evaluator writes in place into dying buffers, so chunking a region that saves
        fewer only adds per-chunk calls: (softmax - one_hot) / N ran 5% slower chunked.)"""
        inside = {id(n) for n in r.members + r.sinks}
        return sum(1 for m in r.members if id(m) not in self.keep and
                   all(id(c) in inside for c in self.consumers.get(id(m), ())))

    def _place(self, n, s):
        """Put member n in its inputs' region, another region of shape s, or a new one."""
        own = [self.region_of[id(i)] for i in n.inputs if id(i) in self.region_of]
        others = [r for r in reversed(self.regions) if r.shape == s]
        for r in own + others:
            if r.shape == s and self.legal(n, r):
                self.join(n, r)
                return
        r = Region(s)
        self.regions.append(r)
        self.join(n, r)


def _resolved(n, dims):
    """n's shape with dims resolved, or None when a dim is not bound (never fused)."""
    try:
        return tuple(int(resolve_dim(d, dims)) for d in n.shape)
    except LossgraphError:
        return None


@dataclass(eq=False)
class Step:
    """One node of a region's chunk program."""
    node: object
    impl: object
    kw: dict
    args: list          # per input: ("ext", k) | ("val", program index)
    out: bool           # impl gets out=
    escapes: bool
    slot: int = None    # scratch slot (out-writing members that do not escape)
    sink: str = None    # None (member), "pairwise" or "rows"


@dataclass(eq=False)
class Compiled:
    """A region ready to run: its program, externals, slots and where it sits in the order."""
    region: Region
    nodes: list          # the program's nodes, in order
    steps: list
    externals: list      # nodes read from outside
    full_ext: list       # for each external: whether it has the iteration shape
    slots: list          # numpy dtype of each scratch slot
    dtypes: list         # numpy dtype of each step's value
    shapes: list         # resolved shape of each step's value
    chunk: int           # elements per chunk
    spans: list = None   # (lo, hi) of each chunk (bounds), in elements or in rows


def compile_region(r, finder):
    """Region r as a chunk program: each node's inputs (region values or externals), whether
    its value escapes, whether its impl gets out=, and its scratch slot."""
    nodes = sorted(r.members + r.sinks, key=lambda n: finder.pos[id(n)])
    index = {id(n): j for j, n in enumerate(nodes)}
    inside = set(index)
    consumers = finder.consumers
    externals, ext_index = [], {}
    last_use = {}
    steps = []
    for j, n in enumerate(nodes):
        op = OPS[n.op]
        args = []
        for i in n.inputs:
            if id(i) in index:
                args.append(("val", index[id(i)]))
                last_use[index[id(i)]] = j
            else:
                if id(i) not in ext_index:
                    ext_index[id(i)] = len(externals)
                    externals.append(i)
                args.append(("ext", ext_index[id(i)]))
        dtype = finder.dtype[id(n)]
        sink = None
        if id(n) in finder.sink_of:
            sink = FULL_REDUCTIONS.get(n.op) if r.mode == "flat" else "rows"
        same = all(finder.dtype[id(i)] == dtype for i in n.inputs)
        escapes = id(n) in finder.keep or sink is not None or \
            any(id(c) not in inside for c in consumers.get(id(n), ()))
        steps.append(Step(n, op.impl, dict(n.attrs), args,
                          op.writes_out and same and sink is None, escapes, sink=sink))
    dtypes = [finder.dtype[id(n)] for n in nodes]
    ext_dtypes = [finder.dtype[id(e)] for e in externals]
    _assign_slots(steps, last_use, dtypes)
    slots = []
    for s, d in zip(steps, dtypes):
        if s.slot is not None and s.slot == len(slots):
            slots.append(d)
    c = Compiled(r, nodes, steps, externals,
                 [finder.shape[id(e)] == r.shape for e in externals], slots, dtypes,
                 [finder.shape[id(n)] for n in nodes],
                 CHUNK * 8 // max(d.itemsize for d in dtypes + ext_dtypes))
    c.spans = bounds(c)
    return c


def _assign_slots(steps, last_use, dtypes):
    """Scratch slots for out-writing members that stay inside: a slot is free once every
    value that may live in it is dead (a member without out= may return its input itself,
    so its value holds its inputs' slots). A member may write over an input it reads last."""
    holds = []           # per step: the slots its chunk value may live in
    free_at = {}         # slot -> last program index that reads a value in it
    kinds = {}
    for j, s in enumerate(steps):
        mine = set()
        if s.sink is None and not s.escapes and s.out:
            free = [k for k, f in free_at.items() if f <= j and kinds[k] == dtypes[j]]
            s.slot = min(free) if free else len(free_at)
            kinds[s.slot] = dtypes[j]
            mine = {s.slot}
        elif s.sink is None and not s.escapes:
            mine = set().union(*(holds[a] for kind, a in s.args if kind == "val"))
        holds.append(mine)
        end = last_use.get(j, j)
        for k in mine:
            free_at[k] = max(free_at.get(k, -1), end)
        if s.slot is not None:
            free_at[s.slot] = end
    return holds


def bounds(c):
    """(lo, hi) chunk bounds: in elements of the flat array, or in rows."""
    r = c.region
    if r.mode == "rows":
        row = _size(r.shape[1:])
        per = max(1, -(-max(c.chunk, ROWS_MIN) // max(row, 1)))
        n = r.shape[0]
        cuts = list(range(0, n, per))
        if len(cuts) > 1 and ((n - cuts[-1]) * 2 < per or (n - cuts[-1]) * row < ROWS_MIN):
            cuts.pop()               # no short last chunk: merged into the one before
        return list(zip(cuts, cuts[1:] + [n]))
    n = _size(r.shape)
    if any(s.sink == "pairwise" for s in c.steps):
        return pairwise_leaves(n, c.chunk)
    per = max(ALIGN, c.chunk - c.chunk % ALIGN)
    cuts = list(range(0, n, per))
    if len(cuts) > 1 and (n - cuts[-1]) * 2 < per:
        cuts.pop()
    return list(zip(cuts, cuts[1:] + [n]))


def run_region(c, values, take):
    """Run compiled region c over the values of its externals; returns {id(node): array}
    for the values that escape, or None when an external of the iteration shape is not
    C-contiguous (the caller then runs the nodes op by op). take(j, shape, dtype) -> a dying
    buffer to write step j's escaping result into, or None."""
    r = c.region
    flat = r.mode != "rows"
    ne = len(c.externals)
    vals = [None] * (ne + len(c.steps))     # externals' chunks, then the steps' values
    sliced = []
    for k, (e, full) in enumerate(zip(c.externals, c.full_ext)):
        a = values[id(e)]
        if full:
            if not a.flags.c_contiguous:
                return None
            sliced.append((k, a.reshape(-1) if flat else a))
        else:
            vals[k] = a.reshape(()) if flat else a
    spans = c.spans
    row = 1 if flat else _size(r.shape[1:])
    widest = max(hi - lo for lo, hi in spans) * row
    scratch = [np.empty(widest, d) for d in c.slots]
    tail = () if flat else r.shape[1:]
    views_of = {}        # chunk length -> the scratch views (a few distinct lengths)
    results, partials, program = {}, {}, []
    for j, s in enumerate(c.steps):
        dest = None
        if s.escapes and s.sink != "pairwise":
            buf = take(j, c.shapes[j], c.dtypes[j]) if s.sink is None else None
            full = buf if buf is not None else np.empty(c.shapes[j], c.dtypes[j])
            results[id(s.node)] = full
            dest = full.reshape(-1) if flat and s.sink is None else full
        if s.sink == "pairwise":
            partials[j] = []
        program.append(_step(s, ne + j, [k if kind == "ext" else ne + k for kind, k in s.args],
                             dest, c.dtypes[j], partials.get(j)))
    for lo, hi in spans:
        views = views_of.get(hi - lo)
        if views is None:
            views = views_of[hi - lo] = [b[:(hi - lo) * row].reshape((hi - lo,) + tail)
                                         for b in scratch]
        for k, a in sliced:
            vals[k] = a[lo:hi]
        for run in program:
            run(lo, hi, vals, views)
    for j, got in partials.items():
        total = pairwise_combine(_size(r.shape), c.chunk, got)
        results[id(c.steps[j].node)] = np.full(c.shapes[j], total, c.dtypes[j])
    return results


def _step(s, at, argpos, dest, dtype, partials):
    """The chunk routine of step s: reads vals[argpos], leaves its value in vals[at] (in
    scratch views[s.slot], in dest[lo:hi] when it escapes, or as the impl returned it)."""
    impl, kw, slot = s.impl, s.kw, s.slot
    if partials is not None:
        zero = dtype.type(-0.0)
        i = argpos[0]
        return lambda lo, hi, vals, views: partials.append(
            np.add.reduce(vals[i], initial=zero))
    if s.sink is not None:
        def rows(lo, hi, vals, views):
            np.copyto(dest[lo:hi], impl(*[vals[i] for i in argpos], **kw), casting="unsafe")
        return rows
    if s.out:
        def into(lo, hi, vals, views):
            target = views[slot] if dest is None else dest[lo:hi]
            got = impl(*[vals[i] for i in argpos], out=target, **kw)
            if got is not target:
                np.copyto(target, got, casting="unsafe")
            vals[at] = target
        return into

    def fresh(lo, hi, vals, views):
        got = np.asarray(impl(*[vals[i] for i in argpos], **kw), dtype=dtype)
        if dest is not None:
            np.copyto(dest[lo:hi], got, casting="unsafe")
            got = dest[lo:hi]
        vals[at] = got
    return fresh


class Schedule:
    """The order's units: nodes run one by one and compiled regions, in a topological
    order of the units (a region runs once everything it reads exists)."""

    def __init__(self, units, flat):
        self.units, self.flat = units, flat


def schedule(order, env, keep):
    """The units of order (nodes and Compiled regions), regions found for env's dims."""
    key = (tuple(order), tuple(sorted(env.dims.items())), env.float_dtype,
           frozenset(keep), CHUNK, MIN_BYTES)
    got = _CACHE.get(key)
    if got is None:
        got = _CACHE.put(key, _schedule(order, env, keep))
    return got


_CACHE = LRU(32)


def _schedule(order, env, keep):
    f = _Finder(order, env, keep)
    regions = f.find()
    if not regions:
        return Schedule(list(order), list(order))
    compiled = {id(r): compile_region(r, f) for r in regions}
    unit_of = {}
    for r in regions:
        for n in r.members + r.sinks:
            unit_of[id(n)] = compiled[id(r)]
    units = [unit_of.get(id(n), n) for n in order]
    seen, uniq = set(), []
    for u in units:
        if id(u) not in seen:
            seen.add(id(u))
            uniq.append(u)
    key = {id(u): (f.pos[id(u.nodes[-1])] if isinstance(u, Compiled) else f.pos[id(u)])
           for u in uniq}
    deps = {id(u): set() for u in uniq}
    users = {id(u): [] for u in uniq}
    for u in uniq:
        for n in (u.nodes if isinstance(u, Compiled) else [u]):
            for i in n.inputs:
                d = unit_of.get(id(i), i)
                if d is not u and id(d) not in deps[id(u)]:
                    deps[id(u)].add(id(d))
                    users[id(d)].append(u)
    waiting = {id(u): len(deps[id(u)]) for u in uniq}
    tie = {id(u): k for k, u in enumerate(uniq)}
    ready = [(key[id(u)], tie[id(u)], u) for u in uniq if not waiting[id(u)]]
    heapq.heapify(ready)
    out = []
    while ready:
        _, _, u = heapq.heappop(ready)
        out.append(u)
        for v in users[id(u)]:
            waiting[id(v)] -= 1
            if not waiting[id(v)]:
                heapq.heappush(ready, (key[id(v)], tie[id(v)], v))
    if len(out) != len(uniq):      # a cycle through a region: the finder's checks failed
        raise AssertionError("chunked: the regions' units have no topological order")
    flat = [n for u in out for n in (u.nodes if isinstance(u, Compiled) else [u])]
    return Schedule(out, flat)
