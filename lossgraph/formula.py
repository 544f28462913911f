"""Formulas over named inputs, read by a recursive-descent parser over a fixed grammar (nothing
is ever `eval`ed): `parse("mean(log(1 + exp(-y * x)))", [x, y])` is the graph that
`lg.mean(lg.log(1 + lg.exp(-y * x)))` builds, the same object (graphs are hash-consed).

Grammar, lowest precedence first (as in Python; binary operators associate to the left except
`**`, which associates to the right and binds tighter than a unary minus on its left):

    formula    := comparison END
    comparison := sum [("<" | "<=" | ">" | ">=" | "==" | "!=") sum]      (no chains)
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/" | "@") unary)*
    unary      := ("-" | "+") unary | power
    power      := postfix ["**" unary]         2 ** 3 ** 2 = 2 ** 9;  -x ** 2 = -(x ** 2)
    postfix    := atom (".T")*                 X.T: every axis reversed, as NumPy's .T
    atom       := NUMBER | NAME | FUNCTION "(" [arg ("," arg)* [","]] ")" | "(" comparison ")"
    arg        := comparison | KEYWORD "=" literal
    literal    := ["-"] NUMBER | NAME | "(" [literal ("," literal)* [","]] ")"

NAME is a declared input; FUNCTION one of FUNCTIONS (lg's functions, with their keyword
arguments: `sum(x, axis=1)`, `one_hot(y, depth=C)`); a NAME literal is a string (a dim name or
a dtype), True/False/None are themselves. Integers are Python ints, other numbers floats, as
if the formula were Python. Errors are FormulaError and point at the column; a shape or dtype
error of lg keeps its class and gains the column.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from . import api as F
from .errors import FormulaError, LossgraphError
from .graph import Node
from .names import quote

MAX_LENGTH = 10_000        # characters of a formula
MAX_DEPTH = 60             # nested parentheses, calls and unary signs
MAX_NUMBER = 40            # characters of a number
INT_LIMIT = 2 ** 63 - 1


@dataclass(frozen=True)
class Function:
    """fn(*positional Nodes, **keyword literals); params names the positional arguments."""
    fn: object
    params: tuple
    keywords: tuple = ()


def _table():
    one, two, three = ("x",), ("a", "b"), ("cond", "a", "b")
    reduce = ("axis", "keepdims")
    table = {name: Function(getattr(F, name), one) for name in (
        "exp", "log", "log1p", "expm1", "sqrt", "abs", "sign", "square", "tanh", "sigmoid",
        "softplus", "relu", "log_sigmoid", "negative", "stop_gradient", "logical_not")}
    table.update({name: Function(getattr(F, name), two) for name in (
        "maximum", "minimum", "xlogy", "matmul", "dot", "logical_and", "logical_or")})
    table.update({name: Function(getattr(F, name), one, reduce) for name in (
        "sum", "mean", "max", "min", "prod", "logsumexp")})
    table.update(
        where=Function(F.where, three), clip=Function(F.clip, ("x", "lo", "hi")),
        softmax=Function(F.softmax, one, ("axis",)),
        log_softmax=Function(F.log_softmax, one, ("axis",)),
        pick=Function(F.pick, ("x", "labels"), ("axis",)),
        take_along_axis=Function(F.take_along_axis, ("x", "indices"), ("axis",)),
        one_hot=Function(F.one_hot, ("labels",), ("depth", "axis", "dtype")),
        cast=Function(F.cast, one, ("dtype",)),
        size=Function(F.size, one, ("axis",)),
        transpose=Function(F.transpose, one, ("perm",)),
        reshape=Function(F.reshape, one, ("shape",)),
        expand_dims=Function(F.expand_dims, one, ("axis",)),
        squeeze=Function(F.squeeze, one, ("axis",)))
    return table


FUNCTIONS = _table()
BINARY = {"+": F.add, "-": F.subtract, "*": F.multiply, "/": F.divide, "@": F.matmul,
          "**": F.power, "<": F.less, "<=": F.less_equal, ">": F.greater,
          ">=": F.greater_equal, "==": F.equal, "!=": F.not_equal}
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
LITERAL_NAMES = {"True": True, "False": False, "None": None}

TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[^\W\d]\w*)
  | (?P<op>\*\*|<=|>=|==|!=|\.T(?!\w)|[-+*/@<>(),=])
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    kind: str          # "number", "name", "op" or "end"
    text: str
    col: int           # 1-based column of its first character


def caret(text, col, width=76):
    """The formula (a window of it when long) with a caret under column col."""
    start = max(0, min(col - 1 - width // 2, len(text) - width))
    shown = "".join(c if c.isprintable() else "?" for c in text[start:start + width])
    lead, tail = ("..." if start else ""), ("..." if start + width < len(text) else "")
    return f"  {lead}{shown}{tail}\n  {' ' * (len(lead) + col - 1 - start)}^"


def error(text, col, message, cls=FormulaError, detail=""):
    """cls("<message> at column <col><detail>" and the caret line)."""
    return cls(f"{message} at column {col}{detail}\n{caret(text, col)}")


def tokenize(text):
    """Tokens of text, ending with an "end" token; FormulaError at the first character that
    starts no token."""
    tokens, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if m is None:
            raise error(text, pos + 1, f"unexpected character {text[pos]!r}")
        if m.lastgroup != "space":
            tokens.append(Token(m.lastgroup, m.group(), pos + 1))
        pos = m.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def number(text, tok):
    """The Python int or float a number token stands for; refused when it does not fit."""
    if len(tok.text) > MAX_NUMBER:
        raise error(text, tok.col, f"number too long ({len(tok.text)} characters)")
    if re.fullmatch(r"\d+", tok.text):
        value = int(tok.text)
        if value > INT_LIMIT:
            raise error(text, tok.col, f"integer {tok.text} does not fit in int64; write it "
                                       f"as a float ({tok.text}.0)")
        return value
    value = float(tok.text)
    if value == float("inf"):
        raise error(text, tok.col, f"number {tok.text} overflows float64")
    return value


class Parser:
    """One formula's tokens and the inputs its names refer to."""

    def __init__(self, text, inputs):
        self.text, self.inputs = text, inputs
        self.tokens, self.pos, self.depth = tokenize(text), 0, 0

    # --- tokens
    @property
    def tok(self):
        return self.tokens[self.pos]

    def take(self):
        tok = self.tok
        self.pos += 1
        return tok

    def at(self, *ops):
        return self.tok.kind == "op" and self.tok.text in ops

    def expect(self, op):
        if not self.at(op):
            raise self.fail(f"expected {op!r}")
        return self.take()

    def fail(self, message, tok=None, cls=FormulaError, detail=""):
        tok = tok or self.tok
        if tok.kind == "end" and "expected" not in message:
            message = f"{message}: the formula ended"
        return error(self.text, tok.col, message, cls, detail)

    def nested(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels")

    # --- building: lg's functions, their errors pointed at the token
    def build(self, tok, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LossgraphError as e:
            raise self.fail(f"{tok.text!r}", tok, type(e), detail=f": {e}") from None
        except (TypeError, ValueError, OverflowError) as e:
            raise self.fail(f"{tok.text!r}", tok, detail=f": {e}") from None

    def binary(self, tok, a, b):
        if not isinstance(a, Node) and not isinstance(b, Node):
            a = F.constant(a)          # two numbers: a graph, never Python arithmetic
        return self.build(tok, BINARY[tok.text], a, b)

    # --- grammar
    def formula(self):
        out = self.comparison()
        if self.tok.kind != "end":
            what = "an operator" if self.tok.kind != "op" else "an operator or a value"
            raise self.fail(f"unexpected {self.tok.text!r}; expected {what} or the end")
        return out if isinstance(out, Node) else F.constant(out)

    def comparison(self):
        left = self.sum()
        if self.at(*COMPARISONS):
            tok = self.take()
            left = self.binary(tok, left, self.sum())
            if self.at(*COMPARISONS):
                raise self.fail("chained comparisons are not supported; combine them with "
                                "logical_and(a, b)")
        return left

    def sum(self):
        left = self.product()
        while self.at("+", "-"):
            tok = self.take()
            left = self.binary(tok, left, self.product())
        return left

    def product(self):
        left = self.unary()
        while self.at("*", "/", "@"):
            tok = self.take()
            left = self.binary(tok, left, self.unary())
        return left

    def unary(self):
        if self.at("-", "+"):
            tok = self.take()
            self.nested()
            value = self.unary()
            self.depth -= 1
            if tok.text == "+":
                return value
            return -value if not isinstance(value, Node) else self.build(tok, F.negative,
                                                                         value)
        return self.power()

    def power(self):
        base = self.postfix()
        if self.at("**"):
            tok = self.take()
            base = self.binary(tok, base, self.unary())
        return base

    def postfix(self):
        value = self.atom()
        while self.at(".T"):
            value = self.build(self.take(), F.transpose, value)
        return value

    def atom(self):
        tok = self.tok
        if tok.kind == "number":
            self.take()
            return number(self.text, tok)
        if tok.kind == "name":
            self.take()
            if self.at("("):
                return self.call(tok)
            return self.name(tok)
        if self.at("("):
            self.take()
            self.nested()
            value = self.comparison()
            self.expect(")")
            self.depth -= 1
            return value
        raise self.fail("expected a number, an input, a function call or '('")

    def name(self, tok):
        if tok.text in self.inputs:
            return self.inputs[tok.text]
        if tok.text in FUNCTIONS:
            raise self.fail(f"{tok.text!r} is a function: call it, {tok.text}(...)", tok)
        raise self.fail(f"unknown name {quote(tok.text)}", tok,
                        detail=self.suggest(tok.text, self.inputs)
                        + f"; the inputs are {', '.join(self.inputs) or '(none declared)'}")

    def suggest(self, word, candidates):
        close = difflib.get_close_matches(word, list(candidates), n=2, cutoff=0.6)
        return f" (did you mean {' or '.join(close)}?)" if close else ""

    def call(self, tok):
        fn = FUNCTIONS.get(tok.text)
        if fn is None and tok.text in self.inputs:
            raise self.fail(f"{quote(tok.text)} is an input, not a function", tok)
        if fn is None:
            raise self.fail(f"unknown function {quote(tok.text)}", tok,
                            detail=self.suggest(tok.text, FUNCTIONS))
        self.take()                    # "("
        self.nested()
        args, kwargs = [], {}
        while not self.at(")"):
            if self.tok.kind == "name" and self.tokens[self.pos + 1].text == "=" \
                    and self.tokens[self.pos + 1].kind == "op":
                key = self.take()
                self.take()
                if key.text not in fn.keywords:
                    raise self.fail(f"{tok.text}() takes no keyword {quote(key.text)}", key,
                                    detail=self.suggest(key.text, fn.keywords)
                                    + f"; its keywords: {', '.join(fn.keywords) or 'none'}")
                if key.text in kwargs:
                    raise self.fail(f"keyword {key.text!r} given twice", key)
                kwargs[key.text] = self.literal()
            elif kwargs:
                raise self.fail("a positional argument after a keyword argument")
            else:
                args.append(self.comparison())
            if not self.at(","):
                break
            self.take()
        self.expect(")")
        self.depth -= 1
        if len(args) != len(fn.params):
            plural = "s" if len(fn.params) != 1 else ""
            raise self.fail(f"{tok.text}() takes {len(fn.params)} argument{plural} "
                            f"({', '.join(fn.params)}), got {len(args)}", tok)
        return self.build(tok, fn.fn, *args, **kwargs)

    def literal(self):
        tok = self.tok
        if self.at("("):
            self.take()
            self.nested()
            items = []
            while not self.at(")"):
                items.append(self.literal())
                if not self.at(","):
                    break
                self.take()
            self.expect(")")
            self.depth -= 1
            return tuple(items)
        sign = 1
        if self.at("-"):
            self.take()
            sign = -1
            tok = self.tok
        if tok.kind == "number":
            self.take()
            return sign * number(self.text, tok)
        if tok.kind == "name" and sign == 1:
            self.take()
            return LITERAL_NAMES.get(tok.text, tok.text)
        raise self.fail("expected a keyword value: a number, a name or a tuple")


def parse(text, inputs=()):
    """The graph of formula text over inputs (lg.input nodes, or a dict of them by name).

    parse("mean(log(1 + exp(-y * x)))", [x, y]) is lg.mean(lg.log(1 + lg.exp(-y * x))).
    Raises FormulaError (with the column) for text outside the grammar, unknown names and
    functions, wrong argument counts and numbers that do not fit; lg's ShapeError/DTypeError
    of an ill-shaped formula, with the column of the offending operator.
    """
    if not isinstance(text, str):
        raise FormulaError(f"formula: expected a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"formula: {len(text)} characters, more than the {MAX_LENGTH} "
                           f"allowed")
    if not text.strip():
        raise FormulaError("formula: empty")
    if not isinstance(inputs, dict):
        inputs = list(inputs)
        bad = [i for i in inputs if not isinstance(i, Node) or i.op != "input"]
        if bad:
            raise FormulaError(f"formula inputs: expected lg.input nodes, got {bad[0]!r:.80}")
        inputs = {i.name: i for i in inputs}
    return Parser(text, inputs).formula()


DTYPES = ("float", "float32", "float64", "int", "int32", "int64", "bool")


def input_spec(spec):
    """An lg.input from 'name:dims[:dtype]': 'x:N', 'X:N,C', 'y:N:int64', 'w' or 'w:' (a
    scalar). Dims are names or non-negative integers; dtype defaults to float."""
    if not isinstance(spec, str):
        raise FormulaError(f"input spec: expected a string like 'x:N,C', got "
                           f"{type(spec).__name__}")
    parts = spec.split(":")
    if len(parts) > 3:
        raise FormulaError(f"input spec {quote(spec)}: expected name:dims[:dtype] like "
                           f"'x:N,C' or 'y:N:int64', got {len(parts)} ':'-separated parts")
    name, dims, dtype = (parts + ["", "float"])[:3] if len(parts) < 3 else parts
    name, dims, dtype = name.strip(), dims.strip(), dtype.strip() or "float"
    if not name.isidentifier():
        raise FormulaError(f"input spec {quote(spec)}: the name must be an identifier like "
                           f"'logits', got {quote(name)}")
    if dtype not in DTYPES:
        raise FormulaError(f"input spec {quote(spec)}: dtype must be one of "
                           f"{', '.join(DTYPES)}, got {quote(dtype)}")
    shape = []
    for d in (dims.strip("()").split(",") if dims.strip("()").strip() else []):
        d = d.strip()
        if d.isdigit() and len(d) < 19:
            shape.append(int(d))
        elif d.isidentifier():
            shape.append(d)
        else:
            raise FormulaError(f"input spec {quote(spec)}: each dim must be a name like N or "
                               f"a non-negative integer, got {quote(d)}")
    return F.input(name, shape=tuple(shape), dtype=dtype)


__all__ = ["parse", "input_spec", "FUNCTIONS", "tokenize"]
