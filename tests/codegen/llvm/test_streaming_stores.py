"""Streaming (non-temporal) gradient stores (emit.NestEmitter.stream_candidates,
loops.copy_lines): the gradient's bits do not depend on where its buffer lies or on whether
the call streams, nothing outside the buffer is written, and the benchmark kernels' streaming
Programs carry vmovntps / vmovntpd. The streaming Program runs only calls whose largest
float input reaches STREAM_FROM_BYTES (backend.LLVMKernel); the variants here force it."""
import re
from contextlib import contextmanager

import numpy as np
import pytest

import codegen
import lossgraph as lg
from codegen.llvm import drive, emit, lower
from codegen.llvm.backend import Program
from zoo import losses as L

from . import host

pytestmark = pytest.mark.skipif(not emit.streams_on_host(),
                                reason="streaming stores are emitted on x86 hosts with AVX only")

X = lg.input("x", shape=("N",))
Z = lg.input("z", shape=("N",))
#: losses of flat nests: (loss, wrt); mse2 has two gradients (two streamed outputs)
FLAT = {"mse": (lambda: L.squared_error(X, Z, reduction="mean"), [X]),
        "huber": (lambda: L.huber(X, Z, reduction="mean"), [X]),
        "mse2": (lambda: L.squared_error(X, Z, reduction="mean"), [X, Z]),
        "bce": (lambda: L.sigmoid_cross_entropy(X, Z, reduction="mean"), [X])}
#: where each variant streams: "always" from 0 bytes, "never" (both: every call runs the
#: streaming Program), "base": no streaming code at all (the kernel as on a host without
#: streaming stores), "default": STREAM_FROM_BYTES
VARIANTS = {"always": 0, "never": 1 << 62, "default": None, "base": None}
BLOCK = lower.BLOCK


@contextmanager
def _streaming(variant):
    old, host = emit.STREAM_FROM_BYTES, emit.streams_on_host
    if VARIANTS[variant] is not None:
        emit.STREAM_FROM_BYTES = VARIANTS[variant]
    if variant == "base":
        emit.streams_on_host = lambda: False
    try:
        yield
    finally:
        emit.STREAM_FROM_BYTES, emit.streams_on_host = old, host


_KERNELS = {}


def _kernel(name, variant, dtype, threads):
    """The loss `name` compiled (and built, by one call) with streaming as `variant` says:
    "always" and "never" dispatch every call to their streaming Program (its first call, of
    40 elements, is large when the kernel's dispatch test is made with STREAM_FROM_BYTES
    = 0); "never"'s is then built again with the nests' own test never true."""
    key = (name, variant, dtype, threads)
    if key not in _KERNELS:
        loss, wrt = FLAT[name]
        with _streaming("always" if variant == "never" else variant):
            k = codegen.compile(loss(), wrt=wrt, backend="llvm", dtype=dtype,
                                threads=threads, name=f"{name}_{variant}")
            k(**_feed(40, dtype, 0))
        if variant == "never" and k._fn.streaming_programs:
            with _streaming("never"):
                k._fn.streaming_programs[(dtype, ())] = Program(k._fn.s, dtype, threads,
                                                                streaming=True)
            k._fn._calls.clear()
        _KERNELS[key] = k
    return _KERNELS[key]


def _feed(n, dtype, seed):
    rng = np.random.default_rng(seed)
    return {"x": (3 * rng.normal(size=n)).astype(dtype),
            "z": (rng.random(n) > 0.5).astype(dtype)}


def _views(n, dtype, count):
    """(raw bytes, start, count out views): views of n elements, one after the other, from
    every element-aligned byte offset 0, 4 (float32), 8, ..., 60 past a 64-byte boundary of a
    larger buffer."""
    size = np.dtype(dtype).itemsize
    raw = np.empty(count * n * size + 192, np.uint8)
    a0 = (-raw.ctypes.data) % 64 + 64
    for off in range(0, 64, size):
        at = a0 + off
        yield raw, at, [raw[at + j * n * size:at + (j + 1) * n * size].view(dtype)
                        for j in range(count)]


def _call_into(k, feed, raw, start, outs):
    """k's gradients written into outs (views of raw, from byte start on, one after the
    other); raw's other bytes must stay as they were (a fixed pattern)."""
    raw[:] = np.arange(raw.size, dtype=np.uint8) * 7 + 3
    before = raw.copy()
    value, grads = k(**feed, out=tuple(outs))
    assert all(g is o for g, o in zip(grads, outs))
    end = start + sum(o.nbytes for o in outs)
    assert np.array_equal(raw[:start], before[:start]) and np.array_equal(raw[end:], before[end:])
    return value.tobytes(), [g.tobytes() for g in grads]


def _reference(name, feed):
    loss, wrt = FLAT[name]
    value, grads = lg.pipeline.derive(loss(), wrt)
    return lg.evaluate([value] + list(grads), {k: v.astype(np.float64) for k, v in feed.items()})


STREAMED = ["mse", "huber", "mse2"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", STREAMED)
def test_gradient_bits_at_every_output_alignment(name, dtype, threads):
    """Sizes around a block (BLOCK - 1, BLOCK, BLOCK + 1), not multiples of a line, below a
    line, and one cut in two chunks: the streaming kernel gives, at every offset of its
    outputs, the bits of the kernel without streaming code, and writes nothing outside
    them; both agree with lg.evaluate."""
    ks = {v: _kernel(name, v, dtype, threads) for v in ("always", "never", "base")}
    count = len(FLAT[name][1])
    sizes = [1, 5, 17, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 21]
    if threads == 2:
        sizes.append(drive.SPLIT_FROM + 3 * BLOCK + 37)
    for n in sizes:
        feed = _feed(n, dtype, n)
        want_v, want_g = ks["base"](**feed)
        want = (want_v.tobytes(), [g.tobytes() for g in want_g])
        for raw, start, outs in _views(n, dtype, count):
            for variant in ("always", "never"):
                got = _call_into(ks[variant], feed, raw, start, outs)
                assert got == want, (n, start % 64, variant)
        ref = _reference(name, feed)
        tol = 2e-5 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(want_v, ref[0], rtol=tol)
        for g, r in zip(want_g, ref[1:]):
            np.testing.assert_allclose(g, r, rtol=10 * tol, atol=tol * np.abs(r).max())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sizes_around_the_threshold_give_the_bits_of_no_streaming(dtype):
    """The default kernel at STREAM_FROM_BYTES - 1 element (the Program without streaming
    code runs it), STREAM_FROM_BYTES (the first size that streams: the streaming Program) and
    + 17 elements, on two threads, against the kernel without streaming code, its output 4
    (float32) or 8 bytes past a line; the streaming Program called at each size directly
    (below the threshold its nest writes directly) gives the same bits."""
    base = _kernel("mse", "base", dtype, 2)
    k = codegen.compile(FLAT["mse"][0](), wrt=[X], backend="llvm", dtype=dtype, threads=2,
                        name="mse_threshold")
    size = np.dtype(dtype).itemsize
    first = emit.STREAM_FROM_BYTES // size
    wants = {}
    for n in (first - 1, first, first + 17):
        feed = _feed(n, dtype, 7)
        want_v, want_g = base(**feed)
        wants[n] = (want_v.tobytes(), [g.tobytes() for g in want_g])
        raw = np.empty(n * size + 128, np.uint8)
        start = (-raw.ctypes.data) % 64 + size
        got = _call_into(k, feed, raw, start, [raw[start:start + n * size].view(dtype)])
        assert got == wants[n], n
        assert bool(k._fn.streaming_programs) == (n >= first), n
    streaming = k._fn.program(dtype, (), streaming=True)
    for n, want in wants.items():
        feed = _feed(n, dtype, 7)
        value, (grad,) = streaming.call([feed["x"], feed["z"]], [])
        assert (value.tobytes(), [grad.tobytes()]) == want, n


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", STREAMED)
def test_benchmark_kernels_stream_their_gradient(name, dtype):
    """The default kernel's streaming Program's machine code: the block loop at full vector
    width (zmm with AVX-512), the copy by aligned non-temporal stores of 64-byte lines (one
    register each with AVX-512, two with AVX), an sfence; the
    threshold is a compare with STREAM_FROM_BYTES' elements. Its Program without streaming
    code, and the kernel without any: none of it."""
    k = _kernel(name, "default", dtype, 2)
    plain, p = k._fn.program(dtype), k._fn.program(dtype, (), streaming=True)
    asm, llvm_ir, optimized = (p.texts(key) for key in ("asm", "llvm_ir", "optimized_ir"))
    nt = "vmovntps" if dtype == "float32" else "vmovntpd"
    per_line = 512 // host.BITS
    assert len(re.findall(rf"{nt}\s+%{host.REGISTER}\d+, ", asm)) == \
        per_line * len(FLAT[name][1]), name
    assert "sfence" in asm
    first = emit.STREAM_FROM_BYTES // np.dtype(dtype).itemsize
    assert re.search(rf"icmp sge i64 [^,\n]+, {first}\n", llvm_ir)
    lanes = 64 // np.dtype(dtype).itemsize           # a 64-byte line, on any host
    ty = "float" if dtype == "float32" else "double"
    assert re.search(rf"store <{lanes} x {ty}> [^\n]*!nontemporal", optimized)
    assert re.search(rf"\bv(sub|mul|add)p[sd]\s+[^\n]*%{host.REGISTER}", asm), \
        "block loop not at full width"
    assert f"; precision {dtype}, streaming stores\n" in k.asm
    base = _kernel(name, "base", dtype, 2)
    for text in (base.optimized_ir, plain.texts("optimized_ir")):
        assert "nontemporal" not in text
    for text in (base.asm, plain.texts("asm")):
        assert "sfence" not in text


def test_compute_bound_nests_get_no_streaming_code(monkeypatch):
    """BCE computes exp and log1p per element (EXPENSIVE): its kernel is the one without
    streaming code; with STREAM_EXPENSIVE it streams, with the same bits."""
    k, base = (_kernel("bce", v, "float32", 2) for v in ("always", "base"))
    assert k.llvm_ir.split("\n", 1)[1] == base.llvm_ir.split("\n", 1)[1]
    monkeypatch.setattr(emit, "STREAM_EXPENSIVE", True)
    with _streaming("always"):
        k = codegen.compile(FLAT["bce"][0](), wrt=[X], backend="llvm", dtype="float32",
                            name="bce_expensive")
        feed = _feed(3 * BLOCK + 5, "float32", 3)
        got = k(**feed)
    assert "vmovntps" in k.asm
    want = base(**feed)
    assert got[0].tobytes() == want[0].tobytes() and got[1][0].tobytes() == want[1][0].tobytes()
