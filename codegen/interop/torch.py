"""A compiled kernel as a differentiable PyTorch function of CPU tensors.

    f = kernel.to_torch()              # or codegen.to_torch(loss, wrt=["logits"])
    loss = f(logits, labels)           # positional in kernel.input_names order, or by name
    loss.backward()                    # d loss/d logits = grad_output * the kernel's gradient

The forward runs the kernel once on zero-copy NumPy views of the tensors and keeps its
gradients; the backward scales them by the incoming cotangent (the loss is a scalar, so the
vector-Jacobian product is g * dloss/dx). Two modes:

  mode="op"        (default) under torch.compile a torch.library.custom_op with a fake (shape)
                   implementation and an autograd formula (fullgraph=True: one graph); in eager
                   mode and under torch.func the autograd.Functions of mode "function".
  mode="function"  a torch.autograd.Function everywhere: the classic ctx-first style in eager
                   mode (cheap per call), setup_context style under torch.func (grad, vjp) and
                   torch.compile.

Second-order derivatives are not available (the kernel gives first derivatives only): a
gradient taken with create_graph=True raises GradientError when it is differentiated again
(also under nested torch.func.grad; inside a torch.compile'd graph of mode "op" a RuntimeError
naming the kernel), instead of contributing a silent zero.
Tensors must live on the CPU (copy=True moves them there and the gradients back).
"""
from __future__ import annotations

import itertools
import threading

import numpy as np
import torch

from torch._C import _functions, _functorch

_DelayedError = _functions.DelayedError

from lossgraph.errors import DTypeError, GradientError, InputError, OptionError

from .calling import SECOND_ORDER, gather

_FLOATS = (torch.float32, torch.float64)
_counter = itertools.count()
_lock = threading.Lock()


def to_torch(kernel, mode="op", copy=False):
    """The kernel as a function of tensors returning the loss tensor (see the module doc).

    mode: "op" (a custom op under torch.compile) or "function" (an autograd.Function there);
    both run eager mode and torch.func through autograd.Functions.
    copy: False raises InputError for a tensor not on the CPU; True copies it there (and the
    gradient back to its device).

    Examples:
        >>> import torch
        >>> p, t = lg.input("pred", shape=("N",)), lg.input("target", shape=("N",))
        >>> k = codegen.compile(lg.mean(lg.square(p - t)), wrt=[p])
        >>> f = k.to_torch(mode="function")        # = codegen.interop.torch.to_torch(k, ...)
        >>> x = torch.tensor([1.0, 2.0], dtype=torch.float64)
        >>> torch.func.grad(f)(x, torch.zeros(2, dtype=torch.float64)).tolist()   # 2 (x - t) / N
        [1.0, 2.0]

    Raises:
        OptionError: mode not "op" / "function"; the kernel has auxiliary outputs.
        InputError (calling f): a missing, unknown or doubled input; an argument that is not a
            tensor; a tensor off the CPU with copy=False.
        DTypeError (calling f): a float input not float32 / float64, or not the kernel's dtype;
            a complex tensor.
        GradientError: differentiating the gradients again (second order; a RuntimeError
            naming the kernel inside a torch.compile'd mode "op" graph).
    """
    if mode not in _MODES:
        raise OptionError(f"to_torch: mode must be one of {sorted(_MODES)}, got {mode!r}")
    with _lock:
        done = kernel.__dict__.setdefault("_torch_exports", {})     # one custom op per kernel
        if (mode, bool(copy)) not in done:
            done[mode, bool(copy)] = _export(kernel, mode, bool(copy))
        return done[mode, bool(copy)]


def _export(kernel, mode, copy):
    if len(kernel.schedule.values) != 1:
        raise OptionError(f"to_torch: the kernel {kernel.name!r} has auxiliary outputs; "
                          f"export a kernel of the loss alone")
    core = _MODES[mode](kernel)
    names = kernel.input_names
    wrt = set(kernel.wrt)
    float_inputs = {n for n, node in kernel.schedule.inputs.items()
                    if node.dtype.startswith("float")}

    def loss(*args, **kwargs):
        tensors = gather(kernel, args, kwargs, "tensors")
        for n, t in zip(names, tensors):
            _check(kernel, n, t, n in float_inputs, copy)
        device = next((t.device for t in tensors if t.device.type != "cpu"), None)
        if device is not None:
            tensors = [t.cpu() for t in tensors]
        out = core(*tensors)
        return out if device is None else out.to(device)

    loss.kernel, loss.mode = kernel, mode
    loss.op = getattr(core, "op", None)     # the torch.library custom op (mode "op")
    loss.__name__ = f"{kernel.name}_torch"
    loss.__doc__ = (f"{kernel.name}({', '.join(names)}) -> loss tensor; differentiable w.r.t. "
                    f"{', '.join(n for n in names if n in wrt) or 'nothing'} (lossgraph kernel)")
    return loss


def _check(kernel, name, t, is_float, copy):
    if not isinstance(t, torch.Tensor):
        raise InputError(f"{kernel.name}: input {name!r} must be a torch.Tensor, got "
                         f"{type(t).__name__}")
    if t.device.type != "cpu" and not copy:
        raise InputError(f"{kernel.name}: input {name!r} is on {t.device}; compiled lossgraph "
                         f"kernels run on the CPU only (pass copy=True to to_torch to copy it)")
    if is_float and t.dtype not in _FLOATS:
        raise DTypeError(f"{kernel.name}: input {name!r} must be float32 or float64, got "
                         f"{t.dtype}")
    if kernel.dtype and is_float and t.dtype != getattr(torch, kernel.dtype):
        raise DTypeError(f"{kernel.name}: input {name!r}: this kernel was compiled for dtype "
                         f"{kernel.dtype}, got {t.dtype}")
    if t.is_complex():
        raise DTypeError(f"{kernel.name}: input {name!r} is complex; expected a real tensor")


def _run(kernel, tensors):
    """(loss tensor, gradient tensors in wrt order) from one kernel call on zero-copy views."""
    arrays = [t.detach().resolve_neg().numpy() for t in tensors]
    out = kernel(*arrays)
    value, grads = out if kernel.wrt else (out, ())
    value = torch.from_numpy(np.array(value, dtype=np.asarray(value).dtype))
    return value, [torch.from_numpy(np.require(g, requirements=("W", "C"))) for g in grads]


def _wrt_positions(kernel):
    return [kernel.input_names.index(w) for w in kernel.wrt]


def _backward_grads(kernel, inputs_count, grads, g):
    """g * dloss/dx per wrt input (None for the others). Under create_graph the results get a
    grad_fn that raises when differentiated again (the kernel has no second derivatives), so
    a gradient penalty cannot silently treat them as constants."""
    with torch.no_grad():
        scaled = [g * d for d in grads]
    if torch.is_grad_enabled() and scaled:
        scaled = _DelayedError(SECOND_ORDER.format(name=kernel.name).encode(), len(scaled))(
            *[s.detach().requires_grad_() for s in scaled])
        scaled = scaled if isinstance(scaled, tuple) else (scaled,)
    out = [None] * inputs_count
    for pos, d in zip(_wrt_positions(kernel), scaled):
        out[pos] = d
    return out


# --- autograd.Functions: eager (ctx-first style) and torch.func (setup_context style) -------

def _autograd_functions(kernel):
    """core(*tensors) -> loss through a torch.autograd.Function of the kernel: the classic
    ctx-first style in eager mode (its apply skips the inspect.signature binding that
    setup_context style pays on every call, about 30 us at N = 10), setup_context style under
    torch.func and torch.compile, which need it. One backward serves both.

    The gradients are outputs of the Function too, and its backward reads them from the graph:
    a second derivative reaches this backward with a cotangent for them and raises
    GradientError (in plain autograd and in torch.func alike)."""
    wrt_pos = _wrt_positions(kernel)

    def save(ctx, count, grads):
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(*grads)
        ctx.n = count

    def backward(ctx, g, *through_grads):
        if any(t is not None for t in through_grads):
            raise GradientError(SECOND_ORDER.format(name=kernel.name))
        out = [None] * ctx.n
        if g is not None:
            for pos, d in zip(wrt_pos, ctx.saved_tensors):
                out[pos] = g * d
        return tuple(out)

    def eager_forward(ctx, *tensors):
        value, grads = _run(kernel, tensors)
        save(ctx, len(tensors), grads)
        return (value, *grads)

    def forward(*tensors):
        value, grads = _run(kernel, tensors)
        return (value, *grads)

    def setup_context(ctx, inputs, output):
        save(ctx, len(inputs), output[1:])

    # named at creation: autograd names the backward node class after it (`<name>Backward`)
    Eager = type(f"{kernel.name}_Eager", (torch.autograd.Function,), {
        "forward": staticmethod(eager_forward), "backward": staticmethod(backward)})
    Transformable = type(f"{kernel.name}_Transformable", (torch.autograd.Function,), {
        "forward": staticmethod(forward), "setup_context": staticmethod(setup_context),
        "backward": staticmethod(backward)})

    def core(*tensors):
        traced = torch.compiler.is_compiling() or _functorch.peek_interpreter_stack() is not None
        return (Transformable if traced else Eager).apply(*tensors)[0]

    return core


# --- mode "op": torch.library.custom_op under torch.compile, the Functions elsewhere ---------

def _as_op(kernel):
    """The kernel as a custom op (one node of a torch.compile graph, fake implementation for
    shapes, opcheck-clean); eager and torch.func calls take the autograd.Functions, which cost
    a fifth of the custom op's per-call autograd glue (pytree flattening in torch._library)."""
    qualname = f"lossgraph::k{next(_counter)}"
    wrt_pos = _wrt_positions(kernel)

    @torch.library.custom_op(qualname, mutates_args=(), device_types="cpu")
    def op(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        value, grads = _run(kernel, tensors)
        return [value, *grads]

    @op.register_fake
    def _(tensors):
        float_dtype = next((t.dtype for t in tensors if t.dtype in _FLOATS), torch.float64)
        return [tensors[0].new_empty((), dtype=float_dtype),
                *[torch.empty_like(tensors[p], memory_format=torch.contiguous_format)
                  for p in wrt_pos]]

    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*output[1:])
        ctx.n = len(inputs[0])

    def backward(ctx, grads_out):
        return (_backward_grads(kernel, ctx.n, ctx.saved_tensors, grads_out[0]),)

    op.register_autograd(backward, setup_context=setup_context)
    functions = _autograd_functions(kernel)

    def core(*tensors):
        if torch.compiler.is_compiling():
            return op(list(tensors))[0]
        return functions(*tensors)

    core.op = op
    return core


_MODES = {"op": _as_op, "function": _autograd_functions}
