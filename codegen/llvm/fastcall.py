"""The cheap call path of a Program whose steps are all native: one generated Python function.

    call(arrays, outs) -> value, (grads...)     (or Program's general path when it declines)

It reads the dims off the input shapes, allocates each sink's array (a gradient in its out=
buffer when given; the arrays no caller sees are per-thread scratch: 0-d ones made once, the
others again when the dims change), fills the per-thread control array only when the dims
change (one per-thread tuple holds the dims, ctl and the scratch), makes one native call (the
kernel's entry, a builtin: jit.add_py_entry; from drive.SPLIT_FROM elements
codegen.llvm.drive's driver, on the native helper too) and returns the arrays it allocated:
about 0.9 us at N = 10 (BCE) where the general path (lookups per slot) takes several times
that, and about half the Python time around a large call (cold: the call's data has pushed the
interpreter's out of the caches). It declines (calls the general path) for inputs that are
not C-contiguous native arrays. An array it returns of RECYCLE bytes or more may be one that
its slot returned two calls before on the same thread, when nothing holds that one any more
(recycled): above glibc's mmap threshold a fresh one costs its page faults on every call.

The same source with Kernel's argument checks in front (`entry=`) is the Kernel's entry for
plain calls: Kernel's checks, the dispatch on precision and this function's were about 1.3 us
of a 2.9 us BCE call at N = 10 on a Zen 3 host, one function checking it all 1.6 us in all.

The source is built from slot numbers, dims positions and integers only (no user string, no
identifier of the graph) and runs in a namespace holding only what it calls.
"""
from __future__ import annotations

import sys
import threading

import numpy as np

from ..argcheck import accepted_dtypes, check_terms
from ..generated import compiled
from . import drive


#: returned arrays of at least this many bytes are recycled (recycled): from glibc's largest
#: mmap threshold (32 MiB on 64-bit) on, every allocation is a fresh mapping whose pages fault
#: in, zeroed, on first touch. MSE on 2 threads, a fresh gradient against one of two buffers
#: used in turn: float32 N = 8e6 (32 MB) 2.68 / 2.83 ms, 9e6 7.45 / 4.23 ms; at 1e7 BCE 10.9 /
#: 5.77, softmax CE C = 10 8.77 / 6.03, MSE 7.9 / 4.34
RECYCLE = 1 << 25


def recycled(local, slot, shape, dtype):
    """A new array of shape and dtype for slot's output on this thread: the one this slot
    returned two calls ago when nothing else holds it any more (its pages are mapped in, and
    the native code overwrites every element), else np.empty's. The last two stay with the
    thread (the caller's variable still holds the last one during the next call)."""
    try:
        pool = local.pool
    except AttributeError:
        pool = local.pool = {}
    older, last = pool.get(slot, (None, None))
    # older's references: the pool's tuple, the name older and getrefcount's argument; a
    # fourth is the caller's (the array, or a view of it: views hold their base)
    if older is not None and sys.getrefcount(older) == 3 and older.shape == shape and \
            older.dtype == dtype:
        out = older
    else:
        out = np.empty(shape, dtype)
    pool[slot] = (last, out)
    return out


def build(program, entry=None):
    """call(arrays, outs) for program, or None when its outputs need the general path.

    With entry=(k, limit, fits) (k: an input position or None), the Kernel's entry instead:
    it returns None, to send the call down the Kernel's general path, unless arrays are the
    program's inputs exactly (count, type, rank, static and repeated dims, each dtype the very
    one the program takes, C-contiguous), input k takes fewer than limit bytes and outs is
    None or a tuple that fits(outs, *arrays) accepts (Kernel's own check of out=); its checks
    stand for Kernel's and the general path's."""
    plan, steps = program.plan, program.steps
    if not program.one_call or program.bind_needed or program.fn is None:
        return None
    writes = {}
    for st in steps:
        for slot, spec, dtype, ident in st[1]:
            writes[slot] = (spec, dtype, ident)
    outs = program.value_slots + program.grad_slots
    if len(set(outs)) != len(outs) or any(k not in writes or writes[k][2] is not None
                                         for k in outs):
        return None
    ns = {"empty": np.empty, "full": np.full, "fn": program.fn, "slow": program.general,
          "bad": program.bad_labels, "local": threading.local(), "zeros": np.zeros,
          "SIZE": program.ctl_size, "SPLIT": program.split_from, "DESC": program.desc,
          "sched_for": program._sched, "drive": drive, "THREADS": program.threads,
          "RECYCLE": RECYCLE, "recycled": recycled}
    n_in = len(program.input_nodes)
    args = [f"a{i}" for i in range(n_in)]
    lines = ["def call(arrays, outs):"]
    unpack = f"    {', '.join(args)}{',' if n_in == 1 else ''} = arrays"
    if entry is None:
        ok = " and ".join(f"{a}.flags.carray and {a}.dtype.isnative" for a in args) or "True"
        lines += [unpack, f"    if not ({ok}):", "        return slow(arrays, outs)"]
    else:
        found = check_terms(program.input_nodes, lambda k, node: (
            f"a{k}.dtype is E{k}",
            {f"E{k}": next(iter(accepted_dtypes(node, program.float_t)))}))
        if found is None:
            return None
        terms, consts = found
        ns.update(consts)
        terms += [f"{a}.flags.carray" for a in args]
        k, limit, ns["fits"] = entry
        if k is not None:
            terms.append(f"a{k}.nbytes < {int(limit)}")
        terms.append(f"(outs is None or type(outs) is tuple and fits(outs, {', '.join(args)}))")
        lines += [f"    if len(arrays) != {n_in}:", "        return None",
                  unpack, f"    if not ({' and '.join(terms)}):", "        return None"]
    for j, (k, ax) in enumerate(program.dim_source):
        lines.append(f"    d{j} = a{k}.shape[{ax}]")

    def size(spec):
        terms = []
        for coeff, idx in spec:
            terms.append(" * ".join(([] if coeff == 1 and idx else [str(coeff)]) +
                                    [f"d{j}" for j in idx]))
        return terms

    numels = []
    for st in steps:
        numels.append(" * ".join(f"({t})" for t in size(st[2])) or "1")
    # each nest's outer extent: 1 (0-d), its numel (flat) or its first dim
    n0s = ["1" if st[3] == 0 else numel if st[4] else size(st[2])[0]
           for st, numel in zip(steps, numels)]
    sizes = sorted({n for n in numels if n != "1"})
    large = sizes and (sizes[0] if len(sizes) == 1 else f"max({', '.join(sizes)})")
    grads = {k: j for j, k in enumerate(program.grad_slots)}
    # 0-d slots the native code overwrites and no caller keeps (a value comes back as s[()],
    # a copy): per-thread scratch, made once, like ctl (two np.empty calls were 0.2 us of a
    # 1.9 us call at N = 10)
    scratch = [slot for slot, (spec, dtype, ident) in writes.items()
               if not spec and ident is None and slot not in grads]
    # and the others no caller sees (a row's max, ...): per-thread, made again when the dims
    # change (two such np.empty calls were 0.6 us of a 2.4 us softmax CE call at N = 1)
    shapes = {slot: "(" + "".join(f"{t}, " for t in size(spec)) + ")"
              for slot, (spec, dtype, ident) in writes.items()}
    sized = [slot for slot, (spec, dtype, ident) in writes.items()
             if spec and ident is None and slot not in outs]
    for slot, (spec, dtype, ident) in writes.items():
        ns[f"T{slot}"] = np.dtype(dtype)
        shape = shapes[slot]
        if slot in scratch or slot in sized:
            continue
        if ident is not None:
            ns[f"I{slot}"] = ident
            lines.append(f"    s{slot} = full({shape}, I{slot}, dtype=T{slot})")
        else:
            nbytes = " * ".join([f"({t})" for t in size(spec)] + [str(ns[f"T{slot}"].itemsize)])
            made = f"(empty({shape}, T{slot}) if {nbytes} < RECYCLE else " \
                   f"recycled(local, {slot}, {shape}, T{slot}))"
            given = "" if slot not in grads else \
                f"outs[{grads[slot]}] if outs {'is not None' if entry else ''} else "
            lines.append(f"    s{slot} = {given}{made}")
    dims = ", ".join(f"d{j}" for j in range(len(program.dim_source)))
    held = "".join(f"s{k}, " for k in scratch + sized)
    made = "".join(f"empty((), T{k}), " for k in scratch) + "None, " * len(sized)
    dims_tuple = f"({dims}{',' if len(program.dim_source) == 1 else ''})"
    lines += ["    try:", f"        key, ctl, {held} = local.state",
              "    except AttributeError:",
              f"        key, ctl, {held} = local.state = (None, zeros(SIZE), {made})",
              f"    if key != {dims_tuple}:"]
    if program.dim_source:
        lines.append(f"        ctl[:{len(program.dim_source)}] = ({dims},)")
    lines += [f"        s{k} = empty({shapes[k]}, T{k})" for k in sized]
    for st, n0 in zip(steps, n0s):
        cell = st[5]
        lines += [f"        ctl[{cell}] = 1.0", f"        ctl[{cell + 1}] = 0.0",
                  f"        ctl[{cell + 2}] = {n0}"]
    lines.append(f"        local.state = ({dims_tuple}, ctl, {held})")
    items = []
    for k in program.slots:
        if k in writes:
            items.append(f"s{k}")
        else:
            pos = program.input_slots.index(k) if k in program.input_slots else None
            if pos is not None:
                items.append(f"a{pos}")
            else:
                ns[f"C{k}"] = dict(program.consts)[k]
                items.append(f"C{k}")
    if large:
        pairs = "".join(f"({n}, {n0}), " for n, n0 in zip(numels, n0s))
        lines += [f"    if {large} >= SPLIT:",
                  f"        sched, parts, split = sched_for(({pairs}))",
                  f"        drive.run((DESC, sched, parts, ctl, {', '.join(items)}), split, "
                  "THREADS)",
                  "    else:",
                  f"        fn(({', '.join(items)}, ctl))"]
    else:
        lines.append(f"    fn(({', '.join(items)}, ctl))")
    if plan.checks or any(n.op == "pick" for n in plan.order):     # labels may be flagged
        lines += ["    if ctl[-1]:",
                  "        bad({" + ", ".join(f"{k}: {v}" for k, v in
                                            zip(program.slots, items)) + "})"]
    ranks = {k: len(writes[k][0]) for k in outs}
    vals = [f"s{k}[()]" if ranks[k] == 0 else f"s{k}" for k in program.value_slots]
    value = vals[0] if len(vals) == 1 else "(" + ", ".join(vals) + ",)"
    if not program.s.wrt:
        lines.append(f"    return {value}")
    else:
        gs = ", ".join(f"s{k}" for k in program.grad_slots)
        lines.append(f"    return {value}, ({gs},)")
    source = "\n".join(lines) + "\n"
    ns["__builtins__"] = {"max": max, "AttributeError": AttributeError, "type": type,
                          "len": len, "tuple": tuple}
    exec(compiled(source, "<lossgraph llvm call>"), ns)
    call = ns["call"]
    call.source = source
    return call
