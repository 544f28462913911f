"""The Kernel's entry (LLVMKernel.entry, fastcall.build with entry=): after a first plain call,
one generated function checks and runs plain calls alone. Whatever it declines (out=, keyword
arrays, the wrong count, rank, dims or dtype, another precision, non-contiguous, read-only,
byte-swapped or subclassed arrays, a call large enough to stream) goes down the general path
and gets its answer or error there; what it runs gets the general path's bits. The
intermediates no caller sees (a softmax row's max and sum) are per-thread, made again when the
dims change."""
import numpy as np
import pytest

import codegen
import lossgraph as lg
from codegen.llvm import emit
from lossgraph.errors import DTypeError, InputError, ShapeError
from zoo import losses as L

from ...threads import in_threads

X = lg.input("x", shape=("N",))
Z = lg.input("z", shape=("N",))
P = lg.input("p", shape=("N", 7))
Y = lg.input("y", shape=("N",), dtype="int64")


def _bce():
    return codegen.compile(L.sigmoid_cross_entropy(X, Z, reduction="mean"), wrt=[X],
                           backend="llvm", threads=1)


def _mse():
    return codegen.compile(L.squared_error(X, Z, reduction="mean"), wrt=[X], backend="llvm",
                           threads=1)


def _ce():
    return codegen.compile(L.sparse_softmax_cross_entropy(P, Y, reduction="mean"), wrt=[P],
                           backend="llvm", threads=1)


def _feed(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (3 * rng.normal(size=n)).astype(dtype), rng.normal(size=n).astype(dtype)


def _same(got, want):
    assert np.asarray(got[0]).tobytes() == np.asarray(want[0]).tobytes()
    for g, w in zip(got[1], want[1]):
        assert g.dtype == w.dtype and g.tobytes() == w.tobytes()


def test_the_entry_is_made_by_a_first_plain_call_and_gives_the_general_bits():
    k = _mse()
    x, z = _feed(37, "float32")
    assert k._fast is None
    first = k(x, z)
    assert k._fast is not None and "def call(arrays, outs):" in k._fast.source
    buf = np.empty_like(x)
    _same(k(x, z), first)
    _same(k(x, z, out=(buf,)), first)          # into out=, the same bits
    grad = 2 * (x.astype(np.float64) - z) / x.size
    np.testing.assert_allclose(k(x, z)[1][0], grad, rtol=1e-5)


def test_a_kernel_called_in_both_precisions_gets_an_entry_for_each():
    """The first entry checks float32's dtypes; a float64 call builds a second one, and
    calls of either precision, by position or by name, go through theirs with the general
    path's bits (the general path: Kernel._direct, never reached once both exist)."""
    k = _mse()
    x, z = _feed(33, "float32")
    x64, z64 = x.astype(np.float64), z.astype(np.float64)
    want32, want64 = k(x, z), k(x64, z64)
    assert k._fast is not None and k._second is not None
    general = []
    real = k._direct
    k._direct = lambda *a: general.append(1) or real(*a)
    _same(k(x, z), want32)
    _same(k(x64, z64), want64)
    _same(k(x=x64, z=z64), want64)
    buf = np.empty_like(x64)
    _same(k(x64, z64, out=(buf,)), want64)
    assert want64[1][0].dtype == np.float64 and not general
    k(x64[::2], z64[::2])                      # declined by both: the general path, once
    assert general == [1] and k._second is not None


@pytest.mark.parametrize("make", [_mse, _bce])
def test_what_the_entry_declines_gets_the_general_answer(make):
    k = make()
    x, z = _feed(40, "float32")
    want = k(x, z)
    x64, z64 = x.astype(np.float64), z.astype(np.float64)
    ref = k(x64, z64)
    assert k._fast is not None
    np.testing.assert_allclose(k(x64, z64)[0], ref[0], rtol=0)      # the other precision
    _same(k(x=x, z=z), want)                                         # keywords
    _same(k(x, z=z), want)
    ro_x, ro_z = x.copy(), z.copy()
    ro_x.flags.writeable = ro_z.flags.writeable = False
    _same(k(ro_x, ro_z), want)                                       # read-only
    _same(k(x.astype(">f4"), z.astype(">f4")), want)                 # byte-swapped
    wide = np.empty(80, np.float32)
    wide[::2] = x
    _same(k(wide[::2], z), want)                                     # strided
    _same(k(x.view(np.matrix)[0].A1, z), want)
    _same(k(list(x.astype(np.float64)), z64), ref)                   # lists


def test_the_entry_declines_bad_calls_and_the_general_path_names_them():
    k = _mse()
    x, z = _feed(12, "float32")
    k(x, z)
    with pytest.raises(ShapeError):
        k(x, z[:5])
    with pytest.raises(ShapeError):
        k(x.reshape(3, 4), z.reshape(3, 4))
    with pytest.raises(InputError, match="takes 2 inputs"):
        k(x, z, z)
    with pytest.raises(InputError):
        k(x)
    with pytest.raises(DTypeError):
        k(x.astype(np.int32), z)
    with pytest.raises(InputError, match="out must be a tuple"):
        k(x, z, out=np.empty_like(x))
    np.testing.assert_allclose(k(x, z)[0], np.mean((x.astype(np.float64) - z) ** 2),
                               rtol=1e-6)


def test_a_fixed_dtype_kernel_has_one_entry():
    k = codegen.compile(L.squared_error(X, Z, reduction="mean"), wrt=[X], backend="llvm",
                        dtype="float64", threads=1)
    x, z = _feed(9, "float64")
    want = k(x, z)
    assert k._fast is not None
    with pytest.raises(DTypeError):
        k(x.astype(np.float32), z.astype(np.float32))
    _same(k(x, z), want)


def test_softmax_rows_intermediates_are_remade_when_the_dims_change():
    k = _ce()
    ref = codegen.compile(L.sparse_softmax_cross_entropy(P, Y, reduction="mean"), wrt=[P],
                          backend="numpy")
    rng = np.random.default_rng(3)
    for n in (1, 5, 5, 300, 2, 300, 1):
        p = rng.normal(size=(n, 7)).astype(np.float32)
        y = rng.integers(0, 7, size=n)
        value, (grad,) = k(p, y)
        want, (want_grad,) = ref(p.astype(np.float64), y)
        np.testing.assert_allclose(value, want, rtol=1e-5)
        np.testing.assert_allclose(grad, want_grad, rtol=1e-4, atol=1e-7)
    with pytest.raises(Exception, match="label"):
        k(p, np.full(1, 7))


def test_python_threads_with_different_sizes_share_one_entry():
    k = _ce()
    rng = np.random.default_rng(4)
    feeds = [(rng.normal(size=(n, 7)).astype(np.float32), rng.integers(0, 7, size=n))
             for n in (3, 8, 21, 64)]
    wants = [k(p, y) for p, y in feeds]

    def work(j):
        for _ in range(300):
            _same(k(*feeds[j]), wants[j])
    in_threads(work, len(feeds))


@pytest.mark.skipif(not emit.streams_on_host(), reason="streaming stores on x86 AVX hosts")
def test_a_call_large_enough_to_stream_leaves_the_entry(monkeypatch):
    monkeypatch.setattr(emit, "STREAM_FROM_BYTES", 4096)
    k = codegen.compile(L.squared_error(X, Z, reduction="mean"), wrt=[X], backend="llvm",
                        threads=1, name="mse_streaming_entry")      # not a cached kernel
    assert k._fn.stream_from is None
    x, z = _feed(100, "float32")
    k(x, z)
    assert k._fast is not None and k._fn.streaming_programs == {}
    big = _feed(5000, "float32")
    value, (grad,) = k(*big)
    assert k._fn.streaming_programs != {}
    np.testing.assert_allclose(grad, 2 * (big[0].astype(np.float64) - big[1]) / 5000,
                               rtol=1e-5)


def test_input_names_never_reach_the_entry_source():
    a = lg.input("__import__", shape=("N",))
    b = lg.input("ñlambda", shape=("N",))
    k = codegen.compile(L.squared_error(a, b, reduction="mean"), wrt=[a], backend="llvm")
    x, z = _feed(6, "float64")
    k(x, z)
    assert "import" not in k._fast.source and "lambda" not in k._fast.source
    _same(k(x, z), k(x, z, out=(np.empty_like(x),)))


def test_plain_calls_by_position_or_by_name_never_reach_the_general_path():
    k = _mse()
    x, z = _feed(21, "float32")
    want = k(x, z)

    def general(*args):
        raise AssertionError("the general path ran")
    k._direct = general
    _same(k(x, z), want)
    _same(k(x=x, z=z), want)
    _same(k(z=z, x=x), want)
    buf = np.full_like(x, np.nan)
    value, (grad,) = k(x, z, out=(buf,))
    assert grad is buf
    _same((value, (buf,)), want)
    with pytest.raises(AssertionError, match="general path"):
        k(x, z=z)                   # mixed: the general path


def test_bad_out_buffers_get_the_general_errors_after_the_entry_is_made():
    k = _mse()
    x, z = _feed(16, "float32")
    want = k(x, z)
    assert k._fast is not None
    buf = np.empty_like(x)
    for bad, match in (([buf], "out must be a tuple"), ((buf, buf), "out must be a tuple"),
                       ((buf[:5],), "shape"), ((buf.astype(np.float64),), "dtype"),
                       ((x,), "overlap|share|input"), ((buf[::-1],), "C-contiguous")):
        with pytest.raises(InputError, match=match):
            k(x, z, out=bad)
    ro = np.empty_like(x)
    ro.flags.writeable = False
    with pytest.raises(InputError, match="writeable"):
        k(x, z, out=(ro,))
    _same(k(x, z, out=(buf,)), want)


def test_calls_by_name_the_entry_declines_get_the_general_errors():
    k = _mse()
    x, z = _feed(8, "float32")
    want = k(x=x, z=z)
    assert k._fast is not None
    with pytest.raises(InputError):
        k(x=x, y=z)
    with pytest.raises(InputError):
        k(x=x)
    with pytest.raises(InputError):
        k(x=x, z=z, w=z)
    _same(k(x=x, z=z), want)
