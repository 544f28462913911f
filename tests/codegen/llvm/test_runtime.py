"""The call path, proven on the hand-built BCE-with-logits kernel: results against a NumPy
float64 reference, clear errors before native code, the same bits on 1 or 2 threads and on every
call, and several Python threads calling one kernel at once.

Bounds. float64: value rtol 1e-12. float32 (compared with float64 math on the same float32
inputs): each element's loss within about 3 ulp (mathlib is under 1.5 ulp), and the loss sums
blocks of 1024 float32 terms in at least 16 vector lanes, so each lane adds at most 64
terms in sequence: relative error below (64 + 3) 2^-24 = 4e-6 of the sum of non-negative terms;
rtol 1e-5. Gradient, both precisions: (1 - z) s(x) - z s(-x) over N, s = sigmoid, is a
difference of two terms, each within a few roundings: with hard labels (one term is 0) 4 ulp
of the result; with soft labels 4 eps of the terms' magnitude (1 - z) s(x) + z s(-x), since
where s(x) ~ z the true gradient is far smaller than either term.
"""
import threading

import numpy as np
import pytest

from codegen.llvm import runtime
from lossgraph.errors import DTypeError, InputError, OptionError, ShapeError

from ...threads import in_threads
from .accuracy import ulp_errors

DTYPES = ["float32", "float64"]
RTOL = {"float32": 1e-5, "float64": 1e-12}


def reference(x, z):
    """Mean BCE with logits and its gradient in float64."""
    x, z = x.astype(np.float64), z.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        sig = 1 / (1 + np.exp(-x))
        sig_neg = 1 / (1 + np.exp(x))
        value = np.mean(np.logaddexp(0, x) - x * z)
    return value, ((1 - z) * sig - z * sig_neg) / x.size


def check_gradient(grad, x, z, dtype):
    want = reference(x, z)[1]
    hard = (z == 0) | (z == 1)
    assert ulp_errors(grad[hard], want[hard], dtype).max(initial=0) <= 4
    x64, z64 = x.astype(np.float64), z.astype(np.float64)
    with np.errstate(over="ignore"):
        size = ((1 - z64) / (1 + np.exp(-x64)) + z64 / (1 + np.exp(x64))) / x.size
    err = np.abs(grad.astype(np.float64) - want)
    assert (err <= 4 * np.finfo(dtype).eps * size + np.finfo(dtype).smallest_subnormal).all()


def inputs(n, dtype, seed=0, scale=6.0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * scale).astype(dtype)
    z = rng.uniform(0, 1, n).astype(dtype)
    z[: n // 4] = np.round(z[: n // 4])           # hard labels too
    return x, z


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 10, 1000, 4099])
def test_value_and_gradient_match_reference(bce, dtype, n):
    x, z = inputs(n, dtype, seed=n)
    value, grad = bce[dtype](x, z)
    want = reference(x, z)[0]
    assert value == pytest.approx(want, rel=RTOL[dtype])
    assert grad.dtype == np.dtype(dtype) and grad.shape == x.shape
    check_gradient(grad, x, z, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_logits_and_labels(bce, dtype):
    x = np.array([1e4, -1e4, 100, -100, 0, 1e-30, -1e-30, 30, -30] * 2, dtype)
    z = np.array([0.0] * 9 + [1.0] * 9, dtype)
    value, grad = bce[dtype](x, z)
    want = reference(x, z)[0]
    assert np.isfinite(value) and value == pytest.approx(want, rel=RTOL[dtype])
    check_gradient(grad, x, z, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_propagates_to_value_and_its_gradient(bce, dtype):
    x = np.array([0.5, np.nan, -2.0], dtype)
    z = np.array([1.0, 0.0, 0.0], dtype)
    value, grad = bce[dtype](x, z)
    assert np.isnan(value) and np.isnan(grad[1]) and np.isfinite(grad[[0, 2]]).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_out_is_filled_and_returned(bce, dtype):
    x, z = inputs(777, dtype)
    out = np.full_like(x, 123.0)
    value, grad = bce[dtype](x, z, out=out)
    fresh_value, fresh = bce[dtype](x, z)
    assert grad is out and np.array_equal(out, fresh) and value == fresh_value


def test_clear_errors_before_native_code(bce):
    k = bce["float32"]
    x, z = inputs(64, "float32")
    with pytest.raises(DTypeError, match="x must have dtype float32, got float64"):
        k(x.astype(np.float64), z)
    with pytest.raises(DTypeError, match="z must have dtype float32, got >f4 in non-native"):
        k(x, z.astype(">f4"))
    with pytest.raises(InputError, match="x must be C-contiguous"):
        k(np.repeat(x, 2)[::2], z)
    with pytest.raises(InputError, match="x must be C-contiguous"):
        k(x[::-1], z)
    with pytest.raises(ShapeError, match=r"z must have shape \(64,\), got \(63,\)"):
        k(x, z[:63])
    with pytest.raises(InputError, match="x must be a numpy.ndarray, got list"):
        k(list(x), z)
    ro = np.empty_like(x)
    ro.flags.writeable = False
    with pytest.raises(InputError, match="out must be writable"):
        k(x, z, out=ro)
    with pytest.raises(OptionError, match="threads must be 1 or 2, got 3"):
        k(x, z, threads=3)


def test_ndarray_subclasses_pass(bce, tmp_path):
    x, z = inputs(100, "float64")
    mx = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=x.dtype, shape=x.shape)
    mx[:] = x
    assert bce["float64"](mx, z)[0] == bce["float64"](x, z)[0]


def test_read_only_inputs_are_fine(bce):
    x, z = inputs(100, "float64")
    x.flags.writeable = False
    value, _ = bce["float64"](x, z)
    assert value == pytest.approx(reference(x, z)[0], rel=1e-12)


def test_chunks_cover_the_range_at_aligned_cuts():
    assert runtime.chunks(10) == [(0, 10)]
    n = runtime.SPLIT_FROM + 999
    (a, b), (c, d) = runtime.chunks(n)
    assert a == 0 and b == c and d == n and b % 64 == 0 and abs(b - n / 2) < 64


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_bits_on_one_or_two_threads_and_every_call(bce, dtype):
    k = bce[dtype]
    x, z = inputs(runtime.SPLIT_FROM + 777, dtype, seed=5)
    runs = [k(x, z, threads=t) for t in (1, 2, 2, 1, 2)]
    for value, grad in runs[1:]:
        assert value == runs[0][0] and np.array_equal(grad, runs[0][1])
    assert runs[0][0] == pytest.approx(reference(x, z)[0], rel=RTOL[dtype])


def test_several_python_threads_calling_one_kernel(bce):
    k = bce["float32"]
    cases = [inputs(n, "float32", seed=s) for s, n in
             enumerate([100, 5000, runtime.SPLIT_FROM + 64, 33, runtime.SPLIT_FROM + 1])]
    want = [k(x, z) for x, z in cases]

    def work(i):
        for r in range(6):
            j = (i + r) % len(cases)
            value, grad = k(*cases[j], threads=1 + (r % 2))
            assert value == want[j][0] and np.array_equal(grad, want[j][1]), (i, j)
    in_threads(work, 4)


def test_offsets_found_on_live_objects():
    import ctypes
    a = np.arange(5.0)
    t = (a,)
    assert ctypes.c_void_p.from_address(id(a) + runtime.array_data_offset()).value == a.ctypes.data
    assert ctypes.c_void_p.from_address(id(t) + runtime.tuple_item_offset()).value == id(a)


def test_worker_runs_jobs_and_hands_back_their_errors():
    pool = runtime.worker()
    box = []
    pool.wait(pool.submit(lambda: box.append(threading.get_ident()), ()))
    assert box and box[0] != threading.get_ident()
    with pytest.raises(ZeroDivisionError):
        pool.wait(pool.submit(lambda: 1 / 0, ()))
    assert runtime.worker() is pool
