"""matmul and dot: evaluation against np.matmul / np.dot, shape and dtype rules, printing
(read back as Python and against SymPy's indexed sums), the matmul rewrite rules, and the
models around a loss: least squares and logistic regression gradients in textbook form,
and logistic regression's Hessian-vector product against X^T diag(s (1 - s)) X v / N.

The vjp rule's finite-difference cases are in test_ops_vjp.py (VJP_CASES["matmul"]).
"""
import ast

import numpy as np
import pytest
import sympy as sp

import lossgraph as lg

# (left shape, right shape): NumPy's cases, with 1-D promotion and stacked batch dims
SHAPES = [((3, 4), (4,)), ((4,), (4, 3)), ((4,), (4,)), ((3, 4), (4, 2)),
          ((2, 3, 4), (4, 5)), ((4,), (2, 4, 3)), ((2, 1, 3, 4), (5, 4, 2)), ((2, 3, 4), (4,))]


def evaluate_matmul(sa, sb, dtype, rng, fn=lg.matmul):
    a = rng.normal(size=sa).astype(dtype)
    b = rng.normal(size=sb).astype(dtype)
    x = lg.input("a", shape=sa, dtype=dtype)
    y = lg.input("b", shape=sb, dtype=dtype)
    out = fn(x, y)
    return out, lg.evaluate(out, a=a, b=b), a, b


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sa, sb", SHAPES)
def test_matmul_matches_numpy(sa, sb, dtype, rng):
    out, got, a, b = evaluate_matmul(sa, sb, dtype, rng)
    want = np.matmul(a, b)
    assert out.shape == want.shape and np.shape(got) == want.shape
    assert np.asarray(got).dtype == dtype
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_matmul_operator_and_integers(rng):
    a = rng.integers(-5, 5, size=(3, 4))
    x = lg.input("x", shape=(3, 4), dtype="int64")
    w = lg.input("w", shape=(4,))
    got = lg.evaluate(x @ w, x=a, w=np.arange(4.0))
    np.testing.assert_array_equal(got, a @ np.arange(4.0))
    m = lg.evaluate(x @ lg.transpose(x), x=a)
    assert m.dtype == np.int64 and (m == a @ a.T).all()
    assert (np.ones((2, 3)) @ x).shape == (2, 4)          # __rmatmul__ with an array


@pytest.mark.parametrize("sa, sb", [((3, 4), (4,)), ((4,), (4,)), ((3, 4), (4, 2)),
                                    ((4,), (4, 2))])
def test_dot_matches_numpy(sa, sb, rng):
    _, got, a, b = evaluate_matmul(sa, sb, "float64", rng, fn=lg.dot)
    np.testing.assert_allclose(got, np.dot(a, b), rtol=1e-12)


def test_dot_scales_by_a_scalar_and_refuses_stacks():
    v = lg.input("v", shape=(3,))
    np.testing.assert_allclose(lg.evaluate(lg.dot(2.0, v), v=np.arange(3.0)), [0, 2, 4])
    with pytest.raises(lg.ShapeError, match=r"dot: the first operand .*\(3 dims\).*use matmul"):
        lg.dot(lg.input("t", shape=(2, 3, 3)), v)


def test_symbolic_dims_and_the_contracted_dim_error():
    X = lg.input("X", shape=("N", "D"))
    w = lg.input("w", shape=("D",))
    assert (X @ w).shape == ("N",) and (w @ w).shape == ()
    assert (lg.transpose(X) @ X).shape == ("D", "D")
    v = lg.input("v", shape=("K",))
    with pytest.raises(lg.ShapeError) as err:
        X @ v
    msg = str(err.value)
    for part in ("'X'", "(N, D)", "'v'", "(K,)", "'D'", "'K'", "contracted"):
        assert part in msg, (part, msg)
    with pytest.raises(lg.ShapeError, match="second-to-last axis of 'B'"):
        X @ lg.input("B", shape=(3, "D"))


def test_scalar_bool_and_batch_errors():
    w = lg.input("w", shape=(3,))
    with pytest.raises(lg.ShapeError, match="left operand a constant is a scalar"):
        lg.matmul(2.0, w)
    with pytest.raises(lg.DTypeError, match="bool"):
        lg.input("m", shape=(3,), dtype="bool") @ w
    with pytest.raises(lg.ShapeError):
        lg.input("A", shape=(2, 3, 4)) @ lg.input("B", shape=(5, 4, 1))
    x = lg.input("x", shape=("N", 3))
    with pytest.raises(lg.ShapeError):          # evaluation binds N, shapes are checked
        lg.evaluate(x @ w, x=np.ones((2, 4)), w=np.ones(3))


def used(node, arrays):
    """The arrays of the inputs node reads (evaluate refuses others)."""
    return {n.name: arrays[n.name] for n in lg.inputs_of([node])}


# --- printing

def _read_back(text, env):
    """Evaluate printed text as Python over NumPy arrays (a small interpreter over its AST:
    names, numbers, + - * / @, unary -, x.T, transpose(x, perm) and the named functions)."""
    funcs = {"transpose": lambda v, perm=None: np.transpose(v, perm),
             "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
             "square": np.square, "exp": np.exp}
    ops = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
           ast.Div: np.divide, ast.MatMult: np.matmul}

    def run(n):
        if isinstance(n, ast.Expression):
            return run(n.body)
        if isinstance(n, ast.Name):
            return env[n.id]
        if isinstance(n, ast.Constant):
            return n.value
        if isinstance(n, ast.Tuple):
            return tuple(run(e) for e in n.elts)
        if isinstance(n, ast.BinOp):
            return ops[type(n.op)](run(n.left), run(n.right))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return -run(n.operand)
        if isinstance(n, ast.Attribute) and n.attr == "T":
            return np.transpose(run(n.value))
        if isinstance(n, ast.Call):
            return funcs[n.func.id](*[run(a) for a in n.args],
                                    **{k.arg: run(k.value) for k in n.keywords})
        raise AssertionError(f"unexpected syntax {ast.dump(n)}")
    return run(ast.parse(text, mode="eval"))


def test_text_reads_back_as_python_with_the_same_value(rng):
    X, w, y = lg.input("X", shape=(5, 3)), lg.input("w", shape=(3,)), lg.input("y", shape=(5,))
    B = lg.input("B", shape=(3, 3))
    env = {"X": rng.normal(size=(5, 3)), "w": rng.normal(size=3), "y": rng.normal(size=5),
           "B": rng.normal(size=(3, 3))}
    exprs = [X @ w, y * (X @ w), (2.0 * X) @ w, X @ (2.0 * w), X @ (w / 4.0), X @ B @ w,
             X @ (B @ w), -X @ w, X @ -w, lg.transpose(X) @ (X @ w - y), (X @ B) * 3.0,
             lg.sigmoid(X @ w) - y, X @ (B * w)]
    for e in exprs:
        text = lg.to_text(e)
        np.testing.assert_allclose(_read_back(text, env), lg.evaluate(e, used(e, env)),
                                   rtol=1e-12, err_msg=text)
    assert lg.to_text(X @ w) == "X @ w"


def test_latex_is_juxtaposition_with_top_transposes():
    X, w, y = lg.input("X", shape=(5, 3)), lg.input("w", shape=(3,)), lg.input("y", shape=(5,))
    assert lg.latex(X @ w) == "X w"
    assert lg.latex(lg.transpose(X) @ y) == r"X^{\top} y"
    # an elementwise factor next to a product is set apart: y (X w), not y X w
    assert lg.latex(y * (X @ w)) == r"y \left(X w\right)"
    assert lg.latex((lg.reshape(y, (5, 1)) * X) @ w) == r"\left(y X\right) w"


def _values(expr, arrays):
    """A SymPy expression over IndexedBase reads with integer limits, with every read
    replaced by the array's entry (after doit, every index is a number)."""
    expr = expr.doit()
    return expr.replace(lambda e: isinstance(e, sp.Indexed),
                        lambda e: sp.Float(arrays[str(e.base)][tuple(int(i) for i in e.indices)]))


@pytest.mark.parametrize("sa, sb", [((2, 3), (3,)), ((3,), (3,)), ((2, 3), (3, 2)),
                                    ((2, 2, 3), (3,)), ((3,), (2, 3, 2))])
def test_indexed_sympy_form_is_the_sum_over_the_contracted_index(sa, sb, rng):
    arrays = {"A": rng.normal(size=sa), "B": rng.normal(size=sb)}
    A, B = lg.input("A", shape=sa), lg.input("B", shape=sb)
    out = A @ B
    expr = lg.to_sympy(out)
    assert isinstance(expr, sp.Sum) and len(expr.limits) == 1
    free = sorted((s for s in expr.free_symbols if not isinstance(s, sp.Indexed)
                   and s.is_integer), key=str)
    want = np.matmul(arrays["A"], arrays["B"])
    for pos in np.ndindex(*want.shape):
        at = expr.subs(dict(zip(_free_in_order(expr, out), pos)))
        assert float(_values(at, arrays)) == pytest.approx(want[pos], rel=1e-12)
    assert len(free) == out.ndim


def _free_in_order(expr, node):
    """The free index symbols of an indexed form, in the order of node's axes (the
    converter names them i, j, ... in that order, skipping names the graph uses)."""
    names = "i j k l m n p q r s u v w".split()
    syms = {str(s): s for s in expr.free_symbols}
    return [syms[n] for n in names if n in syms][:node.ndim]


# --- rewrite rules and textbook gradients

def test_matmul_rules_move_scalars_signs_and_divisors_out():
    X, w = lg.input("X", shape=("N", "D")), lg.input("w", shape=("D",))
    c = lg.input("c", shape=())
    for e in [(c * X) @ w, (X * c) @ w, X @ (c * w), X @ (w * c), (X / c) @ w,
              X @ (w / c), (-X) @ w, X @ (-w)]:
        out = lg.simplify(e)
        assert out.op in ("multiply", "divide", "negative") and \
            any(n.op == "matmul" and n.inputs == (X, w) for n in lg.topo_order([out])), \
            lg.to_text(out)
        arrays = {"X": np.arange(6.0).reshape(3, 2), "w": np.array([0.5, -2.0]),
                  "c": np.float64(1.5)}
        np.testing.assert_allclose(lg.evaluate(out, used(out, arrays)),
                                   lg.evaluate(e, used(e, arrays)), rtol=1e-14)


def model():
    X = lg.input("X", shape=("N", "D"))
    w = lg.input("w", shape=("D",))
    t = lg.input("t", shape=("N",))
    N = lg.size(t)
    return X, w, t, N


def test_least_squares_gradient_is_two_xt_residual_over_n():
    X, w, t, N = model()
    (g,) = lg.gradients(lg.mean(lg.square(X @ w - t)), [w])
    assert g is lg.simplify(2.0 * (lg.transpose(X) @ (X @ w - t)) / N), lg.to_text(g)


def test_logistic_regression_gradient_reads_like_the_textbook():
    X, w, z, N = model()          # z: 0/1 labels
    (g,) = lg.gradients(lg.mean(lg.softplus(X @ w) - z * (X @ w)), [w])
    assert g is lg.simplify((lg.transpose(X) @ (lg.sigmoid(X @ w) - z)) / N), lg.to_text(g)
    assert lg.latex(g) == r"\frac{X^{\top} \left(\sigma\left(X w\right) - t\right)}{N}"


def test_logistic_regression_with_signed_labels_against_the_closed_form(rng):
    X, w, y, N = model()          # y: -1/+1 labels; d/dw = -X^T (y sigmoid(-y X w)) / N
    (g,) = lg.gradients(lg.mean(lg.softplus(-y * (X @ w))), [w])
    Xa, wa = rng.normal(size=(7, 3)), rng.normal(size=3)
    ya = np.where(rng.random(7) < 0.5, -1.0, 1.0)
    want = -Xa.T @ (ya / (1 + np.exp(ya * (Xa @ wa)))) / 7
    np.testing.assert_allclose(lg.evaluate(g, X=Xa, w=wa, t=ya), want, rtol=1e-12)
    assert sum(1 for n in lg.topo_order([g]) if n.op == "matmul") == 2


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logistic_regression_hvp_matches_the_analytic_hessian(dtype, rng):
    Xa = rng.normal(size=(20, 4))
    za = (rng.random(20) < 0.5).astype(float)
    wa, va = rng.normal(size=4), rng.normal(size=4)
    X, z = lg.constant(Xa.astype(dtype)), lg.constant(za.astype(dtype))

    def loss(w):
        return lg.mean(lg.softplus(X @ w) - z * (X @ w))

    (hv,) = lg.hvp(loss, (wa.astype(dtype),), (va.astype(dtype),))
    s = 1 / (1 + np.exp(-(Xa @ wa)))
    want = Xa.T @ (s * (1 - s) * (Xa @ va)) / 20
    assert hv.dtype == dtype
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(hv, want, rtol=tol, atol=tol)


def test_value_and_grad_of_a_stacked_model_matches_finite_differences(rng):
    """A batch of matrices times one weight matrix: the batch axis is summed back."""
    A = rng.normal(size=(2, 3, 4))

    def f(W):
        return lg.sum(lg.tanh(lg.constant(A) @ W))

    W = rng.normal(size=(4, 2))
    value, g = lg.value_and_grad(f)(W)
    eps, fd = 1e-6, np.zeros_like(W)
    for pos in np.ndindex(*W.shape):
        d = np.zeros_like(W)
        d[pos] = eps
        fd[pos] = (np.sum(np.tanh(A @ (W + d))) - np.sum(np.tanh(A @ (W - d)))) / (2 * eps)
    assert value == pytest.approx(np.sum(np.tanh(A @ W)), rel=1e-12)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_a_full_transpose_prints_as_numpys_dot_T_and_parses_back():
    """Text writes x.T where every axis is reversed (operands of looser forms parenthesized),
    transpose(x, perm=...) otherwise; lg.parse reads both back to the same node."""
    from lossgraph.formula import parse
    X, w = lg.input("X", shape=("N", "D")), lg.input("w", shape=("D",))
    A = lg.input("A", shape=(2, 3, 4))
    assert X.T is lg.transpose(X) and str(X.T) == "X.T"
    assert str(lg.transpose(A + 1)) == "(A + 1).T"
    assert str(lg.transpose(-A, (1, 0, 2))) == "transpose(-A, perm=(1, 0, 2))"
    for node in (X.T @ (X @ w), lg.transpose(A + 1), lg.transpose(A * 2, (0, 2, 1)),
                 lg.exp(X).T ** 2):
        assert parse(str(node), [X, w, A]) is node, str(node)
    (g,) = lg.gradients(lg.sum(lg.square(X @ w)), [w])
    feed = {"X": np.arange(6.0).reshape(3, 2), "w": np.array([0.5, -1.0])}
    np.testing.assert_array_equal(lg.evaluate(parse(str(g), [X, w]), **feed),
                                  lg.evaluate(g, **feed))
