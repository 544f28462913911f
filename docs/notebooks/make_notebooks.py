"""Writes the five notebooks of docs/notebooks/ (without outputs) from the cells below.

    python docs/notebooks/make_notebooks.py

The .ipynb files are committed; this script is their source, so edit here and rerun. Each
notebook asserts its own numbers and ends with a cell tagged "result" that prints one JSON
line, which tests/test_notebooks.py reads and checks against references of its own.
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def md(text):
    return new_markdown_cell(text.strip("\n"))


def code(text, tags=()):
    cell = new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


NB1 = [
    md("""
# 1. A custom loss's gradient, step by step

We declare a loss that is not in any library, derive its gradient, simplify it, print it as
LaTeX, draw the forward and backward graphs with values, and check the gradient against
central finite differences in float64.

The loss: binary cross-entropy on logits written the naive way, plus an L2 pull of the logits
towards zero,
$$L(x, z) = \\frac{1}{N}\\sum_i -\\big(z_i \\log\\sigma(x_i) + (1 - z_i)\\log(1 - \\sigma(x_i))\\big)
+ \\frac{\\lambda}{N}\\sum_i x_i^2 .$$
"""),
    code("""
import json
import numpy as np
from IPython.display import Math, display
import lossgraph as lg

x = lg.input("x", shape=("N",))          # logits
z = lg.input("z", shape=("N",))          # 0/1 targets
lam = 0.1
loss = lg.mean(-(z * lg.log(lg.sigmoid(x)) + (1 - z) * lg.log(1 - lg.sigmoid(x)))) \\
    + lam * lg.mean(lg.square(x))
print(loss)
"""),
    md("""
## Derive

`lg.gradients(loss, [x], simplify=False)` is the literal reverse-mode derivation of the formula
as written: correct, but it reads like the chain rule applied node by node. The default
(`simplify=True`) first stabilizes the loss and then simplifies the gradient.
"""),
    code("""
(literal,) = lg.gradients(loss, [x], simplify=False)
(g,) = lg.gradients(loss, [x])
print("literal:   ", literal)
print("simplified:", g)
"""),
    md("""
## Simplify and explain

`lg.explain` lists the rewrites that change the formula: the two `log(sigmoid)` terms become
softplus, which stays finite for any logit.
"""),
    code("""
print(lg.explain(loss))
"""),
    md("## LaTeX"),
    code("""
display(Math(lg.latex(lg.simplify(loss))))
display(Math(r"\\frac{\\partial L}{\\partial x} = " + lg.latex(g)))
"""),
    md("""
## Draw, with values

The forward graph (solid edges) and the gradient (dashed edges); with `values`, every node
shows its value for these inputs.
"""),
    code("""
import shutil
xa = np.array([-2.0, 0.5, 3.0])
za = np.array([0.0, 1.0, 1.0])
drawing = lg.draw(lg.simplify(loss), g, labels=["loss", "dL/dx"], values={"x": xa, "z": za})
if shutil.which("dot"):
    display(drawing)         # rendered by graphviz's dot, inline as SVG
else:
    print("graphviz's `dot` is not installed (apt-get install graphviz / brew install graphviz);"
          " the DOT source instead:\\n" + drawing.source[:600])
"""),
    md("""
## Check against finite differences

Central differences $\\big(L(x + h e_i) - L(x - h e_i)\\big) / 2h$ in float64 with
$h = 10^{-6}$, on random inputs, against the derived gradient.
"""),
    code("""
rng = np.random.default_rng(0)
xa = rng.normal(size=7) * 3
za = (rng.random(7) > 0.5).astype(np.float64)
value, grad = lg.evaluate([loss, g], x=xa, z=za)

def L(v):
    return lg.evaluate(loss, x=v, z=za)

h = 1e-6
fd = np.array([(L(xa + h * e) - L(xa - h * e)) / (2 * h) for e in np.eye(len(xa))])
err = np.max(np.abs(fd - grad))
print("max |finite difference - gradient| =", err)
assert err < 1e-8
"""),
    md("""
The simplified gradient is also the textbook one, $(\\sigma(x) - z)/N + 2\\lambda x/N$:
"""),
    code("""
sig = 1 / (1 + np.exp(-xa))
textbook = (sig - za) / len(xa) + 2 * lam * xa / len(xa)
assert np.allclose(grad, textbook, rtol=1e-12, atol=1e-15)
"""),
    md("""
## Declare it once

`@lg.loss` turns the formula into a named, typed loss: it evaluates arrays and hands out its
gradients by input name.
"""),
    code("""
@lg.loss
def bce_l2(x: lg.Float["N"], z: lg.Float["N"]):
    return lg.mean(-(z * lg.log(lg.sigmoid(x)) + (1 - z) * lg.log(1 - lg.sigmoid(x)))) \\
        + 0.1 * lg.mean(lg.square(x))

print(bce_l2.gradients("x"))
v2, grads2 = bce_l2.value_and_grad(xa, za, wrt="x")
assert np.isclose(v2, value) and np.allclose(grads2["x"], grad)
"""),
    code("""
print(json.dumps({"x": xa.tolist(), "z": za.tolist(), "lam": lam, "value": float(value),
                  "grad": np.asarray(grad).tolist(), "fd_error": float(err)}))
""", tags=["result"]),
]

NB2 = [
    md("""
# 2. Why log-sum-exp and softplus

Two formulas every loss library needs, written the way the textbook does, overflow long before
their values do: $\\log(1 + e^x)$ is about $x$ for large $x$, and $\\log\\sum_j e^{x_j}$ is about
$\\max_j x_j$. `lg.evaluate` computes a graph literally, so we can watch the naive formulas
fail, and `lg.simplify` (which everything that hands out numbers or gradients goes through)
shows the fix.
"""),
    code("""
import json
import numpy as np
import matplotlib
import matplotlib.pyplot as plt
import lossgraph as lg

x = lg.input("x", shape=("N",))
naive_softplus = lg.log(1 + lg.exp(x))
xs = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
with np.errstate(over="ignore"):
    print("naive :", lg.evaluate(naive_softplus, x=xs))
print("stable:", lg.evaluate(lg.simplify(naive_softplus), x=xs))
"""),
    md("""
`lg.explain` says what was rewritten, and why it helps: `softplus(x)` is computed as
$\\max(x, 0) + \\log(1 + e^{-|x|})$, whose exponential never exceeds 1.
"""),
    code("""
print(lg.explain(naive_softplus))
"""),
    md("""
## log-sum-exp

The same for $\\log\\sum_j e^{x_{ij}}$ over the rows of a matrix: the rewrite gives `logsumexp`,
computed as $m + \\log\\sum_j e^{x_{ij} - m}$ with $m = \\max_j x_{ij}$.
"""),
    code("""
X = lg.input("X", shape=("N", "C"))
naive_lse = lg.log(lg.sum(lg.exp(X), axis=1))
print(lg.explain(naive_lse))
Xa = np.array([[1000.0, 1000.0], [-1000.0, -1000.0], [0.0, 1.0]])
with np.errstate(over="ignore", divide="ignore"):
    naive_rows = lg.evaluate(naive_lse, X=Xa)
stable_rows = lg.evaluate(lg.simplify(naive_lse), X=Xa)
print("naive :", naive_rows)
print("stable:", stable_rows)
assert not np.isfinite(naive_rows[:2]).any()
assert np.allclose(stable_rows, [1000 + np.log(2), -1000 + np.log(2), np.log(1 + np.e)])
"""),
    md("""
## Every stability rewrite on one loss

Binary cross-entropy through probabilities, $-\\big(z\\log\\sigma(p) + (1 - z)\\log(1 - \\sigma(p))\\big)$,
needs three rewrites: $1 - \\sigma(p) = \\sigma(-p)$, then each $\\log\\sigma$ becomes a softplus.
"""),
    code("""
z = lg.input("z", shape=("N",))
p = lg.input("p", shape=("N",))
naive_bce = lg.mean(-(z * lg.log(lg.sigmoid(p)) + (1 - z) * lg.log(1 - lg.sigmoid(p))))
print(lg.explain(naive_bce))
"""),
    md("""
## Values and gradients, naive vs stable

The gradient of the literal derivation of $\\log(1 + e^x)$ is $e^x / (1 + e^x)$: for large $x$
that is $\\infty / \\infty$, NaN. The stable graph's gradient is $\\sigma(x)$.
"""),
    code("""
grid = np.linspace(-750.0, 750.0, 601)
s = lg.sum(naive_softplus)
(naive_grad,) = lg.gradients(s, [x], simplify=False)     # literal reverse mode
(stable_grad,) = lg.gradients(s, [x])                     # stabilized, then derived
print("naive gradient: ", naive_grad)
print("stable gradient:", stable_grad)
with np.errstate(over="ignore", invalid="ignore"):
    nv, ng = lg.evaluate([naive_softplus, naive_grad], x=grid)
sv, sg = lg.evaluate([lg.simplify(naive_softplus), stable_grad], x=grid)

fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.5))
a1.plot(grid, sv, lw=4, alpha=0.4, label="stable softplus(x)")
a1.plot(grid, np.where(np.isfinite(nv), nv, np.nan), "k--", label="naive log(1 + exp(x))")
a1.set_title("value (naive overflows to inf past x = 709)"); a1.set_xlabel("x"); a1.legend()
a2.plot(grid, sg, lw=4, alpha=0.4, label="stable: sigmoid(x)")
a2.plot(grid, np.where(np.isfinite(ng), ng, np.nan), "k--", label="naive: exp(x) / (1 + exp(x))")
a2.set_title("gradient (naive is NaN past x = 709)"); a2.set_xlabel("x"); a2.legend()
plt.show()

naive_bad = int((~np.isfinite(nv)).sum())
naive_grad_nan = int(np.isnan(ng).sum())
print(naive_bad, "naive values and", naive_grad_nan, "naive gradients are not finite")
assert np.isfinite(sv).all() and np.isfinite(sg).all()
assert naive_bad > 0 and naive_grad_nan > 0
"""),
    code("""
print(json.dumps({"grid": [float(grid[0]), float(grid[-1]), len(grid)],
                  "stable_value_last": float(sv[-1]), "stable_grad_last": float(sg[-1]),
                  "stable_value_first": float(sv[0]),
                  "naive_nonfinite": naive_bad, "naive_grad_nan": naive_grad_nan,
                  "lse_rows": stable_rows.tolist()}))
""", tags=["result"]),
]

NB3 = [
    md("""
# 3. One loss, five libraries

Binary cross-entropy as TensorLayer, TensorFlow contrib, MXNet Gluon, TFLearn and Axon spell it.
The same mathematics, five sets of conventions: which argument comes first, whether the
prediction is a probability or a logit, which epsilon goes where, and how the per-element
losses are reduced. The zoo reproduces each one (see *How each library's conventions map*).
"""),
    code("""
import json
import numpy as np
from IPython.display import Markdown, display
import zoo

rng = np.random.default_rng(0)
p = rng.uniform(0.05, 0.95, size=(6, 1))                 # probabilities, [batch, 1]
z = (rng.random((6, 1)) > 0.5).astype(np.float64)        # 0/1 labels
logits = np.log(p) - np.log1p(-p)                        # the same predictions as logits

calls = [
    ("TensorLayer", "binary_cross_entropy(output, target, epsilon=1e-8)", "probabilities",
     "1e-8 inside the logs", "sum over axis 1, mean of the rest",
     zoo.tensorlayer.binary_cross_entropy(p, z)),
    ("TF contrib", "log_loss(predictions, labels, weights=1.0, epsilon=1e-7)", "probabilities",
     "1e-7 inside the logs", "mean over non-zero weights",
     zoo.tf.log_loss(p, z)),
    ("MXNet Gluon", "SigmoidBCELoss(from_sigmoid=True)(pred, label)", "probabilities",
     "1e-12 inside the logs", "per sample (mean over non-batch axes)",
     zoo.mxnet.SigmoidBCELoss(from_sigmoid=True)(p, z)),
    ("TFLearn", "binary_crossentropy(y_pred, y_true)", "logits (despite the name)",
     "none", "mean over everything",
     zoo.tflearn.binary_crossentropy(logits, z)),
    ("Axon", "binary_cross_entropy(y_true, y_pred, reduction: :none)", "probabilities",
     "clip to [1e-7, 1 - 1e-7], and 1e-7 inside the logs", "none by default (mean of the last axis)",
     zoo.axon.binary_cross_entropy(z, p)),
]
rows = ["| library | call | prediction | epsilon | reduction | shape out | value |",
        "| --- | --- | --- | --- | --- | --- | --- |"]
for lib, call, kind, eps, red, out in calls:
    out = np.asarray(out)
    shown = f"{float(out):.6f}" if out.ndim == 0 else "per sample, mean " + f"{out.mean():.6f}"
    rows.append(f"| {lib} | `{call}` | {kind} | {eps} | {red} | {out.shape} | {shown} |")
display(Markdown("\\n".join(rows)))
"""),
    md("""
Reduced to one number, all five agree with the textbook
$\\frac{1}{N}\\sum_i -\\big(z_i\\log p_i + (1 - z_i)\\log(1 - p_i)\\big)$ up to their epsilons:
"""),
    code("""
textbook = float(np.mean(-(z * np.log(p) + (1 - z) * np.log1p(-p))))
means = {lib: float(np.mean(out)) for lib, _, _, _, _, out in calls}
for lib, v in means.items():
    print(f"{lib:12s} {v:.12f}   differs from the textbook by {abs(v - textbook):.1e}")
    assert abs(v - textbook) < 1e-6
"""),
    md("""
## Where the conventions part: a confident wrong prediction

At $p = 1$ for a label 0 the true loss is infinite; each library's epsilon decides which finite
number it reports instead, and TFLearn (on logits) reports the exact cross-entropy of a very
large logit.
"""),
    code("""
pe = np.array([[1.0], [0.5]])
ze = np.array([[0.0], [1.0]])
le = np.array([[40.0], [0.0]])
edge = {
    "TensorLayer": float(np.asarray(zoo.tensorlayer.binary_cross_entropy(pe, ze))),
    "TF contrib": float(np.asarray(zoo.tf.log_loss(pe, ze))),
    "MXNet Gluon": float(np.mean(zoo.mxnet.SigmoidBCELoss(from_sigmoid=True)(pe, ze))),
    "TFLearn": float(np.asarray(zoo.tflearn.binary_crossentropy(le, ze))),
    "Axon": float(np.mean(zoo.axon.binary_cross_entropy(ze, pe))),
}
for lib, v in edge.items():
    print(f"{lib:12s} {v:.6f}")
assert all(np.isfinite(v) for v in edge.values())
assert len({round(v, 3) for v in edge.values()}) >= 3     # the epsilons really differ
"""),
    md("""
## The same canonical graph underneath

Each flavour maps onto one loss of `zoo.losses`; on nodes, a flavour returns a graph, so its
gradient is derived like any other.
"""),
    code("""
import lossgraph as lg
xn = lg.input("x", shape=("N", 1))
zn = lg.input("z", shape=("N", 1))
node = zoo.tflearn.binary_crossentropy(xn, zn)
print(node)
print(lg.gradients(node, [xn])[0])
"""),
    code("""
print(json.dumps({"p": p.ravel().tolist(), "z": z.ravel().tolist(), "means": means,
                  "edge": edge}))
""", tags=["result"]),
]

NB4 = [
    md("""
# 4. From formula to fast kernel

`codegen.compile` turns a loss and its gradients into one function of arrays. The NumPy
backend writes a readable standalone module; the LLVM backend (`backend="llvm"`) compiles
fused loops with llvmlite. Here: softmax cross-entropy, its generated code, and timings
against hand-written NumPy, PyTorch and JAX when they are installed. The sizes are small so
this notebook runs in the test suite; `python -m benchmarks.losses` is the real benchmark.
"""),
    code("""
import json
import importlib.util
import timeit
import numpy as np
import matplotlib.pyplot as plt
import lossgraph as lg
import codegen

X = lg.input("logits", shape=("N", "C"))
y = lg.input("labels", shape=("N",), dtype="int64")
loss = lg.mean(lg.logsumexp(X, axis=1) - lg.pick(X, y, axis=1))
k = codegen.compile(loss, wrt=[X])
print(k.source)
"""),
    md("""
## The LLVM IR

When the `llvm` backend is registered, the same loss compiles to LLVM IR (printed here in
part); otherwise the notebook says so and times the NumPy backend alone.
"""),
    code("""
has_llvm = "llvm" in codegen.BACKENDS
if has_llvm:
    kl = codegen.compile(loss, wrt=[X], backend="llvm")
    ir = kl.llvm_ir
    lines = ir.splitlines()
    print(f"{len(lines)} lines of LLVM IR; the first 40:")
    print("\\n".join(lines[:40]))
else:
    kl = None
    print("the llvm backend is not registered in this installation: NumPy backend only")
"""),
    md("## Every kernel agrees with the reference evaluator"),
    code("""
rng = np.random.default_rng(0)
N, C = 2000, 10
a = rng.normal(size=(N, C))
b = rng.integers(0, C, size=N)
ref_value, ref_grad = lg.evaluate([loss, lg.gradients(loss, [X])[0]], logits=a, labels=b)

def hand_numpy(a, b):
    m = a.max(axis=1, keepdims=True)
    e = np.exp(a - m)
    s = e.sum(axis=1, keepdims=True)
    value = np.mean(np.log(s[:, 0]) + m[:, 0] - a[np.arange(len(b)), b])
    g = e / s
    g[np.arange(len(b)), b] -= 1
    return value, g / len(b)

contestants = {"lossgraph numpy": lambda: k(a, b), "hand NumPy": lambda: hand_numpy(a, b)}
if kl is not None:
    contestants["lossgraph llvm"] = lambda: kl(a, b)
if importlib.util.find_spec("torch"):
    import torch
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    def torch_vg():
        t = ta.clone().requires_grad_(True)
        v = torch.nn.functional.cross_entropy(t, tb)
        v.backward()
        return v.item(), t.grad.numpy()
    contestants["PyTorch eager"] = torch_vg
if importlib.util.find_spec("jax"):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    jvg = jax.jit(jax.value_and_grad(
        lambda t, l: jnp.mean(jax.nn.logsumexp(t, axis=1) - jnp.take_along_axis(t, l[:, None], 1)[:, 0])))
    ja, jb = jnp.asarray(a), jnp.asarray(b)
    contestants["JAX jit"] = lambda: jax.block_until_ready(jvg(ja, jb))

agree = {}
for name, f in contestants.items():
    value, grad = f()
    grad = np.asarray(grad[0] if isinstance(grad, (tuple, list)) else grad)
    agree[name] = float(max(abs(float(value) - ref_value), np.max(np.abs(grad - ref_grad))))
    print(f"{name:16s} max difference from lg.evaluate: {agree[name]:.1e}")
    assert agree[name] < 1e-12
"""),
    md("""
## Timings

The best of a few repetitions per contestant, as the ratio to hand-written NumPy, measured in
this one run (no numbers are asserted: speed depends on the machine).
"""),
    code("""
best = {}
for name, f in contestants.items():
    f()
    best[name] = min(timeit.repeat(f, number=5, repeat=5)) / 5
base = best["hand NumPy"]
for name, t in best.items():
    print(f"{name:16s} {t * 1e6:9.1f} us   {t / base:5.2f}x hand NumPy")
fig, ax = plt.subplots(figsize=(7, 3))
ax.barh(list(best), [t / base for t in best.values()])
ax.axvline(1.0, color="k", lw=0.8)
ax.set_xlabel(f"time / hand NumPy (softmax CE loss + gradient, N={N}, C={C}, float64)")
plt.show()
"""),
    code("""
print(json.dumps({"N": N, "C": C, "value": float(ref_value), "has_llvm": has_llvm,
                  "contestants": sorted(contestants), "agree": agree}))
""", tags=["result"]),
]

NB5 = [
    md("""
# 5. Second order: Hessian-vector products and Newton's method

Derived gradients are graphs, so they can be differentiated again. `lg.hvp(f, primals,
tangents)` returns $H v$ without forming $H$. For logistic regression,
$$L(w) = \\frac{1}{N}\\sum_i \\operatorname{softplus}(x_i^\\top w) - z_i\\, x_i^\\top w, \\qquad
\\nabla L = \\frac{1}{N} X^\\top(\\sigma(Xw) - z), \\qquad
H = \\frac{1}{N} X^\\top \\operatorname{diag}\\big(\\sigma(Xw)(1 - \\sigma(Xw))\\big) X .$$
"""),
    code("""
import json
import numpy as np
import lossgraph as lg

rng = np.random.default_rng(0)
N, D = 200, 3
Xa = rng.normal(size=(N, D))
w_true = np.array([1.5, -2.0, 0.5])
za = (rng.random(N) < 1 / (1 + np.exp(-Xa @ w_true))).astype(np.float64)

def L(w, X=lg.constant(Xa), z=lg.constant(za)):
    s = X @ w
    return lg.mean(lg.softplus(s) - z * s)

W = lg.input("w", shape=(D,))
Xn, zn = lg.input("X", shape=("N", D)), lg.input("z", shape=("N",))
(g,) = lg.gradients(L(W, Xn, zn), [W])
print("gradient:", g)
"""),
    md("## Hessian-vector products, checked two ways"),
    code("""
w0 = np.zeros(D)
v = np.array([1.0, 2.0, -1.0])
(hv,) = lg.hvp(L, (w0,), (v,))
sig = 1 / (1 + np.exp(-Xa @ w0))
H_formula = Xa.T @ (Xa * (sig * (1 - sig))[:, None]) / N
print("H v            :", hv)
print("formula        :", H_formula @ v)
grad = lambda w: lg.evaluate(g, w=w, X=Xa, z=za)
h = 1e-6
fd = (grad(w0 + h * v) - grad(w0 - h * v)) / (2 * h)
print("finite diff    :", fd)
assert np.allclose(hv, H_formula @ v, rtol=1e-12, atol=1e-14)
assert np.allclose(hv, fd, rtol=1e-7, atol=1e-9)
"""),
    md("""
## Newton's method from derived graphs

The Hessian is assembled from $D$ Hessian-vector products (one per basis vector), and each step
solves $H\\,\\Delta = \\nabla L$. Newton converges quadratically: the gradient norm roughly squares
each step.
"""),
    code("""
w = np.zeros(D)
norms = []
for step in range(8):
    gw = grad(w)
    norms.append(float(np.linalg.norm(gw)))
    H = np.column_stack([lg.hvp(L, (w,), (e,))[0] for e in np.eye(D)])
    w = w - np.linalg.solve(H, gw)
for i, n in enumerate(norms):
    print(f"step {i}: |grad| = {n:.3e}")
assert norms[-1] < 1e-12 and norms[3] < norms[2] ** 1.5
print("w =", w)
"""),
    code("""
print(json.dumps({"N": N, "D": D, "w_true": w_true.tolist(), "w": w.tolist(), "v": v.tolist(),
                  "hv": np.asarray(hv).tolist(), "norms": norms}))
""", tags=["result"]),
]

NOTEBOOKS = {
    "01_custom_loss_gradient.ipynb": NB1,
    "02_stability.ipynb": NB2,
    "03_five_libraries.ipynb": NB3,
    "04_formula_to_kernel.ipynb": NB4,
    "05_second_order.ipynb": NB5,
}


def main():
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=cells, metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"}})
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    main()
