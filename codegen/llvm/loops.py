"""One counted loop in LLVM IR, for the generated kernels (emit.py) and the hand-built ones
(handmade.py)."""
from __future__ import annotations

from llvmlite import ir

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
