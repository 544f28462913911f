"""Hash-consing (lossgraph.graph): the same expression is the same object, also built from
threads; a node's table entry goes when the node dies; the shape cache agrees with the op's rule
and never hides an error."""
import gc
import threading
import weakref

import numpy as np
import pytest

import lossgraph as lg
from lossgraph import graph
from lossgraph.graph import make
from lossgraph.ops import OPS


def _entries():
    """How many nodes the hash-consing table holds (over its per-op tables)."""
    return sum(map(len, graph._TABLE.values()))


def test_the_same_expression_is_the_same_object():
    x, y = lg.input("x", shape=("N",)), lg.input("y", shape=("N",))
    assert lg.exp(x) * y is lg.exp(x) * y
    assert lg.sum(x, axis=0) is lg.sum(x) and lg.sum(x).attrs["axis"] == (0,)
    assert lg.sum(x, keepdims=True) is not lg.sum(x)
    assert lg.constant(np.array([1.0, 2.0])) is lg.constant(np.array([1.0, 2.0]))
    assert lg.constant(np.array([1.0, 2.0])) is not lg.constant(np.array([1.0, 3.0]))
    assert x * y is not y * x


def test_a_built_node_is_sealed_a_node_and_refuses_writes():
    x = lg.input("x_sealed", shape=("N", 2))
    for node in (x, lg.exp(x), x * 2.0, lg.sum(x, axis=1), lg.constant(np.ones(3))):
        assert type(node) is lg.Node
        for name in ("op", "inputs", "attrs", "shape", "dtype", "_normal", "anything"):
            with pytest.raises(AttributeError, match="immutable"):
                setattr(node, name, None)
    y = lg.sum(x, axis=1)         # what the op's shape rule says, read back from the slots
    shape, dtype, attrs = OPS["sum"].infer((x,), {"axis": 1})
    assert (y.op, y.inputs, dict(y.attrs), y.shape, y.dtype, y._sig) == (
        "sum", (x,), attrs, tuple(shape), dtype, (tuple(shape), dtype))


def test_every_node_without_attrs_shares_the_one_empty_mapping():
    """The rewriter tells a node without attrs by `attrs is _NO_ATTRS`: no node holds an
    empty mapping of its own, however it was built (attrs given empty, or dropped by infer)."""
    x, t = lg.input("x_noattrs", shape=("N", 3)), lg.input("t_noattrs", shape=("N", 3))
    loss = lg.mean(lg.softplus(x) - x * t) + lg.sum(lg.sum(lg.square(x), axis=1))
    (g,) = lg.gradients(loss, [x])
    nodes = lg.topo_order([loss, g, make("exp", x), make("exp", x, **{})])
    assert any(n.attrs for n in nodes) and any(not n.attrs for n in nodes)
    for n in nodes:
        assert (n.attrs is graph._NO_ATTRS) == (len(n.attrs) == 0), n.op


def test_a_dead_node_leaves_the_table_and_comes_back_new():
    x = lg.input("x_dies", shape=("N",))
    before = _entries()
    node = lg.tanh(lg.exp(x))
    dead = weakref.ref(node)
    assert _entries() == before + 2
    del node
    assert dead() is None and _entries() == before   # no gc.collect() needed
    again = lg.tanh(lg.exp(x))
    assert again.op == "tanh" and lg.tanh(lg.exp(x)) is again
    assert _entries() == before + 2


def test_a_graph_is_released_as_a_whole():
    x = lg.input("x_chain", shape=("N",))
    y = x
    for _ in range(2000):
        y = lg.sigmoid(y) * 0.5
    tip = weakref.ref(y)
    size = _entries()
    del y
    gc.collect()
    assert tip() is None and _entries() < size - 3000


def test_threads_building_one_expression_get_one_object():
    x = lg.input("x_threads", shape=("N", 3))
    got, start = [], threading.Barrier(4)

    def build():
        start.wait()
        got.append([lg.softplus(x * float(k)) - x for k in range(300)])

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4
    for other in got[1:]:
        assert all(a is b for a, b in zip(got[0], other))


@pytest.mark.parametrize("op", ["add", "multiply", "less", "where", "logical_and", "softplus"])
def test_the_shape_cache_agrees_with_the_op_rule(op):
    x = lg.input("x", shape=("N", 1))
    c = lg.input("c", shape=(4,), dtype="bool")
    k = lg.input("k", shape=(), dtype="int32")
    args = {"where": (c, x, k), "logical_and": (c, c), "softplus": (k,)}.get(op, (x, k))
    node = make(op, *args)
    shape, dtype, attrs = OPS[op].infer(args, {})
    assert (node.shape, node.dtype, dict(node.attrs)) == (tuple(shape), dtype, attrs)
    assert make(op, *args) is node


def test_a_cached_signature_still_raises_for_bad_operands():
    a, b = lg.input("a", shape=(3,)), lg.input("b", shape=(4,))
    lg.add(a, a)
    with pytest.raises(lg.ShapeError):
        lg.add(a, b)
    flag = lg.input("f", shape=(3,), dtype="bool")
    lg.where(flag, a, a)
    with pytest.raises(lg.DTypeError):
        lg.where(a, a, a)


def test_the_cycle_collector_is_paused_inside_and_restored_after():
    assert gc.isenabled()
    with graph.cycle_collector_paused():
        assert not gc.isenabled()
        with graph.cycle_collector_paused():      # nested: still paused, not re-enabled early
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with graph.cycle_collector_paused():
            pass
        assert not gc.isenabled()                 # the caller's choice is kept
    finally:
        gc.enable()
    with pytest.raises(ValueError):
        with graph.cycle_collector_paused():
            raise ValueError("inside")
    assert gc.isenabled()


def test_simplify_leaves_the_cycle_collector_as_it_found_it():
    x = lg.input("x_gc", shape=("N",))
    lg.simplify(lg.log(1.0 + lg.exp(x)) * 1.0)
    assert gc.isenabled()


def test_a_dead_entry_whose_callback_has_not_run_is_replaced():
    x, junk = lg.input("x_stale", shape=("N",)), lg.log(lg.input("junk", shape=("N",)))
    stale = graph._Entry(junk, None)             # dead below, and no callback drops it
    del junk
    assert stale() is None
    graph._TABLE.setdefault("exp", {})[(x,)] = stale
    node = lg.exp(x)
    assert node.op == "exp" and node.inputs == (x,)
    assert graph._TABLE["exp"][(x,)]() is node and lg.exp(x) is node


def test_gradients_leave_the_cycle_collector_as_they_found_it():
    x = lg.input("x_gc_grad", shape=("N",))
    (g,) = lg.gradients(lg.sum(lg.softplus(x) * x), [x])
    assert gc.isenabled() and g.shape == x.shape


def test_nan_constants_of_any_sign_or_payload_are_one_node():
    """A nan's sign and payload are not part of its value (as for a Python float nan): the
    rewrites that negate or divide a nan coefficient reach the node they would have built."""
    plain = np.array([1.0, np.nan])
    negated = np.array([1.0, -np.nan])
    payload = np.array([1.0, np.frombuffer(np.uint64(0x7FF8000000000123).tobytes())[0]])
    assert np.signbit(negated[1]) and payload[1].tobytes() != plain[1].tobytes()
    assert lg.constant(plain) is lg.constant(negated) is lg.constant(payload)
    assert lg.constant(np.float32(np.nan)) is lg.constant(-np.float32(np.nan))
    assert lg.constant(np.array([1.0, 2.0])) is not lg.constant(np.array([1.0, -2.0]))
