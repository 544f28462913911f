"""Loss: a graph with named inputs, declared once and then evaluated, differentiated,
printed, drawn and serialized by name.

    @lg.loss
    def bce(x: lg.Float["N"], z: lg.Float["N"]):
        return lg.mean(lg.softplus(x) - x * z)

    bce(a, b); bce.value_and_grad(a, b); bce.gradients("x"); print(bce.latex()); bce.draw()

Values and gradients are those of the stabilized loss (lossgraph.pipeline), derived once per
wrt and bound once per input signature.
"""
from __future__ import annotations

import ast
import inspect

import numpy as np

from . import api as F
from .autodiff import gradients
from .dtypes import is_float, normalize_dtype
from .errors import GradientError, InputError, OptionError
from .graph import Node, inputs_of
from .names import quote


class Spec:
    """An input declaration usable as an annotation: Float["N", "C"], Int64["N"], Float[()].

    Examples:
        >>> lg.Float["N", "C"]
        Float['N', 'C']
    """

    def __init__(self, dtype, shape=()):
        self.dtype, self.shape = normalize_dtype(dtype), tuple(shape)

    def __getitem__(self, shape):
        if shape == ():
            return Spec(self.dtype, ())
        return Spec(self.dtype, shape if isinstance(shape, tuple) else (shape,))

    def __repr__(self):
        return f"{self.dtype.capitalize()}[{', '.join(map(repr, self.shape))}]"

    def make(self, name):
        return F.input(name, shape=self.shape, dtype=self.dtype)


Float, Float32, Float64 = Spec("float"), Spec("float32"), Spec("float64")
Int, Int32, Int64, Bool = Spec("int"), Spec("int32"), Spec("int64"), Spec("bool")
_SPECS = {"Float": Float, "Float32": Float32, "Float64": Float64, "Int": Int, "Int32": Int32,
          "Int64": Int64, "Bool": Bool}


def _parse_spec(text, arg):
    """Read a string annotation like 'lg.Float["N", "C"]' without evaluating it."""
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        tree = None
    base, shape = tree, ()
    if isinstance(tree, ast.Subscript):
        base = tree.value
        elts = tree.slice.elts if isinstance(tree.slice, ast.Tuple) else [tree.slice]
        try:
            shape = tuple(ast.literal_eval(e) for e in elts)
        except ValueError:
            shape = None
    name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None)
    if name not in _SPECS or shape is None:
        raise OptionError(f"parameter {arg!r}: annotation {text!r} is not an input spec like "
                          f"lg.Float['N', 'C'] or lg.Int64['N']")
    return _SPECS[name][shape] if shape else _SPECS[name]


class Loss:
    """A loss graph with named inputs.

    Loss(inputs, output, name): output is a scalar graph over inputs (Nodes); usually built by
    the @lg.loss decorator. Calling it evaluates the stabilized loss; `gradients`,
    `value_and_grad`, `compile`, `latex`, `draw` and `to_json` act on the same graph.

    Examples:
        >>> x = lg.input("x", shape=("N",))
        >>> sq = lg.Loss([x], lg.sum(x * x), name="sq")
        >>> float(sq(np.array([1.0, 2.0])))
        5.0

    Raises:
        InputError: the output uses an input that is not declared; at a call, an array is given
            twice or too many are given, or one does not fit its declaration (also ShapeError,
            DTypeError, as lg.evaluate).
        GradientError: wrt names something that is not an input.
    """

    def __init__(self, inputs, output, name=None):
        output = F.as_node(output)
        if isinstance(inputs, dict):
            inputs = list(inputs.values())
        inputs = list(inputs)
        for i in inputs:
            if not isinstance(i, Node) or i.op != "input":
                raise InputError(f"Loss inputs: expected lg.input nodes, got {i!r}")
        used = {n.name: n for n in inputs_of([output])}
        missing = [n for n in used if n not in {i.name for i in inputs}]
        if missing:
            raise InputError(f"Loss: the output uses input {missing[0]!r}, which is not among "
                             f"the declared inputs {[i.name for i in inputs]}")
        self.inputs = {i.name: i for i in inputs}
        self.output = output
        self.name = name or "loss"

    # --- evaluation and derivatives (cached per wrt and per input signature; see _plan)
    def __call__(self, *args, **arrays):
        """The stabilized loss evaluated on arrays given by position or by name."""
        from .pipeline import stable
        arrays = self._named(args, arrays)
        return self._plan(("value",), lambda: [stable(self.output)], arrays)(arrays)[0]

    def _named(self, args, arrays):
        if len(args) > len(self.inputs):
            raise InputError(f"{self.name}: takes {len(self.inputs)} inputs, got {len(args)}")
        for name, a in zip(self.inputs, args):
            if name in arrays:
                raise InputError(f"{self.name}: input {quote(name)} given twice")
            arrays[name] = a
        return arrays

    def _cache(self, which="plans"):
        """The Loss's bounded caches: "derived" (per wrt) and "plans" (per signature)."""
        cache = self.__dict__.get("_cache_" + which)
        if cache is None:
            from .lru import LRU
            cache = self.__dict__.setdefault("_cache_" + which, LRU(32))
        return cache

    def _plan(self, kind, outputs, arrays):
        """The Plan evaluating outputs() on arrays of this signature, made once: every
        declared input is checked on the first call; later calls only run the graph."""
        from .transforms import Plan
        sig = tuple((n, a.shape, a.dtype, isinstance(v, (int, float)))
                    for n, v, a in ((n, v, np.asarray(v)) for n, v in arrays.items()))
        key = (kind, sig)
        plan = self._cache().get(key)
        if plan is None:
            plan = self._cache().put(key, Plan(outputs(), self.inputs, arrays,
                                               what=self.name))
        return plan

    def _wrt(self, wrt):
        if wrt is None:
            wrt = [n for n, i in self.inputs.items() if is_float(i.dtype)]
        elif isinstance(wrt, (str, Node)):
            wrt = [wrt]
        nodes = []
        for w in wrt:
            if isinstance(w, Node):
                nodes.append(w)
            elif w in self.inputs:
                nodes.append(self.inputs[w])
            else:
                raise GradientError(f"{self.name}: wrt {quote(w)} is not an input; inputs are "
                                    f"{list(self.inputs)}")
        return tuple(nodes)

    def _derived(self, nodes, simplify=True):
        """(stable loss, gradient graphs) for the wrt nodes, derived once per wrt."""
        key = (nodes, simplify)
        out = self._cache("derived").get(key)
        if out is None:
            from . import pipeline
            out = (pipeline.derive(self.output, list(nodes)) if simplify else
                   (self.output, gradients(self.output, list(nodes), simplify=False)))
            out = self._cache("derived").put(key, out)
        return out

    def gradients(self, wrt=None, simplify=True):
        """{input name: gradient Node} of the stabilized loss, simplified; simplify=False
        gives the literal derivation of the loss as written. Derived once per wrt.

        Examples:
            >>> @lg.loss
            ... def bce(logits: lg.Float["N"], targets: lg.Float["N"]):
            ...     return lg.mean(lg.softplus(logits) - logits * targets)
            >>> print(bce.gradients("logits")["logits"])
            (sigmoid(logits) - targets) / N

        Raises:
            GradientError: wrt names something that is not an input, or an integer input.
        """
        nodes = self._wrt(wrt)
        return {n.name: g for n, g in zip(nodes, self._derived(nodes, simplify)[1])}

    def value_and_grad(self, *args, wrt=None, **arrays):
        """(value, {name: gradient array}) of the stabilized loss, on arrays given by
        position or by name like a call; wrt defaults to every float input. Derived once
        per wrt and bound once per signature (shapes and dtypes of the arrays).

        Examples:
            >>> @lg.loss
            ... def sq(p: lg.Float["N"]):
            ...     return lg.sum(p * p)
            >>> sq.value_and_grad(np.array([1.0, 2.0]))
            (np.float64(5.0), {'p': array([2., 4.])})

        Raises:
            GradientError: wrt names something that is not an input, or an integer input.
            InputError, ShapeError, DTypeError: the arrays do not fit the declared inputs (as
                lg.evaluate).
        """
        nodes = self._wrt(wrt)
        arrays = self._named(args, arrays)
        plan = self._plan(("value_and_grad", nodes),
                          lambda: [self._derived(nodes)[0], *self._derived(nodes)[1]], arrays)
        vals = plan(arrays)
        return vals[0], {n.name: g for n, g in zip(nodes, vals[1:])}

    def simplify(self):
        """A Loss of the same inputs and name with its output simplified.

        Examples:
            >>> x = lg.input("x", shape=("N",))
            >>> print(lg.Loss([x], lg.sum(lg.log(1 + lg.exp(x)))).simplify())
            sum(softplus(x))
        """
        from .rewrite import simplify
        return Loss(list(self.inputs.values()), simplify(self.output), self.name)

    def compile(self, wrt=None, backend="numpy", **options):
        """codegen.compile(self, wrt, backend, **options): a Kernel taking the declared inputs
        in order (or by name); with wrt (names or nodes) it returns (value, gradients).

        Examples:
            >>> @lg.loss
            ... def sq(p: lg.Float["N"]):
            ...     return lg.sum(p * p)
            >>> sq.compile(wrt="p")(np.array([1.0, 2.0]))
            (np.float64(5.0), (array([2., 4.]),))

        Raises:
            OptionError: an unknown backend.
            GradientError: wrt names something that is not a float input.
        """
        import codegen  # the one lazy step from the core to a backend; codegen imports lossgraph
        return codegen.compile(self, wrt=wrt, backend=backend, **options)

    # --- printing, drawing, serialization
    def __str__(self):
        return str(self.output)

    def __repr__(self):
        args = ", ".join(f"{n}: {i.dtype}[{', '.join(map(str, i.shape))}]"
                         for n, i in self.inputs.items())
        return f"<Loss {self.name}({args}) = {self.output!s:.80}>"

    def latex(self):
        """The loss's formula as LaTeX (lg.latex of its output).

        Examples:
            >>> x = lg.input("x", shape=("N",))
            >>> print(lg.Loss([x], lg.sum(lg.square(x))).latex())
            \\sum x^{2}
        """
        from .printing import latex
        return latex(self.output)

    def draw(self, gradients=False, values=None, title=None):
        """The graph (and, gradients=True, its gradients) as a graphviz.Digraph, outputs
        labelled with the loss name and d name / d input.

        Examples:
            >>> @lg.loss
            ... def sq(p: lg.Float["N"]):
            ...     return lg.sum(p * p)
            >>> type(sq.draw(gradients=True)).__name__
            'Digraph'

        Raises:
            InputError: values misses a declared input or names one the loss does not have.
        """
        from .viz import draw
        grads = self.gradients() if gradients else {}
        labels = [self.name] + [f"d {self.name} / d {k}" for k in grads]
        return draw(self.output, *grads.values(), values=values, labels=labels, title=title)

    def _repr_svg_(self):
        from .viz import repr_svg
        return repr_svg(self.output, self.name)

    def _repr_latex_(self):
        return f"$\\displaystyle {self.latex()}$"

    def to_json(self):
        """The loss's output graph as JSON (lg.to_json; lg.from_json reads it back).

        Examples:
            >>> x = lg.input("x", shape=("N",))
            >>> lg.from_json(lg.Loss([x], lg.sum(x)).to_json()) is lg.sum(x)
            True
        """
        from .serialize import to_json
        return to_json(self.output)


def loss(fn=None, *, name=None):
    """Decorator: build a Loss from a function whose parameters are annotated with specs.

    Each parameter's annotation (lg.Float["N"], lg.Int64["N"], lg.Float32["N", "C"], ...)
    declares its input; the function's body builds the loss over them once.

    Examples:
        >>> @lg.loss
        ... def mse(pred: lg.Float["N"], target: lg.Float["N"]):
        ...     return lg.mean(lg.square(pred - target))
        >>> float(mse(np.array([1.0, 2.0]), np.array([1.0, 0.0])))
        2.0
        >>> print(mse.gradients("pred")["pred"])
        2 * (pred - target) / N

    Raises:
        OptionError: a parameter has no Spec annotation.
    """
    def build(f):
        sig = inspect.signature(f)
        nodes = []
        for p in sig.parameters.values():
            ann = p.annotation
            if ann is inspect.Parameter.empty:
                raise OptionError(f"{f.__name__}: parameter {quote(p.name)} needs an annotation "
                                  f"like lg.Float['N'] to declare its shape and dtype")
            spec = _parse_spec(ann, p.name) if isinstance(ann, str) else ann
            if not isinstance(spec, Spec):
                raise OptionError(f"{f.__name__}: parameter {quote(p.name)} is annotated with "
                                  f"{ann!r}, expected an input spec like lg.Float['N']")
            nodes.append(spec.make(p.name))
        out = Loss(nodes, f(*nodes), name or f.__name__)
        out.__doc__ = f.__doc__
        return out
    return build(fn) if fn is not None else build
