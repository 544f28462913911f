"""Loops in LLVM IR: one counted loop, for the generated kernels (emit.py) and the hand-built
ones (handmade.py); the copy of a scratch buffer to an array by whole 64-byte lines
(copy_lines, for emit's streaming stores)."""
from __future__ import annotations

from llvmlite import ir

from .mathlib import byte_size, declared, type_suffix

_I64 = ir.IntType(64)


def loop_hints(module, hints):
    """A new self-referencing llvm.loop node for hints ((name, i32 value or None), ...): one
    per loop (module.add_metadata would hand every loop with the same hints one shared node,
    and LLVM then treats them as one loop: the vectorizer dropped a remainder loop)."""
    ops = [module.add_metadata([ir.MetaDataString(module, name)] +
                               ([] if value is None else [ir.Constant(ir.IntType(32), value)]))
           for name, value in hints]
    node = ir.values.MDValue(module, ops, name=str(len(module.metadata)))
    node.operands = (node,) + tuple(ops)
    return node


def counted_loop(b, start, stop, body, carried=(), hints=()):
    """for i in [start, stop): carried = body(b, i, *carried); returns the final carried.
    hints: loop metadata for the optimizer, e.g. (("llvm.loop.unroll.disable", None),)."""
    pre = b.block
    head = b.append_basic_block("loop")
    done = b.append_basic_block("done")
    b.cbranch(b.icmp_signed("<", start, stop), head, done)
    b.position_at_end(head)
    i = b.phi(_I64)
    i.add_incoming(start, pre)
    phis = []
    for init in carried:
        phi = b.phi(init.type)
        phi.add_incoming(init, pre)
        phis.append(phi)
    out = body(b, i, *phis)
    nxt = b.add(i, ir.Constant(_I64, 1))
    tail = b.block
    i.add_incoming(nxt, tail)
    for phi, val in zip(phis, out):
        phi.add_incoming(val, tail)
    latch = b.cbranch(b.icmp_signed("<", nxt, stop), head, done)
    if hints:
        latch.set_metadata("llvm.loop", loop_hints(b.module, hints))
    b.position_at_end(done)
    results = []
    for init, val in zip(carried, out):
        res = b.phi(init.type)
        res.add_incoming(init, pre)
        res.add_incoming(val, tail)
        results.append(res)
    return results


LINE = 64                       # bytes of a cache line, of one non-temporal vector store
_I32 = ir.IntType(32)


def copy_lines(b, scratch, first, s0, n, ty):
    """first[0:n] = scratch[s0:s0 + n], by the 64-byte lines of first's memory: scratch (64-byte
    aligned, s0 + n rounded up to a line at least) mirrors that memory's line layout, so s0 is
    first's element offset within its line. The lines lying wholly in [0, n) are aligned
    non-temporal vector stores (!nontemporal: vmovntps / vmovntpd; weakly ordered, so the
    caller fences), the partial lines at either end masked stores, their masks made as
    integers (lane compares cost compile time; ordinary vector stores of whole lines of
    elements over a streamed line made MSE at 1e7 1.3x slower). ty: the element type (float
    or double); n, s0: i64."""
    lanes = LINE // byte_size(ty)
    vt, width = ir.VectorType(ty, lanes), ir.Constant(_I64, lanes)
    bits = ir.VectorType(ir.IntType(1), lanes)
    masked = declared(b.module, f"llvm.masked.store.{type_suffix(vt)}.p0",
                      ir.FunctionType(ir.VoidType(), [vt, ir.PointerType(), bits]))
    nt = b.module.add_metadata([ir.Constant(_I32, 1)])
    zero, one = ir.Constant(_I64, 0), ir.Constant(_I64, 1)
    end = b.add(s0, n)

    def line(j):
        """scratch's line j and its place in first's memory (line 0 may start below first)"""
        pos = b.mul(j, width)
        v = b.load(b.gep(scratch, [pos], inbounds=True, source_etype=ty), typ=vt)
        v.align = LINE
        return v, b.gep(first, [b.sub(pos, s0)], source_etype=ty)

    def partial(j, lo, hi):
        """line j's lanes [lo, hi), 0 <= lo < hi <= lanes (i64)"""
        v, dst = line(j)
        mask = b.trunc(b.sub(b.shl(one, hi), b.shl(one, lo)), ir.IntType(lanes))
        call = b.call(masked, [v, dst, b.bitcast(mask, bits)])
        call.arg_attributes[1] = ir.values.ArgumentAttributes()
        call.arg_attributes[1].align = LINE // lanes

    def whole(b, j):
        v, dst = line(j)
        st = b.store(v, dst)
        st.align = LINE
        st.set_metadata("nontemporal", nt)
        return ()
    head = b.icmp_unsigned("!=", s0, zero)                # line 0 is partial
    with b.if_then(head):
        partial(zero, s0, b.select(b.icmp_unsigned("<", end, width), end, width))
    full = b.udiv(end, width)                             # lines [head, full) are whole
    counted_loop(b, b.zext(head, _I64), full, whole, hints=(("llvm.loop.unroll.disable", None),))
    rest = b.sub(end, b.mul(full, width))
    with b.if_then(b.and_(b.icmp_unsigned("!=", rest, zero),
                          b.icmp_unsigned(">=", full, b.zext(head, _I64)))):
        partial(full, zero, rest)                         # the last line, if partial
