"""Packed rows (codegen.llvm.packed) whose blocks of min(G, 2^floor(log2 C)) rows and columns
have a side of at least 4, on vectors of up to 256 bits (with AVX2 float32 C = 4 ... 16, 18,
20; float64 C = 4 ... 11, 13, 15): their full (rows, C) arrays are read and written as windows
of each row, transposed block by block (packed.transpose, TRANSPOSED_WINDOWS),
and one_hot's label compare runs on 32-bit lanes (lower.narrow_label_equal). Both give the
bits of the W-lane permutes and 64-bit compares they replace."""
import ctypes

import numpy as np
import pytest
from llvmlite import ir

import codegen
import lossgraph as lg
import zoo
from codegen.llvm import jit, lower, packed

from .host import BITS, emitting_for


def _ce(classes):
    x = lg.input("x", shape=("N", classes))
    y = lg.input("y", shape=("N",), dtype="int64")
    return x, lg.mean(zoo.tf.sparse_softmax_cross_entropy(x, y))


@pytest.mark.parametrize("lanes", [2, 4, 8, 16])
@pytest.mark.parametrize("extra", [0, 3])
def test_transpose_and_concat(lanes, extra):
    """transpose: register k holds lane k of every row; concat: the registers in order."""
    module = jit.new_module()
    f32, count = ir.FloatType(), lanes + extra
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [lower.PTR, lower.PTR]), name="t")
    b = ir.IRBuilder(fn.append_basic_block())
    vec = ir.VectorType(f32, lanes)

    def at(ptr, k):
        return b.gep(ptr, [ir.Constant(lower.I64, k * lanes)], source_etype=f32)

    def load(k):
        v = b.load(at(fn.args[0], k), typ=vec)
        v.align = 4
        return v
    regs = packed.transpose(b, [load(j) for j in range(lanes)])
    b.store(packed.concat(b, regs + [load(lanes + j) for j in range(extra)]),
            fn.args[1]).align = 4
    b.ret_void()
    f = jit.compile_module(module).function("t", None, ctypes.c_void_p, ctypes.c_void_p)
    a = np.arange(count * lanes, dtype=np.float32)
    out = np.full(count * lanes, np.nan, np.float32)
    f(a.ctypes.data, out.ctypes.data)
    square = a[:lanes * lanes].reshape(lanes, lanes)
    np.testing.assert_array_equal(out, np.concatenate([square.T.ravel(), a[lanes * lanes:]]))


def _windowed(classes, lanes, bits):
    """Blocks of side min(G, the largest power of two within C), at least MIN_WINDOW."""
    side = min(packed.group(classes, lanes), 1 << (classes.bit_length() - 1))
    return packed.packs(classes, lanes) and bits <= packed.WINDOW_BITS and \
        side >= packed.MIN_WINDOW


@pytest.mark.parametrize("bits", [128, 256, 512])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("classes", [3, 4, 5, 7, 8, 9, 10, 12, 13, 16, 20, 24, 40])
def test_windows_give_the_bits_of_the_permutes(bits, dtype, classes, monkeypatch):
    """Softmax CE through the windows against the same kernel through W-lane permutes: the
    same value and gradient bits (rows in whole groups, an overlapping last group, fewer
    rows than a group), and against lg.evaluate; the windows are taken exactly where the
    blocks' side is at least MIN_WINDOW, on vectors of at most WINDOW_BITS."""
    if bits > BITS:
        pytest.skip(f"this host's vectors have {BITS} bits")
    monkeypatch.setenv("LOSSGRAPH_CACHE", "0")
    lanes = bits // (8 * np.dtype(dtype).itemsize)
    x, loss = _ce(classes)
    calls = []
    real = packed.transpose
    monkeypatch.setattr(packed, "transpose", lambda b, rows: calls.append(1) or real(b, rows))
    rng = np.random.default_rng(classes)
    with emitting_for(bits):
        kernels = {}
        for on in (False, True):
            monkeypatch.setattr(packed, "TRANSPOSED_WINDOWS", on)
            codegen.CACHE.clear()
            kernels[on] = codegen.compile(loss, wrt=[x], backend="llvm", dtype=dtype,
                                          threads=1, name=f"w{int(on)}")
            kernels[on](x=np.zeros((3, classes), dtype), y=np.zeros(3, np.int64))
            assert bool(calls) == (on and _windowed(classes, lanes, bits))
        for rows in (3, 5 * lanes, 5 * lanes + 3):
            feed = {"x": (4 * rng.normal(size=(rows, classes))).astype(dtype),
                    "y": rng.integers(0, classes, size=rows)}
            (v0, (g0,)), (v1, (g1,)) = (kernels[on](**feed) for on in (False, True))
            assert v0 == v1
            np.testing.assert_array_equal(g0, g1)
            value, grads = lg.pipeline.derive(loss, [x])
            want_v, want_g = lg.evaluate([value, *grads], feed)
            tol = 2e-6 if dtype == "float32" else 1e-14
            np.testing.assert_allclose(v1, want_v, rtol=4 * tol)
            np.testing.assert_allclose(g1, want_g, rtol=4 * tol, atol=tol * np.abs(want_g).max())


def test_one_hot_compares_on_32_bit_lanes():
    """The packed kernel of softmax CE compares its labels with the columns on 32-bit lanes;
    a user's y == arange (no label check) keeps its 64-bit compare."""
    x, loss = _ce(10)
    k = codegen.compile(loss, wrt=[x], backend="llvm", threads=1)
    k(x=np.zeros((40, 10), np.float32), y=np.zeros(40, np.int64))
    width = 10 * packed.group(10, BITS // 32)
    assert f"icmp eq <{width} x i32>" in k.llvm_ir
    assert f"icmp eq <{width} x i64>" not in k.llvm_ir
    y = lg.input("y", shape=("N",), dtype="int64")
    plain = lg.cast(lg.equal(lg.reshape(y, ("N", 1)), lg.arange(10)), "float32") * x
    k2 = codegen.compile(lg.sum(plain), wrt=[x], backend="llvm", threads=1)
    big = np.array([2 ** 32 + 3, 3] * 20, np.int64)
    v, (g,) = k2(x=np.ones((40, 10), np.float32), y=big)
    want = (big[:, None] == np.arange(10)).astype(np.float32)       # no column for 2^32 + 3
    assert v == want.sum()
    np.testing.assert_array_equal(g, want)


@pytest.mark.parametrize("bad", [10, -1, 2 ** 32 + 3, 2 ** 40])
def test_labels_whose_low_bits_name_a_column_still_raise(bad):
    """A label out of range whose low 32 bits are a column (2^32 + 3, 2^40) raises: the
    32-bit compare only runs on labels the kernel range-checks."""
    x, loss = _ce(10)
    k = codegen.compile(loss, wrt=[x], backend="llvm", threads=1)
    y = np.zeros(37, np.int64)
    y[21] = bad
    with pytest.raises(lg.errors.InputError, match=f"label {bad} is out of range"):
        k(x=np.zeros((37, 10), np.float32), y=y)
