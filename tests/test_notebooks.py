"""The notebooks of docs/notebooks/ run top to bottom, in one shared kernel, and their numbers
are right: each notebook asserts its own, and its cell tagged "result" prints a JSON line that
is checked here against references computed independently with plain NumPy."""
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from .lazy import lazy

nbformat = lazy("nbformat")
nbclient = lazy("nbclient")
jupyter_manager = lazy("jupyter_client.manager")          # installed with nbclient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "docs" / "notebooks"


@pytest.fixture(scope="module")
def kernel():
    for name in ("ipykernel", "matplotlib"):          # the notebooks' kernel and plots
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed")
    km = jupyter_manager.KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(NOTEBOOKS))
    yield km
    km.shutdown_kernel(now=True)


def run(kernel, name):
    """Executes one notebook in the shared kernel (its namespace reset first); returns the
    executed cells and the parsed JSON of the cell tagged "result"."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("%reset -f"))
    nbclient.NotebookClient(nb, km=kernel, timeout=120, allow_errors=False).execute()
    cells = nb.cells[1:]
    (result,) = [c for c in cells if "result" in c.metadata.get("tags", [])]
    text = "".join(o.get("text", "") for o in result.outputs if o.output_type == "stream")
    return cells, json.loads(text.strip().splitlines()[-1])


def mimetypes(cells):
    return {m for c in cells if c.cell_type == "code" for o in c.outputs
            for m in o.get("data", {})}


def test_custom_loss_gradient(kernel):
    cells, r = run(kernel, "01_custom_loss_gradient.ipynb")
    x, z, lam = np.array(r["x"]), np.array(r["z"]), r["lam"]
    value = np.mean(z * np.logaddexp(0, -x) + (1 - z) * np.logaddexp(0, x)) + lam * np.mean(x * x)
    grad = (1 / (1 + np.exp(-x)) - z) / len(x) + 2 * lam * x / len(x)
    assert np.isclose(r["value"], value, rtol=1e-13)
    assert np.allclose(r["grad"], grad, rtol=1e-12, atol=1e-15)
    assert r["fd_error"] < 1e-8
    assert "text/latex" in mimetypes(cells)
    if shutil.which("dot"):                  # the drawing needs graphviz's dot to render
        assert "image/svg+xml" in mimetypes(cells)


def test_stability(kernel):
    cells, r = run(kernel, "02_stability.ipynb")
    lo, hi, n = r["grid"]
    grid = np.linspace(lo, hi, n)
    overflow = np.log(np.finfo(np.float64).max)       # exp(x) is inf past this
    assert r["naive_nonfinite"] == np.sum(grid > overflow)
    assert r["naive_grad_nan"] == np.sum(grid > overflow)
    assert r["stable_value_last"] == hi and r["stable_grad_last"] == 1.0
    assert r["stable_value_first"] == np.log1p(np.exp(lo))
    assert np.allclose(r["lse_rows"], [1000 + np.log(2), -1000 + np.log(2), np.logaddexp(0, 1)])
    assert "image/png" in mimetypes(cells)                          # the matplotlib plot


def _bce(p, z, eps):
    return -(z * np.log(p + eps) + (1 - z) * np.log(1 - p + eps))


def test_five_libraries(kernel):
    _, r = run(kernel, "03_five_libraries.ipynb")
    p, z = np.array(r["p"]), np.array(r["z"])
    x = np.log(p) - np.log1p(-p)
    clipped = np.clip(p, 1e-7, 1 - 1e-7)
    expected = {"TensorLayer": np.mean(_bce(p, z, 1e-8)), "TF contrib": np.mean(_bce(p, z, 1e-7)),
                "MXNet Gluon": np.mean(_bce(p, z, 1e-12)),
                "TFLearn": np.mean(np.logaddexp(0, x) - x * z),
                "Axon": np.mean(_bce(clipped, z, 1e-7))}
    for lib, v in expected.items():
        assert np.isclose(r["means"][lib], v, rtol=1e-12), lib
    pe, ze, le = np.array([1.0, 0.5]), np.array([0.0, 1.0]), np.array([40.0, 0.0])
    edge = {"TensorLayer": np.mean(_bce(pe, ze, 1e-8)), "TF contrib": np.mean(_bce(pe, ze, 1e-7)),
            "MXNet Gluon": np.mean(_bce(pe, ze, 1e-12)),
            "TFLearn": np.mean(np.logaddexp(0, le) - le * ze),
            "Axon": np.mean(_bce(np.clip(pe, 1e-7, 1 - 1e-7), ze, 1e-7))}
    for lib, v in edge.items():
        assert np.isclose(r["edge"][lib], v, rtol=1e-9), lib


def test_formula_to_kernel(kernel):
    import codegen
    cells, r = run(kernel, "04_formula_to_kernel.ipynb")
    rng = np.random.default_rng(0)
    a = rng.normal(size=(r["N"], r["C"]))
    b = rng.integers(0, r["C"], size=r["N"])
    m = a.max(axis=1)
    value = np.mean(m + np.log(np.exp(a - m[:, None]).sum(axis=1)) - a[np.arange(len(b)), b])
    assert np.isclose(r["value"], value, rtol=1e-13)
    assert r["has_llvm"] == ("llvm" in codegen.BACKENDS)
    expected = {"lossgraph numpy", "hand NumPy"} | ({"lossgraph llvm"} if r["has_llvm"] else set())
    expected |= {n for n, mod in (("PyTorch eager", "torch"), ("JAX jit", "jax"))
                 if importlib.util.find_spec(mod)}
    assert set(r["contestants"]) == expected
    assert max(r["agree"].values()) < 1e-12
    assert "image/png" in mimetypes(cells)


def test_second_order(kernel):
    _, r = run(kernel, "05_second_order.ipynb")
    N, D = r["N"], r["D"]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D))
    z = (rng.random(N) < 1 / (1 + np.exp(-X @ np.array(r["w_true"])))).astype(np.float64)

    def hessian(w):
        s = 1 / (1 + np.exp(-X @ w))
        return X.T @ (X * (s * (1 - s))[:, None]) / N

    assert np.allclose(r["hv"], hessian(np.zeros(D)) @ np.array(r["v"]), rtol=1e-12)
    w = np.zeros(D)
    for _ in range(20):                    # Newton with the textbook gradient and Hessian
        w -= np.linalg.solve(hessian(w), X.T @ (1 / (1 + np.exp(-X @ w)) - z) / N)
    assert np.allclose(r["w"], w, rtol=1e-10, atol=1e-12)
    assert r["norms"][-1] < 1e-12


def test_committed_notebooks_are_what_the_generator_writes():
    import importlib.util as iu
    spec = iu.spec_from_file_location("make_notebooks", NOTEBOOKS / "make_notebooks.py")
    gen = iu.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert sorted(gen.NOTEBOOKS) == sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    for name, cells in gen.NOTEBOOKS.items():
        committed = nbformat.read(NOTEBOOKS / name, as_version=4)
        assert [c.source for c in committed.cells] == [c.source for c in cells], name
