"""The streaming Program compiled only when a call needs it (backend.LLVMKernel): a kernel
whose Program could stream runs calls whose largest float input reaches
emit.STREAM_FROM_BYTES on a second Program with streaming stores, built on the first such
call; smaller calls never build it, and kernels that cannot stream keep their dispatch key.
The Program without streaming code carries none of it (emit.NestEmitter's switch)."""
import numpy as np
import pytest

import codegen
import lossgraph as lg
from codegen.llvm import drive, emit, jit
from codegen.llvm.backend import Program
from zoo import losses as L

pytestmark = pytest.mark.skipif(not emit.streams_on_host(),
                                reason="streaming stores are emitted on x86 hosts with AVX only")

X = lg.input("x", shape=("N",))
Z = lg.input("z", shape=("N",))


def _mse():
    return L.squared_error(X, Z, reduction="mean")


def _feed(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (3 * rng.normal(size=n)).astype(dtype), (rng.random(n) > 0.5).astype(dtype)


@pytest.fixture
def built(monkeypatch):
    """The modules jit.compile_module compiles from here on (the process's driver, made once on
    a first large call, made before: the counts are the kernels' modules alone)."""
    drive.driver()
    modules = []
    real = jit.compile_module
    monkeypatch.setattr(jit, "compile_module", lambda m, *a: modules.append(m) or real(m, *a))
    return modules


def test_small_calls_never_compile_the_streaming_program(built):
    """Calls of both precisions below the threshold compile one Program each, without
    streaming code; the kernel knows that its Program could stream."""
    k = codegen.compile(_mse(), wrt=[X], backend="llvm", threads=1, name="mse_small")
    for dtype in ("float32", "float64"):
        for n in (10, 5000):
            x, z = _feed(n, dtype)
            value, (grad,) = k(x, z)
            want = lg.evaluate(_mse(), {"x": x.astype(np.float64), "z": z.astype(np.float64)})
            np.testing.assert_allclose(value, want, rtol=1e-5)
            np.testing.assert_allclose(grad, 2 * (x - z) / n, rtol=1e-5, atol=1e-12)
    assert sorted(k._fn.programs) == [("float32", ()), ("float64", ())]
    assert k._fn.streaming_programs == {} and len(built) == 2
    assert all(p.could_stream and not p.streaming for p in k._fn.programs.values())
    assert "streaming stores" not in k.llvm_ir and "nontemporal" not in k.optimized_ir


def test_a_large_call_compiles_it_and_gets_the_bits_of_the_program_without(built):
    """The first call whose input reaches STREAM_FROM_BYTES builds the streaming Program (once),
    its results are the bits of the Program without streaming code, smaller calls keep
    running that one, and the texts show both under their headers."""
    k = codegen.compile(_mse(), wrt=[X], backend="llvm", threads=2, name="mse_large")
    small = _feed(100, "float32", 1)
    k(*small)
    assert len(built) == 1
    n = emit.STREAM_FROM_BYTES // 4 + 3
    x, z = _feed(n, "float32", 2)
    value, (grad,) = k(x, z)
    assert list(k._fn.streaming_programs) == [("float32", ())] and len(built) == 2
    plain = k._fn.programs[("float32", ())]
    want_v, (want_g,) = plain.call([x, z], [])
    assert value.tobytes() == want_v.tobytes() and grad.tobytes() == want_g.tobytes()
    out = np.empty_like(x)
    again = k(x, z, out=(out,))
    assert again[1][0] is out and out.tobytes() == want_g.tobytes()
    v2, (g2,) = k(*small)
    w2, (wg2,) = plain.call(list(small), [])
    assert v2.tobytes() == w2.tobytes() and g2.tobytes() == wg2.tobytes()
    assert len(built) == 2
    streaming = k._fn.streaming_programs[("float32", ())]
    assert streaming.streaming and streaming.texts("llvm_ir") in k.llvm_ir
    assert k.llvm_ir.index("; precision float32\n") < \
        k.llvm_ir.index("; precision float32, streaming stores\n")
    assert "vmovntps" in k.asm.split("streaming stores\n", 1)[1]
    assert "vmovntps" not in k.asm.split("streaming stores\n", 1)[0]


def test_a_first_large_call_compiles_the_streaming_program_alone(built):
    """A kernel whose first call is large compiles its streaming Program only; the first
    small call then compiles the plain one, with the same bits. BCE (no streaming
    candidates) compiles one Program for either, kept as the plain one."""
    k = codegen.compile(_mse(), wrt=[X], backend="llvm", threads=1, name="mse_first_large")
    x, z = _feed(emit.STREAM_FROM_BYTES // 8, "float64", 5)
    value, (grad,) = k(x, z)
    assert list(k._fn.streaming_programs) == [("float64", ())] and not k._fn.programs
    assert len(built) == 1 and k._fn.sized
    assert k.llvm_ir.startswith("; precision float64, streaming stores\n") and len(built) == 1
    small = _feed(300, "float64", 6)
    v, (g,) = k(*small)
    assert list(k._fn.programs) == [("float64", ())] and len(built) == 2
    (want_v, (want_g,)), (sv, (sg,)) = (k._fn.programs[("float64", ())].call([x, z], []),
                                         k._fn.streaming_programs[("float64", ())].call(
                                             list(small), []))
    assert value.tobytes() == want_v.tobytes() and grad.tobytes() == want_g.tobytes()
    assert v.tobytes() == sv.tobytes() and g.tobytes() == sg.tobytes()
    bce = codegen.compile(L.sigmoid_cross_entropy(X, Z, reduction="mean"), wrt=[X],
                          backend="llvm", threads=1, name="bce_first_large")
    key = bce._fn._key
    bce(x, z)
    bce(*small)
    assert list(bce._fn.programs) == [("float64", ())] and not bce._fn.streaming_programs
    assert len(built) == 3 and bce._fn._key is key
    p = bce._fn.programs[("float64", ())]
    assert not p.streaming and not p.could_stream


def test_kernels_that_cannot_stream_keep_their_dispatch(built):
    """BCE (an EXPENSIVE op: no streaming candidates) and softmax CE (rows, not flat): the
    dispatch key function stays the dtype key and a large call compiles nothing more."""
    k = codegen.compile(L.sigmoid_cross_entropy(X, Z, reduction="mean"), wrt=[X],
                        backend="llvm", threads=2, name="bce_dispatch")
    key = k._fn._key
    k(*_feed(50, "float32"))
    x, z = _feed(emit.STREAM_FROM_BYTES // 4, "float32", 3)
    k(x, z)
    assert k._fn._key is key and not k._fn.sized and len(built) == 1
    assert not k._fn.programs[("float32", ())].could_stream and not k._fn.streaming_programs
    pred = lg.input("pred", shape=("N", 10))
    label = lg.input("label", shape=("N",), dtype="int64")
    ce = codegen.compile(L.sparse_softmax_cross_entropy(pred, label, reduction="mean"),
                         wrt=[pred], backend="llvm", threads=1, name="ce_dispatch")
    key = ce._fn._key
    rng = np.random.default_rng(4)
    ce(rng.normal(size=(20, 10)).astype(np.float32), rng.integers(0, 10, 20))
    assert ce._fn._key is key and not ce._fn.sized and not ce._fn.streaming_programs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_program_without_streaming_has_no_streaming_code(dtype):
    """Program(streaming=False) of MSE: no scratch arguments, no inline asm, no select of a
    scratch, no non-temporal store, no sfence, but could_stream; Program(streaming=True):
    all of them, and the same bits at a size that streams and one that does not."""
    k = codegen.compile(_mse(), wrt=[X], backend="llvm", threads=1, name="mse_programs")
    plain = Program(k._fn.s, dtype, 1)
    streaming = Program(k._fn.s, dtype, 1, streaming=True)
    assert plain.could_stream and streaming.could_stream
    ir_plain, ir_streaming = plain.texts("llvm_ir"), streaming.texts("llvm_ir")
    for text in ("asm sideeffect", "nontemporal", "sfence", "llvm.masked.store"):
        assert text not in ir_plain and text in ir_streaming, text
    assert "sfence" not in plain.texts("asm")
    nest = [line for line in ir_plain.splitlines() if line.startswith("define")
            and '@"nest0"' in line][0]
    nest_s = [line for line in ir_streaming.splitlines() if line.startswith("define")
              and '@"nest0"' in line][0]
    assert nest_s.count("ptr") == nest.count("ptr") + 1          # one scratch argument
    for n in (1000, emit.STREAM_FROM_BYTES // np.dtype(dtype).itemsize):
        x, z = _feed(n, dtype, n)
        (a, (ga,)), (b, (gb,)) = plain.call([x, z], []), streaming.call([x, z], [])
        assert a.tobytes() == b.tobytes() and ga.tobytes() == gb.tobytes(), n


@pytest.mark.parametrize("weak", [(), (1,), (0, 2), (0, 1, 2)])
def test_the_sized_key_keeps_small_calls_keys(weak):
    """_streaming_key: a small call's key is the dtype key's, a large call's differs from
    every small call's key and from the large key of another dtype."""
    from codegen.llvm.backend import _dtype_key, _streaming_key
    base = _dtype_key(weak)
    key = _streaming_key(base, weak, (), 1, 100)
    keys = {}
    for dtype in (np.float32, np.float64):
        for n in (3, 24, 25, 1000):
            arrays = [np.zeros(n, dtype) for _ in range(3)]
            large = arrays[1].nbytes >= 100
            if not large:
                assert key(arrays) == base(arrays)
            keys.setdefault(key(arrays), set()).add((dtype if weak else None, large))
    assert all(len(v) == 1 for v in keys.values())
    assert len(keys) == (2 if not weak else 4)
