"""A compiled kernel as a differentiable PyTorch function of CPU tensors.

    f = kernel.to_torch()              # or codegen.to_torch(loss, wrt=["logits"])
    loss = f(logits, labels)           # positional in kernel.input_names order, or by name
    loss.backward()                    # d loss/d logits = grad_output * the kernel's gradient

The forward runs the kernel once on zero-copy NumPy views of the tensors and keeps its
gradients; the backward scales them by the incoming cotangent (the loss is a scalar, so the
vector-Jacobian product is g * dloss/dx). Two modes:

  mode="op"        (default) a torch.library.custom_op with a fake (shape) implementation and
                   an autograd formula: eager mode and torch.compile(fullgraph=True), one graph.
  mode="function"  a torch.autograd.Function in setup_context style: eager mode and torch.func
                   (torch.func.grad / vjp; the custom op raises OptionError there).

Second-order derivatives are not available (the kernel gives first derivatives only): a
gradient taken with create_graph=True raises when it is differentiated again (mode "op": a
RuntimeError naming the kernel; mode "function": GradientError, also under torch.func), instead
of contributing a silent zero.
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

    mode: "op" (eager and torch.compile) or "function" (eager and torch.func).
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
        GradientError / RuntimeError: differentiating the gradients again (second order).
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


# --- mode "op": torch.library.custom_op ------------------------------------------------------

def _as_op(kernel):
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

    def core(*tensors):
        if not torch.compiler.is_compiling() and _functorch.peek_interpreter_stack() is not None:
            raise OptionError(f"{kernel.name}: to_torch(mode='op') does not run under torch.func "
                              f"transforms; export with to_torch(mode='function') for them")
        return op(list(tensors))[0]

    core.op = op
    return core


# --- mode "function": torch.autograd.Function (setup_context style, torch.func-ready) -------

def _as_function(kernel):
    """The gradients are outputs of the Function too, and its backward reads them from the
    graph: a second derivative reaches this backward with a cotangent for them and raises
    GradientError (in plain autograd and in torch.func alike)."""
    class KernelFunction(torch.autograd.Function):
        @staticmethod
        def forward(*tensors):
            value, grads = _run(kernel, tensors)
            return (value, *grads)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.set_materialize_grads(False)
            ctx.save_for_backward(*output[1:])
            ctx.n = len(inputs)

        @staticmethod
        def backward(ctx, g, *through_grads):
            if any(t is not None for t in through_grads):
                raise GradientError(SECOND_ORDER.format(name=kernel.name))
            out = [None] * ctx.n
            if g is not None:
                for pos, d in zip(_wrt_positions(kernel), ctx.saved_tensors):
                    out[pos] = g * d
            return tuple(out)

    KernelFunction.__name__ = f"{kernel.name}_Function"

    def core(*tensors):
        return KernelFunction.apply(*tensors)[0]

    return core


_MODES = {"op": _as_op, "function": _as_function}
