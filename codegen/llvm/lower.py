"""Schedule -> loops in LLVM IR: the lowering tables and the planner that fuses them.

Every op of lossgraph.ops.OPS is in a table (a test checks; reshape is in two: a view when it
only adds or drops size-1 axes, else a fallback):

    ELEMENTWISE   emitted inline, per element, into whichever loop consumes the value
                  (mathlib for exp, log1p, sigmoid, softplus, power, ...; no libm calls)
    REDUCTIONS    sum, prod, max, min over any axes, keepdims: accumulated in the loop that
                  computes their input (float sums and products in float64)
    DECOMPOSED    rewritten into the two tables above before planning:
                  logsumexp(x) = log(sum(e^(x - m))) + m, m = max(x) where finite, else 0
                  softmax(x) = e^(x - m) / sum(e^(x - m)) (0 for an all -inf row);
                  log_softmax(x) = (x - m) - log(sum): x - m exact near the max, where
                  x - (log(sum) + m) lost the digits of log(sum) to m's at large logits
                  one_hot(y)[..., c, ...] = (y == c), the class index read off the loop
    VIEWS         broadcast_to, and reshape that only adds or drops size-1 axes: index maps
    GATHERS       pick(x, y): x read at the label's index (clamped; labels range-checked)
    FALLBACK      op -> reason: computed between native loops, on NumPy arrays, by the op's
                  own NumPy implementation (the record lg.evaluate runs; for CTC the same
                  forward-backward the NumPy backend pastes into its source)

Planning (`plan`): values that must exist as arrays ("sinks": reductions, outputs, operands of
fallback ops) are grouped into loop nests by iteration space. A sink joins an earlier nest of
the same space when everything it reads is ready before that nest; one that reads a row
reduction of that nest (reduced over trailing axes only) joins it as a later *phase*: per
outer index, phase 1 runs over the row (max), phase 2 again (sum of e^(x - m)), phase 3
writes the gradient, while the row is in cache. A value over the rows themselves (softmax CE's
per-row loss log s + m - x[y], summed) joins the nest over those rows as a *row phase*
after the row's phases, once per row, reading the row while it is in cache. Elementwise
values are recomputed inline wherever used, never stored unless a sink, but for values over
the pixels of a nest whose reductions stay in arrays (softmax's 1 / s over the channels of
(N, C, H, W)): those are computed once per pixel in a phase of their own
(codegen.llvm.pixels). A nest whose arrays all have the full size (or one element) runs as
one flat loop; its loss sums accumulate over blocks of 1024 in the input precision, folded
into float64 (the vectorizer keeps the full width of float32).

Emission (codegen.llvm.emit): one function per nest, body(arrays..., partials, start, stop,
dims...), called from the kernel's one entry; [start, stop) cuts the outermost axis (or the
flat index) so two threads may run halves. Whole-nest reductions return per-chunk partials,
combined in chunk order by the caller; reductions over other axes accumulate in an array.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from llvmlite import ir

from lossgraph import dtypes as dt
from lossgraph.graph import make, topo_order
from lossgraph.shapes import _factors

from . import mathlib
from .mathlib import Splat, byte_size, declared, intrinsic  # noqa: F401 (emit, packed)
from .pixels import Pixels

I1, I8, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
F32, F64, PTR = ir.FloatType(), ir.DoubleType(), ir.PointerType()
BLOCK = 1024

#: numpy dtype name -> (register type, memory type)
TYPES = {"float32": (F32, F32), "float64": (F64, F64), "int64": (I64, I64),
         "int32": (I32, I32), "bool": (I1, I8)}


def scalar_of(ty):
    """A vector type's element type; a scalar type itself."""
    return ty.element if isinstance(ty, ir.VectorType) else ty


def like(elem, ty):
    """elem shaped as ty: a vector of ty's lane count when ty is a vector."""
    return ir.VectorType(elem, ty.count) if isinstance(ty, ir.VectorType) else elem


def is_float(ty):
    return isinstance(scalar_of(ty), (ir.FloatType, ir.DoubleType))


# --- conversions and constants

def const(ty, value):
    """value as a constant of ty (a vector type: in every lane)."""
    if isinstance(ty, ir.VectorType):
        return Splat(ty, const(ty.element, value))
    if is_float(ty):
        v = float(value)
        return ir.Constant(ty, float(np.float32(v)) if ty == F32 else v)
    if ty == I1:
        return ir.Constant(I1, int(bool(value)))
    return ir.Constant(ty, int(value))


def _int_const(v):
    return v.constant if isinstance(v, ir.Constant) and isinstance(v.type, ir.IntType) and \
        isinstance(v.constant, int) else None


def imul(b, x, y):
    """x * y of two i64 values, folded where one is a constant 0 or 1 or both are constants
    (index arithmetic: fewer instructions to build, print and parse)."""
    cx, cy = _int_const(x), _int_const(y)
    if cx is not None and cy is not None:
        return ir.Constant(x.type, cx * cy)
    if cx == 1 or cy == 0:
        return y
    if cy == 1 or cx == 0:
        return x
    return b.mul(x, y)


def iadd(b, x, y):
    """x + y of two i64 values, folded where one is a constant 0 or both are constants."""
    cx, cy = _int_const(x), _int_const(y)
    if cx is not None and cy is not None:
        return ir.Constant(x.type, cx + cy)
    if cx == 0:
        return y
    if cy == 0:
        return x
    return b.add(x, y)


def convert(b, v, to):
    """v (register type, scalar or vector) as type `to` (a scalar type means v's shape), as
    NumPy's astype (bool as 0 / 1)."""
    fr = v.type
    to = like(scalar_of(to), fr)
    if fr == to:
        return v
    fe, te = scalar_of(fr), scalar_of(to)
    if te == I1:
        return b.fcmp_unordered("!=", v, const(fr, 0)) if is_float(fr) else \
            b.icmp_unsigned("!=", v, const(fr, 0))
    if is_float(te):
        if is_float(fe):
            return b.fpext(v, to) if te == F64 else b.fptrunc(v, to)
        return b.uitofp(v, to) if fe == I1 else b.sitofp(v, to)
    if is_float(fe):
        return b.fptosi(v, to)
    if fe == I1:
        return b.zext(v, to)
    return b.sext(v, to) if te.width > fe.width else b.trunc(v, to)


# --- elementwise: op -> (operand convention, emit(b, args, ty) -> value)
# conventions: "same" operands in the result type (bool counts as 0/1), "cmp" in a common
# type, "where" condition bool and branches in the result type, "bool" operands as bool,
# "raw" operands as they come.

def _m(name):
    fn = mathlib.FUNCTIONS[name][0]
    return lambda b, a, ty: fn(b, *a) if is_float(ty) else None


def _arith(fop, iop):
    return lambda b, a, ty: getattr(b, fop)(*a) if is_float(ty) else getattr(b, iop)(*a)


def _divide(b, x, y):
    """x / y, rounded once (no arcp: LLVM takes it as leave to compute x / sqrt(y) from
    vrsqrt14ps and a Newton step, nan at y = 0 and y = inf; a y that broadcasts is
    fused.BROADCAST_OPERAND's x (1 / y))."""
    return b.fdiv(x, y)


def _neg(b, a, ty):
    return b.fneg(a[0]) if is_float(ty) else b.sub(const(ty, 0), a[0])


def _square(b, a, ty):
    return b.fmul(a[0], a[0]) if is_float(ty) else b.mul(a[0], a[0])


def _int_or(fname, ifn):
    f = mathlib.FUNCTIONS[fname][0]
    return lambda b, a, ty: f(b, *a) if is_float(ty) else ifn(b, a, ty)


def _iabs(b, a, ty):
    return b.select(b.icmp_signed("<", a[0], const(ty, 0)), b.sub(const(ty, 0), a[0]), a[0])


def _isign(b, a, ty):
    x = a[0]
    neg = b.select(b.icmp_signed("<", x, const(ty, 0)), const(ty, -1), const(ty, 0))
    return b.select(b.icmp_signed(">", x, const(ty, 0)), const(ty, 1), neg)


def _imax(op):
    return lambda b, a, ty: b.select(b.icmp_signed(op, a[0], a[1]), a[0], a[1])


def _compare(op):
    def emit(b, a, ty):
        if is_float(a[0].type):
            if op == "!=":
                return b.fcmp_unordered("!=", a[0], a[1])   # nan != x is true
            return b.fcmp_ordered(op, a[0], a[1])
        return b.icmp_signed(op, a[0], a[1])
    return emit


def _clip(b, a, ty):
    x, lo, hi = a
    if is_float(ty):
        return mathlib.minimum(b, mathlib.maximum(b, x, lo), hi)
    return _imax("<")(b, [_imax(">")(b, [x, lo], ty), hi], ty)


ELEMENTWISE = {
    "add": ("same", _arith("fadd", "add")), "subtract": ("same", _arith("fsub", "sub")),
    "multiply": ("same", _arith("fmul", "mul")),
    "divide": ("same", lambda b, a, ty: _divide(b, *a) if is_float(ty) else None),
    "power": ("same", _m("power")),
    "maximum": ("same", _int_or("maximum", _imax(">"))),
    "minimum": ("same", _int_or("minimum", _imax("<"))),
    "xlogy": ("same", _m("xlogy")),
    "negative": ("same", _neg),
    "exp": ("same", _m("exp")), "log": ("same", _m("log")), "log1p": ("same", _m("log1p")),
    "expm1": ("same", _m("expm1")), "sqrt": ("same", _m("sqrt")),
    "abs": ("same", _int_or("fabs", _iabs)), "sign": ("same", _int_or("sign", _isign)),
    "square": ("same", _square), "tanh": ("same", _m("tanh")),
    "sigmoid": ("same", _m("sigmoid")), "softplus": ("same", _m("softplus")),
    "less": ("cmp", _compare("<")), "less_equal": ("cmp", _compare("<=")),
    "greater": ("cmp", _compare(">")), "greater_equal": ("cmp", _compare(">=")),
    "equal": ("cmp", _compare("==")), "not_equal": ("cmp", _compare("!=")),
    "logical_and": ("bool", lambda b, a, ty: b.and_(*a)),
    "logical_or": ("bool", lambda b, a, ty: b.or_(*a)),
    "logical_not": ("bool", lambda b, a, ty: b.not_(a[0])),
    "where": ("where", lambda b, a, ty: b.select(*a)),
    "clip": ("same", _clip),
    "cast": ("same", lambda b, a, ty: a[0]),
    "stop_gradient": ("same", lambda b, a, ty: a[0]),
}


def elementwise(b, op, args, ty):
    """The ELEMENTWISE table's op on args (scalars, or vectors of one lane count) with result
    register type ty (a vector type for vector args), operands converted by its convention."""
    conv, emit = ELEMENTWISE[op]
    if conv == "same":
        work = like(I64, ty) if scalar_of(ty) == I1 and op not in ("cast", "stop_gradient") \
            else ty
        args = [convert(b, a, work) for a in args]
        return convert(b, emit(b, args, work), ty)
    if conv == "cmp":
        tys = {a.type for a in args}
        common = args[0].type if len(tys) == 1 and scalar_of(args[0].type) != I1 else \
            like(F64 if any(is_float(t) for t in tys) else I64, ty)
        return emit(b, [convert(b, a, common) for a in args], common)
    if conv == "bool":
        return emit(b, [convert(b, a, I1) for a in args], like(I1, ty))
    cond, x, y = args          # where
    return b.select(convert(b, cond, I1), convert(b, x, ty), convert(b, y, ty))


# --- reductions: op -> (identity, accumulate in float64?)

REDUCTIONS = {"sum": (0.0, True), "prod": (1.0, True), "max": (-math.inf, False),
              "min": (math.inf, False)}


def identity(op, ty):
    """The reduction's start value in type ty (the extreme integers for int max/min)."""
    v = REDUCTIONS[op][0]
    if not is_float(ty) and math.isinf(v):
        width = scalar_of(ty).width
        v = -(1 << (width - 1)) if v < 0 else (1 << (width - 1)) - 1
    return const(ty, v)


def void_intrinsic(module, name, args):
    """The intrinsic `name` (its full, non-overloaded name) returning void, declared once."""
    return declared(module, name, ir.FunctionType(ir.VoidType(), args))


def combine(b, op, acc, v, loose=False):
    """acc op v; float sums and products reassociate (the one reordered operation, so the
    loop vectorizes); max/min propagate NaN unless loose (a shift that NaN reaches anyway)."""
    if op in ("sum", "prod"):
        if is_float(acc.type):
            r = (b.fadd if op == "sum" else b.fmul)(acc, v)
            r.flags.append("reassoc")
            return r
        return (b.add if op == "sum" else b.mul)(acc, v)
    cmp = ">" if op == "max" else "<"
    if not is_float(acc.type):
        return b.select(b.icmp_signed(cmp, v, acc), v, acc)
    if loose:
        # maxnum / minnum: the loop vectorizer's min/max reduction. maxnum(v, identity) maps a
        # nan to the identity (and keeps the rest), so nnan holds on the accumulating call and
        # the vector's final reduction is a vmaxps tree, not a serial chain with a nan test
        # per lane (softmax CE at C = 10: 27 -> 20 ns per row); nsz too (a shift's zero of
        # either sign gives the same x - m and log(s) + m), without which the vectorizer
        # leaves a loop holding both this and a float sum scalar
        fn = intrinsic(b.module, "llvm.maxnum" if op == "max" else "llvm.minnum",
                       ir.FunctionType(acc.type, [acc.type] * 2))
        v = b.call(fn, [v, identity(op, acc.type)])
        return b.call(fn, [acc, v], fastmath=("nnan", "nsz"))
    # llvm.maximum / minimum: NaN-propagating, a reduction the loop vectorizer takes (a select
    # on v > acc or v != v is not one: the loop stayed scalar and LLVM printed a remark)
    fn = intrinsic(b.module, "llvm.maximum" if op == "max" else "llvm.minimum",
                   ir.FunctionType(acc.type, [acc.type] * 2))
    return b.call(fn, [acc, v])


# --- decompositions into the tables above (nodes built with lossgraph ops)

def _shift_of(m):
    """A row's shift: its max, 0 for an all -inf row. A row whose max is +inf keeps +inf: the
    exponent shifts it by fused.row_shift's constant, and log(sum) + ms = +inf as lg.evaluate's
    log(+inf) + 0 (x - that: -inf, or nan at the +inf entry, as there)."""
    ninf = make("constant", value=np.array(-np.inf), dtype="float")
    zero = make("constant", value=np.array(0.0), dtype="float")
    return make("where", make("greater", m, ninf), m, zero)


def _shifted(x, axis, marks):
    m = make("max", x, axis=axis, keepdims=True)
    ms = _shift_of(m)
    e = make("exp", make("subtract", x, ms))
    marks.loose.append(m)
    marks.shifted.append((e, x, ms))
    return m, ms, e, make("sum", e, axis=axis, keepdims=True)


def _logsumexp(node, marks):
    x, (axis, keep) = node.inputs[0], (node.attrs["axis"], node.attrs["keepdims"])
    m, ms, e, s = _shifted(x, axis, marks)
    lse = make("add", make("log", s), ms)
    if not keep:
        lse = make("reshape", lse, shape=node.shape)
    return lse


def _softmax(node, marks):
    """e / s with a zero sum (an all -inf row) divided by 1: zeros, as lg.evaluate gives."""
    m, ms, e, s = _shifted(node.inputs[0], node.attrs["axis"], marks)
    zero = make("constant", value=np.array(0.0), dtype="float")
    one = make("constant", value=np.array(1.0), dtype="float")
    return make("divide", e, make("where", make("equal", s, zero), one, s))


def _log_softmax(node, marks):
    x = node.inputs[0]
    m, ms, e, s = _shifted(x, node.attrs["axis"], marks)
    return make("subtract", make("subtract", x, ms), make("log", s))


def _one_hot(node, marks):
    y, axis = node.inputs[0], node.attrs["axis"]
    shape = list(y.shape)
    shape.insert(axis, 1)
    ye = make("reshape", y, shape=tuple(shape))
    marks.checks.append((ye, node.attrs["depth"], "one_hot", y))
    cls = make("arange", dim=node.attrs["depth"])
    cshape = [1] * len(node.shape)
    cshape[axis] = node.attrs["depth"]
    cls = make("reshape", cls, shape=tuple(cshape))
    return make("cast", make("equal", ye, cls), dtype=node.dtype)


DECOMPOSED = {"logsumexp": _logsumexp, "softmax": _softmax, "log_softmax": _log_softmax,
              "one_hot": _one_hot}

#: index maps: broadcast_to always; reshape when it only adds or drops size-1 axes
VIEWS = ("broadcast_to", "reshape")

#: gathers by labels, inline: x[..., y, ...] read at a clamped index, the label range-checked
#: in the loop (a flag, raised as lossgraph.ops.index.check_range's error after it)
GATHERS = ("pick",)

FALLBACK = {
    "reshape": "a reshape that regroups axes (one adding or dropping size-1 axes is a view)",
    "transpose": "a data movement: NumPy's transpose, then a contiguous copy",
    "take_along_axis": "a gather by indices that must be range-checked",
    "scatter_along_axis": "a scatter (the vjp of take_along_axis); writes collide",
    "matmul": "BLAS (NumPy's matmul) beats a naive loop nest",
    "ctc_loss": "the forward recursion over time; lossgraph.ops.ctc's implementation",
    "ctc_grad": "the forward-backward recursion; lossgraph.ops.ctc's implementation",
}

LEAVES = ("input", "constant", "dimsize", "arange")

#: values over a nest's kept axes computed once per pixel (codegen.llvm.pixels)
PIXEL_PHASES = True
#: one_hot's label checks left to a pick of the same labels and depth (_picked)
PICKS_FLAG_LABELS = True


@dataclass
class Marks:
    """What decompositions note for the emitter: loose: max nodes that are only a shift
    (NaN reaches the result anyway); checks: (label value node, depth, op name, labels)
    whose labels must lie in [0, depth) (counted in the loop, raised after it); shifted:
    (e, x, ms), e = exp(x - ms) with ms _shift_of the row max (the emitters take
    e^-(fused.row_shift(ms) - x): ms - x >= 0 but in a row whose max is +inf)."""
    loose: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    shifted: list = field(default_factory=list)


def expand(outputs):
    """outputs with DECOMPOSED ops rewritten; (new outputs, loose ids, label checks,
    shifted exps: id -> (x, ms))."""
    marks, memo = Marks(), {}
    original = {id(n) for n in topo_order(list(outputs))}
    for n in topo_order(list(outputs)):
        ins = tuple(memo.get(id(i), i) for i in n.inputs)
        new = n if ins == n.inputs else make(n.op, *ins, **n.attrs)
        if n.op in DECOMPOSED:
            new = DECOMPOSED[n.op](new, marks)
        memo[id(n)] = new
    loose = {id(m) for m in marks.loose if id(m) not in original}
    checks = {id(c[0]): c for c in marks.checks}
    shifted = {id(e): (x, ms) for e, x, ms in marks.shifted if id(e) not in original}
    return [memo[id(o)] for o in outputs], loose, checks, shifted


# --- planning

def _unit_reshape(node):
    a = [d for d in node.inputs[0].shape if d != 1]
    return node.op == "broadcast_to" or a == [d for d in node.shape if d != 1]


def _numel(shape):
    coeff, names = 1, []
    for d in shape:
        c, ns = _factors(d)
        coeff *= c
        names += ns
    return coeff, tuple(sorted(names))


@dataclass
class Nest:
    """A loop nest over `shape`; phases run one after another per outer index."""
    shape: tuple
    phases: list = field(default_factory=lambda: [[]])
    outer: int = 0
    flat: bool = False
    serial: bool = False          # a reduction accumulates across the chunked axis
    reads: list = field(default_factory=list)     # buffer nodes read (leaves, earlier sinks)
    writes: list = field(default_factory=list)    # sinks written (incl. accumulators)
    partials: list = field(default_factory=list)  # whole-nest reductions (in partial order)
    row: set = field(default_factory=set)         # ids of row-register reductions
    memory: set = field(default_factory=set)      # ids of reductions accumulated in memory
    row_phases: set = field(default_factory=set)  # phases whose values live on the rows
    pixel_phases: dict = field(default_factory=dict)  # phase -> its shape (codegen.llvm.pixels)

    @property
    def sinks(self):
        return [s for p in self.phases for s in p]


@dataclass
class Plan:
    order: list           # expanded nodes, topological
    outputs: list         # expanded outputs (values then grads)
    kind: dict            # id -> "leaf" | "inline" | "reduce" | "fallback"
    steps: list           # Nest or node (fallback)
    loose: set
    dims: tuple           # symbol names passed to every nest as integers
    dtypes: dict          # id -> numpy dtype name
    checks: dict          # id -> (node, depth, op, labels): label values checked in loops
    shifted: dict         # id of exp(x - ms) -> (x, ms): computed as exp_row(ms - x)
    stored: dict = field(default_factory=dict)       # id -> step: pixel values (pixels.py)
    reciprocals: dict = field(default_factory=dict)  # id of a divisor -> its stored 1 / it
    picked: set = field(default_factory=set)         # ids of checks a pick flags (_picked)

    def flagged(self, n):
        """The depth loops range-check n's label values against: its check's, or None when it
        has none or a pick flags its labels (_picked)."""
        check = self.checks.get(id(n))
        return None if check is None or id(n) in self.picked else check[1]


def node_dtype(node, float_t):
    return np.dtype(dt.numpy_dtype(node.dtype, float_t)).name


def plan(outputs, float_t):
    """The steps computing outputs (Nodes of a schedule) for one float dtype."""
    outs, loose, checks, shifted = expand(outputs)
    order = topo_order(outs)
    dtypes = {id(n): node_dtype(n, float_t) for n in order}
    kind = {}
    for n in order:
        ok = dtypes[id(n)] in TYPES and all(dtypes[id(i)] in TYPES for i in n.inputs)
        if n.op in LEAVES:
            kind[id(n)] = "leaf"
        elif n.op in REDUCTIONS and ok:
            kind[id(n)] = "reduce"
        elif n.op in ELEMENTWISE and ok and _emits(n, dtypes):
            kind[id(n)] = "inline"
        elif n.op in VIEWS and ok and _unit_reshape(n) or n.op in GATHERS and ok:
            kind[id(n)] = "inline"
        else:
            kind[id(n)] = "fallback"
    sinks = {id(o) for o in outs if kind[id(o)] == "inline"}
    for n in order:
        if kind[id(n)] == "fallback":
            sinks |= {id(i) for i in n.inputs if kind[id(i)] == "inline"}
    steps, where = [], {}            # where: id -> (step, phase)

    def barriers(node):
        """reductions and fallbacks a value reads through inline chains."""
        found, stack, seen = [], [node], set()
        while stack:
            n = stack.pop()
            for i in n.inputs:
                if id(i) in seen:
                    continue
                seen.add(id(i))
                if kind[id(i)] in ("reduce", "fallback"):
                    found.append(i)
                elif kind[id(i)] == "inline":
                    stack.append(i)
        return found

    for n in order:
        k = kind[id(n)]
        if k == "fallback":
            where[id(n)] = (len(steps), 0)
            steps.append(n)
            continue
        if not (k == "reduce" or id(n) in sinks):
            continue
        space = n.inputs[0].shape if k == "reduce" else n.shape
        deps = barriers(n)
        placed = None
        for s in range(len(steps) - 1, -1, -1):
            nest = steps[s]
            if not isinstance(nest, Nest) or nest.shape != space:
                continue
            phase, outer, ok = 0, nest.outer, True
            for d in deps:
                ds, dp = where[id(d)]
                if ds < s:
                    continue
                axes = d.attrs.get("axis", ()) if ds == s and kind[id(d)] == "reduce" else ()
                if ds == s and axes and min(axes) >= 1 and len(axes) < len(space):
                    phase, outer = max(phase, dp + 1), min(outer, min(axes))
                else:
                    ok = False
                    break
            if ok:
                while phase in nest.row_phases:      # a row phase holds row values only
                    phase += 1
                placed = (s, phase, outer)
                break
        if placed is None:
            placed = _row_phase(steps, where, kind, space, deps, n)
        if placed is None:
            nest = Nest(shape=space, outer=max(len(space) - 1, 0))
            steps.append(nest)
            placed = (len(steps) - 1, 0, nest.outer)
        s, phase, outer = placed
        nest = steps[s]
        nest.outer = outer
        while len(nest.phases) <= phase:
            nest.phases.append([])
        if len(space) < len(nest.shape):
            nest.row_phases.add(phase)
        nest.phases[phase].append(n)
        where[id(n)] = (s, phase)
    stored, reciprocals = {}, {}
    all_sinks = {id(s) for st in steps for s in (st.sinks if isinstance(st, Nest) else [st])}
    for j, st in enumerate(steps):
        if isinstance(st, Nest):
            _classify(st, kind, loose)
            if st.memory and PIXEL_PHASES:
                values, recips = Pixels(st, kind, VIEWS + GATHERS, all_sinks).place(
                    dtypes, order, lambda n: node_dtype(n, float_t))
                stored.update({id(v): j for v in values})
                reciprocals.update(recips)
            _finish(st, kind, {k for k, at in stored.items() if at < j}, reciprocals)
    dims = sorted({name for n in order for d in _all_dims(n) for name in _factors(d)[1]})
    return Plan(order, outs, kind, steps, loose, tuple(dims), dtypes, checks, shifted,
                stored, reciprocals, _picked(checks, order))


def _picked(checks, order):
    """The ids of one_hot's label checks whose labels a pick of the same depth reads too
    (segmentation CE's gradient and its loss): every node of the plan is computed at every
    element of its shape, so the pick's loop flags each label out of range, and the one_hot's
    loops need not flag it again (per element, C times per label over (N, C, H, W)). The call
    still raises the error of checks' first entry that a label fails."""
    if not PICKS_FLAG_LABELS:
        return set()
    picks = {(id(n.inputs[1]), n.inputs[0].shape[n.attrs["axis"]])
             for n in order if n.op == "pick"}
    return {k for k, (_, depth, op, labels) in checks.items()
            if op == "one_hot" and (id(labels), depth) in picks}


def narrow_label_equal(n, checks):
    """Whether n is one_hot's y == c (_one_hot) on labels y the plan range-checks (checks):
    a call returns only when every y is in [0, depth), as c is, so a depth below 2^31 lets
    the compare run on 32-bit lanes."""
    if n.op != "equal":
        return False
    y, c = n.inputs
    check = checks.get(id(y))
    if check is None or check[2] != "one_hot" or not isinstance(check[1], int) or \
            check[1] >= 2 ** 31:
        return False
    while c.op == "reshape":
        c = c.inputs[0]
    return c.op == "arange" and c.attrs["dim"] == check[1]


def _row_phase(steps, where, kind, space, deps, node):
    """(step, phase, outer) placing a value over the rows of the last nest iterating those
    rows (of any length, static or symbolic) in that nest, as a phase of its own after
    everything it reads there: the rows' loss terms of softmax CE then read the row in cache,
    not again from memory. None when no such nest fits."""
    if node.op in REDUCTIONS and len(node.attrs["axis"]) != len(space) or not space:
        return None
    for s in range(len(steps) - 1, -1, -1):
        nest = steps[s]
        if not isinstance(nest, Nest):
            continue
        if nest.shape[:len(space)] != tuple(space) or nest.outer != len(space) or \
                len(nest.shape) == len(space):
            return None
        phase, rows = 0, set(range(len(space), len(nest.shape)))
        for d in deps:
            ds, dp = where[id(d)]
            # in this nest, only reductions over the row's own axes are complete per row (one
            # over the rows, e.g. softmax over axis 0, is only after the last row)
            if ds > s or ds == s and not (kind[id(d)] == "reduce" and
                                          set(d.attrs["axis"]) == rows):
                return None
            if ds == s:
                phase = max(phase, dp + 1)
        return s, max(phase, len(nest.phases)), nest.outer
    return None


def _all_dims(n):
    at = n.attrs
    return list(n.shape) + list(at.get("dims", ())) + [at[k] for k in ("dim", "depth") if k in at] \
        + list(at.get("shape", ()) if n.op != "constant" else ())


def _emits(n, dtypes):
    """Whether the table emits n for its dtypes (integer division, power... fall back)."""
    conv, _ = ELEMENTWISE[n.op]
    ty = TYPES[dtypes[id(n)]][0]
    if n.op in ("divide", "power", "xlogy", "exp", "log", "log1p", "expm1", "sqrt", "tanh",
                "sigmoid", "softplus"):
        return is_float(ty)
    return True


def _closure(nest, kind, stored=(), reciprocals=None):
    """Inline nodes and buffer nodes read (stored: inline values an earlier nest stored, read
    here; reciprocals: id of a divisor -> its stored reciprocal, read by the division)."""
    seen, reads, inline, stack = set(), [], [], list(nest.sinks)
    for s in nest.sinks:
        seen.add(id(s))
    while stack:
        n = stack.pop()
        if kind[id(n)] == "inline" or n in nest.sinks:
            inline.append(n)
            r = (reciprocals or {}).get(id(n.inputs[1])) if n.op == "divide" else None
            if r is not None and id(r) in stored and id(r) not in seen:
                seen.add(id(r))
                reads.append(r)
            for i in n.inputs:
                if id(i) not in seen:
                    seen.add(id(i))
                    if kind[id(i)] == "inline" and i.op != "arange" and id(i) not in stored:
                        stack.append(i)
                    elif kind[id(i)] == "leaf" and i.op in ("dimsize", "arange") or \
                            kind[id(i)] == "leaf" and i.op == "constant" and i.ndim == 0:
                        inline.append(i)
                    else:
                        reads.append(i)
    return inline, reads


def _classify(nest, kind, loose):
    """Each reduction of nest as a whole-nest partial, a row register or an array."""
    k = len(nest.shape)
    row = {id(s) for ph in nest.row_phases for s in nest.phases[ph]}
    reds = [s for s in nest.sinks if kind[id(s)] == "reduce"]
    for r in reds:
        axes = set(r.attrs["axis"])
        if len(axes) == k or id(r) in row:           # a row phase's reductions are whole
            nest.partials.append(r)
        elif axes == set(range(nest.outer, k)):
            nest.row.add(id(r))
        else:
            nest.memory.add(id(r))
            if 0 in axes:
                nest.serial = True
    nest.loose = {id(r) for r in reds if id(r) in loose}


def _finish(nest, kind, stored, reciprocals):
    """The nest's buffers, and whether it runs as one flat loop."""
    k = len(nest.shape)
    inline, reads = _closure(nest, kind, stored, reciprocals)
    nest.reads = [r for r in reads if all(r is not s for s in nest.sinks)]
    nest.writes = list(nest.sinks)
    full = _numel(nest.shape)
    reds = [s for s in nest.sinks if kind[id(s)] == "reduce"]
    nest.flat = len(nest.phases) == 1 and k >= 1 and \
        all(len(r.attrs["axis"]) == k for r in reds) and \
        all(_numel(n.shape) in (full, (1, ())) for n in inline + nest.reads
            if n.op != "dimsize" and id(n) not in {id(r) for r in reds}) and \
        not any(n.op == "arange" for n in inline)
