"""lg.draw / lg.render / Node._repr_svg_: DOT content (styles, sharing, labels, values overlay),
escaping, rendering with `dot`, and the error when `dot` is missing."""
import re
import shutil

import numpy as np
import pytest

import lossgraph as lg
from lossgraph import viz
from lossgraph.graph import topo_order

HAVE_DOT = shutil.which("dot") is not None
NODE_LINE = re.compile(r"^\s*(\S+) \[label=(.*)\]$")


def node_lines(dot):
    """{id: attribute text} of every node statement in the DOT source."""
    out = {}
    for line in dot.source.splitlines():
        m = NODE_LINE.match(line)
        if m and "->" not in line:
            assert m.group(1) not in out, f"node {m.group(1)} declared twice"
            out[m.group(1)] = m.group(2)
    return out


def edges(dot):
    return [line.strip() for line in dot.source.splitlines()
            if re.match(r"^\s*n\d+ -> n\d+( \[.*\])?$", line)]


def bce():
    x, z = lg.input("logits", ("N",)), lg.input("z", ("N",))
    loss = lg.mean(lg.softplus(x) - x * z)
    g, = lg.gradients(loss, [x])
    return x, z, loss, g


def test_forward_and_backward_styles_and_shared_nodes_once():
    x = lg.input("x", ("N",))
    e = lg.exp(x)
    loss = lg.sum(e)
    g, = lg.gradients(loss, [x])          # d sum(exp x) = exp(x): shares the forward node
    assert e in topo_order([g])
    dot = lg.draw(loss, g)
    nodes = node_lines(dot)
    assert sorted(nodes) == sorted(f"n{k}" for k in range(len(topo_order([loss, g]))))
    assert all(re.fullmatch(r"n\d+", k) for k in nodes)
    exp_nodes = [v for v in nodes.values() if v.startswith('"exp') or v.startswith("exp")]
    assert len(exp_nodes) == 1 and viz.STYLE["forward"]["fillcolor"] in exp_nodes[0]
    _, _, loss, g = bce()
    dot = lg.draw(loss, g)
    text = "\n".join(node_lines(dot).values())
    assert viz.STYLE["forward"]["fillcolor"] in text and viz.STYLE["backward"]["fillcolor"] in text
    assert any("style=dashed" in e for e in edges(dot))
    assert any("style=dashed" not in e for e in edges(dot))
    assert sum("peripheries=2" in v for v in node_lines(dot).values()) == 1
    assert sum("penwidth=2" in v for v in node_lines(dot).values()) == 1
    assert lg.draw(loss, grads=[g]).source == dot.source
    assert lg.draw([loss, g]).source == dot.source


def test_labels_name_ops_inputs_constants_and_attrs():
    x = lg.input("x", ("N", 3), "float32")
    f = lg.sum(lg.cast(x, "float64") + 2.5, axis=1) * lg.constant(7, "int64")
    labels = list(node_lines(lg.draw(f)).values())
    joined = "\n".join(labels)
    assert r"x\n(N, 3) float32" in joined
    assert any(v.startswith('"2.5"') or v.startswith("2.5") for v in labels)
    assert "7 : int64" in joined and "sum axis=1" in joined and "cast dtype=float64" in joined
    assert any(v.startswith('"+') for v in labels) and any(v.startswith('"*') for v in labels)
    p = lg.input("p", ("N",))
    d = lg.draw(lg.mean(p))
    assert "size N" in "\n".join(node_lines(d).values())
    assert any(v.startswith('"-x') for v in node_lines(lg.draw(-p)).values())
    sub = lg.draw(p - 1.0)
    assert any("headlabel=0" in e for e in edges(sub))
    assert any("headlabel=1" in e for e in edges(sub))


def test_values_overlay():
    x, z, loss, g = bce()
    a = np.array([1.0, -2.0, 3.0])
    b = np.array([1.0, 0.0, 1.0])
    dot = lg.draw(loss, g, values={"logits": a, "z": b})
    labels = node_lines(dot)
    want_loss = np.mean(np.log1p(np.exp(a)) - a * b)
    top = [v for v in labels.values() if "penwidth=2" in v]
    assert len(top) == 1 and f"= {want_loss:.4g}" in top[0]
    s = 1 / (1 + np.exp(-a))
    grad = (s - b) / 3
    summary = f"[3] min {grad.min():.4g} mean {grad.mean():.4g} max {grad.max():.4g}"
    out = [v for v in labels.values() if "peripheries=2" in v]
    assert len(out) == 1 and summary in out[0]
    assert r"[3] min -2 mean 0.6667 max 3" in "\n".join(labels.values())
    with pytest.raises(lg.InputError, match="missing input 'z'"):
        lg.draw(loss, values={"logits": a})


def test_value_summaries():
    assert viz.summary(np.float64(0.5)) == "= 0.5"
    assert viz.summary(np.array([True, False, True])) == "[3] 2 true"
    assert viz.summary(np.array([[3, -1]])) == "[1×2] -1..3"
    assert viz.summary(np.zeros((0, 2))) == "[0×2] empty"


HOSTILE = ['say "hi"', "<b>bold</b>", "{x}", "back\\slash \\N", "]; n0 -> n1; [", "a\nb"]


@pytest.mark.parametrize("text", HOSTILE)
def test_labels_are_escaped(text, monkeypatch):
    x = lg.input("x")
    monkeypatch.setattr(viz, "op_label", lambda node: [text, "tail"])
    dot = lg.draw(lg.exp(x))
    assert all(re.fullmatch(r"n\d+", k) for k in node_lines(dot))
    assert len(edges(dot)) == 1
    for label in node_lines(dot).values():
        assert label.startswith('"'), label          # quoted, never an HTML-like <...> label
    if HAVE_DOT:
        svg = dot.pipe(format="svg").decode()
        assert svg.count('class="node"') == 2 and svg.count('class="edge"') == 1
        assert "<b>" not in svg


@pytest.mark.skipif(not HAVE_DOT, reason="graphviz `dot` is not installed")
def test_render_and_repr_svg(tmp_path):
    _, _, loss, g = bce()
    path = lg.render(lg.draw(loss, g), tmp_path / "bce", format="svg")
    text = open(path).read()
    assert path.endswith(".svg") and "<svg" in text and "softplus" in text
    png = lg.render(loss, tmp_path / "bce", format="png")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in loss._repr_svg_()


def test_missing_dot(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))        # no `dot` anywhere on PATH
    _, _, loss, g = bce()
    with pytest.raises(lg.RenderError, match="apt-get install graphviz.*brew install graphviz"):
        lg.render(lg.draw(loss, g), tmp_path / "bce")
    assert loss._repr_svg_() is None
    assert "n0" in lg.draw(loss).source               # drawing itself needs no `dot`


def test_draw_needs_a_node():
    with pytest.raises(TypeError, match="at least one node"):
        lg.draw()


def test_input_names_cannot_carry_dot_syntax():
    for name in ['a"b', "x]; n0 -> n1", "<b>", "a b", ""]:
        with pytest.raises(lg.OptionError, match="input name"):
            lg.input(name)
