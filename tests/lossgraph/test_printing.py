"""lg.to_text / lg.latex: what they print means what the graph computes, in one style.

References: the printed text is read back by a small reader (Python's ast with NumPy
functions), the LaTeX by a small LaTeX reader to SymPy written here, and both are evaluated
against lg.evaluate on random elementwise graphs and their gradients. The style decisions
(names, numbers, parentheses, let names, composites by name, one cases block) are pinned
by exact strings.
"""
import ast
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lossgraph as lg

X_VALUES = np.linspace(-2.5, 2.5, 7)
T_VALUES = np.linspace(1.7, -0.9, 7)


# --- reading printed text back (Python syntax, NumPy meaning)

TEXT_FUNCS = {
    "exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1, "sqrt": np.sqrt,
    "abs": np.abs, "sign": np.sign, "square": np.square, "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "softplus": lambda x: np.logaddexp(0, x),
    "maximum": np.maximum, "minimum": np.minimum, "clip": np.clip, "where": np.where,
    "xlogy": lambda x, y: np.where(np.equal(x, 0), 0.0, x * np.log(y)), "stop_gradient": lambda x: x,
    "cast": lambda x, dtype: np.asarray(x, dtype=float), "broadcast_to": lambda x, s: np.broadcast_to(x, [int(d) for d in s]),
    "reshape": np.reshape, "sum": np.sum, "max": np.max, "min": np.min, "prod": np.prod,
}
def float_power(x, y):
    """x ** y as lossgraph's power: always in floating point ((-2) ** (-2) is 0.25)."""
    return np.power(np.asarray(x, dtype=np.result_type(x, 1.0)), y)


BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
          ast.Div: np.divide, ast.Pow: float_power, ast.BitAnd: np.logical_and,
          ast.BitOr: np.logical_or}
CMPOPS = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater,
          ast.GtE: np.greater_equal, ast.Eq: np.equal, ast.NotEq: np.not_equal}


def read_text(text, env):
    """The value of printed text, read as a Python expression over NumPy (no eval)."""
    def value(n):
        if isinstance(n, ast.Constant):
            return n.value
        if isinstance(n, ast.Name):
            return env.get(n.id, n.id)
        if isinstance(n, ast.BinOp):
            return BINOPS[type(n.op)](value(n.left), value(n.right))
        if isinstance(n, ast.UnaryOp):
            v = value(n.operand)
            return np.negative(v) if isinstance(n.op, ast.USub) else np.logical_not(v)
        if isinstance(n, ast.Compare):
            assert len(n.ops) == 1, f"chained comparison in {text!r}"
            return CMPOPS[type(n.ops[0])](value(n.left), value(n.comparators[0]))
        if isinstance(n, ast.Call):
            return TEXT_FUNCS[n.func.id](*[value(a) for a in n.args],
                                         **{k.arg: value(k.value) for k in n.keywords})
        if isinstance(n, ast.Tuple):
            return tuple(value(e) for e in n.elts)
        raise AssertionError(f"unexpected {ast.dump(n)} in {text!r}")
    with np.errstate(all="ignore"):
        return value(ast.parse(text, mode="eval").body)


# --- reading printed LaTeX back, evaluated with NumPy

TOKEN = re.compile(r"\\left\\lfloor|\\begin\{aligned\}|\\end\{aligned\}|\\right\\rfloor_\{sg\}|\\left[(|]|\\right[)|]|"
                   r"\\operatorname\{\w+\}|\\mathrm\{[^}]*\}|\\text\{[^}]*\}|"
                   r"\\begin\{cases\}|\\end\{cases\}|\\\\|\\[A-Za-z]+|"
                   r"\d+\.?\d*|[A-Za-z]|[{}^_+\-<>=&,]")
CALLS = {r"\log": np.log, r"\tanh": np.tanh, r"\sigma": TEXT_FUNCS["sigmoid"],
         r"\operatorname{softplus}": TEXT_FUNCS["softplus"], r"\operatorname{sign}": np.sign,
         r"\operatorname{clip}": np.clip, r"\max": np.maximum, r"\min": np.minimum}
RELATIONS = {"<": np.less, ">": np.greater, r"\le": np.less_equal, r"\ge": np.greater_equal,
             "=": np.equal, r"\ne": np.not_equal}
BIG = {r"\sum": np.sum, r"\max": np.max, r"\min": np.min, r"\prod": np.prod}
STARTS_FACTOR = {r"\left(", r"\left|", r"\left\lfloor", r"\frac", r"\sqrt", r"\cdot", *BIG,
                 r"\begin{cases}", r"\infty", *CALLS}


class LatexReader:
    """Recursive descent over the printer's LaTeX subset, evaluating as it reads: sums,
    products (juxtaposed or \\cdot), unary minus, powers, fractions, calls, |x|, cases
    blocks, relations, logic, aligned let rows, and big operators over all axes (\\sum x y
    sums the product, \\sum x + y does not)."""

    def __init__(self, tex, symbols):
        self.toks = TOKEN.findall(tex)
        assert re.sub(r"\s+", "", "".join(self.toks)) == re.sub(r"\s+", "", tex), \
            f"unreadable LaTeX: {tex}"
        self.k, self.symbols, self.lets = 0, symbols, {}

    def peek(self):
        return self.toks[self.k] if self.k < len(self.toks) else None

    def take(self, want=None):
        tok = self.peek()
        assert want is None or tok == want, f"expected {want} at {self.toks[self.k:]}"
        self.k += 1
        return tok

    def read(self):
        if self.peek() == r"\begin{aligned}":  # let-bound rows, then the body
            self.take()
            while self.peek() != "&":
                name = self.let_name()
                self.take("&"), self.take("=")
                self.lets[name] = self.logic()
                self.take("\\\\")
            self.take("&"), self.take(r"\Rightarrow")
            out = self.logic()
            self.take(r"\end{aligned}")
            assert self.peek() is None, f"left over: {self.toks[self.k:]}"
            return out
        out = self.logic()
        assert self.peek() is None, f"left over: {self.toks[self.k:]}"
        return out

    def logic(self):
        out = self.conj()
        while self.peek() == r"\lor":
            self.take()
            out = np.logical_or(out, self.conj())
        return out

    def conj(self):
        out = self.relation()
        while self.peek() == r"\land":
            self.take()
            out = np.logical_and(out, self.relation())
        return out

    def relation(self):
        if self.peek() == r"\lnot":
            self.take()
            return np.logical_not(self.relation())
        left = self.sum()
        if self.peek() in RELATIONS:
            return RELATIONS[self.take()](left, self.sum())
        return left

    def sum(self):
        out = number(self.unary())
        while self.peek() in ("+", "-"):
            sign = self.take()
            term = number(self.product())
            out = out + term if sign == "+" else out - term
        return out

    def unary(self):
        if self.peek() == "-":
            self.take()
            return -number(self.unary())
        return self.product()

    def product(self):
        out = number(self.power())
        while self.peek() in STARTS_FACTOR or self.is_atom(self.peek()):
            if self.peek() == r"\cdot":
                self.take()
            out = out * number(self.power())
        return out

    def is_atom(self, tok):
        return tok is not None and (tok[0].isalnum() or tok.startswith(r"\mathrm")
                                    or tok in self.symbols)

    def power(self):
        base = self.atom()
        while self.peek() == "^":
            self.take()
            base = base ** number(self.group())
        return base

    def call_follows(self):
        r"""Whether \left( ... \right) comes next with a top-level comma: max(a, b), not
        the reduction \max \left(a + b\right)."""
        if self.peek() != r"\left(":
            return False
        depth = 0
        for tok in self.toks[self.k:]:
            depth += tok.startswith(r"\left") or tok in ("{", r"\begin{cases}")
            depth -= tok.startswith(r"\right") or tok in ("}", r"\end{cases}")
            if depth == 1 and tok == ",":
                return True
            if depth == 0:
                return False
        return False

    def let_name(self):
        letter = self.take()
        self.take("_"), self.take("{")
        digits = self.take()
        self.take("}")
        return f"{letter}_{digits}"

    def group(self):
        self.take("{")
        out = self.logic()
        self.take("}")
        return out

    def atom(self):
        tok = self.take()
        if tok == r"\left(":
            out = self.logic()
            self.take(r"\right)")
            return out
        if tok == r"\left|":
            out = self.logic()
            self.take(r"\right|")
            return np.abs(out)
        if tok == r"\left\lfloor":
            out = self.logic()
            self.take(r"\right\rfloor_{sg}")
            return out
        if tok == r"\frac":
            return self.group() / self.group()
        if tok == r"\sqrt":
            return np.sqrt(self.group())
        if tok == r"\infty":
            return np.inf
        if tok == "e" and self.peek() == "^":
            self.take()
            return np.exp(number(self.group()))    # e^{x > 0.5}: a truth value as 0/1
        if tok in BIG and not (tok in CALLS and self.call_follows()):
            body = np.broadcast_to(self.unary(), X_VALUES.shape)  # \sum 1 is N
            return BIG[tok](body)  # over all axes; reaches over the products after it
        if tok in CALLS:
            self.take(r"\left(")
            args = [number(self.logic())]
            while self.peek() == ",":
                self.take()
                args.append(number(self.logic()))
            self.take(r"\right)")
            return CALLS[tok](*args)
        if tok == r"\begin{cases}":
            return self.cases()
        if self.peek() == "_" and tok.isalpha():
            self.k -= 1
            return self.lets[self.let_name()]
        if tok in self.symbols:
            return self.symbols[tok]
        assert re.fullmatch(r"\d+\.?\d*", tok), f"unexpected {tok} in {self.toks}"
        return float(tok)

    def cases(self):
        pieces = []
        while True:
            value = number(self.logic())
            self.take("&")
            if self.peek() == r"\text{otherwise}":
                self.take()
                self.take(r"\end{cases}")
                grid = [np.broadcast_to(np.asarray(c, bool), X_VALUES.shape) for _, c in pieces]
                return np.select(grid, [number(v) for v, _ in pieces], value)
            self.take(r"\text{if }")
            pieces.append((value, self.logic()))
            self.take("\\\\")


def number(e):
    """A truth value used as a number (cast(x > t, float) prints as the comparison)."""
    return np.asarray(e, dtype=float)


def latex_values(tex):
    """The value of printed LaTeX at x = X_VALUES, t = T_VALUES, N = 7."""
    with np.errstate(all="ignore"):
        out = LatexReader(tex, {"x": X_VALUES, "t": T_VALUES, "N": 7.0}).read()
    return np.broadcast_to(number(out), (7,))


def graph_values(node):
    """node on X_VALUES, T_VALUES (evaluated beside x and t, which bind N)."""
    with np.errstate(all="ignore"):
        out = lg.evaluate([node, x, t], {"x": X_VALUES, "t": T_VALUES})[0]
    return np.broadcast_to(np.asarray(out, dtype=float), (7,))


def assert_same(got, want, what):
    """Equal values, nan where nan. LaTeX has one notation for x log y and xlogy(x, y)
    (0 log 0 = 0 by convention), so there finiteness may differ where the text has \\log."""
    got, want = np.asarray(got, float), np.asarray(want, float)
    both = np.isfinite(got) & np.isfinite(want)
    np.testing.assert_allclose(got[both], want[both], rtol=1e-9, atol=1e-12, err_msg=what)
    odd = ~both & ~((np.isnan(got) & np.isnan(want)) | (got == want))
    assert not odd.any() or r"\log" in what, (what, got, want)


# --- random elementwise graphs and their gradients, printed and read back

x, t = lg.input("x", ("N",)), lg.input("t", ("N",))
UNARY = [lg.exp, lg.tanh, lg.sigmoid, lg.softplus, lg.negative, lg.square, lg.abs,
         lambda a: lg.log1p(lg.square(a)), lambda a: lg.sqrt(lg.abs(a) + 1.0),
         lambda a: lg.clip(a, -1.0, 2.0), lambda a: lg.log(lg.square(a) + 0.5),
         lambda a: a ** 3.0, lambda a: lg.cast(a > 0.5, "float"),
         lg.sum, lg.mean, lg.max, lg.min, lambda a: lg.sum(a * t) + a]
BINARY = [lg.add, lg.subtract, lg.multiply, lg.maximum, lg.minimum, lg.power,
          lambda a, b: a / (1.0 + lg.square(b)), lambda a, b: lg.where(a > b, a, 0.5 * b),
          lambda a, b: lg.where((a > 0.0) & (b < 1.0), a - b, lg.where(a < b, -a, b)),
          lambda a, b: lg.cast(~(a > b) | (a < -1.0), "float") * b]
NUMBERS = st.sampled_from([0.5, -2.0, 1e-7, 2.5e-3, 0.6931471805599453, -3.25, 7.0, 1e20])


@st.composite
def elementwise_graphs(draw):
    pool = [x, t, lg.constant(draw(NUMBERS))]
    for _ in range(draw(st.integers(1, 7))):
        if draw(st.booleans()):
            pool.append(draw(st.sampled_from(UNARY))(draw(st.sampled_from(pool))))
        else:
            f = draw(st.sampled_from(BINARY))
            pool.append(f(draw(st.sampled_from(pool)), draw(st.sampled_from(pool))))
    return pool[-1]


def read_text_with_lets(text, env):
    """The value of printed text, `let` rows first."""
    env = dict(env)
    if text.startswith("let\n"):
        head, _, text = text.partition("\nin ")
        for line in head.splitlines()[1:]:
            name, _, value = line.partition(" = ")
            env[name] = read_text(value, env)
    return read_text(text, env)


def check_reads_back(node):
    want = graph_values(node)
    text = lg.to_text(node)
    got = read_text_with_lets(text, {"x": X_VALUES, "t": T_VALUES, "N": 7.0})
    assert_same(np.broadcast_to(got, (7,)), want, text)
    tex = lg.latex(node)
    assert_same(latex_values(tex), want, tex)


@settings(max_examples=40, deadline=None)
@given(elementwise_graphs())
def test_random_graphs_and_gradients_read_back_to_their_values(f):
    check_reads_back(f)
    for g in lg.gradients(lg.sum(f), [x, t], simplify=False):
        check_reads_back(g)


@pytest.mark.parametrize("build", [
    lambda: lg.square(x - t) - (x - t) - (-x),
    lambda: -(x * t) - -(x ** -1.0) + (x - t) / (t - x) / (x * t),
    lambda: (x ** t) ** 2.0 + x ** (t ** 2.0) + lg.exp(x) ** 2.0 + lg.square(lg.exp(t)),
    lambda: lg.square(x / t) + (x / t) ** 3.0 + (-x) ** 2.0 - lg.square(-x),
    lambda: 2.0 * (x + 1e-7) * -3.0 - x * 2.5e-3 / (1e20 * t),
    lambda: lg.where(x > t, lg.where(x > 1.0, x, t), lg.where(t > 0.0, -t, x)) * 2.0,
    lambda: lg.cast((x > 0.0) & ~(t < 0.0), "float") + lg.cast(x > t, "float") * t,
], ids=["minus", "negations", "powers", "bases", "numbers", "nested_where", "logic"])
def test_precedence_cases_read_back(build):
    check_reads_back(build())


def test_gradient_of_a_mean_reads_back_with_its_size():
    loss = lg.mean(lg.square(x - t) * lg.sigmoid(x))
    g, = lg.gradients(loss, [x])
    check_reads_back(g)
    assert "N" in lg.to_text(g) and "N" in lg.latex(g)


# --- style decisions

def test_names_print_whole():
    def tex(name):
        return lg.latex(lg.input(name))
    assert tex("log_probs") == r"\mathrm{log\_probs}"
    assert tex("_x") == r"\mathrm{\_x}"
    assert tex("logits") == r"\mathrm{logits}"
    assert tex("x") == "x" and tex("N") == "N"
    assert tex("x1") == "x_{1}"
    assert tex("theta") == r"\theta" and tex("θ") == r"\theta" and tex("Ω") == r"\Omega"
    assert lg.latex(lg.input("log_probs", ("N",)) * 2.0) == r"\mathrm{log\_probs} \cdot 2"
    X = lg.input("y_pred", ("N", "C"))
    y = lg.input("y_true", ("N",), "int64")
    assert lg.latex(lg.pick(X, y)) == r"\mathrm{y\_pred}_{\mathrm{y\_true}}"
    assert lg.latex(lg.pick(lg.input("x1", ("N", "C")), y)) == r"{x_{1}}_{\mathrm{y\_true}}"


def test_numbers_print_one_way_in_both_styles():
    x1 = lg.input("x", ("N",))
    for v, text, tex in [(1e-7, "1e-07", "10^{-7}"), (2.5e-7, "2.5e-07", r"2.5 \cdot 10^{-7}"),
                         (0.6931471805599453, "0.6931471805599453", "0.6931471805599453"),
                         (0.9999999, "0.9999999", "0.9999999"), (3.0, "3", "3"),
                         (1e20, "1e+20", "10^{20}"), (0.0025, "0.0025", "0.0025")]:
        assert lg.to_text(x1 + v) == f"x + {text}"
        assert lg.latex(x1 + v) == f"x + {tex}"
        assert lg.latex(lg.sum(x1 + v)) == rf"\sum \left(x + {tex}\right)"
    assert lg.latex(x1 + np.inf) == r"x + \infty"


def test_no_doubled_parentheses():
    p, t1 = lg.input("p", ("N",)), lg.input("t", ("N",))
    assert str(lg.square(p - t1)) == "square(p - t)"
    assert lg.latex(lg.square(p - t1)) == r"\left(p - t\right)^{2}"
    assert str(lg.log(lg.sum(p - t1))) == "log(sum(p - t))"
    assert str(lg.exp(-(p - t1))) == "exp(-(p - t))"
    assert str(p - (-t1)) == "p - (-t)"
    for node in [lg.square(p - t1), lg.sqrt(lg.square(p - t1) + 1.0), lg.mean(lg.abs(p - t1)),
                 lg.exp(lg.softplus(p * t1)), lg.where(p > t1, lg.square(p + t1), -p)]:
        assert "((" not in str(node), str(node)
        assert r"\left(\left(" not in lg.latex(node), lg.latex(node)


def test_let_names_never_collide_with_inputs():
    big = lg.input("t0", ("N",))
    u = lg.input("t", ("N",))
    for k in range(25):
        big = lg.exp(big) * big + u * float(k)
    text = lg.to_text(big)
    assert text.startswith("let\n")
    bound = re.findall(r"^(\w+) = ", text, flags=re.M)
    assert bound and not {"t0", "t"} & set(bound)
    assert all(re.fullmatch(r"u\d+", b) for b in bound)
    tex = lg.latex(big)
    assert r"u_{0} &= " in tex and "t_{0} &=" not in tex
    by_dim = lg.input("x", ("t3",))
    for k in range(25):
        by_dim = lg.exp(by_dim) * by_dim + float(k)
    assert re.findall(r"^(\w+) = ", lg.to_text(by_dim), flags=re.M)[0] == "u0"


def test_let_bound_text_and_latex_read_back():
    f = x
    for k in range(20):
        f = lg.tanh(f) * f + t * float(k) - lg.square(f)
    assert lg.to_text(f).startswith("let\n") and lg.latex(f).startswith(r"\begin{aligned}")
    check_reads_back(f)


def test_composites_print_by_name_in_losses_and_gradients():
    X = lg.input("X", ("N", "C"))
    y = lg.input("y", ("N",), "int64")
    loss = lg.mean(-lg.pick(lg.log_softmax(X), y))
    g, = lg.gradients(loss, [X])
    assert lg.latex(loss) == r"\frac{\sum -\log\operatorname{softmax}\left(X\right)_{y}}{N}"
    assert lg.latex(g) == r"\frac{\operatorname{softmax}\left(X\right) - " \
        r"\mathbb{1}\left[y\right]}{N}"
    assert lg.latex(lg.logsumexp(X, axis=1)) == r"\operatorname{logsumexp}_{C}\left(X\right)"
    assert lg.latex(lg.logsumexp(X)) == r"\operatorname{logsumexp}\left(X\right)"
    assert lg.latex(lg.softmax(X, axis=0)) == r"\operatorname{softmax}_{N}\left(X\right)"
    assert lg.latex(lg.sigmoid(x) + lg.softplus(t)) == \
        r"\sigma\left(x\right) + \operatorname{softplus}\left(t\right)"
    for node in [loss, g, lg.softmax(X), lg.logsumexp(X, axis=1)]:
        assert "e^" not in lg.latex(node)


def test_reductions_are_big_operators_over_named_axes():
    X = lg.input("X", ("N", "C"))
    assert lg.latex(lg.sum(X, axis=1)) == r"\sum_{C} X"
    assert lg.latex(lg.max(X, axis=0)) == r"\max_{N} X"
    assert lg.latex(lg.sum(lg.input("S", (4, 3)), axis=1)) == r"\sum_{\text{axis } 1} S"
    assert lg.latex(lg.sum(x) * x) == r"\left(\sum x\right) x"
    assert lg.latex(lg.sum(x) + x) == r"\sum x + x"
    assert lg.latex(-lg.sum(x * t)) == r"-\sum x t"
    assert lg.latex(lg.sum(x) > 0.0) == r"\sum x > 0"
    assert lg.latex(2.0 * lg.sum(x) * t) == r"\left(2 \sum x\right) t"   # no factor joins it
    assert lg.latex(-lg.sum(x) * t) == r"\left(-\sum x\right) t"
    assert lg.latex(lg.reshape(lg.sum(x, keepdims=True), ()) * t) == r"\left(\sum x\right) t"
    assert lg.latex(x * lg.sum(x)) == r"x \sum x"
    assert lg.latex(lg.sum(x + t)) == r"\sum \left(x + t\right)"
    assert lg.latex(lg.square(lg.sum(x))) == r"\left(\sum x\right)^{2}"


def test_piecewise_is_one_cases_block():
    f = lg.where(x > 1.0, x, lg.where(x < -1.0, -x, 0.5 * lg.square(x)))
    assert lg.latex(f) == (r"\begin{cases} x & \text{if } x > 1 \\ -x & \text{if } x < -1 "
                           r"\\ 0.5 x^{2} & \text{otherwise} \end{cases}")
    two = lg.where(x > 0.0, x, 0.0) * lg.where(t > 0.0, t, 1.0)
    assert lg.latex(two).count(r"\begin{cases}") == 2
    check_reads_back(two)


def test_an_op_printed_as_juxtaposition_by_its_record(monkeypatch):
    """A matrix product style record (X @ w in text, X w in LaTeX) prints by its forms."""
    from lossgraph.ops import OPS
    import dataclasses
    rec = dataclasses.replace(OPS["multiply"], text="{0} @ {1}", latex="{0} {1}")
    monkeypatch.setitem(OPS, "multiply", rec)
    assert lg.to_text((x + t) * t) == "(x + t) @ t"
    assert lg.latex((x + t) * (t + 1.0)) == r"\left(x + t\right) \left(t + 1\right)"


def test_jupyter_latex_of_nodes_and_losses():
    node = lg.sigmoid(x) - t
    assert node._repr_latex_() == rf"$\displaystyle {lg.latex(node)}$"

    @lg.loss
    def mse(p: lg.Float["N"], q: lg.Float["N"]):
        return lg.mean(lg.square(p - q))
    assert mse._repr_latex_() == rf"$\displaystyle {lg.latex(mse.output)}$"


def test_a_negated_big_operator_after_plus_is_parenthesized():
    x = lg.input("x", shape=("N",))
    g = lg.gradients(lg.sum(x + lg.sum(-x)), [x], simplify=False)[0]
    assert "+ -" not in lg.latex(g) and r"\left(-\sum" in lg.latex(g)


def test_right_nested_sums_keep_their_grouping():
    """x + (c - c) is x, while x + c - c is 0 at c = 1e20: the text keeps the graph's grouping
    right of an operator of its own level, so it reads back to the same graph (hypothesis
    found x + (1e20 - 1e20) printed as x + 1e+20 - 1e+20); LaTeX keeps it for + and -."""
    from lossgraph.formula import parse
    big = lg.constant(1e20)
    cases = [x + (big - big), x - (t - x), x + (t + x), x * (t * x), x / (t / x), x * (t / x),
             (x + t) + x, (x - t) - x]
    for g in cases:
        assert parse(lg.to_text(g), [x, t]) is g, lg.to_text(g)
    assert lg.to_text(x + (t + x)) == "x + (t + x)" and lg.to_text((x + t) + x) == "x + t + x"
    assert lg.latex(x + (big - big)) == r"x + \left(10^{20} - 10^{20}\right)"
    assert lg.latex(x * (t * x)) == "x t x"
    check_reads_back(x + (big - big))


def test_a_negated_sum_ending_in_a_big_operator_keeps_its_parentheses():
    """-(1 + sum(t)) printed as -1 + \\sum t in LaTeX (a gradient hypothesis found): only an
    operand that is itself the big operator runs on unwrapped (-\\sum t)."""
    assert lg.latex(-(1 + lg.sum(t))) == r"-\left(1 + \sum t\right)"
    assert lg.latex(-lg.sum(t)) == r"-\sum t"
    assert lg.latex(x * (1 + lg.sum(t))) == r"x \left(1 + \sum t\right)"
    check_reads_back(-(1 + lg.sum(lg.sum(-x) * t)))
