"""Shared references for the zoo tests: lossgraph inputs for named arrays and central finite
differences (float64) of a NumPy reference, the oracle every zoo gradient is checked against."""
import numpy as np

import lossgraph as lg


def node_inputs(arrays):
    """One lg.input per named array, of its shape; floats get the weak "float" dtype."""
    return {k: lg.input(k, shape=np.shape(v),
                        dtype="float" if np.asarray(v).dtype.kind == "f"
                        else np.asarray(v).dtype.name)
            for k, v in arrays.items()}


def fd(ref, arrays, name, kw, h=1e-6):
    """d ref(**arrays, **kw) / d arrays[name], entry by entry (ref returns a scalar)."""
    x0 = arrays[name]
    out = np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        up, dn = x0.copy(), x0.copy()
        up[i] += h
        dn[i] -= h
        out[i] = (ref(**{**arrays, name: up}, **kw) - ref(**{**arrays, name: dn}, **kw)) / (2 * h)
    return out


def check_grad(fn, ref, arrays, wrt, **kw):
    """lg.gradients of fn on input nodes == finite differences of the NumPy ref."""
    nodes = node_inputs(arrays)
    loss = fn(**nodes, **kw)
    assert isinstance(loss, lg.Node)
    # evaluated with the loss, so a gradient that needs fewer inputs is still fed
    grads = lg.evaluate([loss, *lg.gradients(loss, [nodes[w] for w in wrt])], arrays)[1:]
    for w, g in zip(wrt, grads):
        np.testing.assert_allclose(g, fd(ref, arrays, w, kw), rtol=1e-5, atol=1e-7)


def check_case_gradients(fn_nodes, ref, args, diff, rtol=1e-5, atol=1e-7, h=1e-6):
    """For positional case tables: lg.gradients of fn_nodes(*input nodes) (a scalar) with
    respect to args[i], i in diff, against central differences of sum(ref(*args))."""
    nodes = [lg.input(f"a{i}", shape=a.shape,
                      dtype="float" if a.dtype.kind == "f" else a.dtype.name)
             for i, a in enumerate(args)]
    out = fn_nodes(*nodes)
    feed = {f"a{i}": a for i, a in enumerate(args)}
    grads = lg.evaluate([out, *lg.gradients(out, [nodes[i] for i in diff])], feed)[1:]
    for k, i in enumerate(diff):
        fdiff = np.zeros(args[i].shape)
        for pos in np.ndindex(*args[i].shape):
            up, dn = [a.copy() for a in args], [a.copy() for a in args]
            up[i][pos] += h
            dn[i][pos] -= h
            fdiff[pos] = (np.sum(ref(*up)) - np.sum(ref(*dn))) / (2 * h)
        np.testing.assert_allclose(grads[k], fdiff, rtol=rtol, atol=atol,
                                   err_msg=f"d/d arg {i}")


def seeded_args(case, seed):
    """The arrays of a case: each generator in case[3] called with a seeded rng."""
    rng = np.random.default_rng(seed)
    return [g(rng) for g in case[3]]


def case_suite(cases, make_args=seeded_args, f32_rtol=1e-4, f32_atol=1e-5):
    """The four standard tests over a table of cases (name, fn, kwargs, argument generators,
    NumPy reference, differentiable positions); make_args(case, seed) -> arrays.

    A test module binds them: `test_value..., test_reductions, ... = case_suite(CASES, _args)`.
    """
    import pytest
    each_case = pytest.mark.parametrize("case", cases, ids=[c[0] for c in cases])

    @each_case
    def test_value_matches_numpy(case):
        name, fn, kw, gens, ref, _ = case
        args = make_args(case, 0)
        np.testing.assert_allclose(fn(*args, **kw), ref(*args), rtol=1e-10, atol=1e-12)

    @each_case
    @pytest.mark.parametrize("reduction", ["sum", "mean"])
    def test_reductions(case, reduction):
        name, fn, kw, gens, ref, _ = case
        args = make_args(case, 1)
        np.testing.assert_allclose(fn(*args, reduction=reduction, **kw),
                                   getattr(np, reduction)(ref(*args)), rtol=1e-10)

    @each_case
    def test_gradient_finite_differences(case):
        name, fn, kw, gens, ref, diff = case
        check_case_gradients(lambda *n: fn(*n, reduction="sum", **kw), ref,
                             make_args(case, 2), diff)

    @each_case
    def test_float32_in_float32_out(case):
        name, fn, kw, gens, ref, _ = case
        args = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in make_args(case, 3)]
        out = fn(*args, **kw)
        assert out.dtype == np.float32
        np.testing.assert_allclose(
            out, ref(*[a.astype(np.float64) if a.dtype.kind == "f" else a for a in args]),
            rtol=f32_rtol, atol=f32_atol)

    return (test_value_matches_numpy, test_reductions, test_gradient_finite_differences,
            test_float32_in_float32_out)


def check_graph_grad(loss, wrt, arrays, h=1e-6):
    """lg.gradients(loss, wrt) == central differences of the loss graph's own value (for
    losses whose value is checked against a NumPy reference elsewhere)."""
    (g,) = lg.gradients(loss, [wrt])
    got = lg.evaluate([loss, g], arrays)[1]
    x0 = arrays[wrt.name]
    fdiff = np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        up, dn = x0.copy(), x0.copy()
        up[i] += h
        dn[i] -= h
        fdiff[i] = (lg.evaluate(loss, {**arrays, wrt.name: up}) -
                    lg.evaluate(loss, {**arrays, wrt.name: dn})) / (2 * h)
    np.testing.assert_allclose(got, fdiff, rtol=1e-5, atol=1e-7)


def fd_array(f, x, eps=1e-6):
    """d f(x) / d x by central differences, for a scalar function of one array."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g
