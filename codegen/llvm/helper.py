"""The process's native helper: the second core of a large call, handed over without the GIL.

A large call on two threads (`drive.run`) *offers* its args to the helper through one
process-wide cell, then runs the driver's caller role itself. The helper is a daemon thread
that lives in native code: it spins on the cell (`pause`, a `sched_yield` every YIELD_EVERY
looks) for SPINS looks after its last call, taking any call offered (a compare-and-swap
args -> TAKEN) and running the driver's helper role on it; then it goes back to Python and
parks on an Event until an offer wakes it. So the helper of back-to-back calls starts within
a few hundred nanoseconds, where handing work to a Python worker thread cost 100-130 us on a
2-vCPU Zen 3 VM (the wake-up, then the GIL, both ways).

The caller never waits for a helper that has not begun: after its own role (which leaves no
unit undone: the driver's units are claimed from shared counters) it takes its offer back
(args -> EMPTY); only when the helper has taken it does the caller wait, for the call's HELPED
cell in sched, which the helper sets once it is done with the call's memory. A second call
offered while the cell is busy (another Python thread's call) runs alone.

    state, int64[4]: [the cell (EMPTY, TAKEN or an offered args), spinning, stop, calls helped]
    i64  offer(state, args)    sched's begun = 1, then EMPTY -> args: -1 when the cell is busy,
                               else whether the helper spins (0: the caller sets its Event)
    void finish(state, args)   args -> EMPTY, or wait for HELPED when the helper took it
    i64  spin(state, spins)    the helper's native loop: 1 when told to stop, 0 when idle

A helper about to park clears `spinning`, then looks at the cell once more (both sequentially
consistent, as the offer and its read of `spinning` are): either it sees the offer or the
caller sees it parking and wakes it. At exit the helper is stopped and joined (no thread may
run JIT code while the interpreter tears down); a forked child starts a helper of its own.
"""
from __future__ import annotations

import atexit
import ctypes
import os
import threading

import numpy as np
from llvmlite import ir

from .emit import item_data
from .lower import I64, PTR, const, void_intrinsic

#: looks at the cell (each a `pause`) before an idle helper parks: a median 107 us from the
#: end of a call (4-338 us) on a Zen 3 VM core; `pause` takes about twice as long on recent
#: Intel cores
SPINS = 8192
#: an idle helper yields its core (sched_yield) every this many looks, so a thread that has
#: work runs there first
YIELD_EVERY = 64
#: the cell's values other than an offered args (a PyObject *, never 0 or 1)
EMPTY, TAKEN = 0, 1
#: the state's cells
CELL, SPINNING, STOP, HELPED_CALLS = 0, 1, 2, 3


def emit(module, drive_fn, wait_at, static, helper_role, yield_fn):
    """Add offer, finish and spin (module docstring) to the driver's module: drive_fn the
    driver, wait_at its spin-wait, static its sched cells per nest, helper_role its role code,
    yield_fn sched_yield's declaration (None where there is none)."""
    def cell(b, state, i):
        return b.gep(state, [const(I64, i)], source_etype=I64)

    def sched_cell(b, args, k):
        """sched's per-call cell k after the nests' counters (0: phase, 1: begun, 2: HELPED)."""
        desc, sched = item_data(b, args, 0), item_data(b, args, 1)
        nests = b.load(b.gep(desc, [const(I64, 1)], source_etype=I64), typ=I64)
        at = b.add(b.mul(nests, const(I64, static + 2)), const(I64, k))
        return b.gep(sched, [at], source_etype=I64)

    def xchg(b, ptr, value, ordering="seq_cst"):
        b.atomic_rmw("xchg", ptr, const(I64, value) if isinstance(value, int) else value,
                     ordering)

    # offer
    fn = ir.Function(module, ir.FunctionType(I64, [PTR, PTR]), name="offer")
    state, args = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    xchg(b, sched_cell(b, args, 1), 1, "release")        # begun: the helper will not give up
    got = b.cmpxchg(cell(b, state, CELL), const(I64, EMPTY), b.ptrtoint(args, I64),
                    "seq_cst", "seq_cst")
    with b.if_then(b.not_(b.extract_value(got, 1))):
        b.ret(const(I64, -1))
    b.ret(b.load_atomic(cell(b, state, SPINNING), "seq_cst", 8, typ=I64))

    # finish
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR, PTR]), name="finish")
    state, args = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    back = b.cmpxchg(cell(b, state, CELL), b.ptrtoint(args, I64), const(I64, EMPTY),
                     "seq_cst", "seq_cst")
    with b.if_then(b.not_(b.extract_value(back, 1))):     # taken: wait until it is done
        b.call(wait_at, [sched_cell(b, args, 2), const(I64, 1), ir.Constant(PTR, None)])
    b.ret_void()

    # spin
    fn = ir.Function(module, ir.FunctionType(I64, [PTR, I64]), name="spin")
    state, spins = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    head, look, take, run, idle, park, resume, stop = (
        fn.append_basic_block(n) for n in ("head", "look", "take", "run", "idle", "park",
                                           "resume", "stop"))
    xchg(b, cell(b, state, SPINNING), 1)
    entry = b.block
    b.branch(head)
    b.position_at_end(head)
    looks = b.phi(I64)
    looks.add_incoming(const(I64, 0), entry)
    stopping = b.load_atomic(cell(b, state, STOP), "acquire", 8, typ=I64)
    b.cbranch(b.icmp_signed("!=", stopping, const(I64, 0)), stop, look)
    b.position_at_end(look)
    offered = b.load_atomic(cell(b, state, CELL), "acquire", 8, typ=I64)
    b.cbranch(b.icmp_unsigned(">", offered, const(I64, TAKEN)), take, idle)
    b.position_at_end(take)
    mine = b.cmpxchg(cell(b, state, CELL), offered, const(I64, TAKEN), "acq_rel", "acquire")
    b.cbranch(b.extract_value(mine, 1), run, idle)
    b.position_at_end(run)
    job = b.inttoptr(offered, PTR)
    b.call(drive_fn, [job, const(I64, helper_role)])
    helped = sched_cell(b, job, 2)               # read before the caller may return
    b.atomic_rmw("add", cell(b, state, HELPED_CALLS), const(I64, 1), "monotonic")
    xchg(b, cell(b, state, CELL), EMPTY, "release")
    xchg(b, helped, 1, "release")                # from here on the call's memory is not ours
    looks.add_incoming(const(I64, 0), b.block)
    b.branch(head)
    b.position_at_end(idle)
    if module.triple.startswith(("x86_64", "amd64", "i686")):
        b.call(void_intrinsic(module, "llvm.x86.sse2.pause", []), [])
    if yield_fn is not None:
        every = b.icmp_signed("==", b.and_(looks, const(I64, YIELD_EVERY - 1)),
                              const(I64, YIELD_EVERY - 1))
        with b.if_then(every):
            b.call(yield_fn, [])
    more = b.add(looks, const(I64, 1))
    tail = b.block
    b.cbranch(b.icmp_signed("<", more, spins), head, park)
    looks.add_incoming(more, tail)
    b.position_at_end(park)
    xchg(b, cell(b, state, SPINNING), 0)
    late = b.load_atomic(cell(b, state, CELL), "seq_cst", 8, typ=I64)
    with b.if_then(b.icmp_unsigned(">", late, const(I64, TAKEN))):
        b.branch(resume)
    b.ret(const(I64, 0))
    b.position_at_end(resume)
    xchg(b, cell(b, state, SPINNING), 1)
    looks.add_incoming(const(I64, 0), resume)
    b.branch(head)
    b.position_at_end(stop)
    xchg(b, cell(b, state, SPINNING), 0)
    b.ret(const(I64, 1))
    return fn


class Helper:
    """The process's helper thread and its state (module docstring); `run` is drive.run's
    two-thread call."""

    def __init__(self, jm, caller_role):
        self.state = np.zeros(4, dtype=np.int64)
        self.address = self.state.ctypes.data
        self.caller_role = caller_role
        self._offer = jm.function("offer", ctypes.c_int64, ctypes.c_void_p, ctypes.py_object)
        self._finish = jm.function("finish", None, ctypes.c_void_p, ctypes.py_object)
        self._spin = jm.function("spin", ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64)
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._main, name="lossgraph-llvm-helper",
                                       daemon=True)
        self.thread.start()

    def _main(self):
        while True:
            self.wake.wait()
            self.wake.clear()
            if self._spin(self.address, SPINS):
                return

    def run(self, drive_fn, args):
        """drive_fn(args, caller role) on this thread, the helper role offered to the helper."""
        spinning = self._offer(self.address, args)
        if spinning < 0:                          # the helper is another call's
            drive_fn(args, self.caller_role)
            return
        if not spinning:
            self.wake.set()
        try:
            drive_fn(args, self.caller_role)
        finally:
            self._finish(self.address, args)

    def stop(self):
        """Stop the helper and wait for it to leave native code."""
        self.state[STOP] = 1
        self.wake.set()
        self.thread.join(timeout=5.0)


_HELPER = []
_LOCK = threading.Lock()


def helper(jm, caller_role):
    """The process's Helper (started on first use), over the driver's JitModule jm."""
    if not _HELPER:
        with _LOCK:
            if not _HELPER:
                _HELPER.append(Helper(jm, caller_role))
    return _HELPER[0]


@atexit.register
def _stop():
    if _HELPER:
        _HELPER[0].stop()


def _forget():
    """In a forked child: the parent's helper thread does not exist here."""
    _HELPER.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)

