"""Random graphs (broadcasting, reductions over any axes with and without keepdims, where,
clip, pick, normalizers, matmul) compile with the NumPy backend and agree with lg.evaluate on the
same pipeline graphs: value and gradient w.r.t. every float input, in float64 (rtol 1e-10) and
float32 (rtol 2e-4, atol 1e-5; results stay float32)."""
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

import codegen
import lossgraph as lg
from lossgraph.pipeline import derive

INPUTS = {"x": (3, 4), "y": (4,), "z": (3, 1), "s": (), "w": (2, 3, 4)}


def inputs_of_size(rows, cols):
    """The generator's inputs for a matrix x of rows x cols (y a row, z a column, s a scalar,
    w a stack of two x-shaped matrices: reductions over a middle axis)."""
    return {"x": (rows, cols), "y": (cols,), "z": (rows, 1), "s": (), "w": (2, rows, cols)}
UNARY = [lg.tanh, lg.sigmoid, lg.softplus, lg.square, lg.abs, lg.negative,
         lambda a: lg.log1p(lg.square(a)), lambda a: lg.exp(lg.tanh(a)),
         lambda a: lg.sqrt(1.0 + lg.square(a))]
BINARY = [lg.add, lg.subtract, lg.multiply, lg.maximum, lg.minimum,
          lambda a, b: a / (1.0 + lg.square(b)),
          lambda a, b: lg.xlogy(lg.square(a), 1 + lg.abs(b)) if a.ndim + b.ndim else a * b]
REDUCE = [lg.sum, lg.max, lg.min, lg.mean, lg.logsumexp, lg.prod]
MATMUL = hasattr(lg, "matmul")


@st.composite
def graphs(draw, inputs=None):
    """(nodes, labels, loss): a random loss over inputs (name -> shape; INPUTS unless given),
    labels of x's rows."""
    inputs = INPUTS if inputs is None else inputs
    nodes = {k: lg.input(k, shape=s) for k, s in inputs.items()}
    labels = lg.input("labels", shape=inputs["x"][:1], dtype="int64")
    pool = list(nodes.values())
    for _ in range(draw(st.integers(2, 7))):
        kind = draw(st.sampled_from(["unary", "binary", "reduce", "where", "clip", "pick",
                                     "normalize"] + (["matmul"] if MATMUL else [])))
        a = draw(st.sampled_from(pool))
        if kind in ("reduce", "normalize") and draw(st.booleans()):
            a = max(pool, key=lambda n: n.ndim)     # often the 3-d input: middle axes
        b = draw(st.sampled_from(pool))
        try:
            if kind == "unary":
                out = draw(st.sampled_from(UNARY))(a)
            elif kind == "binary":
                out = draw(st.sampled_from(BINARY))(a, b)
            elif kind == "reduce":
                axes = draw(st.sets(st.integers(0, max(a.ndim - 1, 0)), max_size=a.ndim))
                out = draw(st.sampled_from(REDUCE))(a, axis=tuple(sorted(axes)) or None,
                                                    keepdims=draw(st.booleans()))
            elif kind == "where":
                out = lg.where(a > b, draw(st.sampled_from(pool)), b)
            elif kind == "clip":
                out = lg.clip(a, -0.5, draw(st.sampled_from([0.3, 1.5])))
            elif kind == "matmul":
                if a.ndim == 0 or b.ndim == 0:
                    continue
                out = lg.matmul(a, b)
            elif kind == "pick":
                if a.shape != inputs["x"]:
                    continue
                out = lg.pick(a, labels, axis=1)
            else:
                if a.ndim == 0:
                    continue
                fn = draw(st.sampled_from([lg.softmax, lg.log_softmax]))
                out = fn(a, axis=draw(st.integers(0, a.ndim - 1)))
        except lg.ShapeError:
            continue
        pool.append(out)
    loss = lg.sum(pool[-1]) + 0.5 * lg.sum(draw(st.sampled_from(pool)))
    return nodes, labels, loss


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.integers(0, 2 ** 16), st.sampled_from([np.float64, np.float32]))
def test_random_graph_matches_evaluate(graph, seed, dtype):
    nodes, labels, loss = graph
    rng = np.random.default_rng(seed)
    arrays = {k: rng.normal(size=s).astype(dtype) for k, s in INPUTS.items()}
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-4, atol=1e-5)
    arrays["labels"] = rng.integers(0, 4, size=3)
    wrt = list(nodes.values())
    k = codegen.compile(loss, wrt=wrt)
    used = {n: arrays[n] for n in k.input_names}
    value, grads = k(**used)
    y, want = derive(loss, wrt)
    ref = lg.evaluate([y, *want], {n.name: arrays[n.name] for n in lg.inputs_of([y, *want])})
    assert np.asarray(value).dtype == dtype
    np.testing.assert_allclose(value, ref[0], **tol)
    for g, w, n in zip(grads, ref[1:], wrt):
        assert g.dtype == dtype, n.name
        np.testing.assert_allclose(g, w, err_msg=f"d/d{n.name}", **tol)
    v_only = codegen.compile(loss)
    stable = lg.simplify(loss)
    np.testing.assert_allclose(v_only(**{n: arrays[n] for n in v_only.input_names}),
                               lg.evaluate(stable, {n.name: arrays[n.name] for n in
                                                    lg.inputs_of([stable])}), **tol)
