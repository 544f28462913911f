"""The shared compile pipeline: what it schedules (each node once across the loss and all
gradients, inputs before users), last uses and fusion groups."""
import lossgraph as lg
from codegen.pipeline import build
from lossgraph.ops import OPS
from lossgraph.pipeline import derive


def softmax_ce():
    x = lg.input("logits", shape=("N", "C"))
    y = lg.input("labels", shape=("N",), dtype="int64")
    return x, y, lg.mean(lg.logsumexp(x, axis=1) - lg.pick(x, y, axis=1))


def test_outputs_are_the_derived_graphs():
    x, y, loss = softmax_ce()
    s = build(loss, wrt=["logits"])
    stable, grads = derive(loss, [x])
    assert s.values == (lg.guard_nans(stable),) and s.grads == tuple(map(lg.guard_nans, grads))
    assert list(s.inputs) == ["logits", "labels"] and s.wrt == (x,)


def test_each_node_once_in_topological_order_across_loss_and_gradients():
    x, y, loss = softmax_ce()
    s = build(loss, wrt=[x])
    ids = [id(n) for n in s.order]
    assert len(ids) == len(set(ids))
    for i, n in enumerate(s.order):
        assert all(s.position(inp) < i for inp in n.inputs)
    # the loss and the gradient share their one input node and the dim N
    users_of_x = [s.order[u] for u in s.users[s.position(x)]]
    assert {u.op for u in users_of_x} >= {"logsumexp", "softmax", "pick"}


def test_last_use_is_the_last_reader():
    x, y, loss = softmax_ce()
    s = build(loss, wrt=[x])
    for i, n in enumerate(s.order):
        readers = [j for j, m in enumerate(s.order) if any(inp is n for inp in m.inputs)]
        assert s.last_use[i] == (max(readers) if readers else None)
    for out in s.outputs:
        assert s.last_use[s.position(out)] is None or out in s.values + s.grads


def test_fusion_groups_are_elementwise_regions_with_their_reductions():
    p, t = lg.input("p", shape=("N",)), lg.input("t", shape=("N",))
    s = build(lg.sum(lg.square(p - t) * 0.5) + lg.max(lg.exp(p)), wrt=[p])
    grouped = [i for g in s.fusion_groups for i in g]
    assert len(grouped) == len(set(grouped))
    for g in s.fusion_groups:
        kinds = [OPS[s.order[i].op].kind for i in g]
        assert "leaf" not in kinds
        members = {id(s.order[i]) for i in g}
        for i in g:    # connected: in a group of several, every member reads or feeds another
            n = s.order[i]
            linked = any(id(inp) in members for inp in n.inputs) or \
                any(u in g for u in s.users[i])
            assert len(g) == 1 or linked
        reductions = [s.order[i] for i in g if OPS[s.order[i].op].kind == "reduction"]
        for r in reductions:
            assert id(r.inputs[0]) in members or OPS[r.inputs[0].op].kind != "elementwise"
    square_sum = next(g for g in s.fusion_groups
                      if any(s.order[i].op == "square" for i in g))
    assert any(s.order[i].op == "sum" for i in square_sum)


def test_several_outputs_and_no_wrt():
    p = lg.input("p", shape=("N",))
    s = build([lg.sum(p), lg.max(p)])
    assert len(s.values) == 2 and s.grads == () and s.wrt == ()
