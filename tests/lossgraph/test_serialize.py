"""lg.to_json / lg.from_json: round trips of every op and of random graphs (hash-consing makes
a faithful round trip return the very same nodes), and malformed or hostile documents."""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lossgraph as lg
from lossgraph import serialize
from lossgraph.ops import OPS
from lossgraph.ops.ctc import ctc_loss


def every_op_example():
    x = lg.input("x", ("N", 3))
    t = lg.input("t", (3,), "float32")
    m = lg.input("m", ("N", 3), "bool")
    y = lg.input("y", ("N",), "int64")
    idx = lg.input("idx", ("N", 2), "int32")
    lp = lg.input("lp", ("T", "N", 3))
    lab = lg.input("lab", ("N", "S"), "int64")
    lens = lg.input("lens", ("N",), "int64")
    nodes = [
        x + t, x - t, x * t, x / t, x ** t, lg.maximum(x, t), lg.minimum(x, 0),
        lg.xlogy(x, t), -x, lg.exp(x), lg.log(x), lg.log1p(x), lg.expm1(x), lg.sqrt(x),
        lg.abs(x), lg.sign(x), lg.square(x), lg.tanh(x), lg.sigmoid(x), lg.softplus(x),
        x < t, x <= t, x > t, x >= t, lg.equal(x, t), lg.not_equal(x, t), m & (x > 0),
        m | m, ~m, lg.where(m, x, t), lg.clip(x, -1.0, 1.0), lg.cast(x, "float32"),
        lg.stop_gradient(x), x @ t, lg.sum(x, axis=1), lg.prod(x, keepdims=True), lg.max(x, 0),
        lg.min(x), lg.logsumexp(x, axis=(0, 1)), lg.softmax(x), lg.log_softmax(x, axis=0),
        lg.reshape(x, ("N*3",)), lg.transpose(x), lg.broadcast_to(t, (2, "N", 3)),
        lg.one_hot(y, 3, axis=0), lg.pick(x, y), lg.take_along_axis(x, idx, axis=1),
        lg.scatter_along_axis(x, idx, 1, ("N", 3)), lg.size(x), lg.size(lp, (0, 1)),
        lg.arange("N"), lg.constant([[1.5, -np.inf], [np.nan, -0.0]]),
        lg.constant(np.array([1, -2 ** 40]), "int64"), lg.constant(np.array([True, False])),
        lg.constant(np.arange(4, dtype=np.int32), "int32"), lg.constant(2.5, "float32"),
        ctc_loss(lp, lab, lens, lens, blank=2, zero_infinity=True),
    ]
    nodes += lg.gradients(lg.sum(ctc_loss(lp, lab, lens, lens)), [lp])
    return nodes


def test_every_op_round_trips_to_the_same_nodes():
    nodes = every_op_example()
    ops = {n.op for g in nodes for n in lg.graph.topo_order([g])}
    assert ops == set(OPS), f"no example for {set(OPS) - ops}"
    text = lg.to_json(nodes)
    back = lg.from_json(text)
    assert len(back) == len(nodes) and all(a is b for a, b in zip(back, nodes))
    doc = json.loads(text)
    assert doc["format"] == "lossgraph" and doc["version"] == 1
    assert "NaN" not in text and "Infinity" not in text


def test_single_node_and_shared_nodes():
    x = lg.input("x", ("N",))
    shared = lg.exp(x)
    a, b = shared + 1.0, shared * 2.0
    assert lg.from_json(lg.to_json(a)) is a
    doc = json.loads(lg.to_json([a, b, a]))
    assert sum(1 for n in doc["nodes"] if n["op"] == "exp") == 1
    assert doc["outputs"][0] == doc["outputs"][2]
    assert lg.from_json(lg.to_json([a, b, a])) == [a, b, a]
    assert lg.from_json(lg.to_json([])) == []


def test_constants_keep_values_and_dtypes():
    values = [np.array([np.inf, -np.inf, np.nan, -0.0, 1e-308, 0.1]),
              np.array([[1, 2], [3, -4]], dtype=np.int32), np.array(True)]
    nodes = [lg.constant(v) for v in values] + [lg.constant(np.float32(0.1), "float32")]
    back = lg.from_json(lg.to_json(nodes))
    assert all(a is b for a, b in zip(back, nodes))
    got = back[0].attrs["value"]
    np.testing.assert_array_equal(got, values[0])
    assert np.signbit(got[3]) and back[1].dtype == "int" and back[2].dtype == "bool"
    assert back[3].attrs["value"].dtype == np.float32


# --- random graphs

UNARY = [lg.exp, lg.tanh, lg.sigmoid, lg.softplus, lg.negative, lg.square, lg.abs,
         lambda a: lg.sum(a, axis=-1, keepdims=True), lambda a: lg.softmax(a),
         lambda a: lg.logsumexp(a, axis=0), lambda a: lg.max(a), lambda a: lg.clip(a, -1, 2),
         lambda a: lg.transpose(a) if a.ndim == 2 else a, lambda a: lg.reshape(a, (-1,))]
BINARY = [lg.add, lg.subtract, lg.multiply, lg.maximum,
          lambda a, b: lg.where(a > b, a, b * 0.5), lambda a, b: a / (1.0 + lg.square(b))]


@st.composite
def graphs(draw):
    pool = [lg.input("x", ("N", 3)), lg.input("w", (3,)), lg.input("s", ()),
            lg.constant(draw(st.floats(allow_nan=True, allow_infinity=True)))]
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.booleans()):
            f = draw(st.sampled_from(UNARY))
            args = [draw(st.sampled_from(pool))]
        else:
            f = draw(st.sampled_from(BINARY))
            args = [draw(st.sampled_from(pool)), draw(st.sampled_from(pool))]
        try:
            pool.append(f(*args))
        except (lg.ShapeError, lg.OptionError):
            continue
    k = draw(st.integers(1, 3))
    return [draw(st.sampled_from(pool[3:] or pool)) for _ in range(k)]


@settings(max_examples=40, deadline=None)
@given(graphs())
def test_random_graphs_round_trip(outs):
    back = lg.from_json(lg.to_json(outs))
    assert all(a is b for a, b in zip(back, outs)) and len(back) == len(outs)
    arrays = {"x": np.linspace(-2, 2, 6).reshape(2, 3), "w": np.array([0.5, -1.0, 2.0]),
              "s": np.array(0.3)}
    used = {n.name for n in lg.inputs_of(outs)}
    arrays = {k: v for k, v in arrays.items() if k in used}
    for a, b in zip(lg.evaluate(back, arrays), lg.evaluate(outs, arrays)):
        np.testing.assert_array_equal(a, b)


# --- malformed and hostile documents

def valid_doc():
    x = lg.input("x", ("N", 3))
    return json.loads(lg.to_json(lg.sum(lg.exp(x) * lg.constant([1.0, 2.0, 3.0]), axis=1)))


def edit(fn):
    doc = valid_doc()
    fn(doc)
    return json.dumps(doc)


def set_node(k, key, value):
    return lambda d: d["nodes"][k].__setitem__(key, value)


def set_attr(k, key, value):
    return lambda d: d["nodes"][k]["attrs"].__setitem__(key, value)


# node 0 input x, 1 exp, 2 constant, 3 multiply, 4 sum
HOSTILE = [
    ("{not json", "not valid JSON"),
    ('{"format": "lossgraph", "version": 1, "nodes": [], "outputs": [], "x": NaN}', "NaN"),
    ("[1, 2]", "expected a JSON object"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply|JSON object"),
    (edit(lambda d: d.__setitem__("format", "pickle")), "format must be 'lossgraph'"),
    (edit(lambda d: d.__setitem__("version", 2)), "unsupported version 2"),
    (edit(lambda d: d.__setitem__("version", True)), "unsupported version"),
    (edit(lambda d: d.__setitem__("nodes", {"0": 1})), "'nodes' must be a list"),
    (edit(lambda d: d.pop("outputs")), "no 'outputs'"),
    (edit(lambda d: d.__setitem__("extra", 1)), "unknown field 'extra'"),
    (edit(lambda d: d["nodes"].__setitem__(1, "exp")), "node 1 must be an object"),
    (edit(set_node(1, "op", "__import__")), "unknown op '__import__'"),
    (edit(set_node(1, "op", 7)), "field 'op' must be a str"),
    (edit(set_node(1, "inputs", [1])), "earlier node"),
    (edit(set_node(1, "inputs", [4])), "earlier node"),
    (edit(set_node(1, "inputs", [-1])), "earlier node"),
    (edit(set_node(1, "inputs", [True])), "earlier node"),
    (edit(set_node(1, "inputs", [0, 0])), r"node 1 \(exp\) takes 1 inputs, got 2"),
    (edit(set_node(1, "code", "print(1)")), "unknown field 'code'"),
    (edit(set_attr(1, "axis", 0)), "unknown attr 'axis'"),
    (edit(set_attr(4, "axis", "1")), "attr 'axis'"),
    (edit(set_attr(4, "axis", [7])), "axis 7 is out of range"),
    (edit(set_attr(4, "keepdims", 1)), "attr 'keepdims': expected true or false"),
    (edit(lambda d: d["nodes"][0]["attrs"].pop("name")), "missing attr 'name'"),
    (edit(set_attr(0, "name", "x; import os")), "input name"),
    (edit(set_attr(0, "shape", ["N", -3])), "expected a dim >= 0, got -3"),
    (edit(set_attr(0, "shape", ["N", {"a": 1}])), "attr 'shape'"),
    (edit(set_attr(0, "shape", ["N", 4])), "does not broadcast"),
    (edit(set_attr(0, "dtype", "object")), "attr 'dtype': expected a dtype"),
    (edit(set_attr(2, "value", [1.0, 2.0, 3.0])), "attr 'value'"),
    (edit(set_attr(2, "value", {"dtype": "object", "shape": [1], "data": [1]})),
     "array dtype must be"),
    (edit(set_attr(2, "value", {"dtype": "float64", "shape": [4], "data": [1, 2, 3]})),
     "flat list of 4 entries"),
    (edit(set_attr(2, "value", {"dtype": "float64", "shape": [10 ** 9, 10 ** 9],
                                "data": []})), "exceeds the limit"),
    (edit(set_attr(2, "value", {"dtype": "float64", "shape": [3],
                                "data": [1, "1e5", 2]})), "expected a number"),
    (edit(set_attr(2, "value", {"dtype": "int64", "shape": [3],
                                "data": [1, 2 ** 70, 2]})), "expected an integer"),
    (edit(set_attr(2, "value", {"dtype": "int32", "shape": [3],
                                "data": [1, 2 ** 40, 2]})), "do not fit in int32"),
    (edit(set_attr(2, "dtype", "int")), "constant of dtype int stored as float64"),
    (edit(lambda d: d.__setitem__("outputs", [9])), "output 9 is not a node index"),
    (edit(lambda d: d.__setitem__("outputs", ["4"])), "output '4' is not a node index"),
    (edit(lambda d: d.__setitem__("single", "yes")), "'single' must be true"),
    ('{"format": "lossgraph", "format": "lossgraph"}', "duplicate key 'format'"),
    (b"\xff\xfe", "not UTF-8"),
]


@pytest.mark.parametrize("text, message", HOSTILE,
                         ids=[f"case{k}" for k in range(len(HOSTILE))])
def test_malformed_documents_are_serialization_errors(text, message):
    with pytest.raises(lg.SerializationError, match=message):
        lg.from_json(text)


def test_the_valid_document_used_above_loads():
    x = lg.input("x", ("N", 3))
    assert lg.from_json(json.dumps(valid_doc())) is \
        lg.sum(lg.exp(x) * lg.constant([1.0, 2.0, 3.0]), axis=1)


def test_size_limits(monkeypatch):
    text = lg.to_json(lg.exp(lg.exp(lg.input("x"))))
    monkeypatch.setattr(serialize, "MAX_NODES", 2)
    with pytest.raises(lg.SerializationError, match="3 nodes exceed the limit of 2"):
        lg.from_json(text)
    monkeypatch.setattr(serialize, "MAX_TEXT", 10)
    with pytest.raises(lg.SerializationError, match="exceed the limit of 10"):
        lg.from_json(text)
    with pytest.raises(lg.SerializationError, match="expected a JSON string"):
        lg.from_json({"format": "lossgraph"})


def test_to_json_takes_nodes_only():
    with pytest.raises(lg.SerializationError, match="output 1 is a float"):
        lg.to_json([lg.input("x"), 1.0])


def test_every_op_has_a_schema():
    for name in OPS:
        arity, kinds = serialize.schema(name)
        assert arity >= 0 and all(k in serialize.KINDS for k in kinds.values())


def test_huge_integers_in_float_data():
    doc = valid_doc()
    doc["nodes"][2]["attrs"]["value"] = {"dtype": "float64", "shape": [3],
                                         "data": [1, 10 ** 400, 2]}
    with pytest.raises(lg.SerializationError, match="too large for a float"):
        lg.from_json(json.dumps(doc))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) |
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8) |
    st.sampled_from(["inf", "nan", "float64", "int64", "bool", "N", "exp", "input"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["op", "inputs", "attrs", "dtype", "shape", "data", "name", "axis",
                         "value", "keepdims"]), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 4), st.sampled_from(["op", "inputs", "attrs", None]), JSON_VALUES)
def test_fuzzed_documents_load_or_raise_serialization_error(k, field, value):
    doc = valid_doc()
    if field is None:
        doc["nodes"][k] = value
    elif field == "attrs" and isinstance(value, dict):
        doc["nodes"][k]["attrs"].update(value)
    else:
        doc["nodes"][k][field] = value
    try:
        out = lg.from_json(json.dumps(doc))
    except lg.SerializationError:
        return
    assert isinstance(out, lg.Node)
