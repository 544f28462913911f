"""The NumPy backend's lowering table: one entry per op name, and the few fused patterns.

LOWERINGS[op] says how one node becomes a Python expression (codegen.numpy_backend's emitter
assigns it to a name, passes a buffer to write into, casts operands); FUSED holds patterns
computed in one statement: a chain of scalar factors as one multiply, sum(square(d)) as
np.vdot(d, d), sum(a - x*y) as sum(a) - np.vdot(x, y), softmax - one_hot(labels) as a
subtraction at the labels. A test asserts that every op in lossgraph.ops.OPS has an entry
(leaves are the emitter's own: LEAVES).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from lossgraph import dtypes as dt

@dataclass(frozen=True)
class Lowering:
    """emit(em, node, args, out) -> a Python expression for node (args: operand expressions).

    out: the expression may write into a given buffer (out is its name, else None).
    view: the result may share memory with an operand (never written in place, copied when
    returned). cast: operands are first cast to the node's dtype (arithmetic). helpers: the
    helper functions the expression calls.
    """
    emit: Callable
    out: bool = False
    view: bool = False
    cast: object = True                   # True, or the operand positions to cast
    helpers: tuple = ()
    inplace: bool = True                  # an operand's dead buffer may hold the result


# --- dtype names in generated code: "FT" is the weak float (float_t, fixed per call)

def dtype_sym(dtype):
    return "FT" if dtype == "float" else dt.numpy_dtype(dtype).name


def _dtype_expr(em, sym):
    if sym == "FT":
        em.uses_float_t = True
        return "float_t"
    return f"np.{sym}"


# --- lowerings

def _ufunc(np_name, infix=None, prefix=None):
    def emit(em, node, a, out):
        if out is not None:
            return f"np.{np_name}({', '.join(a)}, out={out})"
        if infix:
            return f"{a[0]} {infix} {a[1]}"
        if prefix:
            return f"{prefix}{a[0]}"
        return f"np.{np_name}({', '.join(a)})"
    return Lowering(emit, out=True)


def _call(fmt, helpers=(), cast=True, view=False):
    """A fixed expression over args ({0}, {1}, ...) and attrs ({axis}, ...)."""
    def emit(em, node, a, out):
        return fmt.format(*a, **em.attrs(node))
    return Lowering(emit, cast=cast, view=view, helpers=helpers)


def _exp_shared(em, node, a, out, helper):
    """sigmoid / softplus of x share e = e^-|x|; the last of them may overwrite it."""
    e, last = em.shared(("exp_neg_abs", node.inputs[0]), f"exp_neg_abs_{em.hint(node.inputs[0])}",
                        f"exp_neg_abs({a[0]})")
    return f"{helper}({a[0]}, {e}" + (", reuse=True" if last else "") + (
        f", out={out})" if out is not None else ")")


def _softmax_parts(em, node, a):
    x = node.inputs[0]
    axis = em.axis_literal(node.attrs["axis"])
    hint = em.hint(x)
    names, last = em.shared(("softmax_parts", x, node.attrs["axis"]),
                            (f"max_{hint}", f"exp_{hint}", f"sumexp_{hint}"),
                            f"softmax_parts({a[0]}, {axis})")
    return names, last


def _logsumexp(em, node, a, out):
    (m, _, s), _ = _softmax_parts(em, node, a)
    lse = f"np.log({s}) + {m}"
    if node.attrs["keepdims"]:
        return lse
    return f"np.squeeze({lse}, axis={em.axis_literal(node.attrs['axis'])})"


def _softmax(em, node, a, out):
    (_, e, s), last = _softmax_parts(em, node, a)
    return f"normalized({e}, {s}" + (", reuse=True)" if last else ")")


def _log_softmax(em, node, a, out):
    (m, _, s), _ = _softmax_parts(em, node, a)
    return f"log_softmax({a[0]}, {m}, {s})"


def _reduce(ufunc):
    """np.<ufunc>.reduce: np.sum / np.prod / np.max / np.min without their wrapper, which
    costs about 1 us per call (the fixed cost of a small kernel)."""
    def emit(em, node, a, out):
        axes, keep = node.attrs["axis"], node.attrs["keepdims"]
        full = axes == tuple(range(node.inputs[0].ndim))
        args = [a[0], "axis=None" if full and not keep else f"axis={em.axis_literal(axes)}"]
        if keep:
            args.append("keepdims=True")
        if ufunc in ("add", "multiply") and dt.is_int(node.dtype):
            args.append(f"dtype={_dtype_expr(em, dtype_sym(node.dtype))}")
        if out is not None:
            args.append(f"out={out}")
        return f"np.{ufunc}.reduce({', '.join(args)})"
    return Lowering(emit, out=True)


def _power(em, node, a, out):
    if out is not None:
        return f"np.power({a[0]}, {a[1]}, out={out})"
    return f"{a[0]} ** {a[1]}"


def _cast(em, node, a, out):
    if dtype_sym(node.dtype) == dtype_sym(node.inputs[0].dtype):
        return a[0]
    return f"{a[0]}.astype({_dtype_expr(em, dtype_sym(node.dtype))})"


def _one_hot(em, node, a, out):
    em.checked_labels(node.inputs[0], node.attrs["depth"], "one_hot")
    at = em.attrs(node)
    return f"one_hot({a[0]}, {at['depth']}, {at['axis']}, {_dtype_expr(em, dtype_sym(node.dtype))})"


def _indexed(em, node, a, helper):
    x, labels = node.inputs
    em.checked_labels(labels, x.shape[node.attrs["axis"]], helper)
    return f"{helper}({a[0]}, {a[1]}, {node.attrs['axis']!r})"


def _ctc(fn):
    def emit(em, node, a, out):
        em.note("CTC: the forward-backward recursions run in the helper functions "
                "below (pasted from lossgraph.ops.ctc)")
        call = f"{fn}({', '.join(a)}, {node.attrs['blank']!r}, {node.attrs['zero_infinity']!r}"
        # the loss and the gradient of the same inputs share one forward recursion: a memo
        # dict the first one fills and the second one empties (counted in the first pass)
        key = ("ctc", *map(id, node.inputs), node.attrs["blank"])
        if em.shared_users is None or len(em.shared_users.get(key, ())) > 1:
            memo, _ = em.shared(key, "ctc_memo", "{}")
            return call + f", memo={memo})"
        return call + ")"
    return Lowering(emit, cast=False, helpers=("ctc",))


def _scatter(em, node, a, out):
    return f"scatter_along_axis({a[0]}, {a[1]}, {node.attrs['axis']}, {em.shape_literal(node.shape)})"


LOWERINGS = {
    "add": _ufunc("add", "+"), "subtract": _ufunc("subtract", "-"),
    "multiply": _ufunc("multiply", "*"), "divide": _ufunc("divide", "/"),
    "power": Lowering(_power, out=True),
    "maximum": _ufunc("maximum"), "minimum": _ufunc("minimum"),
    "xlogy": _call("xlogy({0}, {1})", helpers=("xlogy",)),
    "negative": _ufunc("negative", prefix="-"),
    "exp": _ufunc("exp"), "log": _ufunc("log"), "log1p": _ufunc("log1p"),
    "expm1": _ufunc("expm1"), "sqrt": _ufunc("sqrt"), "abs": _ufunc("abs"),
    "sign": _ufunc("sign"), "square": _ufunc("square"), "tanh": _ufunc("tanh"),
    "sigmoid": Lowering(lambda em, n, a, out: _exp_shared(em, n, a, out, "sigmoid"),
                        out=True, helpers=("exp_neg_abs", "sigmoid")),
    "softplus": Lowering(lambda em, n, a, out: _exp_shared(em, n, a, out, "softplus"),
                         out=True, helpers=("exp_neg_abs", "softplus")),
    "less": _call("{0} < {1}", cast=False), "less_equal": _call("{0} <= {1}", cast=False),
    "greater": _call("{0} > {1}", cast=False),
    "greater_equal": _call("{0} >= {1}", cast=False),
    "equal": _call("{0} == {1}", cast=False), "not_equal": _call("{0} != {1}", cast=False),
    "logical_and": _call("{0} & {1}", cast=False), "logical_or": _call("{0} | {1}", cast=False),
    "logical_not": _call("~{0}", cast=False),
    "where": Lowering(lambda em, n, a, out: f"select({', '.join(a)}" + (
        ", reuse=True)" if em.reusable(n, n.inputs[1]) else ")"), cast=(1, 2),
        helpers=("select",)),
    "clip": _ufunc("clip"),
    "cast": Lowering(_cast, cast=False, view=True),
    "stop_gradient": Lowering(lambda em, n, a, out: a[0], cast=False, view=True),
    "sum": _reduce("add"), "prod": _reduce("multiply"), "max": _reduce("maximum"),
    "min": _reduce("minimum"),
    "logsumexp": Lowering(_logsumexp, helpers=("softmax_parts",)),
    "softmax": Lowering(_softmax, helpers=("softmax_parts", "normalized")),
    "log_softmax": Lowering(_log_softmax, helpers=("softmax_parts", "log_softmax")),
    "reshape": _call("np.reshape({0}, {shape})", cast=False, view=True),
    "transpose": _call("np.transpose({0}, {perm})", cast=False, view=True),
    "broadcast_to": _call("np.broadcast_to({0}, {shape})", cast=False, view=True),
    "one_hot": Lowering(_one_hot, cast=False, helpers=("one_hot",)),
    "pick": Lowering(lambda em, n, a, out: _indexed(em, n, a, "pick"), cast=False,
                     helpers=("pick",)),
    "take_along_axis": Lowering(lambda em, n, a, out: _indexed(em, n, a, "take_along_axis"),
                                cast=False, helpers=("take_along_axis",)),
    "scatter_along_axis": Lowering(_scatter, cast=False, helpers=("scatter_along_axis",)),
    "matmul": Lowering(lambda em, n, a, out: f"np.matmul({a[0]}, {a[1]}, out={out})"
                       if out is not None else f"{a[0]} @ {a[1]}", out=True, inplace=False),
    "ctc_loss": _ctc("_loss_impl"),
    "ctc_grad": _ctc("_grad_impl"),
}

# Leaves are not lowered by the table: inputs are parameters, constants literals or module
# constants, dimsize and arange read the dims bound from the inputs' shapes.
LEAVES = ("input", "constant", "dimsize", "arange")


# --- fused patterns: op -> rules (test(em, node) -> the absorbed nodes or None, emit, helpers);
# the first rule whose test matches lowers the node, emit(em, node, out) -> (text, wrote out)

def _scalar(node):
    return node.ndim == 0


def _scale_chain(em, node):
    """x * a / b * c ... with scalar factors: one multiply by their product (one pass)."""
    if node.op not in ("multiply", "divide") or node.ndim == 0:
        return None
    arr = [k for k, i in enumerate(node.inputs) if not _scalar(i)]
    if len(arr) != 1 or (node.op == "divide" and arr[0] != 0):
        return None
    inner = node.inputs[arr[0]]
    if inner.op != "multiply" or em.uses(inner) != 1 or inner.shape != node.shape or \
            sum(not _scalar(i) for i in inner.inputs) != 1 or \
            dtype_sym(inner.dtype) != dtype_sym(node.dtype):
        return None
    return (inner,)


def _emit_scale_chain(em, node, out):
    k = 0 if not _scalar(node.inputs[0]) else 1
    inner, s = node.inputs[k], node.inputs[1 - k]
    j = 0 if not _scalar(inner.inputs[0]) else 1
    base, t = inner.inputs[j], inner.inputs[1 - j]
    op = "*" if node.op == "multiply" else "/"
    factor = f"({em.operand(node, t)} {op} {em.operand(node, s)})"
    x = em.operand(node, base)
    target = out if out is not None else (x if em.reusable(node, base) else None)
    if target is not None:
        return f"np.multiply({x}, {factor}, out={target})", out is not None
    return f"{x} * {factor}", False


def _full_float_sum(node):
    """node sums its operand over every axis into a float scalar."""
    (a,) = node.inputs
    return not node.attrs["keepdims"] and a.ndim > 0 and \
        node.attrs["axis"] == tuple(range(a.ndim)) and dt.is_float(node.dtype)


def _same_array(node, *others):
    """others have node's shape and dtype (no broadcast, no cast)."""
    return all(o.shape == node.shape and dtype_sym(o.dtype) == dtype_sym(node.dtype)
               for o in others)


def _sum_of_squares(em, node):
    """sum(square(d)) over all axes: one dot product, no squared array."""
    (sq,) = node.inputs
    if not _full_float_sum(node) or sq.op != "square" or em.uses(sq) != 1 or \
            dtype_sym(sq.inputs[0].dtype) != dtype_sym(node.dtype):
        return None
    return (sq,)


def _emit_sum_of_squares(em, node, out):
    d = em.operand(node, node.inputs[0].inputs[0])
    return f"np.vdot({d}, {d})", False


def _product_operand(em, comb):
    """The position of comb's operand that is a product read only by comb (the right one
    if both are), else None."""
    prods = [k for k, i in enumerate(comb.inputs) if i.op == "multiply" and em.uses(i) == 1]
    return prods[-1] if prods else None


def _sum_with_dot(em, node):
    """sum(a - x*y) or sum(a + x*y) over all axes: sum(a) -/+ x.y, no product array."""
    (comb,) = node.inputs
    if not _full_float_sum(node) or comb.op not in ("subtract", "add") or em.uses(comb) != 1:
        return None
    k = _product_operand(em, comb)
    if k is None or not _same_array(comb, comb.inputs[1 - k], *comb.inputs[k].inputs):
        return None
    return (comb, comb.inputs[k])


def _emit_sum_with_dot(em, node, out):
    """sum(x*y - a) is the negated sum(a - x*y)."""
    (comb,) = node.inputs
    k = _product_operand(em, comb)
    a, (x, y) = comb.inputs[1 - k], comb.inputs[k].inputs
    call = f"sum_with_dot({em.expr[id(a)]}, {em.expr[id(x)]}, {em.expr[id(y)]}, np.{comb.op})"
    return ("-" + call if k == 0 and comb.op == "subtract" else call), False


def _minus_one_hot(em, node):
    """softmax(x) - one_hot(y): subtract 1 at the labels instead of building the one-hot."""
    a, oh = node.inputs
    if oh.op != "one_hot" or em.uses(oh) != 1 or a.shape != node.shape or \
            oh.shape != node.shape or dtype_sym(a.dtype) != dtype_sym(node.dtype):
        return None
    return (oh,)


def _emit_minus_one_hot(em, node, out):
    a, oh = node.inputs
    em.checked_labels(oh.inputs[0], oh.attrs["depth"], "one_hot")
    reuse = em.reusable(node, a)
    return (f"minus_one_hot({em.operand(node, a)}, {em.expr[id(oh.inputs[0])]}, "
            f"{oh.attrs['axis']}" + (", reuse=True)" if reuse else ")")), False


FUSED = {
    "multiply": ((_scale_chain, _emit_scale_chain, ()),),
    "divide": ((_scale_chain, _emit_scale_chain, ()),),
    "sum": ((_sum_of_squares, _emit_sum_of_squares, ()),
            (_sum_with_dot, _emit_sum_with_dot, ("sum_with_dot",))),
    "subtract": ((_minus_one_hot, _emit_minus_one_hot, ("minus_one_hot",)),),
}
