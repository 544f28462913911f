"""to_jax's XLA FFI path (codegen.interop.xla_ffi): used for LLVM kernels, bit for bit the host
callback's results (one native call, units on one or two threads, x64 on and off), the limits
and errors, and the handler's protocol called directly through ctypes (metadata query, stages,
errors through the api's XLA_FFI_Error_Create)."""
import ctypes

import numpy as np
import pytest

from ..lazy import lazy

jax = lazy("jax")
jnp = lazy("jax.numpy")
jax_test_util = lazy("jax.test_util")
interop_jax = lazy("codegen.interop.jax")
if "llvm" not in __import__("codegen").BACKENDS:
    pytest.skip("the LLVM backend is not available", allow_module_level=True)

import codegen                                   # noqa: E402
import lossgraph as lg                           # noqa: E402
from codegen.interop import xla_ffi              # noqa: E402
from codegen.llvm import jit as llvm_jit         # noqa: E402
from lossgraph.errors import DTypeError, OptionError, ShapeError  # noqa: E402

from .interop_kernels import bce_kernel, ce_kernel  # noqa: E402
from .test_interop_jax import bce_data, ce_data  # noqa: E402

BIG = 300_000            # above runtime.SPLIT_FROM: the splittable nests run in units


pytestmark = pytest.mark.usefixtures("jax_x64")     # conftest: x64 in every thread


def both_paths(kernel, args):
    """jit(value_and_grad) of the kernel through the FFI handler and through the callback."""
    out = []
    for path in ("xla_ffi", "callback"):
        f = interop_jax.to_jax(kernel, path=path)
        assert f.path == path
        out.append(jax.jit(jax.value_and_grad(f, argnums=tuple(
            kernel.input_names.index(w) for w in kernel.wrt)))(*args))
    return out


def assert_same_bits(a, b):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        assert np.array_equal(x, y, equal_nan=True), np.max(np.abs(x - y))


def test_llvm_kernels_take_the_ffi_path():
    f = bce_kernel("llvm").to_jax()
    assert f.path == "xla_ffi" and f.path_reason is None and "XLA FFI handler" in f.__doc__
    x, z = bce_data()
    hlo = jax.jit(jax.value_and_grad(f)).lower(x, z).as_text()
    assert "custom_call @lossgraph_loss_and_grad_float64_" in hlo
    assert "callback" not in hlo
    g = bce_kernel("numpy").to_jax()
    assert g.path == "callback" and "host callback" in g.__doc__
    assert "callback" in jax.jit(g).lower(x, z).as_text()


@pytest.mark.parametrize("n", [9, BIG])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_bce_bits_equal_the_callback(n, dtype, threads):
    kernel = bce_kernel("llvm", threads=threads)
    x, z = bce_data(n, dtype=dtype)
    ffi, cb = both_paths(kernel, (x, z))
    assert_same_bits(ffi, cb)
    value, (g,) = kernel(np.asarray(x), np.asarray(z))
    assert_same_bits(ffi, (value, (g,)))


@pytest.mark.parametrize("rows", [7, BIG // 10])
@pytest.mark.parametrize("x64", [True, False])
def test_ce_bits_equal_the_callback_int32_labels_widened(rows, x64):
    with jax.enable_x64(x64):
        x, y = ce_data(rows, 10)
        x = x.astype(jnp.float32)
        assert y.dtype == (jnp.int64 if x64 else jnp.int32)
        ffi, cb = both_paths(ce_kernel("llvm"), (x, y))
        assert_same_bits(ffi, cb)
        assert xla_ffi.target(ce_kernel("llvm")._fn.program("float32"),
                              ("float32", y.dtype.name), "ce").widened == ([] if x64 else [1])


def graphs():
    """Losses whose programs use the handler's other parts: an identity-filled accumulator
    (a parameter's gradient summed over the batch), max partials, a constant array."""
    x, t = lg.input("x", shape=("N", 3)), lg.input("t", shape=("N", 3))
    w = lg.input("w", shape=(3,))
    return [(lg.mean(lg.square(x * w - t)), [x, w], [x, t, w]),
            (lg.max(x * w) + lg.logsumexp(x), [x, w], [x, t, w]),
            (lg.sum(x * lg.constant(np.array([0.5, -1.0, 2.0])) * t), [x], [x, t])]


@pytest.mark.parametrize("case", range(3))
@pytest.mark.parametrize("rows", [5, BIG // 3])
def test_other_programs_bits_equal_the_callback(case, rows):
    loss, wrt, inputs = graphs()[case]
    kernel = codegen.compile(loss, wrt=wrt, inputs=inputs, backend="llvm")
    rng = np.random.default_rng(case)
    arrays = {"x": rng.standard_normal((rows, 3)), "t": rng.standard_normal((rows, 3)),
              "w": rng.standard_normal(3)}
    args = [jnp.asarray(arrays[n.name]) for n in inputs]
    ffi, cb = both_paths(kernel, args)
    assert_same_bits(ffi, cb)
    if rows < 100:
        f = interop_jax.to_jax(kernel, path="xla_ffi")
        pos = [kernel.input_names.index(w) for w in kernel.wrt]

        def of_wrt(*ws):
            full = list(args)
            for p, v in zip(pos, ws):
                full[p] = v
            return f(*full)
        jax_test_util.check_grads(of_wrt, [args[p] for p in pos], order=1, modes=["rev"])


def test_vmap_on_the_ffi_path():
    f = ce_kernel("llvm").to_jax()
    assert f.path == "xla_ffi"
    rng = np.random.default_rng(2)
    X, Y = jnp.asarray(rng.standard_normal((3, 6, 4))), jnp.asarray(rng.integers(0, 4, (3, 6)))
    g = ce_kernel("llvm").to_jax(path="callback")          # the method takes path= too
    assert_same_bits(jax.vmap(jax.value_and_grad(f))(X, Y),
                     jax.vmap(jax.value_and_grad(g))(X, Y))


def test_errors_on_the_ffi_path():
    f = bce_kernel("llvm").to_jax()
    x, z = bce_data()
    with pytest.raises(DTypeError, match="'logits' must be float32 or float64, got float16"):
        f(x.astype(jnp.float16), z)
    with pytest.raises(ShapeError, match="labels"):
        jax.jit(f)(x, z[:-1])
    ce = ce_kernel("llvm").to_jax()
    cx, cy = ce_data(5, 4)
    with pytest.raises(jax.errors.JaxRuntimeError, match="label is out of range"):
        jax.block_until_ready(jax.jit(ce)(cx, cy.at[2].set(4)))
    with pytest.raises(OptionError, match="path must be"):
        interop_jax.to_jax(bce_kernel("llvm"), path="ffi")
    with pytest.raises(OptionError, match="numpy backend has no native entry"):
        interop_jax.to_jax(bce_kernel("numpy"), path="xla_ffi")


# --- the handler called directly: the structs as ctypes lays them out from c_api.h

class Ext(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("type", ctypes.c_int),
                ("next", ctypes.c_void_p)]


class Version(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("extension_start", ctypes.c_void_p),
                ("major", ctypes.c_int), ("minor", ctypes.c_int)]


class Metadata(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("api_version", Version),
                ("traits", ctypes.c_uint32), ("state_type_id", ctypes.c_int64)]


class MetadataExt(ctypes.Structure):
    _fields_ = [("base", Ext), ("metadata", ctypes.POINTER(Metadata))]


class List(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("extension_start", ctypes.c_void_p),
                ("size", ctypes.c_int64), ("types", ctypes.c_void_p),
                ("items", ctypes.POINTER(ctypes.c_void_p))]


class Attrs(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("extension_start", ctypes.c_void_p),
                ("size", ctypes.c_int64), ("types", ctypes.c_void_p),
                ("names", ctypes.c_void_p), ("attrs", ctypes.c_void_p)]


class Frame(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("extension_start", ctypes.c_void_p),
                ("api", ctypes.c_void_p), ("ctx", ctypes.c_void_p), ("stage", ctypes.c_int),
                ("args", List), ("rets", List), ("attrs", Attrs), ("future", ctypes.c_void_p)]


class Buffer(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("extension_start", ctypes.c_void_p),
                ("dtype", ctypes.c_int), ("data", ctypes.c_void_p), ("rank", ctypes.c_int64),
                ("dims", ctypes.POINTER(ctypes.c_int64))]


class ScheduleArgs(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("extension_start", ctypes.c_void_p),
                ("ctx", ctypes.c_void_p), ("task", ctypes.c_void_p), ("data", ctypes.c_void_p)]


class ErrorArgs(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("extension_start", ctypes.c_void_p),
                ("message", ctypes.c_char_p), ("errc", ctypes.c_int)]


CREATE = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.POINTER(ErrorArgs))
class DestroyArgs(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("extension_start", ctypes.c_void_p),
                ("error", ctypes.c_void_p)]


DESTROY = ctypes.CFUNCTYPE(None, ctypes.POINTER(DestroyArgs))
SCHEDULE = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.POINTER(ScheduleArgs))
TASK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class Api(ctypes.Structure):
    _fields_ = ([("struct_size", ctypes.c_size_t), ("extension_start", ctypes.c_void_p),
                 ("api_version", Version), ("internal_api", ctypes.c_void_p),
                 ("error_create", CREATE), ("error_get_message", ctypes.c_void_p),
                 ("error_destroy", DESTROY)]
                + [(f"f{i}", ctypes.c_void_p) for i in range(7, 15)]
                + [("threadpool_schedule", SCHEDULE)]
                + [(f"f{i}", ctypes.c_void_p) for i in range(16, 22)])


def test_struct_layouts_match_c():
    for llvm_ty, c_ty in [(xla_ffi.CALL_FRAME, Frame), (xla_ffi.BUFFER, Buffer),
                          (xla_ffi.METADATA, Metadata), (xla_ffi.METADATA_EXTENSION, MetadataExt),
                          (xla_ffi.ERROR_CREATE_ARGS, ErrorArgs), (xla_ffi.API, Api),
                          (xla_ffi.SCHEDULE_ARGS, ScheduleArgs),
                          (xla_ffi.ERROR_DESTROY_ARGS, DestroyArgs)]:
        td = llvm_jit.target_machine().target_data
        offsets = [llvm_ty.get_element_offset(td, i) for i in range(len(llvm_ty.elements))]
        assert offsets == [getattr(c_ty, f[0]).offset for f in c_ty._fields_], c_ty.__name__
    assert xla_ffi.struct_size(xla_ffi.ERROR_CREATE_ARGS) == ErrorArgs.errc.offset + 4
    assert xla_ffi.struct_size(xla_ffi.API) == ctypes.sizeof(Api)


class Call:
    """One BCE handler called through ctypes on NumPy buffers, with a fake api whose
    Error_Create records the message."""

    def __init__(self, n=5, schedule=None):
        kernel = bce_kernel("llvm")
        self.t = xla_ffi.target(kernel._fn.program("float64"), ("float64", "float64"), "bce")
        self.handler = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.POINTER(Frame))(
            self.t.jit.address("handler"))
        rng = np.random.default_rng(0)
        self.x, self.z = rng.standard_normal(n), (rng.random(n) > 0.5).astype(np.float64)
        self.value, self.grad = np.full((), -7.0), np.full(n, -7.0)
        self.scratch = [np.zeros(r.shape[0], np.uint8)
                        for r in self.t.result_types([(n,), (n,)])[2:]]
        self.errors = []
        self.create = CREATE(lambda a: self.errors.append(
            (a.contents.message.decode(), a.contents.errc)) or 1234)
        self.destroyed = []
        self.destroy = DESTROY(lambda a: self.destroyed.append(a.contents.error))
        self.api = Api(error_create=self.create, error_destroy=self.destroy)
        if schedule is not None:                 # a thread pool: schedule(task, data) -> error
            self.schedule = SCHEDULE(lambda a: schedule(TASK(a.contents.task), a.contents.data))
            self.api.threadpool_schedule = self.schedule
            self.api.struct_size = ctypes.sizeof(Api)
        self.keep = []

    def buffers(self, arrays):
        ptrs = (ctypes.c_void_p * len(arrays))()
        for i, a in enumerate(arrays):
            dims = (ctypes.c_int64 * max(1, a.ndim))(*a.shape)
            code = xla_ffi.DTYPE_CODES[a.dtype.name]
            buf = Buffer(ctypes.sizeof(Buffer), None, code, a.ctypes.data, a.ndim, dims)
            self.keep += [dims, buf]
            ptrs[i] = ctypes.addressof(buf)
        self.keep.append(ptrs)
        return List(ctypes.sizeof(List), None, len(arrays), None, ptrs)

    def __call__(self, stage=3, ext=None, args=None):
        args = [self.x, self.z] if args is None else args
        frame = Frame(ctypes.sizeof(Frame), ext, ctypes.addressof(self.api), None, stage,
                      self.buffers(args), self.buffers([self.value, self.grad, *self.scratch]))
        return self.handler(ctypes.byref(frame))


def test_handler_answers_the_metadata_query():
    call = Call()
    meta = Metadata(struct_size=ctypes.sizeof(Metadata), traits=99, state_type_id=5)
    ext = MetadataExt(Ext(ctypes.sizeof(MetadataExt), 1, None), ctypes.pointer(meta))
    assert call(stage=0, ext=ctypes.addressof(ext)) is None
    v = meta.api_version
    assert (v.struct_size, v.extension_start, v.major, v.minor) == (24, None, 0, 3)
    assert (meta.traits, meta.state_type_id) == (0, 0)
    assert call.value == -7.0                     # the kernel did not run


def test_handler_runs_only_at_execute_and_writes_xla_buffers():
    call = Call()
    for stage in (0, 1, 2):
        assert call(stage=stage) is None
        assert call.value == -7.0 and (call.grad == -7.0).all()
    assert call(stage=3) is None and not call.errors
    value, (g,) = bce_kernel("llvm")(call.x, call.z)
    assert call.value == value and np.array_equal(call.grad, g)


def test_handler_errors_go_through_error_create():
    call = Call()
    assert call(args=[call.x]) == 1234
    assert call(args=[call.x, call.z.astype(np.float32)]) == 1234
    assert call(args=[call.x, call.z[:-1]]) == 1234
    assert [e[1] for e in call.errors] == [3, 3, 3]            # INVALID_ARGUMENT
    assert "expected 2 arguments" in call.errors[0][0]
    assert "input 'labels' must have dtype float64" in call.errors[1][0]
    assert "input 'labels' axis 0 must have size N" in call.errors[2][0]
    assert call.value == -7.0


@pytest.mark.parametrize("pool", ["runs it at once", "runs it after the call", "fails"])
def test_second_chunk_through_the_thread_pool(pool):
    """The task protocol against every pool behaviour: a pool thread claims the chunk first,
    the handler claims it (the task runs later and finds it taken), or Schedule fails (its
    error is destroyed and the handler runs the chunk). The results are the kernel's."""
    later = []

    def schedule(task, data):
        if pool == "runs it at once":
            task(data)
        elif pool == "runs it after the call":
            later.append((task, data))
        else:
            return 4321
        return None
    call = Call(BIG, schedule)
    assert call(stage=3) is None and not call.errors
    for task, data in later:
        task(data)
    assert call.destroyed == ([4321] if pool == "fails" else [])
    assert len(later) == (pool == "runs it after the call")
    value, (g,) = bce_kernel("llvm")(call.x, call.z)
    assert call.value == value and np.array_equal(call.grad, g)
