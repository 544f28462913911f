"""The cheap call path into native loops: checks in Python, arrays passed as objects, threads.

A native loop is compiled with an entry stub (`emit_entry`) of the C signature

    void entry(PyObject *a0, ..., PyObject *ak, PyObject *partials, i64 start, i64 stop, i64 slot,
               i64 c0, ..., i64 cj)

The stub reads each array's data pointer out of its PyArrayObject (at the offset
`array_data_offset()` finds at run time by looking at real arrays, never hard-coded) and calls
the loop body on elements [start, stop) (c0..cj: sizes or other integers the loop needs), which
writes its m partial results (sums, counts, ...)
to partials[slot * m : slot * m + m]. ctypes passes a `py_object` for the price of a pointer,
where each `arr.ctypes.data` costs about 0.8 us, and releases the GIL for the call. Native code
trusts its arguments: callers validate them first with `check_array`.

`NativeLoop` runs one: elements are cut into chunks that depend on n only (one chunk below
`SPLIT_FROM` elements, else two, split at a multiple of 64), so a given input gives the same bits
whether one or two threads run the chunks; partials are combined in chunk order. With threads=2 the
second chunk runs on a persistent worker thread (handing work to it costs 15-20 us, a new thread
70 us; two threads pay off from about SPLIT_FROM elements, measured by
benchmarks/bench_llvm_foundations.py).
"""
from __future__ import annotations

import ctypes
import queue
import threading

import numpy as np
from llvmlite import ir

from lossgraph.errors import DTypeError, InputError, OptionError, ShapeError

#: elements from which a loop is cut in two chunks and two threads pay off (measured, see
#: docs/llvm-backend.md)
SPLIT_FROM = 1 << 18
_ALIGN = 64

_OFFSET = []


def array_data_offset():
    """Byte offset of the data pointer inside a NumPy array object, found on live arrays."""
    if not _OFFSET:
        probes = [np.empty(n) for n in (3, 5, 7)]
        probes.append(probes[0][1:])
        hits = [off for off in range(8, 64, 8)
                if all(ctypes.c_void_p.from_address(id(a) + off).value == a.ctypes.data
                       for a in probes)]
        if len(hits) != 1:
            raise RuntimeError(f"cannot locate the data pointer in numpy arrays ({hits})")
        _OFFSET.append(hits[0])
    return _OFFSET[0]


def check_array(name, arr, dtype, shape=None, writable=False):
    """Raise a clear error unless `arr` is a C-contiguous, aligned, native-order ndarray of
    `dtype` (and `shape`, and writable if asked); native code trusts what passes."""
    if type(arr) is not np.ndarray:
        raise InputError(f"{name} must be a numpy.ndarray, got {type(arr).__name__}")
    if arr.dtype != dtype:
        what = (f"{arr.dtype} in non-native byte order" if arr.dtype.byteorder not in "=|"
                and arr.dtype.newbyteorder("=") == dtype else str(arr.dtype))
        raise DTypeError(f"{name} must have dtype {np.dtype(dtype)}, got {what}")
    flags = arr.flags
    if not (flags.c_contiguous and flags.aligned):
        raise InputError(f"{name} must be C-contiguous and aligned (pass "
                         f"np.ascontiguousarray({name})), got strides {arr.strides}")
    if shape is not None and arr.shape != shape:
        raise ShapeError(f"{name} must have shape {shape}, got {arr.shape}")
    if writable and not flags.writeable:
        raise InputError(f"{name} must be writable, got a read-only array")
    return arr


def emit_entry(module, body, n_arrays, name, n_ints=0):
    """Add `name`, the py_object entry stub described above, calling `body` (an ir.Function
    taking n_arrays data pointers, a partials pointer, start, stop, slot and n_ints i64s; made
    alwaysinline and internal here)."""
    ptr, i64 = ir.PointerType(), ir.IntType(64)
    body.attributes.add("alwaysinline")
    body.linkage = "internal"
    fnty = ir.FunctionType(ir.VoidType(), [ptr] * (n_arrays + 1) + [i64] * (3 + n_ints))
    entry = ir.Function(module, fnty, name=name)
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    offset = ir.Constant(i64, array_data_offset())
    data = [b.load(b.gep(obj, [offset], inbounds=True, source_etype=ir.IntType(8)), typ=ptr) for obj in entry.args[:n_arrays + 1]]
    *arrays, partials = data
    b.call(body, arrays + [partials] + list(entry.args[n_arrays + 1:]))
    b.ret_void()
    return entry


def chunks(n):
    """[(start, stop), ...] for n elements: a function of n only (deterministic bits)."""
    if n < SPLIT_FROM:
        return [(0, n)]
    mid = (n // 2 + _ALIGN - 1) // _ALIGN * _ALIGN
    return [(0, mid), (mid, n)]


class _Worker:
    """One persistent daemon thread running submitted calls in order."""

    def __init__(self):
        self._jobs = queue.SimpleQueue()
        threading.Thread(target=self._run, name="lossgraph-llvm-worker", daemon=True).start()

    def _run(self):
        while True:
            fn, args, done, errors = self._jobs.get()
            try:
                fn(*args)
            except BaseException as exc:  # handed back to the caller, never lost
                errors.append(exc)
            done.release()

    def submit(self, fn, args):
        """Start fn(*args) on the worker; returns a waiter for `wait`."""
        done = threading.Lock()
        done.acquire()
        errors = []
        self._jobs.put((fn, args, done, errors))
        return done, errors

    @staticmethod
    def wait(handle):
        done, errors = handle
        done.acquire()
        if errors:
            raise errors[0]


_WORKER = []
_WORKER_LOCK = threading.Lock()


def _worker():
    if not _WORKER:
        with _WORKER_LOCK:
            if not _WORKER:
                _WORKER.append(_Worker())
    return _WORKER[0]


class NativeLoop:
    """A compiled entry stub, callable on validated arrays.

    loop(arrays, n, ints=(), threads=1) -> float64 array of the m partials, summed over chunks
    in chunk order. The JitModule stays alive as long as this object (through its ctypes
    function).
    """

    def __init__(self, jit, name, n_arrays, n_partials=1, n_ints=0):
        obj = ctypes.py_object
        self._fn = jit.function(name, None, *([obj] * (n_arrays + 1)),
                                *([ctypes.c_int64] * (3 + n_ints)))
        self.jit = jit
        self.n_arrays = n_arrays
        self.n_partials = n_partials

    def __call__(self, arrays, n, ints=(), threads=1):
        fn, m = self._fn, self.n_partials
        if threads != 1 and threads != 2:
            raise OptionError(f"threads must be 1 or 2, got {threads!r}")
        parts = chunks(n)
        if len(parts) == 1:
            partials = np.empty(m)
            fn(*arrays, partials, 0, n, 0, *ints)
            return partials
        partials = np.empty((len(parts), m))
        (s0, e0), (s1, e1) = parts
        if threads == 2:
            worker = _worker()
            handle = worker.submit(fn, (*arrays, partials, s1, e1, 1, *ints))
            fn(*arrays, partials, s0, e0, 0, *ints)
            worker.wait(handle)
        else:
            fn(*arrays, partials, s0, e0, 0, *ints)
            fn(*arrays, partials, s1, e1, 1, *ints)
        return partials[0] + partials[1]
