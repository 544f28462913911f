"""lossgraph.formula: the grammar (compared, by identity, with the graph lg builds from the
same expression written in Python: graphs are hash-consed), its errors (class, column, caret)
and hostile input refused cleanly."""
import builtins

import numpy as np
import pytest

import lossgraph as lg
from lossgraph.errors import FormulaError
from lossgraph.formula import FUNCTIONS, MAX_DEPTH, input_spec, parse

a, b, c = (lg.input(n, shape=("N",)) for n in "abc")
X = lg.input("X", shape=("N", "C"))
W = lg.input("W", shape=("C", "K"))
y = lg.input("y", shape=("N",), dtype="int64")
INPUTS = [a, b, c, X, W, y]


@pytest.mark.parametrize("text, expected", [
    # precedence
    ("a + b * c", lambda: a + b * c),
    ("a * b + c", lambda: a * b + c),
    ("(a + b) * c", lambda: (a + b) * c),
    ("a + b / c", lambda: a + b / c),
    ("a * b ** 2", lambda: a * b ** 2),
    ("a + b < c * 2", lambda: (a + b) < (c * 2)),
    ("X @ W * 2", lambda: (X @ W) * 2),
    # associativity: left for + - * / @, right for **
    ("a - b - c", lambda: (a - b) - c),
    ("a / b / c", lambda: (a / b) / c),
    ("a - b + c", lambda: (a - b) + c),
    ("a ** b ** c", lambda: a ** (b ** c)),
    ("a ** b ** 2", lambda: a ** (b ** 2)),
    # unary minus: binds looser than ** on its right, tighter than * and +
    ("-a ** 2", lambda: -(a ** 2)),
    ("(-a) ** 2", lambda: (-a) ** 2),
    ("-a * b", lambda: (-a) * b),
    ("a * -b", lambda: a * (-b)),
    ("2 ** -a", lambda: 2 ** (-a)),
    ("--a", lambda: -(-a)),
    ("+a", lambda: a),
    ("a - -b", lambda: a - (-b)),
    ("-2 * a", lambda: -2 * a),
    # numbers: ints stay ints, floats floats, as in Python
    ("a + 1", lambda: a + 1),
    ("a + 1.0", lambda: a + 1.0),
    ("a * .5 + 1e-3", lambda: a * .5 + 1e-3),
    ("a * 2.5E+2", lambda: a * 250.0),
    ("3", lambda: lg.constant(3)),
    ("2 * 3", lambda: lg.constant(2) * 3),
    # function calls, keyword arguments and literals
    ("sum(X, axis=1)", lambda: lg.sum(X, axis=1)),
    ("sum(X, axis=1, keepdims=True)", lambda: lg.sum(X, axis=1, keepdims=True)),
    ("sum(X, axis=(0, 1))", lambda: lg.sum(X, axis=(0, 1))),
    ("max(X, axis=-1)", lambda: lg.max(X, axis=-1)),
    ("softmax(X, axis=0)", lambda: lg.softmax(X, axis=0)),
    ("mean(logsumexp(X, axis=1) - pick(X, y, axis=1))",
     lambda: lg.mean(lg.logsumexp(X, axis=1) - lg.pick(X, y, axis=1))),
    ("one_hot(y, depth=C)", lambda: lg.one_hot(y, "C")),
    ("cast(y, dtype=float32) * a", lambda: lg.cast(y, "float32") * a),
    ("where(a > 0, a, 0.1 * a)", lambda: lg.where(a > 0, a, 0.1 * a)),
    ("clip(a, 0, 1)", lambda: lg.clip(a, 0, 1)),
    ("maximum(a, b) - minimum(a, b,)", lambda: lg.maximum(a, b) - lg.minimum(a, b)),
    ("logical_and(a <= b, b != c)", lambda: lg.logical_and(a <= b, lg.not_equal(b, c))),
    ("a >= b", lambda: a >= b), ("a == b", lambda: lg.equal(a, b)),   # Node == is identity
    ("square(a - b) / size(a)", lambda: lg.square(a - b) / lg.size(a)),
    ("xlogy(a, b) + softplus(-c) + log1p(a) + sqrt(abs(b))",
     lambda: lg.xlogy(a, b) + lg.softplus(-c) + lg.log1p(a) + lg.sqrt(lg.abs(b))),
    ("tanh(sigmoid(X)) + log_softmax(X, axis=1)",
     lambda: lg.tanh(lg.sigmoid(X)) + lg.log_softmax(X, axis=1)),
    ("  a\t+\n b ", lambda: a + b),
])
def test_a_formula_is_the_graph_lg_builds(text, expected):
    assert parse(text, INPUTS) is expected()


def test_the_issue_formula_and_a_dict_of_inputs():
    x, t = lg.input("x", shape=("N",)), lg.input("y", shape=("N",))
    assert parse("mean(log(1 + exp(-y * x)))", {"x": x, "y": t}) is \
        lg.mean(lg.log(1 + lg.exp(-t * x)))


def test_a_parsed_formula_evaluates_like_numpy():
    rng = np.random.default_rng(0)
    arrays = {"a": rng.normal(size=5), "b": rng.random(5) + 0.5, "c": rng.normal(size=5)}
    node = parse("mean(a ** 2 - b / c * -a + exp(-abs(c)))", INPUTS)
    A, B, C = arrays["a"], arrays["b"], arrays["c"]
    assert np.isclose(lg.evaluate(node, arrays), np.mean(A ** 2 - B / C * -A + np.exp(-abs(C))),
                      rtol=1e-13)


def test_every_function_in_the_table_is_lgs():
    assert {"exp", "log", "log1p", "sqrt", "abs", "tanh", "sigmoid", "softplus", "sum", "mean",
            "max", "min", "logsumexp", "softmax", "log_softmax", "where", "clip", "square",
            "maximum", "minimum"} <= set(FUNCTIONS)
    for name, f in FUNCTIONS.items():
        assert f.fn is getattr(lg, name), name


def error_of(text, inputs=INPUTS, cls=FormulaError):
    with pytest.raises(cls) as e:
        parse(text, inputs)
    return str(e.value)


def caret_column(message):
    """The 1-based column the caret line points at (the line above it is the formula)."""
    lines = message.splitlines()
    return lines[-1].index("^") - 1


def test_an_unclosed_call_points_at_the_end():
    msg = error_of("mean(log(1 + exp(-y * a))")
    assert msg.splitlines()[0] == "expected ')' at column 26"
    assert msg.splitlines()[1] == "  mean(log(1 + exp(-y * a))"
    assert caret_column(msg) == 26


@pytest.mark.parametrize("text, column, words", [
    ("a +", 4, "expected a number, an input"),
    ("a + * b", 5, "expected a number"),
    ("a b", 3, "unexpected 'b'"),
    ("(a + b", 7, "expected ')'"),
    ("a + b)", 6, "unexpected ')'"),
    ("a $ b", 3, "unexpected character '$'"),
    ("a < b < c", 7, "chained comparisons"),
    ("exp(a, b)", 1, "exp() takes 1 argument (x), got 2"),
    ("where(a > 0, a)", 1, "where() takes 3 arguments"),
    ("sum(a, axs=0)", 8, "sum() takes no keyword 'axs' at column 8 (did you mean axis?)"),
    ("sum(a, axis=0, axis=0)", 16, "given twice"),
    ("sum(axis=0, a)", 13, "positional argument after a keyword"),
    ("sum(a, axis=)", 13, "expected a keyword value"),
    ("expp(a)", 1, "unknown function 'expp' at column 1 (did you mean exp"),
    ("a + bb", 5, "unknown name 'bb' at column 5 (did you mean b?)"),
    ("a + zzz", 5, "the inputs are a, b, c, X, W, y"),
    ("exp + a", 1, "'exp' is a function"),
    ("a(1)", 1, "'a' is an input, not a function"),
    ("exp(a)(b)", 7, "unexpected '('"),
    ("a = 1", 3, "unexpected '='"),
])
def test_errors_name_what_was_expected_at_the_column(text, column, words):
    msg = error_of(text)
    assert words in msg
    assert f"at column {column}" in msg.splitlines()[0]
    assert caret_column(msg) == column


def test_shape_and_dtype_errors_keep_their_class_and_gain_the_column():
    msg = error_of("sum(X + a * 2)", cls=lg.ShapeError)
    assert "'+' at column 7" in msg and caret_column(msg) == 7
    msg = error_of("one_hot(a, depth=C)", cls=lg.DTypeError)
    assert "integer labels" in msg and caret_column(msg) == 1
    msg = error_of("sum(X, axis=5)", cls=lg.OptionError)
    assert "out of range" in msg


@pytest.mark.parametrize("text", [
    "__import__('os')", "__import__(os)", "a.__class__", "a.real", "lambda: 0",
    "lambda a: a", "[a for a in b]", "a; import os", "import os", "exec(a)", "eval(a)",
    "getattr(a, b)", "open(a)", "'text'", '"text"', "a if b else c", "{a: b}", "a[0]",
    "`a`", "a\x00", "a \\ b", "sum(a, axis=__import__)", "# a", "a and b", "not a",
])
def test_hostile_input_is_refused_cleanly_without_running_anything(text, monkeypatch):
    def no_import(*args, **kwargs):
        raise AssertionError("the parser imported something")
    monkeypatch.setattr(builtins, "__import__", no_import)
    with pytest.raises(lg.LossgraphError) as e:
        parse(text, INPUTS)
    monkeypatch.undo()
    assert "column" in str(e.value) and len(str(e.value)) < 600


@pytest.mark.parametrize("text, words", [
    ("1e999", "overflows float64"),
    ("a * 1e309", "overflows float64"),
    ("9" * 30, "does not fit in int64"),
    ("9" * 5000, "number too long"),
    ("1" + "0" * 100 + ".5", "number too long"),
], ids=["1e999", "1e309", "30 digits", "5000 digits", "long float"])
def test_numbers_that_do_not_fit_are_refused(text, words):
    assert words in error_of(text)


def test_huge_powers_build_a_graph_instead_of_computing():
    assert str(parse("10 ** 10 ** 10")) == "10 ** 10 ** 10"


@pytest.mark.parametrize("text", [
    "(" * 4000 + "a" + ")" * 4000,
    "-" * 5000 + "a",
    "exp(" * 1500 + "a" + ")" * 1500,
    "sum(a, axis=" + "(" * 3000 + ")" * 3000 + ")",
], ids=["parentheses", "unary minus", "calls", "keyword tuples"])
def test_deep_nesting_is_refused_before_the_stack_runs_out(text):
    assert f"nesting deeper than {MAX_DEPTH} levels" in error_of(text)


def test_nesting_up_to_the_limit_is_fine():
    assert parse("(" * (MAX_DEPTH - 1) + "a" + ")" * (MAX_DEPTH - 1), INPUTS) is a


def test_a_long_formula_is_refused_and_a_long_line_is_shown_in_a_window():
    assert "more than" in error_of("a + " * 5000)
    msg = error_of("a + " * 100 + "$")
    assert len(msg.splitlines()[1]) < 90 and caret_column(msg) > 0


def test_not_a_string_or_not_inputs():
    with pytest.raises(FormulaError, match="expected a string"):
        parse(3, INPUTS)
    with pytest.raises(FormulaError, match="empty"):
        parse("   ", INPUTS)
    with pytest.raises(FormulaError, match="lg.input nodes"):
        parse("a", [a + 1])


@pytest.mark.parametrize("spec, name, shape, dtype", [
    ("x:N", "x", ("N",), "float"), ("X:N,C", "X", ("N", "C"), "float"),
    ("y:N:int64", "y", ("N",), "int64"), ("w", "w", (), "float"), ("w:", "w", (), "float"),
    ("w:()", "w", (), "float"), ("m:N, 3:bool", "m", ("N", 3), "bool"),
    ("p:N:float32", "p", ("N",), "float32"),
])
def test_input_specs(spec, name, shape, dtype):
    assert input_spec(spec) is lg.input(name, shape=shape, dtype=dtype)


@pytest.mark.parametrize("spec, words", [
    ("x:N:int8", "dtype must be one of"), ("1x:N", "identifier"), (":N", "identifier"),
    ("x:N-1", "each dim"), ("x:N,,C", "each dim"), ("x:N:float:extra", "parts"),
    ("x:-3", "each dim"),
])
def test_bad_input_specs(spec, words):
    with pytest.raises(FormulaError, match=words):
        input_spec(spec)
