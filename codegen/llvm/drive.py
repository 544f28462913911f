"""Large calls: the nests' outer axes cut into units that both threads take from shared
counters, in one native call per thread, by one driver compiled once per process.

    unit(PyObject *args, i64 j, i64 lo, i64 hi, double *partials)   (per kernel: emit_unit)
        runs nest j of the kernel over [lo, hi) of its outer axis, its m partials and label
        flag to partials[0..m]; args = (desc, sched, parts, ctl, one array per slot)
    drive(PyObject *args, i64 role)                                  (per process: driver())
        role CALLER: every nest in order; role HELPER (codegen.llvm.helper's thread, or
        any pool): units of the split nests

A nest's extent (its flat index, or its outermost axis) is cut into units of a length that
depends on the shapes only (`units`). Each thread claims units from the nest's counter, the
caller from the first unit up and the helper from the last one down (so each streams through a
region of its own), and runs `unit` on them, the partials going to the unit's cells of parts; a
slow core, or a helper that starts late, does fewer units instead of holding the call up. The
caller then waits for the units the helper took, combines the units' partials in unit order (sums
and products in float64, max and min with NaN propagating; so the bits are the same on one
thread or two, whoever ran which unit),
stores each into its 0-d array in the reduction's dtype (as a whole-range run leaves it),
and publishes the phase, the number of nests done, which the helper waits for before it takes
units of the next nest. A wait spins on `pause` a while, then yields the core (sched_yield).

desc (int64, per Program: `describe`): [address of unit, nests, ctl's last cell, then per
nest: splittable, m, and per partial its op, dtype and tuple index (OPS, DTYPES)]. sched
(int64): per nest [units (0: the nest does not run in this call), unit length, extent, offset
in parts], then the cells a call starts from zero: per nest [claimed, done], then the phase,
whether the caller has started (a helper that would wait for a phase before the caller has
begun gives up instead: a pool that runs the helper inline, before the caller, must not wait
forever) and whether codegen.llvm.helper's thread is done with the call. parts (float64): per
nest and unit its m partials and its label flag. The driver is shape- and kernel-agnostic, so
a kernel's compile pays only for its small `unit` switch.
"""
from __future__ import annotations

import ctypes
import functools

import numpy as np
from llvmlite import ir

from . import helper
from .emit import call_nest, ctl_dims, entry_pointers, item_data, nest_scratches
from .loops import counted_loop
from .lower import F32, F64, I1, I8, I32, I64, PTR, const, void_intrinsic

#: elements from which a generated kernel's call runs its nests in units on the driver and,
#: with threads=2, offers the helper role (codegen.llvm.helper). Float32, 2 threads against 1,
#: calls back to back, one process (2-vCPU AMD EPYC, Zen 3): BCE 1.3e5 elements 1.77x, 2e5
#: 1.44x; softmax CE C = 1000 1.65x, 1.41x; Huber 1.49x, 1.33x; MSE 1.00x, 0.96x; at 6.6e4 (a
#: unit and a sliver) 0.95-1.06x
SPLIT_FROM = 1 << 17
#: elements per unit of a split nest (rows: as many whole rows as come closest from below,
#: at least one): 256 KB of float32, a few tens of us of work, so the last unit a thread takes
#: costs little waiting while a call at 1e7 elements still has ~150 units
UNIT = 1 << 16
#: units per nest at most (longer units beyond): parts stays small
MAX_UNITS = 4096
#: pause-spins before a wait starts yielding the core
SPINS = 256
#: sched cells per nest before the counters
STATIC = 4
#: drive's roles
CALLER, HELPER = 0, 1
#: desc's codes of a partial's reduction and dtype
OPS = {"sum": 0, "prod": 1, "max": 2, "min": 3}
DTYPES = {"float64": 0, "float32": 1, "int64": 2, "int32": 3, "bool": 4}
#: the tuple items before the arrays, in unit's and drive's args
HEAD = 4


def units(numel, n0, splittable, split_from):
    """(units, unit length) of a nest of numel elements over an outer extent n0: one unit
    (the whole extent) unless the nest is splittable and numel >= split_from."""
    if not splittable or numel < split_from or n0 < 2:
        return 1, max(n0, 1)
    length = max(1, UNIT // max(1, numel // n0), -(-n0 // MAX_UNITS))
    return -(-n0 // length), length


def units_ir(b, numel, n0, splittable, split_from):
    """units for i64 values numel and n0 (splittable, split_from: Python values), in IR."""
    one = const(I64, 1)

    def imax(x, y):
        return b.select(b.icmp_signed(">", x, y), x, y)

    def ceil_div(x, y):
        return b.sdiv(b.add(x, b.sub(y, one)), y)
    whole = imax(n0, one)
    if not splittable:
        return one, whole
    split = b.and_(b.icmp_signed(">=", numel, const(I64, split_from)),
                   b.icmp_signed(">=", n0, const(I64, 2)))
    row = imax(b.sdiv(numel, whole), one)
    length = imax(imax(b.sdiv(const(I64, UNIT), row), one),
                  ceil_div(whole, const(I64, MAX_UNITS)))
    return b.select(split, ceil_div(whole, length), one), b.select(split, length, whole)


def counters(n_nests):
    """(first, size): where the per-call cells begin in sched, and sched's size."""
    return STATIC * n_nests, STATIC * n_nests + 2 * n_nests + 3


def schedule(nests):
    """(sched, parts, split) for nests [(units, unit length, extent, m partials), ...] (units
    0: the nest does not run), the per-call counters zero; split: some nest has several
    units."""
    first, size = counters(len(nests))
    sched = np.zeros(size, dtype=np.int64)
    base = 0
    for j, (n, length, extent, m) in enumerate(nests):
        sched[STATIC * j:STATIC * (j + 1)] = (n, length, extent, base)
        base += n * (m + 1)
    return sched, np.empty(base), any(n > 1 for n, _, _, _ in nests)


def emit_unit(module, plan, emitters, slots):
    """Add unit (see the module docstring) to a kernel's module."""
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR, I64, I64, I64, PTR]),
                     name="unit")
    fn.attributes.add("noinline")
    fn.attributes.add("optnone")           # a switch of calls: O3 would only cost compile time
    args, j, lo, hi, partials = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    _, _, _, ctl, *arrays = entry_pointers(b, fn, HEAD + len(slots))
    where = {k: i for i, k in enumerate(slots)}
    dims = ctl_dims(b, ctl, len(plan.dims))
    scratch = nest_scratches(b, emitters)
    done = fn.append_basic_block("done")
    switch = b.switch(j, done)
    for i, (em, nest_slots) in enumerate(emitters):
        case = fn.append_basic_block(f"nest{i}")
        switch.add_case(const(I64, i), case)
        b.position_at_end(case)
        call_nest(b, em, nest_slots, where, arrays, partials, lo, hi, dims, scratch)
        b.branch(done)
    b.position_at_end(done)
    b.ret_void()
    return fn


def describe(unit_address, steps, slots, ctl_size):
    """desc of a Program's nests (its steps of kind "nest", see the module docstring)."""
    where = {k: i for i, k in enumerate(slots)}
    nests = [st for st in steps if st[0] == "nest"]
    out = [unit_address, len(nests), ctl_size - 1]
    for st in nests:
        partials = st[6]
        out += [int(bool(st[7])), len(partials)]
        for slot, op, typ in partials:
            out += [OPS[op], DTYPES[np.dtype(typ).name], HEAD + where[slot]]
    return np.array(out, dtype=np.int64)


def run(args, split, threads):
    """A large call: the driver on this thread as the caller and, with threads=2 and a nest
    in several units (split), offered to the process's native helper (codegen.llvm.helper);
    returns when this call is done and the helper, if it took the call, is done with it."""
    jm, fn, _ = driver()
    if split and threads == 2:
        helper.helper(jm, CALLER).run(fn, args)
    else:
        fn(args, CALLER)


@functools.cache
def _yield_available():
    try:
        return bool(ctypes.CDLL(None).sched_yield)
    except (AttributeError, OSError):
        return False


@functools.cache
def driver():
    """The process's drive: (JitModule, ctypes function drive(args, role), its address)."""
    from . import jit
    module = jit.new_module("lossgraph_drive")
    wait = _emit_wait(module)
    drive_fn = _emit_drive(module, wait)
    helper.emit(module, drive_fn, wait, STATIC, HELPER, module.globals.get("sched_yield"))
    jm = jit.compile_module(module)
    return jm, jm.function("drive", None, ctypes.py_object, ctypes.c_int64), \
        jm.address("drive")


def _emit_wait(module):
    """i1 wait_at(ptr cell, i64 target, ptr guard): spin until the int64 at cell (acquire)
    reaches target (true), `pause` SPINS times, then sched_yield between looks; false at once
    when guard is not null and the int64 there is 0 (the caller has not begun)."""
    fn = ir.Function(module, ir.FunctionType(I1, [PTR, I64, PTR]), name="wait_at")
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    cell, target, guard = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    head, check, body, done, quit_ = (fn.append_basic_block(n) for n in
                                      ("head", "check", "body", "done", "quit"))
    entry = b.block
    b.branch(head)
    b.position_at_end(head)
    spins = b.phi(I64)
    spins.add_incoming(const(I64, 0), entry)
    now = b.load_atomic(cell, "acquire", 8, typ=I64)
    b.cbranch(b.icmp_signed(">=", now, target), done, check)
    b.position_at_end(check)
    guarded = b.icmp_unsigned("!=", guard, ir.Constant(PTR, None))
    with b.if_then(guarded):
        begun = b.load_atomic(guard, "acquire", 8, typ=I64)
        with b.if_then(b.icmp_signed("==", begun, const(I64, 0))):
            b.branch(quit_)
    b.branch(body)
    b.position_at_end(body)
    if module.triple.startswith(("x86_64", "amd64", "i686")):
        b.call(void_intrinsic(module, "llvm.x86.sse2.pause", []), [])
    if _yield_available():
        yield_fn = ir.Function(module, ir.FunctionType(I32, []), name="sched_yield")
        with b.if_then(b.icmp_signed(">=", spins, const(I64, SPINS))):
            b.call(yield_fn, [])
    spins.add_incoming(b.add(spins, const(I64, 1)), b.block)
    b.branch(head)
    b.position_at_end(done)
    b.ret(ir.Constant(I1, 1))
    b.position_at_end(quit_)
    b.ret(ir.Constant(I1, 0))
    return fn


def _combine(b, op, a, v):
    """a op v on float64 partials, op a desc code: +, *, or max / min with NaN propagated
    (an equal v keeps a)."""
    nan = b.fcmp_unordered("uno", a, v)
    pick_max = b.select(b.fcmp_ordered(">", v, a), v, a)
    pick_min = b.select(b.fcmp_ordered("<", v, a), v, a)
    extreme = b.select(nan, b.fadd(a, v),
                       b.select(b.icmp_signed("==", op, const(I64, OPS["max"])),
                                pick_max, pick_min))
    return b.select(b.icmp_signed("==", op, const(I64, OPS["sum"])), b.fadd(a, v),
                    b.select(b.icmp_signed("==", op, const(I64, OPS["prod"])),
                             b.fmul(a, v), extreme))


def _store_as(b, dtype, total, ptr):
    """*ptr = total (float64) in the dtype of desc code dtype, as NumPy's astype."""
    fn = b.function
    done = fn.append_basic_block("stored")
    sw = b.switch(dtype, done)
    for name, code in DTYPES.items():
        case = fn.append_basic_block(f"as_{name}")
        sw.add_case(const(I64, code), case)
        b.position_at_end(case)
        v = {"float64": lambda: total, "float32": lambda: b.fptrunc(total, F32),
             "int64": lambda: b.fptosi(total, I64), "int32": lambda: b.fptosi(total, I32),
             "bool": lambda: b.zext(b.fcmp_unordered("!=", total, ir.Constant(F64, 0.0)),
                                    I8)}[name]()
        b.store(v, ptr)
        b.branch(done)
    b.position_at_end(done)


def _emit_drive(module, wait):
    unit_ty = ir.FunctionType(ir.VoidType(), [PTR, I64, I64, I64, PTR])
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR, I64]), name="drive")
    args, role = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))

    def i64_at(ptr, i):
        return b.gep(ptr, [i if isinstance(i, ir.Value) else const(I64, i)], source_etype=I64)

    def f64_at(ptr, i):
        return b.gep(ptr, [i], source_etype=F64)
    desc, sched, parts, ctl = (item_data(b, args, i) for i in range(HEAD))
    unit = b.inttoptr(b.load(i64_at(desc, 0), typ=I64), unit_ty.as_pointer())
    nests = b.load(i64_at(desc, 1), typ=I64)
    helping = b.icmp_signed("!=", role, const(I64, CALLER))
    first = b.mul(nests, const(I64, STATIC))
    phase = i64_at(sched, b.add(first, b.mul(nests, const(I64, 2))))
    begun = i64_at(sched, b.add(b.add(first, b.mul(nests, const(I64, 2))), const(I64, 1)))
    one = const(I64, 1)
    none = ir.Constant(PTR, None)
    flags = b.alloca(F64)                       # the label flags, summed over the nests
    b.store(ir.Constant(F64, 0.0), flags)
    going = b.alloca(I1)                        # the helper has not given up
    b.store(ir.Constant(I1, 1), going)
    with b.if_then(b.not_(helping)):
        b.atomic_rmw("xchg", begun, one, "release")

    def nest(b, j, cursor):
        split = b.icmp_signed("!=", b.load(i64_at(desc, cursor), typ=I64), const(I64, 0))
        m = b.load(i64_at(desc, b.add(cursor, one)), typ=I64)
        static = [b.load(i64_at(sched, b.add(b.mul(j, const(I64, STATIC)), const(I64, i))),
                         typ=I64) for i in range(STATIC)]
        n_units, length, extent, base = static
        claimed = i64_at(sched, b.add(first, b.mul(j, const(I64, 2))))
        done = i64_at(sched, b.add(b.add(first, b.mul(j, const(I64, 2))), one))
        stride = b.add(m, one)
        takes = b.and_(b.and_(split, b.icmp_signed(">", n_units, one)),
                       b.load(going, typ=I1))
        with b.if_then(b.or_(b.not_(helping), takes)):
            with b.if_then(helping):
                b.store(b.call(wait, [phase, j, begun]), going)
            _claims(b, claimed, n_units, b.or_(b.not_(helping), b.load(going, typ=I1)),
                    helping, lambda u: b.call(unit, [
                args, j, b.mul(u, length),
                b.select(b.icmp_signed("<", b.add(b.mul(u, length), length), extent),
                         b.add(b.mul(u, length), length), extent),
                f64_at(parts, b.add(base, b.mul(u, stride)))]), done)
            with b.if_then(b.not_(helping)):
                b.call(wait, [done, n_units, none])

                def partial(b, i):
                    at = b.add(cursor, b.add(const(I64, 2), b.mul(i, const(I64, 3))))
                    op, dtype, index = (b.load(i64_at(desc, b.add(at, const(I64, k))),
                                               typ=I64) for k in range(3))

                    def step(b, u, acc):
                        v = b.load(f64_at(parts, b.add(base, b.add(b.mul(u, stride), i))),
                                   typ=F64)
                        return (_combine(b, op, acc, v),)
                    start = b.load(f64_at(parts, b.add(base, i)), typ=F64)
                    total, = counted_loop(b, one, n_units, step, (start,))
                    _store_as(b, dtype, total, item_data(b, args, index))
                    return ()
                # a nest of no units (not run in this call) leaves its arrays alone
                counted_loop(b, const(I64, 0),
                             b.select(b.icmp_signed(">", n_units, const(I64, 0)), m,
                                      const(I64, 0)), partial)

                def flag(b, u, acc):
                    v = b.load(f64_at(parts, b.add(base, b.add(b.mul(u, stride), m))), typ=F64)
                    return (b.fadd(acc, v),)
                total, = counted_loop(b, const(I64, 0), n_units, flag,
                                      (b.load(flags, typ=F64),))
                b.store(total, flags)
                # xchg: llvmlite's store_atomic wants a typed pointer
                b.atomic_rmw("xchg", phase, b.add(j, one), "release")
        return (b.add(cursor, b.add(const(I64, 2), b.mul(m, const(I64, 3)))),)
    counted_loop(b, const(I64, 0), nests, nest, (const(I64, 3),))
    with b.if_then(b.not_(helping)):
        b.store(b.load(flags, typ=F64), f64_at(ctl, b.load(i64_at(desc, 2), typ=I64)))
    b.ret_void()
    return fn


def _claims(b, claimed, n_units, go, helping, run, done):
    """Claim units until none is left, running each (run(u)) and counting it done: the
    caller's from the first unit up, the helper's from the last one down (the count of claims
    keeps them apart). None when go (i1) is false: a helper that gave up."""
    fn = b.function
    head, body, out = (fn.append_basic_block(n) for n in ("claim", "unit", "claimed"))
    start = fn.append_basic_block("claims")
    b.cbranch(go, start, out)
    b.position_at_end(start)
    pre = b.block
    b.branch(head)
    b.position_at_end(head)
    mine = b.phi(I64)
    mine.add_incoming(const(I64, 0), pre)
    total = b.atomic_rmw("add", claimed, const(I64, 1), "monotonic")
    b.cbranch(b.icmp_signed("<", total, n_units), body, out)
    b.position_at_end(body)
    run(b.select(helping, b.sub(b.sub(n_units, const(I64, 1)), mine), mine))
    b.atomic_rmw("add", done, const(I64, 1), "release")
    mine.add_incoming(b.add(mine, const(I64, 1)), b.block)
    b.branch(head)
    b.position_at_end(out)
