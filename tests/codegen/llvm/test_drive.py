"""codegen.llvm.drive, the entries of large calls: units from shared counters, partials combined
in unit order. The bits do not depend on who ran which unit: one thread, two, a worker that
starts late, a worker that runs every unit before the calling thread starts; units the same in
Python and in IR; max / min / prod partials, NaN among them, label flags across units, and a
Program with a NumPy step between its nests (each nest driven alone). The native helper thread
itself (codegen.llvm.helper) is tested in test_helper.py."""
import ctypes
import threading
import time

import numpy as np
import pytest
from llvmlite import ir

import codegen
import lossgraph as lg
import zoo
from codegen.llvm import drive, helper, jit
from codegen.llvm.lower import I64, PTR

X = lg.input("x", shape=("N",))
Z = lg.input("z", shape=("N",))
LOGITS = lg.input("logits", shape=("N", "C"))
LABELS = lg.input("labels", shape=("N",), dtype="int64")
M = lg.input("m", shape=("N", "K"))
N = 16 * drive.UNIT + 4321     # 17 units, a short last one
LOSSES = {
    "bce": (lg.mean(lg.softplus(X) - X * Z), [X]),
    "extremes": (lg.max(X * Z) - lg.min(X) + lg.mean(lg.square(X)), [X]),
    "prod": (lg.prod(1 + 1e-7 * X) + lg.sum(Z * X), [X]),
    "softmax_ce": (lg.mean(zoo.tf.sparse_softmax_cross_entropy(LOGITS, LABELS)), [LOGITS]),
    "variance": (lg.mean(lg.square(X - lg.mean(X))) + lg.mean(Z * X), [X]),
    # transpose is computed in NumPy between the nests: each nest runs alone, in units
    "fallback": (lg.mean(lg.softplus(lg.transpose(M))) + lg.max(M), [M]),
}


def feed(name, rng, dtype=np.float32):
    if name == "fallback":
        return {"m": rng.normal(size=(N // 3, 3)).astype(dtype)}
    if name == "softmax_ce":
        rows = N // 97
        return {"logits": rng.normal(size=(rows, 97)).astype(dtype),
                "labels": rng.integers(0, 97, size=rows)}
    return {"x": (3 * rng.normal(size=N)).astype(dtype), "z": rng.random(N).astype(dtype)}


class _Help:
    """A stand-in for the native helper (helper.helper's): the helper role runs on a Python
    thread of its own, which has a head start of `lead` seconds before the caller's (a helper
    that takes every unit it can first), starts only once the caller is done (lead None: so
    late it finds no unit left), or runs to its end before the caller begins (lead "inline": a
    pool that runs a task in the caller's thread)."""

    def __init__(self, lead):
        self.lead = lead

    def run(self, fn, args):
        if self.lead == "inline":
            fn(args, drive.HELPER)
            fn(args, drive.CALLER)
            return
        t = threading.Thread(target=fn, args=(args, drive.HELPER))
        if self.lead is not None:
            t.start()
            time.sleep(self.lead)
        fn(args, drive.CALLER)
        if self.lead is None:
            t.start()
        t.join()


def bits(result):
    v, grads = result
    return v.tobytes() + b"".join(g.tobytes() for g in grads)


@pytest.fixture(scope="module", params=list(LOSSES))
def case(request):
    loss, wrt = LOSSES[request.param]
    ks = {t: codegen.compile(loss, wrt=wrt, backend="llvm", threads=t) for t in (1, 2)}
    return request.param, loss, wrt, ks


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_thread_two_and_any_order_give_the_same_bits(case, dtype, monkeypatch):
    name, loss, wrt, ks = case
    f = feed(name, np.random.default_rng(7), dtype)
    want = bits(ks[1](**f))
    assert bits(ks[2](**f)) == want
    for lead in (0.02, None, "inline"):   # help takes the units first / finds none left /
        with monkeypatch.context() as m:  # runs before drive and gives up at a phase
            m.setattr(helper, "helper", lambda jm, role, lead=lead: _Help(lead))
            done = []
            t = threading.Thread(target=lambda: done.append(bits(ks[2](**f))), daemon=True)
            t.start()
            t.join(60)
            assert done == [want], f"lead {lead}: {'wrong bits' if done else 'no result'}"
    y, grads = lg.pipeline.derive(loss, wrt)
    ref = lg.evaluate([y, *grads], {k: v.astype(np.float64) if v.dtype.kind == "f" else v
                                    for k, v in f.items()})
    v, (g,) = ks[2](**f)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(v, ref[0], rtol=rtol)
    np.testing.assert_allclose(g, ref[1], rtol=rtol, atol=rtol * np.abs(ref[1]).max())


def test_a_busy_helper_leaves_every_unit_to_the_caller():
    """While the helper's cell holds another call, an offer fails and the call runs alone."""
    loss, wrt = LOSSES["bce"]
    k1 = codegen.compile(loss, wrt=wrt, backend="llvm", threads=1)
    k2 = codegen.compile(loss, wrt=wrt, backend="llvm", threads=2)
    f = feed("bce", np.random.default_rng(8))
    want = bits(k1(**f))
    k2(**f)                                         # the process's helper exists
    h = helper.helper(drive.driver()[0], drive.CALLER)
    helped = h.state[helper.HELPED_CALLS]
    h.state[helper.CELL] = helper.TAKEN             # as if it were helping another call
    try:
        got = [bits(k2(**f)) for _ in range(3)]
        assert h.state[helper.CELL] == helper.TAKEN and h.state[helper.HELPED_CALLS] == helped
    finally:
        h.state[helper.CELL] = helper.EMPTY
    assert got == [want] * 3


@pytest.mark.parametrize("name", ["extremes", "prod"])
def test_nan_in_one_unit_reaches_the_partials(name):
    loss, wrt = LOSSES[name]
    f = feed(name, np.random.default_rng(9), np.float64)
    f["x"][N // 2] = np.nan
    for t in (1, 2):
        v, _ = codegen.compile(loss, wrt=wrt, backend="llvm", threads=t)(**f)
        assert np.isnan(v)


def test_a_bad_label_in_the_last_unit_raises():
    loss, wrt = LOSSES["softmax_ce"]
    f = feed("softmax_ce", np.random.default_rng(10))
    f["labels"][-1] = 97
    for t in (1, 2):
        k = codegen.compile(loss, wrt=wrt, backend="llvm", threads=t)
        with pytest.raises(lg.errors.InputError, match="out of range"):
            k(**f)


def test_units_in_ir_are_the_units_in_python():
    module = jit.new_module("units")
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [I64, I64, PTR]), name="units")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    numel, n0, out = fn.args
    n, length = drive.units_ir(b, numel, n0, True, drive.SPLIT_FROM)
    b.store(n, out)
    b.store(length, b.gep(out, [ir.Constant(I64, 1)], source_etype=I64))
    b.ret_void()
    jm = jit.compile_module(module)
    call = jm.function("units", None, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)
    res = np.zeros(2, dtype=np.int64)
    rng = np.random.default_rng(11)
    cases = [(drive.SPLIT_FROM - 1, drive.SPLIT_FROM - 1), (10 ** 7, 10 ** 7),
             (10 ** 7, 10 ** 4), (10 ** 7, 3), (10 ** 9, 10 ** 9), (3 * 10 ** 6, 1)]
    cases += [(int(r) * int(c), int(r)) for r, c in zip(rng.integers(1, 10 ** 5, 200),
                                                      rng.integers(1, 3000, 200))]
    for numel, n0 in cases:
        call(numel, n0, res.ctypes.data)
        units, length = drive.units(numel, n0, True, drive.SPLIT_FROM)
        assert (units, length) == tuple(res), (numel, n0)
        assert units <= drive.MAX_UNITS and (units - 1) * length < n0 <= units * length


def _spy_roles(monkeypatch):
    """The list of drive's roles (CALLER, HELPER) each later driver call appends to (help
    offered runs on a Python thread, _Help, so that its role is seen too)."""
    roles = []
    jm, run, address = drive.driver()

    def spy(args, role):
        roles.append(role)
        run(args, role)
    monkeypatch.setattr(drive, "driver", lambda: (jm, spy, address))
    monkeypatch.setattr(helper, "helper", lambda jm, role: _Help(0.0))
    return roles


@pytest.mark.parametrize("threads", [1, 2])
def test_large_calls_run_the_driver_small_ones_do_not(threads, monkeypatch):
    loss, wrt = LOSSES["bce"]
    k = codegen.compile(loss, wrt=wrt, backend="llvm", threads=threads)
    roles = _spy_roles(monkeypatch)
    f = feed("bce", np.random.default_rng(12))
    k(**f)
    assert sorted(roles) == ([drive.CALLER] if threads == 1 else [drive.CALLER, drive.HELPER])
    roles.clear()
    k(**{name: v[:1000] for name, v in f.items()})
    assert roles == []


@pytest.mark.parametrize("name", ["variance", "bce", "softmax_ce"])
def test_programs_take_help_from_split_from(name, monkeypatch):
    """Flat nests without an EXPENSIVE op (variance: squares, sums), with one (BCE) and rows
    (softmax CE) alike offer the helper role from drive.SPLIT_FROM elements (the native
    helper makes even a memory-bound loop gain there), with the bits of one thread."""
    loss, wrt = LOSSES[name]
    k1, k2 = (codegen.compile(loss, wrt=wrt, backend="llvm", threads=t) for t in (1, 2))
    n = drive.SPLIT_FROM // 97 + 99 if name == "softmax_ce" else drive.SPLIT_FROM + 999
    f = {a: v[:n] for a, v in feed(name, np.random.default_rng(3)).items()}
    want = bits(k1(**f))
    assert bits(k2(**f)) == want
    roles = _spy_roles(monkeypatch)
    assert bits(k2(**f)) == want
    assert sorted(roles) == [drive.CALLER, drive.HELPER]
