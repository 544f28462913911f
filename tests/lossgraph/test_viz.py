"""lg.draw / lg.render / Node._repr_svg_: DOT content (styles, sharing, output labels,
constants per use, operand order, legend, title, values overlay), escaping, rendering with
`dot` (layout positions read back with -Tplain), file names, and the error when `dot` is
missing."""
import re
import shutil
import subprocess

import numpy as np
import pytest

import lossgraph as lg
from lossgraph import viz
from lossgraph.graph import topo_order

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="graphviz `dot` is not installed")
NODE_LINE = re.compile(r"^\s*(\w+) \[label=(.*)\]$")
EDGE_LINE = re.compile(r"^\s*(\w+) -> (\w+)( \[.*\])?$")


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
    """[(tail, head, attribute text)] in the order the DOT source declares them."""
    return [(m.group(1), m.group(2), m.group(3) or "")
            for m in map(EDGE_LINE.match, dot.source.splitlines()) if m]


def label_of(attrs):
    m = re.match(r'"((?:[^"\\]|\\.)*)"|(\S+)', attrs)
    return m.group(1) if m.group(1) is not None else m.group(2)


def graph_nodes(dot):
    """The drawn graph's nodes without the legend's samples."""
    return {k: v for k, v in node_lines(dot).items() if not k.startswith("legend")}


def positions(dot):
    """{node id: (x, y)} of dot's layout."""
    plain = subprocess.run(["dot", "-Tplain"], input=dot.source, capture_output=True,
                           text=True, check=True).stdout
    return {p[1]: (float(p[2]), float(p[3])) for p in map(str.split, plain.splitlines())
            if p[0] == "node"}


def bce():
    x, z = lg.input("logits", ("N",)), lg.input("z", ("N",))
    loss = lg.mean(lg.softplus(x) - x * z)
    g, = lg.gradients(loss, [x])
    return x, z, loss, g


def cosine():
    """Mean cosine similarity and its literal gradient: about 40 nodes, constants reused."""
    a, b = lg.input("a", ("N", "C")), lg.input("b", ("N", "C"))
    norms = lg.sqrt(lg.sum(lg.square(a), axis=1)) * lg.sqrt(lg.sum(lg.square(b), axis=1))
    loss = lg.mean(lg.sum(a * b, axis=1) / lg.maximum(norms, 1e-8))
    g, = lg.gradients(loss, [a], simplify=False)
    return loss, g


def test_forward_and_backward_styles_and_shared_nodes_once():
    x = lg.input("x", ("N",))
    e = lg.exp(x)
    loss = lg.sum(e)
    g, = lg.gradients(loss, [x])          # d sum(exp x) = exp(x): shares the forward node
    assert e in topo_order([g])
    dot = lg.draw(loss, g)
    nodes = graph_nodes(dot)
    exp_nodes = [v for v in nodes.values() if label_of(v) == "exp"]
    assert len(exp_nodes) == 1 and viz.STYLE["forward"]["fillcolor"] in exp_nodes[0]
    _, _, loss, g = bce()
    dot = lg.draw(loss, g)
    text = "\n".join(graph_nodes(dot).values())
    assert viz.STYLE["forward"]["fillcolor"] in text and viz.STYLE["backward"]["fillcolor"] in text
    assert any("style=dashed" in a for _, _, a in edges(dot))
    assert any("style=dashed" not in a for _, _, a in edges(dot))
    assert sum("peripheries=2" in v for v in graph_nodes(dot).values()) == 1
    assert sum("penwidth=2" in v for v in graph_nodes(dot).values()) == 1
    assert lg.draw(loss, grads=[g]).source == dot.source
    assert lg.draw([loss, g]).source == dot.source


def test_outputs_carry_labels():
    _, _, loss, g = bce()
    dot = lg.draw(loss, g, labels=["BCE", "d BCE / d logits"])
    nodes = node_lines(dot)
    out = {label_of(nodes[h]): t for t, h, _ in edges(dot) if h.startswith("out")}
    assert set(out) == {"BCE", "d BCE / d logits"}
    assert "penwidth=2" in nodes[out["BCE"]] and "peripheries=2" in nodes[out["d BCE / d logits"]]
    default = node_lines(lg.draw(loss, g))
    assert {label_of(v) for k, v in default.items() if k.startswith("out")} == {"loss", "gradient"}
    with pytest.raises(lg.OptionError, match="labels must be 2 strings"):
        lg.draw(loss, g, labels=["only one"])


def test_loss_draw_labels_each_gradient_by_its_input():
    @lg.loss
    def huber(pred: lg.Float["N"], target: lg.Float["N"]):
        d = pred - target
        return lg.mean(lg.where(lg.abs(d) <= 1.0, 0.5 * lg.square(d), lg.abs(d) - 0.5))
    dot = huber.draw(gradients=True, title="Huber")
    nodes = node_lines(dot)
    labelled = {label_of(nodes[h]): t for t, h, _ in edges(dot) if h.startswith("out")}
    assert set(labelled) == {"huber", "d huber / d pred", "d huber / d target"}
    grads = huber.gradients()
    for name, node in grads.items():   # the label hangs on the node that is that gradient
        drawn = label_of(nodes[labelled[f"d huber / d {name}"]])
        assert drawn == viz.op_label(node)[0]
    assert 'label=Huber' in dot.source and "labelloc=t" in dot.source


def test_constants_are_drawn_once_per_use():
    loss, g = cosine()
    order = topo_order([loss, g])
    uses = sum(1 for n in order for i in n.inputs if i.op in ("constant", "dimsize"))
    shared = [n for n in order if n.op == "constant" and
              sum(i is n for m in order for i in m.inputs) > 1]
    assert shared, "the example must reuse a constant"
    assert 30 <= len(order) <= 60
    dot = lg.draw(loss, g)
    consts = [k for k, v in node_lines(dot).items() if k.startswith("c")]
    assert len(consts) == uses
    out_degree = {c: sum(t == c for t, _, _ in edges(dot)) for c in consts}
    assert set(out_degree.values()) == {1}


def test_operands_are_declared_in_order_and_laid_out_left_to_right():
    p, t = lg.input("p", ("N",)), lg.input("t", ("N",))
    f = lg.where(p > t, t - p, lg.square(p))
    dot = lg.draw(f)
    assert "ordering=in" in dot.source
    ident = {label_of(v).split("\\n")[0]: k for k, v in graph_nodes(dot).items()}
    into = lambda head: [t_ for t_, h, _ in edges(dot) if h == head]  # noqa: E731
    assert into(ident["where"]) == [ident[">"], ident["−"], ident["square"]]
    assert into(ident["−"]) == [ident["t"], ident["p"]]
    if HAVE_DOT:
        pos = positions(dot)
        xs = [pos[k][0] for k in into(ident["where"])]
        assert xs == sorted(xs), xs
        assert pos[ident["t"]][0] < pos[ident["p"]][0] or \
            pos[into(ident["−"])[0]][0] < pos[into(ident["−"])[1]][0]


def test_labels_name_ops_inputs_constants_and_attrs():
    x = lg.input("x", ("N", 3), "float32")
    f = lg.sum(lg.cast(x, "float64") + 2.5, axis=1) * lg.constant(7, "int64")
    labels = [label_of(v) for v in graph_nodes(lg.draw(f)).values()]
    assert r"x\n(N, 3) float32" in labels and "2.5" in labels and "7 : int64" in labels
    assert "sum axis=1" in labels and "cast dtype=float64" in labels
    assert "+" in labels and "×" in labels
    p = lg.input("p", ("N",))
    assert "size N" in [label_of(v) for v in node_lines(lg.draw(lg.mean(p))).values()]
    neg = [label_of(v) for v in graph_nodes(lg.draw(-p)).values()]
    assert "negative" in neg and "-x" not in neg
    assert "−" in [label_of(v) for v in graph_nodes(lg.draw(p - 1.0)).values()]


def test_legend_and_title():
    _, _, loss, g = bce()
    dot = lg.draw(loss, g, title="BCE with logits")
    legend = [label_of(v) for k, v in node_lines(dot).items() if k.startswith("legend")]
    assert legend == ["input", "forward op", "gradient op", "constant"]
    assert "cluster_legend" in dot.source and 'label="BCE with logits"' in dot.source
    forward_only = [label_of(v) for k, v in node_lines(lg.draw(loss)).items()
                    if k.startswith("legend")]
    assert "gradient op" not in forward_only
    bare = lg.draw(loss, g, legend=False)
    assert "legend" not in bare.source and "labelloc" not in bare.source


def test_values_overlay():
    x, z, loss, g = bce()
    a = np.array([1.0, -2.0, 3.0])
    b = np.array([1.0, 0.0, 1.0])
    dot = lg.draw(loss, g, values={"logits": a, "z": b})
    labels = graph_nodes(dot)
    want_loss = np.mean(np.log1p(np.exp(a)) - a * b)
    top = [v for v in labels.values() if "penwidth=2" in v]
    assert len(top) == 1 and f"= {want_loss:.4g}" in top[0]
    grad = (1 / (1 + np.exp(-a)) - b) / 3
    shown = "[3] = [" + ", ".join(f"{v:.4g}" for v in grad) + "]"
    out = [v for v in labels.values() if "peripheries=2" in v]
    assert len(out) == 1 and shown in out[0]
    assert "[3] = [1, -2, 3]" in "\n".join(labels.values())
    assert r"size N\n= 3" in "\n".join(labels.values())
    with pytest.raises(lg.InputError, match="missing input 'z'"):
        lg.draw(loss, values={"logits": a})


def test_value_summaries():
    assert viz.summary(np.float64(0.5)) == "= 0.5"
    assert viz.summary(np.array([-0.0, 2.0, 1 / 3])) == "[3] = [0, 2, 0.3333]"
    assert viz.summary(np.array([True, False, True])) == "[3] = [True, False, True]"
    assert viz.summary(np.array([[3, -1]])) == "[1×2] = [3, -1]"
    assert viz.summary(np.zeros((0, 2))) == "[0×2] empty"
    many = np.linspace(-1.0, 2.0, 7)
    assert viz.summary(many) == "[7] min -1 mean 0.5 max 2"
    assert viz.summary(many > 0) == "[7] 4 true"
    assert viz.summary(np.arange(12).reshape(3, 4)) == "[3×4] 0..11"


HOSTILE = ['say "hi"', "<b>bold</b>", "{x}", "back\\slash \\N", "]; n0 -> n1; [", "a\nb"]


@pytest.mark.parametrize("text", HOSTILE)
def test_labels_are_escaped(text, monkeypatch):
    x = lg.input("x")
    monkeypatch.setattr(viz, "op_label", lambda node: [text, "tail"])
    dot = lg.draw(lg.exp(x), labels=[text], title=text)
    assert all(re.fullmatch(r"(n|c|out|legend)\d+", k) for k in node_lines(dot))
    assert len([e for e in edges(dot) if "invis" not in e[2]]) == 2
    for label in graph_nodes(dot).values():          # the legend's fixed words aside
        assert label.startswith('"'), label          # quoted, never an HTML-like <...> label
    if HAVE_DOT:
        svg = dot.pipe(format="svg").decode()
        assert "<b>" not in svg


@needs_dot
def test_render_takes_the_format_from_the_file_name(tmp_path):
    _, _, loss, g = bce()
    dot = lg.draw(loss, g)
    png = lg.render(dot, tmp_path / "out.png")
    assert png == str(tmp_path / "out.png") and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert lg.render(dot, tmp_path / "same.png", format="png") == str(tmp_path / "same.png")
    svg = lg.render(dot, tmp_path / "bce")
    assert svg == str(tmp_path / "bce.svg") and "<svg" in open(svg).read()
    pdf = lg.render(loss, tmp_path / "loss", format="pdf")
    assert pdf.endswith("loss.pdf") and open(pdf, "rb").read(4) == b"%PDF"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bce.svg", "loss.pdf", "out.png",
                                                          "same.png"]
    assert "<svg" in loss._repr_svg_() and ">output<" in loss._repr_svg_()

    @lg.loss
    def mse(p: lg.Float["N"], q: lg.Float["N"]):
        return lg.mean(lg.square(p - q))
    assert ">mse<" in mse._repr_svg_()


def test_render_refuses_a_format_that_disagrees_with_the_name(tmp_path):
    _, _, loss, g = bce()
    with pytest.raises(lg.OptionError, match=r"format='svg'.*ends in \.png"):
        lg.render(lg.draw(loss), tmp_path / "out.png", format="svg")
    with pytest.raises(lg.OptionError, match="format must be one of"):
        lg.render(lg.draw(loss), tmp_path / "out", format="docx")
    assert not list(tmp_path.iterdir())


@needs_dot
def test_a_forty_node_gradient_stays_compact():
    loss, g = cosine()
    pos = positions(lg.draw(loss, g))
    ys = sorted({round(y, 2) for _, y in pos.values()})
    assert len(ys) <= 20           # ranks: depth of the graph, not one rank per constant


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
