"""The NumPy backend's source: every op lowered, standalone (imports only NumPy, runs in a
fresh namespace), sanitized identifiers, readable (names, shared subexpressions once, buffers
reused, no dead code), executed sealed."""
import ast
import builtins

import numpy as np
import pytest

import codegen
import lossgraph as lg
from codegen.numpy_lowering import LEAVES, LOWERINGS
from lossgraph.ops import OPS
from lossgraph.pipeline import derive

from .test_zoo_kernels import build
from .zoo_cases import CASES

rng = np.random.default_rng(0)


def test_every_op_has_a_lowering():
    missing = sorted(set(OPS) - set(LOWERINGS) - set(LEAVES))
    assert not missing, f"ops without a NumPy lowering: {missing}"


def imports_of(source):
    tree = ast.parse(source)
    return [(a.name, a.asname) for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom)) for a in node.names]


def run_standalone(source, fn_name, arrays):
    """exec the source in a fresh namespace where only numpy can be imported."""
    real_import = builtins.__import__

    def only_numpy(name, *args, **kwargs):
        if name.split(".")[0] != "numpy":
            raise ImportError(f"the generated module imported {name}")
        return real_import(name, *args, **kwargs)

    namespace = {"__builtins__": {**vars(builtins), "__import__": only_numpy},
                 "__name__": "standalone"}
    exec(compile(source, "<standalone>", "exec"), namespace)
    return namespace[fn_name](**arrays)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_zoo_source_runs_standalone(case):
    nodes, arrays, out = build(case)
    scalar = out if out.shape == () else lg.sum(out)
    floats = [n for n in nodes if n.dtype == "float"]
    k = codegen.compile(scalar, wrt=floats)
    assert imports_of(k.source) == [("numpy", "np")]
    fn_name = function_body(k.source).name
    value, grads = run_standalone(k.source, fn_name, {p: arrays[p] for p in k.input_names})
    y, want = derive(scalar, floats)
    ref = lg.evaluate([y, *want], arrays)
    np.testing.assert_allclose(value, ref[0], rtol=1e-12)
    for g, w in zip(grads, ref[1:]):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-300)


def function_body(source):
    tree = ast.parse(source)
    return [n for n in tree.body if isinstance(n, ast.FunctionDef)][-1]


def dead_assignments(source):
    """Names assigned in the kernel function and never read afterwards."""
    fn = function_body(source)
    assigned = [t.id for stmt in ast.walk(fn) if isinstance(stmt, ast.Assign)
                for t in ast.walk(stmt.targets[0]) if isinstance(t, ast.Name)]
    read = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return [a for a in assigned if a not in read]


@pytest.mark.parametrize("case", CASES[::4], ids=[c[0] for c in CASES[::4]])
def test_no_dead_code(case):
    nodes, arrays, out = build(case)
    scalar = out if out.shape == () else lg.sum(out)
    k = codegen.compile(scalar, wrt=[n for n in nodes if n.dtype == "float"])
    assert dead_assignments(k.source) == []


def test_mse_reads_like_hand_written_numpy():
    p, t = lg.input("pred", shape=("N",)), lg.input("target", shape=("N",))
    src = codegen.compile(lg.mean(lg.square(p - t)), wrt=[p]).source
    body = ast.unparse(function_body(src))
    assert "def loss_and_grad(pred, target, grad_pred=None)" in body
    assert "diff = pred - target" in body
    assert body.count("pred - target") == 1                # shared by the loss and the gradient
    assert "out=grad_pred" in body and "grad_pred = diff" in body   # gradient in diff's buffer


def test_softmax_ce_shares_the_exponentials_and_builds_no_one_hot():
    x = lg.input("logits", shape=("N", "C"))
    y = lg.input("labels", shape=("N",), dtype="int64")
    src = codegen.compile(lg.mean(lg.logsumexp(x, axis=1) - lg.pick(x, y, axis=1)), wrt=[x]).source
    body = ast.unparse(function_body(src))
    assert body.count("softmax_parts(") == 1 and "one_hot(" not in body.replace("minus_one_hot", "")
    assert "reuse=True" in body


def test_bce_shares_one_exponential_between_softplus_and_sigmoid():
    x, z = lg.input("logits", shape=("N",)), lg.input("z", shape=("N",))
    src = codegen.compile(lg.mean(lg.softplus(x) - x * z), wrt=[x]).source
    body = ast.unparse(function_body(src))
    assert body.count("exp_neg_abs(") == 1 and "sigmoid(logits" in body and "softplus(logits" in body


def test_ctc_source_calls_the_helper_and_says_so():
    lp = lg.input("log_probs", shape=("T", "N", "C"))
    labels = lg.input("labels", shape=("N", "S"), dtype="int64")
    n_in, n_lab = lg.input("il", shape=("N",), dtype="int64"), lg.input("ll", shape=("N",), dtype="int64")
    from lossgraph.ops.ctc import ctc_loss
    src = codegen.compile(lg.sum(ctc_loss(lp, labels, n_in, n_lab)), wrt=[lp]).source
    assert "_loss_impl(" in src and "_grad_impl(" in src and "CTC: the forward-backward" in src


@pytest.mark.parametrize("names", [
    ["lambda", "class"], ["np", "float_t"], ["sigmoid", "exp_neg_abs"], ["loss", "grad_p"],
    ["p", "grad_p"], ["N", "n"], ["_shift", "fill"], ["select", "InputError"],
    ["ŷ", "y"], ["日本", "_"],
])
def test_identifiers_are_safe_and_unique(names):
    a = lg.input(names[0], shape=("N",))
    b = lg.input(names[1], shape=("N",))
    loss = lg.Loss([a, b], lg.mean(lg.sigmoid(a) * b - lg.softplus(b)),
                   name="my loss: 'ü\"\\n' + x")
    k = loss.compile(wrt=[names[0], names[1]])
    fn = function_body(k.source)
    params = [arg.arg for arg in fn.args.args]
    assert len(set(params)) == 4 and all(p.isidentifier() and p.isascii() for p in params)
    assert fn.name.isidentifier() and fn.name.isascii()
    va, vb = rng.normal(size=3), rng.normal(size=3)
    v, grads = k(va, vb)
    y, want = derive(loss.output, [a, b])
    ref = lg.evaluate([y, *want], {names[0]: va, names[1]: vb})
    np.testing.assert_allclose(v, ref[0], rtol=1e-12)
    for g, w in zip(grads, ref[1:]):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_source_is_executed_sealed():
    p = lg.input("p", shape=("N",))
    k = codegen.compile(lg.sum(lg.exp(p)), wrt=[p])
    import inspect
    sealed = inspect.unwrap(k._fn).__globals__["__builtins__"]    # under np.errstate
    for name in ("open", "eval", "exec", "compile", "getattr", "globals"):
        assert name not in sealed
    with pytest.raises(ImportError, match="only numpy"):
        sealed["__import__"]("os")


def test_pick_out_of_range_raises_lossgraph_input_error():
    x = lg.input("x", shape=("N", 3))
    y = lg.input("y", shape=("N",), dtype="int64")
    k = codegen.compile(lg.sum(lg.pick(x, y)), wrt=[x])
    with pytest.raises(lg.InputError, match="label -1 is out of range"):
        k(np.zeros((2, 3)), np.array([0, -1]))


def test_nan_guarded_where_gives_zero_gradients():
    x = lg.input("x", shape=("N",))
    loss = lg.sum(lg.where(x > 0, lg.log(x), 0.0) + lg.where(x > 1, lg.sqrt(x - 1), x))
    v, (g,) = codegen.compile(loss, wrt=[x])(np.array([-1.0, 0.0, 0.5, 4.0]))
    assert np.isfinite(v) and np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [1.0, 1.0, 3.0, 0.25 + 0.5 / np.sqrt(3.0)], rtol=1e-12)


@pytest.mark.parametrize("text, expected", [
    ("pred", "pred"), ("ŷ", "y"), ("1st", "_1st"), ("a b-c", "a_b_c"), ("日本", "_"),
    ("'\"; import os", "____import_os"),
])
def test_safe_identifier(text, expected):
    from codegen.names import safe_identifier
    assert safe_identifier(text) == expected


def test_namer_avoids_keywords_builtins_reserved_and_repeats():
    from codegen.names import Namer
    namer = Namer(reserved=("np", "sigmoid"))
    got = [namer.fresh(h) for h in ("lambda", "len", "np", "sigmoid", "x", "x", "x_2")]
    assert got == ["lambda_", "len_", "np_", "sigmoid_", "x", "x_2", "x_2_2"]


def test_scale_chain_of_a_scale_chain_found_by_the_llvm_random_graphs():
    """2 * (s * softmax(x)) / d: the inner chain absorbs its input, so the outer one must not
    absorb the inner chain (it would read a value nobody computed)."""
    x = lg.input("x", shape=(3, 4))
    loss = lg.sum(x / (1 + lg.square(lg.logsumexp(x)))) + 0.5 * lg.sum(x)
    a = np.random.default_rng(5).normal(size=(3, 4))
    value, (grad,) = codegen.compile(loss, wrt=[x])(a)
    want = lg.evaluate([loss, lg.gradients(loss, x)], x=a)
    np.testing.assert_allclose(value, want[0], rtol=1e-12)
    np.testing.assert_allclose(grad, want[1], rtol=1e-12)


def bce_kernel():
    x, z = lg.input("logits", shape=("N",)), lg.input("z", shape=("N",))
    return x, z, codegen.compile(lg.mean(lg.softplus(x) - x * z), wrt=[x])


def test_bce_sums_with_one_dot_and_reuses_the_dead_softplus_buffer():
    _, _, k = bce_kernel()
    body = ast.unparse(function_body(k.source))
    assert "sum_with_dot(softplus_logits, logits, z, np.subtract)" in body
    assert "logits * z" not in body                       # no product array
    assert "sigmoid(logits, exp_neg_abs_logits, reuse=True, out=softplus_logits)" in body


def test_sum_with_dot_is_elementwise_where_the_two_sums_cancel():
    """Confident, correct float32 logits: sum(softplus) and x.z agree to ~5 digits, so the
    split alone loses them; the kernel must stay as close as the elementwise sum."""
    x, z, k = bce_kernel()
    n = 200_000
    labels = rng.random(n) > 0.5
    logits = (10 * (2 * labels - 1) + rng.normal(size=n)).astype(np.float32)
    zf = labels.astype(np.float32)
    want = lg.evaluate(lg.mean(lg.softplus(x) - x * z), logits=logits.astype(np.float64),
                       z=zf.astype(np.float64))
    value, _ = k(logits, zf)
    sp = np.logaddexp(0, logits).astype(np.float32)
    split = (np.sum(sp) - np.vdot(logits, zf)) / np.float32(n)
    assert abs(split - want) > 1e-4 * want                 # what the plain split would give
    np.testing.assert_allclose(value, want, rtol=1e-5)


@pytest.mark.parametrize("form", [lambda a, x, y: a - x * y, lambda a, x, y: x * y - a,
                                  lambda a, x, y: a + y * x])
def test_sum_with_dot_forms_match_evaluate(form):
    a, x, y = (lg.input(n, shape=("N", 3)) for n in ("a", "x", "y"))
    loss = lg.sum(form(lg.exp(a), x, y))
    k = codegen.compile(loss, wrt=[a, x, y])
    assert "sum_with_dot(" in k.source
    feed = {n: rng.normal(size=(4, 3)) for n in ("a", "x", "y")}
    value, grads = k(**feed)
    want = lg.evaluate([loss, *lg.gradients(loss, [a, x, y])], feed)
    np.testing.assert_allclose(value, want[0], rtol=1e-12)
    for g, w in zip(grads, want[1:]):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_sum_with_dot_stays_finite_where_both_sums_overflow():
    a, x, y = (lg.input(n, shape=("N",)) for n in ("a", "x", "y"))
    k = codegen.compile(lg.sum(a - x * y))
    big = np.full(8, 1e38, np.float32)
    value = k(big, big, np.ones(8, np.float32))
    assert value == 0 and np.isfinite(value)


@pytest.mark.parametrize("helper", ["sigmoid", "softplus"])
@pytest.mark.parametrize("reuse", [False, True])
def test_exp_helpers_write_into_x_buffer(helper, reuse):
    from codegen import numpy_helpers as H
    x = rng.normal(size=50) * 5
    want = {"sigmoid": 1 / (1 + np.exp(-x)), "softplus": np.logaddexp(0, x)}[helper]
    buf = x.copy()
    got = getattr(H, helper)(buf, H.exp_neg_abs(x), reuse=reuse, out=buf)
    assert got is buf
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_scatter_helper_is_the_op_impl_pasted_and_runs_standalone():
    """take_along_axis's gradient scatters: the kernel pastes lossgraph.ops.index's function
    (the evaluator's impl) and agrees with lg.evaluate, run where only NumPy imports."""
    import inspect

    from lossgraph.ops import index
    x = lg.input("x", shape=("N", 4))
    idx = lg.input("idx", shape=("N", 3), dtype="int64")
    w = lg.input("w", shape=("N", 3))
    loss = lg.sum(lg.take_along_axis(x, idx, 1) * w)
    k = codegen.compile(loss, wrt=[x])
    assert inspect.getsource(index.scatter_along_axis).strip() in k.source
    feed = {"x": rng.normal(size=(5, 4)), "idx": rng.integers(0, 4, size=(5, 3)),
            "w": rng.normal(size=(5, 3))}
    value, (grad,) = run_standalone(k.source, function_body(k.source).name,
                                    {p: feed[p] for p in k.input_names})
    want = lg.evaluate([loss, lg.gradients(loss, x)], feed)
    np.testing.assert_allclose(value, want[0], rtol=1e-12)
    np.testing.assert_allclose(grad, want[1], rtol=1e-12)


def test_softmax_rows_of_minus_inf_inf_and_nan_match_evaluate():
    """softmax_parts keeps a row max that is not finite out of the exponent; normalized
    divides the all -inf row (sum 0) by 1."""
    x = lg.input("x", shape=("N", 3))
    out = lg.softmax(x, axis=1) + lg.logsumexp(x, axis=1, keepdims=True)
    a = np.array([[-np.inf] * 3, [0.0, 1.0, 2.0], [np.inf, 0.0, 1.0], [np.nan, 0.0, 1.0],
                  [-np.inf, 0.0, -np.inf]])
    for dtype in (np.float64, np.float32):
        got = codegen.compile(out)(a.astype(dtype))
        want = lg.evaluate(lg.simplify(out), x=a.astype(dtype))
        np.testing.assert_allclose(got, want, rtol=1e-6 if dtype is np.float32 else 1e-15)
