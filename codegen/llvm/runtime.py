"""The cheap call path into native loops: checks in Python, arrays passed as objects, threads.

A native loop is compiled with an entry stub (`emit_entry`) of the C signature

    void entry(PyObject *args)      args = (a0, ..., ak, ctl), ctl a float64 array
                                    [start, stop, c0, ..., cj, partial0, ..., partial(m-1)]

The stub reads the array data pointers out of the tuple's items (PyTupleObject and
PyArrayObject offsets found by `tuple_item_offset` / `array_data_offset` on live objects at run
time, never hard-coded) and calls the loop body on elements [start, stop) (c0..cj: sizes or
other integers the loop needs, exact in float64 below 2^53); the body writes its m partial results
(sums, counts, ...) back into ctl. One `py_object` argument costs about 0.5 us per call, where
each `arr.ctypes.data` costs about 0.8 us and each further ctypes argument 0.2 us; ctypes releases
the GIL for the call. Native code trusts its arguments: callers validate them first with
`check_array`.

`NativeLoop` runs one: elements are cut into chunks that depend on n only (one chunk below
`SPLIT_FROM` elements, else two, split at a multiple of 64), so a given input gives the same bits
whether one or two threads run the chunks; partials are combined in chunk order. With threads=2 the
second chunk runs on a persistent worker thread (handing work to it costs 15-20 us, a new thread
70 us; two threads pay off from about SPLIT_FROM elements, measured by
benchmarks/bench_llvm_foundations.py). Control arrays are cached per thread, so several Python
threads may call one loop at once.
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

_OFFSETS = {}


def _find_offset(kind, probes, target):
    """The one offset (8..64) at which every probe object holds target(probe)."""
    if kind not in _OFFSETS:
        hits = [off for off in range(8, 64, 8)
                if all(ctypes.c_void_p.from_address(id(o) + off).value == target(o)
                       for o in probes)]
        if len(hits) != 1:
            raise RuntimeError(f"cannot locate the {kind} pointer in Python objects ({hits})")
        _OFFSETS[kind] = hits[0]
    return _OFFSETS[kind]


def array_data_offset():
    """Byte offset of the data pointer inside a NumPy array object, found on live arrays."""
    a = np.empty(7)
    probes = [np.empty(3), np.empty(5), a, a[1:]]
    return _find_offset("array data", probes, lambda o: o.ctypes.data)


def tuple_item_offset():
    """Byte offset of the first item pointer inside a tuple object, found on live tuples."""
    probes = [(object(), 1), (object(), object(), 2), (np.empty(1), 3)]
    return _find_offset("tuple item", probes, lambda o: id(o[0]))


def check_array(name, arr, dtype, shape=None, writable=False):
    """Raise a clear error unless `arr` is a C-contiguous, aligned, native-order ndarray of
    `dtype` (and `shape`, and writable if asked); native code trusts what passes."""
    if type(arr) is np.ndarray and (arr.dtype is dtype or arr.dtype == dtype):
        flags = arr.flags
        if (flags.c_contiguous and flags.aligned and (shape is None or arr.shape == shape)
                and (flags.writeable or not writable)):
            return arr
    return _explain(name, arr, dtype, shape, writable)


def _explain(name, arr, dtype, shape, writable):
    """The slow path of check_array: the first thing wrong, as an error; subclasses of
    ndarray (memmap, ...) share its layout and pass."""
    if not isinstance(arr, np.ndarray):
        raise InputError(f"{name} must be a numpy.ndarray, got {type(arr).__name__}")
    if arr.dtype != dtype:
        what = (f"{arr.dtype} in non-native byte order" if arr.dtype.byteorder not in "=|"
                and arr.dtype.newbyteorder("=") == dtype else str(arr.dtype))
        raise DTypeError(f"{name} must have dtype {np.dtype(dtype)}, got {what}")
    if not (arr.flags.c_contiguous and arr.flags.aligned):
        raise InputError(f"{name} must be C-contiguous and aligned (pass "
                         f"np.ascontiguousarray({name})), got strides {arr.strides}")
    if shape is not None and arr.shape != shape:
        raise ShapeError(f"{name} must have shape {shape}, got {arr.shape}")
    if writable and not arr.flags.writeable:
        raise InputError(f"{name} must be writable, got a read-only array")
    return arr


def emit_entry(module, body, n_arrays, name, n_ints=0):
    """Add `name`, the entry stub described above, calling `body`: an ir.Function taking
    n_arrays data pointers, the partials pointer, start, stop and n_ints i64s (made
    alwaysinline and internal here)."""
    ptr, i64, f64 = ir.PointerType(), ir.IntType(64), ir.DoubleType()
    body.attributes.add("alwaysinline")
    body.linkage = "internal"
    entry = ir.Function(module, ir.FunctionType(ir.VoidType(), [ptr]), name=name)
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    byte = ir.IntType(8)

    def at(base, offset):
        return b.gep(base, [ir.Constant(i64, offset)], inbounds=True, source_etype=byte)

    items, data = tuple_item_offset(), array_data_offset()
    data = [b.load(at(b.load(at(entry.args[0], items + 8 * i), typ=ptr), data), typ=ptr)
            for i in range(n_arrays + 1)]
    *arrays, ctl = data

    def control(i):
        cell = b.gep(ctl, [ir.Constant(i64, i)], inbounds=True, source_etype=f64)
        return b.fptosi(b.load(cell, typ=f64), i64)
    partials = b.gep(ctl, [ir.Constant(i64, 2 + n_ints)], inbounds=True, source_etype=f64)
    b.call(body, arrays + [partials, control(0), control(1)]
           + [control(2 + j) for j in range(n_ints)])
    b.ret_void()
    return entry


def chunks(n, split_from=SPLIT_FROM):
    """[(start, stop), ...] for n elements: a function of n only (deterministic bits)."""
    if n < split_from:
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


def worker():
    """The process's persistent worker thread (started on first use): h = worker().submit(fn,
    args) runs fn(*args) there; worker().wait(h) waits and re-raises what it raised."""
    if not _WORKER:
        with _WORKER_LOCK:
            if not _WORKER:
                _WORKER.append(_Worker())
    return _WORKER[0]


class NativeLoop:
    """A compiled entry stub, callable on validated arrays.

    loop(arrays, n, ints=(), threads=1) -> list of the m partials (floats), summed over chunks
    in chunk order. The JitModule stays alive as long as this object (through its ctypes
    function).
    """

    def __init__(self, jit, name, n_arrays, n_partials=1, n_ints=0):
        self._fn = jit.function(name, None, ctypes.py_object)
        self.jit = jit
        self.n_arrays = n_arrays
        self.n_partials = n_partials
        self.n_ints = n_ints
        self.split_from = SPLIT_FROM        # fixed per loop: the bits depend on it
        self._local = threading.local()

    def _controls(self):
        try:
            return self._local.ctl
        except AttributeError:
            size = 2 + self.n_ints + self.n_partials
            ctl = self._local.ctl = (np.zeros(size), np.zeros(size))
            return ctl

    def __call__(self, arrays, n, ints=(), threads=1):
        if threads != 1 and threads != 2:
            raise OptionError(f"threads must be 1 or 2, got {threads!r}")
        if len(arrays) != self.n_arrays or len(ints) != self.n_ints:
            raise InputError(f"expected {self.n_arrays} arrays and {self.n_ints} ints, got "
                             f"{len(arrays)} and {len(ints)}")
        fn, first = self._fn, 2 + self.n_ints
        try:
            c0, c1 = self._local.ctl
        except AttributeError:
            c0, c1 = self._controls()
        j = 2
        for v in ints:
            c0[j] = v
            j += 1
        if n < self.split_from:
            c0[1] = n                       # c0[0], chunk 0's start, is always 0
            fn(arrays + (c0,))
            return c0.tolist()[first:]
        c1[2:first] = c0[2:first]
        (c0[0], c0[1]), (c1[0], c1[1]) = chunks(n, self.split_from)
        if threads == 2:
            pool = worker()
            handle = pool.submit(fn, (arrays + (c1,),))
            fn(arrays + (c0,))
            pool.wait(handle)
        else:
            fn(arrays + (c0,))
            fn(arrays + (c1,))
        return [a + b for a, b in zip(c0.tolist()[first:], c1.tolist()[first:])]
