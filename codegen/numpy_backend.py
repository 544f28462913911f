"""NumPy backend: a schedule becomes a readable, standalone Python module.

One function whose parameters are the loss's inputs (then one optional buffer per gradient),
one assignment per intermediate, named after what it is (`diff = pred - target`,
`sigmoid_logits = sigmoid(logits, ...)`). Shared subexpressions are computed once and the
gradient reuses the forward intermediates; an intermediate whose last use is an elementwise op
of the same shape and dtype lends that op its buffer (`out=`), and a buffer nobody reads any
more holds the next result of its shape and dtype, so the loss and its gradient allocate
little. The module imports only NumPy and defines the helpers it calls
(codegen.numpy_helpers; CTC's forward-backward is pasted from lossgraph.ops.ctc).

The lowering table (LOWERINGS, one entry per op name) and the fused patterns (FUSED) live in
codegen.numpy_lowering; this module is the emitter that walks the schedule. Identifiers come
from codegen.names.Namer; user strings reach the source only through it or as repr'd literals.
"""
from __future__ import annotations

import inspect

import numpy as np

from lossgraph import dtypes as dt
from lossgraph.ops import ctc as ctc_ops
from lossgraph.shapes import _factors

from . import numpy_helpers
from .names import Namer
from .numpy_lowering import FUSED, LEAVES, LOWERINGS, _dtype_expr, _emit_scale_chain, dtype_sym

_CTC_HELPERS = ("_checked", "_shift", "_lse3", "_skips", "_forward", "_backward",
                "_logsumexp_rows", "_forward_of", "_loss_impl", "_grad_impl")


# --- the emitter

def _literal(value):
    """A scalar as Python source that reads back exactly (weakly typed in NumPy)."""
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, (int, np.integer)):
        text = repr(int(value))
    else:
        v = float(value)
        text = "np.nan" if v != v else ("-np.inf" if v < 0 else "np.inf") if v in (
            np.inf, -np.inf) else repr(v)
    return f"({text})" if text.startswith("-") else text


_HINTS = {"subtract": "diff", "add": "total", "multiply": "product", "divide": "ratio",
          "where": "chosen", "less": "below", "less_equal": "inside", "greater": "above",
          "greater_equal": "at_least", "equal": "is_equal", "not_equal": "differs",
          "logical_and": "both", "logical_or": "either", "logical_not": "negated",
          "negative": "neg", "power": "powered", "sum": "total", "prod": "product",
          "one_hot": "one_hot", "dimsize": "size"}


class Emitter:
    """Builds one module: names, helper set, module constants and the function body."""

    def __init__(self, schedule, fn_name, shared_users=None):
        self.s = schedule
        self.namer = Namer(reserved=("np", "float_t") + tuple(numpy_helpers.HELPERS)
                           + _CTC_HELPERS + ("NEG_INF", "ctc"))
        self.fn_name = self.namer.fresh(fn_name)
        self.lines, self.module_consts, self.notes = [], [], []
        self.helpers, self.dims_used = [], []
        self.uses_float_t = False
        self.expr, self.owned = {}, {}           # owned: id -> node whose result buffer it is
        self.taken = set()                        # owned buffers a later node has written into
        self.pooled = None                        # the dead buffer the current statement reuses
        self.shared_users = shared_users          # key -> positions requesting it (pass 2)
        self.requests = {}                        # key -> positions (recorded in this pass)
        self.shared_names = {}
        self.pos = None
        self.absorbed = set()
        self.params = [self.namer.fresh(name) for name in schedule.inputs]
        self.out_params = [self.namer.fresh(f"grad_{w.name}") for w in schedule.wrt]

    # -- small services for lowerings
    def attrs(self, node):
        out = {}
        for k, v in node.attrs.items():
            if k == "axis" and isinstance(v, tuple):
                out[k] = self.axis_literal(v)
            elif k in ("shape",):
                out[k] = self.shape_literal(node.shape)
            elif k == "depth":
                out[k] = self.dim_expr(v)
            else:
                out[k] = repr(v) if isinstance(v, (int, tuple, bool, str)) else v
        return out

    def axis_literal(self, axes):
        return repr(axes[0]) if len(axes) == 1 else repr(tuple(axes))

    def dim_expr(self, d):
        if isinstance(d, str) and "*" in d and self._axis_of(d) is not None:
            if d not in self.dim_names:          # a product dim some input has as one axis
                self.dim_names[d] = self.namer.fresh(d.replace("*", "_"))
            if d not in self.dims_used:
                self.dims_used.append(d)
            return self.dim_names[d]
        coeff, names = _factors(d)
        for n in names:
            if n not in self.dims_used:
                self.dims_used.append(n)
        parts = ([str(coeff)] if coeff != 1 or not names else []) + \
            [self.dim_names[n] for n in names]
        return " * ".join(parts)

    def shape_literal(self, shape):
        dims = [self.dim_expr(d) for d in shape]
        return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"

    def hint(self, node):
        if node.op == "input":
            return self.expr[id(node)]
        return self.names.get(id(node), node.op)

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)

    def uses(self, node):
        return len(self.s.users[self.s.position(node)])

    def operand(self, node, inp):
        """inp's expression, cast to node's dtype where NumPy's promotion would differ."""
        e = self.expr[id(inp)]
        want, have = dtype_sym(node.dtype), dtype_sym(inp.dtype)
        if want == have or self.is_literal(inp):
            return e
        return f"{e}.astype({_dtype_expr(self, want)}, copy=False)"

    def is_literal(self, node):
        return node.op == "constant" and node.ndim == 0 and node.dtype in ("float", "int", "bool")

    def shared(self, key, hints, expr):
        """A temporary computed once for every node that asks for it; returns (name or
        names, whether this node is its last user)."""
        self.requests.setdefault(key, []).append(self.pos)
        if key not in self.shared_names:
            names = tuple(self.namer.fresh(h) for h in hints) if isinstance(hints, tuple) \
                else self.namer.fresh(hints)
            target = ", ".join(names) if isinstance(names, tuple) else names
            self.lines.append(f"{target} = {expr}")
            self.shared_names[key] = names
        users = (self.shared_users or {}).get(key, [])
        return self.shared_names[key], bool(users) and users[-1] == self.pos

    def checked_labels(self, labels, depth, what):
        """Emit the range check of labels against depth once (the first op that reads them
        names itself in the error, as in lg.evaluate)."""
        key = ("labels", labels, depth)
        if key not in self.shared_names:
            self._helper("check_labels")
            self.lines.append(f"check_labels({self.expr[id(labels)]}, {self.dim_expr(depth)}, "
                              f"{what!r})")
            self.shared_names[key] = True

    def reusable(self, node, inp):
        """inp's buffer may hold node's result: inp is an intermediate nobody reads later."""
        if id(inp) not in self.owned or inp.shape != node.shape or node.ndim == 0 or \
                dtype_sym(inp.dtype) != dtype_sym(node.dtype) or id(inp) in self.taken:
            return False
        if self.buffer_last[id(inp)] != self.pos:
            return False
        self.taken.add(id(inp))
        return True

    def spare(self, node):
        """The name of a dead intermediate's buffer of node's shape and dtype (read last
        before this node, not written since), else None; this statement says it reuses it."""
        if node.ndim == 0:
            return None
        for key, owner in self.owned.items():
            if key not in self.taken and self.buffer_last[key] < self.pos and \
                    owner.shape == node.shape and dtype_sym(owner.dtype) == dtype_sym(node.dtype):
                self.taken.add(key)
                self.pooled = self.expr[key]
                return self.pooled
        return None

    # -- the body
    def run(self):
        s = self.s
        self.dim_names = {}
        for node in s.order:
            at = node.attrs
            dims = list(node.shape) + list(at.get("dims", ())) + \
                [at[k] for k in ("dim", "depth") if k in at]
            for d in dims:
                for n in _factors(d)[1]:
                    self.dim_names.setdefault(n, None)
        for n in list(self.dim_names):
            self.dim_names[n] = self.namer.fresh(n)
        for name, p in zip(s.inputs, self.params):
            self.expr[id(s.inputs[name])] = p
        self.names = {}
        self._plan()
        outputs = {id(o) for o in s.outputs}
        for pos, node in enumerate(s.order):
            self.pos = pos
            if id(node) in self.absorbed:
                continue
            if node.op in LEAVES:
                self._leaf(node)
                continue
            grad_k = self.grad_index.get(id(node))
            out = self.out_params[grad_k] if grad_k is not None else None
            self._lower(node, out, id(node) in outputs)
        self._returns()
        return self

    def _plan(self):
        """Absorbed nodes (fused patterns) and each owned buffer's last use (views extend it)."""
        s = self.s
        self.fused = {}
        for node in s.order:
            for rule in FUSED.get(node.op, ()):
                taken = rule[0](self, node)
                if taken is None or any(id(n) in self.fused for n in taken):
                    continue        # a node that absorbs its own inputs cannot be absorbed
                self.fused[id(node)] = rule
                self.absorbed.update(id(n) for n in taken)
                break
        self.grad_index = {}
        for k, g in enumerate(s.grads):
            if g.op not in LEAVES and id(g) not in self.grad_index and \
                    all(g is not v for v in s.values):
                self.grad_index[id(g)] = k
        last = self._effective_last_use()
        self.buffer_last, root = {}, {}
        for pos, node in enumerate(s.order):
            low = LOWERINGS.get(node.op)
            if low is not None and low.view and node.inputs and id(node.inputs[0]) in root:
                root[id(node)] = root[id(node.inputs[0])]
            else:
                root[id(node)] = id(node)
            r = root[id(node)]
            self.buffer_last[r] = max(self.buffer_last.get(r, -1), last.get(id(node), len(s.order)))
        for node in s.outputs:
            self.buffer_last[root[id(node)]] = len(s.order)

    def _effective_last_use(self):
        """Position of each node's last reader, where a fused node reads its absorbed
        inputs' operands."""
        last = {}

        def read(inp, pos):
            if id(inp) in self.absorbed:
                for i in inp.inputs:
                    read(i, pos)
            else:
                last[id(inp)] = pos

        for pos, node in enumerate(self.s.order):
            if id(node) not in self.absorbed:
                for inp in node.inputs:
                    read(inp, pos)
        return last

    def _name_for(self, node):
        if self.s.values and node is self.s.values[0]:
            return self.namer.fresh("loss")
        base = _HINTS.get(node.op)
        if base is None:
            first = self.hint(node.inputs[0]) if node.inputs else ""
            base = f"{node.op}_{first}" if 0 < len(first) <= 16 else node.op
        return self.namer.fresh(base)

    def _leaf(self, node):
        if node.op == "constant":
            v = node.attrs["value"]
            if self.is_literal(node):
                self.expr[id(node)] = _literal(v.item())
                return
            name = self.namer.fresh("CONST")
            self.module_consts.append(
                f"{name} = np.array({v.tolist()!r}, dtype=np.{v.dtype.name})")
            sym = dtype_sym(node.dtype)
            if sym == "FT":
                self.expr[id(node)] = f"{name}.astype(float_t, copy=False)"
                self.uses_float_t = True
            elif v.ndim == 0:
                self.expr[id(node)] = f"np.{sym}({_literal(v.item())})"
            else:
                self.expr[id(node)] = name
        elif node.op == "dimsize":
            name = self.namer.fresh("size_" + "_".join(map(str, node.attrs["dims"])))
            dims = " * ".join(self.dim_expr(d) for d in node.attrs["dims"]) or "1"
            self.lines.append(f"{name} = {_dtype_expr(self, dtype_sym(node.dtype))}({dims})")
            self.expr[id(node)] = name
        elif node.op == "arange":
            name = self.namer.fresh("arange_" + str(node.attrs["dim"]).replace("*", "_"))
            self.lines.append(f"{name} = np.arange({self.dim_expr(node.attrs['dim'])})")
            self.expr[id(node)] = name
            self.owned[id(node)] = node

    def _lower(self, node, out, is_output):
        low = LOWERINGS[node.op]
        for h in low.helpers:
            self._helper(h)
        fused = self.fused.get(id(node))
        name = out if out is not None else self._name_for(node)
        self.pooled = None
        writes_out = fused[1] is _emit_scale_chain if fused is not None else low.out
        if out is not None and writes_out and low.inplace:
            spare = self._reuse(node, deep=fused is not None)
            if spare is not None:
                self.lines += [f"if {out} is None:",
                               f"    {out} = {spare}  # {spare} is not read again"]
        if fused is not None:
            for h in fused[2]:
                self._helper(h)
            text, wrote = fused[1](self, node, out)
        else:
            args = [self.operand(node, i) if low.cast is True or (low.cast and k in low.cast)
                    else self.expr[id(i)] for k, i in enumerate(node.inputs)]
            values = list(low.cast) if isinstance(low.cast, tuple) else \
                list(range(len(node.inputs)))
            same_kind = dt.is_float(node.dtype) == dt.is_float(node.inputs[values[0]].dtype)
            if same_kind and all(self.is_literal(node.inputs[k]) for k in values):
                for k in values:       # alone, Python scalars would make float64 / int64
                    args[k] = f"{_dtype_expr(self, dtype_sym(node.dtype))}({args[k]})"
            target = None
            if low.out:
                target = out if out is not None else (self._reuse(node) if low.inplace
                                                       else None)
            text = low.emit(self, node, args, target)
            wrote = out is not None and low.out
            if low.view and not is_output and node.inputs and text == args[0]:
                self.expr[id(node)] = text          # a no-op (stop_gradient, same-dtype cast)
                self.names[id(node)] = self.names.get(id(node.inputs[0]), text)
                return
        if out is not None and not wrote:
            self._helper("fill")
            copy = ", copy=True" if low.view and fused is None else ""
            text = f"fill({out}, {text}{copy})"
        elif is_output and low.view:
            text = f"np.array({text})"
        if self.pooled is not None and f"out={self.pooled}" in text:
            self.lines.append(f"# {self.pooled} is not read again: its buffer holds {name}")
        self.lines.append(f"{name} = {text}")
        self.names[id(node)] = name
        self.expr[id(node)] = name
        if not low.view and not is_output and node.ndim > 0:
            self.owned[id(node)] = node

    def _reuse(self, node, deep=False):
        """The name of an operand's buffer this node may write into, else None (deep: also
        the operands of absorbed inputs)."""
        inputs = list(node.inputs)
        if deep:
            inputs += [j for i in node.inputs if id(i) in self.absorbed for j in i.inputs]
        for inp in inputs:
            if self.reusable(node, inp):
                return self.expr[id(inp)]
        return self.spare(node)

    def _helper(self, name):
        if name in self.helpers:
            return
        if name == "ctc":
            self._helper("InputError")
        for dep in numpy_helpers.HELPERS.get(name, ()):
            self._helper(dep)
        self.helpers.append(name)

    def _returns(self):
        s = self.s
        seen = set()
        vals = []
        for v in s.values:
            e = self.expr[id(v)]
            if v.op in LEAVES or id(v) in seen:
                e = f"np.array({e}, dtype={_dtype_expr(self, dtype_sym(v.dtype))})"
                e = e + "[()]" if v.ndim == 0 else e
            seen.add(id(v))
            vals.append(e)
        grads = []
        for k, g in enumerate(s.grads):
            e = self.expr[id(g)]
            if self.grad_index.get(id(g)) != k:      # a leaf, a value, or a repeated gradient
                if self.is_literal(g):                # a zero gradient: in the float type
                    e = f"{_dtype_expr(self, dtype_sym(g.dtype))}({e})"
                self._helper("fill")
                e = f"fill({self.out_params[k]}, {e}, copy=True)"
            grads.append(e)
        value = vals[0] if len(vals) == 1 else "(" + ", ".join(vals) + ")"
        if not s.wrt:
            self.lines.append(f"return {value}")
        else:
            gs = ", ".join(grads) + ("," if len(grads) == 1 else "")
            self.lines.append(f"return {value}, ({gs})")

    # -- the module
    def module(self):
        head = []
        if self.uses_float_t:
            head.append(f"float_t = {self._float_t()}")
        for n in self.dims_used:
            head.append(f"{self.dim_names[n]} = {self._dim_source(n)}")
        params = self.params + [f"{p}=None" for p in self.out_params]
        doc = self._docstring()
        body = [f"    {line}" for line in doc + head + self.lines]
        parts = ['"""Generated by lossgraph\'s NumPy backend (codegen): imports only NumPy."""',
                 "import numpy as np", ""]
        for h in self.helpers:
            parts += ["", "", _helper_source(h)]
        if self.module_consts:
            parts += [""] + self.module_consts
        parts += ["", "", '@np.errstate(all="ignore")',
                  f"def {self.fn_name}({', '.join(params)}):"] + body
        return "\n".join(parts) + "\n"

    def _docstring(self):
        s = self.s
        ins = ", ".join(f"{p}: {n.dtype}{_shape_text(n.shape)}"
                        for p, n in zip(self.params, s.inputs.values()))
        lines = [f'"""Inputs {ins}.']
        if s.wrt:
            lines.append(f"Returns (loss, gradients w.r.t. {', '.join(w.name for w in s.wrt)});"
                         f" {', '.join(self.out_params)} may be preallocated gradient buffers.")
        else:
            lines.append("Returns the loss.")
        lines += self.notes
        lines[-1] += '"""'
        return lines

    def _float_t(self):
        weak = [p for p, n in zip(self.params, self.s.inputs.values()) if n.dtype == "float"]
        if len(weak) == 1:
            return f"{weak[0]}.dtype.type"
        if weak:
            return f"np.result_type({', '.join(weak)}).type"
        concrete = [n.dtype for n in self.s.inputs.values() if n.dtype in ("float32", "float64")]
        return f"np.{dt.promote(*concrete) if concrete else 'float64'}"

    def _axis_of(self, dim):
        """(parameter, axis) of the first input axis that is exactly dim, else None."""
        for p, n in zip(self.params, self.s.inputs.values()):
            for i, d in enumerate(n.shape):
                if d == dim:
                    return p, i
        return None

    def _dim_source(self, sym):
        found = self._axis_of(sym)
        if found is not None:
            return f"{found[0]}.shape[{found[1]}]"
        from lossgraph.errors import ShapeError
        raise ShapeError(f"dim {sym!r} is not the size of any input axis, so the generated "
                         f"code cannot read it")


def _shape_text(shape):
    return "[" + ", ".join(map(str, shape)) + "]"


def _helper_source(name):
    if name == "ctc":
        srcs = ["# CTC forward-backward, pasted from lossgraph.ops.ctc (the reference):",
                "NEG_INF = -np.inf"]
        srcs += [inspect.getsource(getattr(ctc_ops, f)) for f in _CTC_HELPERS]
        return "\n\n".join(srcs)
    return inspect.getsource(getattr(numpy_helpers, name)).rstrip()


def generate(schedule, name="loss"):
    """(module source, function name) for a schedule: two passes, the first finds which
    nodes share each temporary, so the last of them may overwrite it."""
    first = Emitter(schedule, name).run()
    em = Emitter(schedule, name, shared_users=first.requests).run()
    return em.module(), em.fn_name


class NumpyBackend:
    """The backend object codegen.kernel registers as "numpy" (it takes no options)."""
    name = "numpy"

    def build(self, schedule, name, options):
        from .numpy_exec import load
        if options:
            from lossgraph.errors import OptionError
            raise OptionError(f"compile: unknown option {sorted(options)[0]!r} for the numpy "
                              f"backend (it takes none)")
        source, fn_name = generate(schedule, name)
        return {"source": source, "fn": load(source, fn_name)}
