"""The `lossgraph` command: --version, the tour, list/show/catalog, and (below) LOSS in all its
forms, draw, codegen and bench, run in-process through main([...])."""
import subprocess
import sys

import numpy as np
import pytest

import lossgraph as lg
from lossgraph.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"lossgraph {lg.__version__}"


def test_tour_walks_through_every_step(tmp_path, capsys):
    assert main(["tour", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for step in range(1, 10):
        assert f"== {step}." in out
    assert "log-sigmoid" in out                       # explain shows the stability rewrite
    assert "((1 - targets) * sigmoid(logits) - w * targets * sigmoid(-logits)) / N" in out
    assert "round trip gives the same graph: True" in out
    assert (tmp_path / "loss.gv").read_text().startswith("digraph")


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "lossgraph.cli", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.startswith("lossgraph ")


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "tour" in capsys.readouterr().out


def test_list_and_show(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "sparse_softmax_cross_entropy" in out and "tf.sparse_softmax_cross_entropy" in out
    assert main(["show", "sparse_softmax_cross_entropy"]) == 0
    assert "d sum / d logits: softmax(logits) - one_hot(labels, C)" in capsys.readouterr().out
    assert main(["show", "no_such_loss"]) == 2


def test_docs_catalogue_is_current(capsys):
    """docs/zoo-catalog.md is `lossgraph catalog`'s output: regenerate it when losses change."""
    from pathlib import Path
    assert main(["catalog"]) == 0
    doc = Path(__file__).resolve().parents[1] / "docs" / "zoo-catalog.md"
    assert doc.read_text() == capsys.readouterr().out


# --- `show` for every name `list` prints, names in any spelling, exit codes, help

def listed_names(capsys):
    """(canonical names, flavour-qualified names) as `lossgraph list` prints them."""
    assert main(["list"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines()[:-2] if line.strip()]
    canonical = [row.split()[0] for row in rows]
    qualified = [f for row in rows for f in row[47:].split(", ") if f != "-"]
    return canonical, qualified


def test_show_every_name_that_list_prints_and_its_graph_line_is_simplified(capsys):
    import inspect

    import zoo
    from zoo import inventory
    canonical, qualified = listed_names(capsys)
    assert canonical == sorted(inventory.canonical_names()) and "l2" in canonical
    assert "tf.log_loss" in qualified
    differs = 0
    for name in canonical:
        fn = getattr(zoo.losses, name)
        inputs = inventory.sample_inputs(name, fn)
        extra = {"reduction": "sum"} if "reduction" in inspect.signature(fn).parameters else {}
        built = fn(**inputs, **extra)
        assert main(["show", name]) == 0, name
        out, err = capsys.readouterr()
        assert err == "" and f"\n  graph    : {lg.simplify(built)}\n" in out, name
        differs += str(built) != str(lg.simplify(built))
    assert differs > 0          # the check can tell a simplified graph from a literal one

def test_show_every_library_name_that_list_prints(capsys, monkeypatch):
    """Each flavour-qualified name shows exactly the losses whose `list` row names it (the
    entries themselves are printed as above; recording them keeps this test fast)."""
    import lossgraph.cli.zoo_names as cli
    assert main(["list"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines()[:-2] if line.strip()]
    expected = {}
    for row in rows:
        for f in row[47:].split(", "):
            if f != "-":
                expected.setdefault(f, set()).add(row.split()[0])
    shown = []
    monkeypatch.setattr(cli, "show_entry", lambda entry: shown.append(entry.name))
    for name, losses in expected.items():
        shown.clear()
        assert main(["show", name]) == 0, name
        assert set(shown) == losses, name
    capsys.readouterr()


@pytest.mark.parametrize("spelling, canonical", [
    ("Huber", "huber"), ("HUBER", "huber"), ("smooth-l1", "smooth_l1"),
    ("tf.log_loss", "log_loss"), ("TF.LOG_LOSS", "log_loss"), ("zoo.tf.log_loss", "log_loss"),
    ("mxnet.HuberLoss", "smooth_l1"), ("SoftmaxCELoss", "softmax_cross_entropy"),
    ("mse", "squared_error"), ("MSE", "squared_error"), ("mae", "absolute_error"),
    ("bce", "binary_cross_entropy"), ("ce", "softmax_cross_entropy"), ("kl", "kl_divergence"),
    ("pinball", "quantile"), ("zoo.losses.focal", "focal"),
])
def test_show_accepts_qualified_names_aliases_and_any_case(spelling, canonical, capsys):
    assert main(["show", spelling]) == 0
    out = capsys.readouterr().out
    assert f"\n{canonical} (" in "\n" + out


def test_a_library_name_for_several_losses_shows_each(capsys):
    assert main(["show", "mxnet.SoftmaxCELoss"]) == 0
    out = capsys.readouterr().out
    assert "stands for 2 zoo losses" in out
    assert "\nsoftmax_cross_entropy (" in out and "\nsparse_softmax_cross_entropy (" in out


def test_unknown_name_suggests_close_names_on_stderr_with_usage_code(capsys):
    assert main(["show", "hubr"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "no loss named 'hubr'; did you mean huber" in err
    assert main(["show", "tf.log_los"]) == 2
    assert "tf.log_loss" in capsys.readouterr().err
    assert main(["show", "qqqqqqq"]) == 2
    err = capsys.readouterr().err
    assert "did you mean" not in err and "`lossgraph list`" in err
    assert main(["show", "x" * 10_000]) == 2
    assert len(capsys.readouterr().err) < 300


def test_usage_errors_exit_2(capsys):
    for argv in (["bogus"], ["show"], ["list", "--nope"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        assert "usage:" in capsys.readouterr().err


def test_a_lossgraph_error_exits_1_on_stderr_without_traceback(capsys, monkeypatch):
    import lossgraph.cli.zoo_names as cli

    def broken(entry):
        raise lg.ShapeError("labels has shape (3,) but logits has 4 rows")
    monkeypatch.setattr(cli, "show_entry", broken)
    assert main(["show", "huber"]) == 1
    out, err = capsys.readouterr()
    assert err == "lossgraph show: ShapeError: labels has shape (3,) but logits has 4 rows\n"


def test_help_is_for_users_and_says_what_name_is(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "application layer" not in out and "lazily" not in out
    assert "examples:" in out and "lossgraph show tf.log_loss" in out and "exit codes" in out
    with pytest.raises(SystemExit):
        main(["show", "-h"])
    out = capsys.readouterr().out
    assert "LOSS" in out and "lossgraph list" in out and "tf.log_loss" in out and "alias" in out
    assert "module:function" in out and "--input" in out


def test_closed_pipe_ends_quietly():
    """`lossgraph list | head`: the reader leaves before the output is written."""
    proc = subprocess.Popen([sys.executable, "-m", "lossgraph.cli", "list"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                       # closed before lossgraph has printed anything
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err and err == ""


def test_every_alias_names_a_canonical_loss():
    from lossgraph.cli.zoo_names import ALIASES
    from zoo import inventory
    assert set(ALIASES.values()) <= set(inventory.canonical_names())


# --- the tour's code generation step

def test_tour_compiles_with_each_backend_and_checks_against_evaluate(capsys):
    import codegen
    assert main(["tour"]) == 0
    out = capsys.readouterr().out
    step = out[out.index("== 9."):]
    for backend in ("numpy", "llvm"):
        if backend in codegen.BACKENDS:
            assert f"backend={backend!r}): built in" in step
    assert step.count("agrees with lg.evaluate") == len({"numpy", "llvm"} & set(codegen.BACKENDS))
    assert "DIFFERS" not in step and "def loss_and_grad(" in step
    assert "x as fast as lg.evaluate" in step


# --- LOSS as a formula

FORMULA = "mean(log(1 + exp(-y * x)))"


def test_show_a_formula_prints_its_simplified_graph_and_gradients(capsys):
    assert main(["show", FORMULA, "--input", "x:N", "--input", "y:N"]) == 0
    out, err = capsys.readouterr()
    x, y = lg.input("x", shape=("N",)), lg.input("y", shape=("N",))
    built = lg.mean(lg.log(1 + lg.exp(-y * x)))
    loss = lg.Loss([x, y], built)
    assert err == ""
    assert f"\n  graph     : {lg.simplify(built)}\n" in out and "softplus" in out
    assert f"\n  as written: {built}\n" in out
    assert f"\n  d loss / d x: {loss.gradients(['x'])['x']}\n" in out
    assert f"\n  d loss / d y: {loss.gradients(['y'])['y']}\n" in out


def test_show_a_formula_with_shapes_dtypes_and_keywords(capsys):
    assert main(["show", "mean(logsumexp(X, axis=1) - pick(X, y, axis=1))",
                 "-i", "X:N,C", "-i", "y:N:int64"]) == 0
    out = capsys.readouterr().out
    assert "loss(X: float[N, C], y: int64[N])" in out
    assert "d loss / d X: (softmax(X) - one_hot(y, C)) / N" in out and "d loss / d y" not in out


def test_a_malformed_formula_points_at_the_column_and_exits_2(capsys):
    assert main(["show", "mean(log(1 + exp(-y * x))", "-i", "x:N", "-i", "y:N"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == "lossgraph show: FormulaError: expected ')' at column 26"
    assert lines[1] == "  mean(log(1 + exp(-y * x))" and lines[2].index("^") == 27
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, code, words", [
    (["show", "mean(x)"], 2, "declare a formula's inputs with --input"),
    (["show", "mean(z)", "-i", "x:N"], 2, "unknown name 'z'"),
    (["show", "mean(lgits)", "-i", "logits:N"], 2, "did you mean logits?"),
    (["show", "x + y", "-i", "x:N", "-i", "y:M,3"], 1, "ShapeError"),
    (["show", "x", "-i", "x:N:int8"], 2, "dtype must be one of"),
    (["show", "x", "-i", "x:N", "-i", "x:M"], 2, "declared twice"),
    (["show", "__import__('os').system('echo hi')", "-i", "x:N"], 2, "unexpected character"),
    (["draw", "x.__class__", "-i", "x:N", "-o", "x.dot"], 2, "unexpected character '.'"),
    (["codegen", "lambda: 0", "-i", "x:N"], 2, "FormulaError"),
])
def test_bad_formulas_and_inputs(argv, code, words, capsys):
    assert main(argv) == code
    out, err = capsys.readouterr()
    assert words in err and "Traceback" not in err and out == ""


# --- LOSS as module:function

MODULE = '''
import lossgraph as lg

x = lg.input("x", shape=("N",))
t = lg.input("t", shape=("N",))
as_node = lg.mean(lg.square(x - t))
as_loss = lg.Loss([x, t], lg.mean(lg.abs(x - t)), "l1_loss")

def no_arguments():
    return lg.mean(lg.softplus(-x * t))

@lg.loss
def decorated(p: lg.Float["N"], q: lg.Float["N"]):
    return lg.mean(lg.square(p - q))

def annotated(p: lg.Float["N"], q: lg.Float["N"]):
    return lg.mean(lg.square(p - q))

def from_inputs(p, q):
    return lg.mean(lg.maximum(p - q, 0.0))

def broken():
    raise RuntimeError("the builder broke")

def not_a_graph():
    return 42

number = 3
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module in the current directory, under a fresh name (imports are cached)."""
    import uuid
    name = f"user_losses_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    yield name
    sys.modules.pop(name, None)


@pytest.mark.parametrize("attr, extra, graph", [
    ("as_node", [], "sum(square(x - t)) / N"),
    ("as_loss", [], "sum(abs(x - t)) / N"),
    ("no_arguments", [], "sum(softplus(-(x * t))) / N"),
    ("decorated", [], "sum(square(p - q)) / N"),
    ("annotated", [], "sum(square(p - q)) / N"),
    ("from_inputs", ["-i", "p:N", "-i", "q:N"], "sum(maximum(p - q, 0)) / N"),
])
def test_show_module_function_in_each_form_of_the_contract(attr, extra, graph, user_module,
                                                           capsys):
    assert main(["show", f"{user_module}:{attr}", *extra]) == 0
    out, err = capsys.readouterr()
    assert err == "" and f"\n  graph     : {graph}\n" in out


@pytest.mark.parametrize("attr, extra, code, words", [
    ("no_such", [], 2, "has no 'no_such'"),
    ("as_nod", [], 2, "did you mean as_node"),
    ("from_inputs", [], 2, "declare each with --input"),
    ("from_inputs", ["-i", "p:N", "-i", "q:N", "-i", "r:N"], 2, "no parameter of that name"),
    ("broken", [], 1, "raised RuntimeError: the builder broke"),
    ("not_a_graph", [], 2, "is a int; expected an lg.Loss"),
    ("number", [], 2, "is a int"),
])
def test_module_function_errors(attr, extra, code, words, user_module, capsys):
    assert main(["show", f"{user_module}:{attr}", *extra]) == code
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_a_missing_module_is_a_usage_error(capsys):
    assert main(["show", "no_such_module_xyz:f"]) == 2
    assert "no module named 'no_such_module_xyz'" in capsys.readouterr().err


# --- draw

def test_draw_dot_needs_no_graphviz_and_holds_the_gradients_and_values(tmp_path, capsys,
                                                                       monkeypatch):
    from lossgraph.cli.loading import sample_arrays, zoo_loss
    from lossgraph.viz import summary
    monkeypatch.setenv("PATH", str(tmp_path))             # no `dot` program reachable
    out = tmp_path / "huber.dot"
    assert main(["draw", "huber", "-o", str(out), "--grad", "--values", "--title", "Huber"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    text = out.read_text()
    loss = zoo_loss("huber")
    arrays = sample_arrays(loss.inputs)
    value = lg.evaluate(lg.simplify(loss.output), arrays)
    assert text.startswith("digraph") and "Huber" in text
    assert "d huber / d pred" in text and "d huber / d target" in text
    assert summary(value) in text                         # the loss's value is overlaid


def test_draw_without_graphviz_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["draw", "huber", "-o", str(tmp_path / "h.svg")]) == 1
    err = capsys.readouterr().err
    assert "RenderError" in err and "install" in err and "Traceback" not in err
    assert not (tmp_path / "h.svg").exists()


def test_draw_svg_of_a_formula_with_graphviz(tmp_path, capsys):
    import shutil
    if shutil.which("dot") is None:
        pytest.skip("graphviz `dot` is not installed")
    out = tmp_path / "f.svg"
    assert main(["draw", FORMULA, "-i", "x:N", "-i", "y:N", "-o", str(out), "--wrt", "x"]) == 0
    svg = out.read_text()
    assert "<svg" in svg and "d loss / d x" in svg and "d loss / d y" not in svg


@pytest.mark.parametrize("argv, code, words", [
    (["draw", "huber", "-o", "h.txt"], 2, "must end in .svg"),
    (["draw", "mxnet.SoftmaxCELoss", "-o", "h.dot"], 2, "stands for 2 zoo losses"),
    (["draw", "hubr", "-o", "h.dot"], 2, "did you mean huber"),
    (["draw", "huber", "-o", "h.dot", "--wrt", "nope"], 1, "GradientError"),
])
def test_draw_errors(argv, code, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == code
    assert words in capsys.readouterr().err


def test_draw_requires_an_output(capsys):
    with pytest.raises(SystemExit) as e:
        main(["draw", "huber"])
    assert e.value.code == 2 and "-o/--output" in capsys.readouterr().err


# --- codegen

def test_codegen_numpy_prints_the_kernels_source_and_it_runs(capsys):
    import codegen
    import numpy as np
    assert main(["codegen", "bce"]) == 0
    out = capsys.readouterr().out
    from lossgraph.cli.loading import zoo_loss
    loss = zoo_loss("binary_cross_entropy")
    kernel = codegen.compile(loss, wrt=["probs"])
    assert out.splitlines()[0] == f"# {kernel!r}"
    assert out.split("\n", 1)[1].rstrip("\n") == kernel.source.rstrip("\n")
    namespace = {}
    exec(compile(out, "<codegen>", "exec"), namespace)   # the printed source is standalone
    rng = np.random.default_rng(0)
    p, t = rng.uniform(0.1, 0.9, (4, 3)), (rng.random((4, 3)) > 0.5) * 1.0
    value, (grad,) = namespace[kernel.name](p, t)
    expected = loss.value_and_grad(p, t, wrt=["probs"])        # lg.evaluate's numbers
    assert np.isclose(value, expected[0], rtol=1e-12)
    assert np.allclose(grad, expected[1]["probs"], rtol=1e-12)


@pytest.mark.parametrize("flag, words", [
    ("--ir", "define"), ("--optimized-ir", "define"), ("--asm", ".section"), (None, "define"),
])
def test_codegen_llvm_prints_ir_or_assembly(flag, words, capsys):
    import codegen
    if "llvm" not in codegen.BACKENDS:
        pytest.skip("the llvm backend is not registered")
    argv = ["codegen", FORMULA, "-i", "x:N", "-i", "y:N", "--backend", "llvm",
            "--dtype", "float32", "--wrt", "x"]
    assert main(argv + ([flag] if flag else [])) == 0
    out, err = capsys.readouterr()
    assert err == "" and words in out and "backend=llvm, dtype=float32" in out.splitlines()[0]
    assert "; precision float32" in out and "; precision float64" not in out


@pytest.mark.parametrize("argv, code, words", [
    (["codegen", "bce", "--asm"], 2, "the numpy backend produces no machine code"),
    (["codegen", "bce", "--wrt", "nope"], 1, "nope"),
    (["codegen", "ce", "--backend", "cuda"], 2, "invalid choice"),
    (["codegen", "bce", "--ir", "--asm"], 2, "not allowed with"),
])
def test_codegen_errors(argv, code, words, capsys):
    try:
        assert main(argv) == code
    except SystemExit as e:                       # argparse's own usage errors
        assert e.code == code
    assert words in capsys.readouterr().err


# --- bench

def test_bench_maps_zoo_names_to_workloads():
    from benchmarks.workloads import WORKLOADS
    from lossgraph.cli.bench import UsageError, bench_workloads
    assert bench_workloads([], WORKLOADS) == list(WORKLOADS)
    assert bench_workloads(["mse", "MSE", "squared_error"], WORKLOADS) == ["mse"]
    assert bench_workloads(["sparse_ce"], WORKLOADS) == ["softmax_ce_10", "softmax_ce_1000"]
    assert bench_workloads(["softmax_cross_entropy"], WORKLOADS) == ["soft_ce_10"]
    assert bench_workloads(["bce_with_logits", "huber"], WORKLOADS) == ["bce_logits", "huber"]
    with pytest.raises(UsageError, match="no benchmark workload for 'focal'"):
        bench_workloads(["focal"], WORKLOADS)


def test_bench_runs_the_benchmark_and_writes_json(tmp_path, capsys, monkeypatch):
    """The real benchmark code on a tiny case; the peers limited to lossgraph's own and hand
    NumPy so the test stays fast (torch and JAX imports take seconds)."""
    import json

    import benchmarks.losses as bench
    from benchmarks import peers
    every = peers.peers()
    monkeypatch.setattr(bench, "peers", lambda: {k: v for k, v in every.items()
                                                 if k.startswith("lossgraph") or k == "hand numpy"})
    out = tmp_path / "bench.json"
    assert main(["bench", "mse", "--sizes", "200", "--dtypes", "float64", "--quick",
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "memory bandwidth:" in printed and "x hand" in printed and f"wrote {out}" in printed
    payload = json.loads(out.read_text())
    (row,) = payload["results"]
    assert (row["loss"], row["n"], row["dtype"]) == ("mse", 200, "float64")
    assert row["contestants"]["lossgraph-numpy"]["ok"] is True
    assert row["contestants"]["lossgraph-numpy"]["median_s"] > 0


@pytest.mark.parametrize("argv, words", [
    (["bench", "focal", "huber"], "no benchmark workload"),
    (["bench", "mean(x)", "y", "-i", "x:N"], "takes one LOSS"),
    (["bench", "--sizes", "1e4,abc"], "comma-separated"),
    (["bench", "--sizes", "0"], "in [1, 1e9]"),
    (["bench", "--dtypes", "float16"], "float32 and/or float64"),
])
def test_bench_usage_errors(argv, words, capsys):
    assert main(argv) == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["bench", "mean(softplus(-y * x))", "-i", "x:N", "-i", "y:N"],
    ["bench", "focal"],                                  # a zoo loss without a workload
])
def test_bench_times_any_loss_with_every_backend(argv, capsys):
    import codegen
    assert main(argv + ["--sizes", "300", "--dtypes", "float32,float64", "--quick"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("  ")]
    for name in ["lg.value_and_grad"] + [f"lossgraph-{b}" for b in codegen.BACKENDS]:
        assert sum(name in r for r in rows) == 2, name   # one row per precision
    assert "1.00x" in out


# --- help on every command

@pytest.mark.parametrize("command", ["tour", "list", "show", "catalog", "draw", "codegen",
                                     "bench"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: lossgraph " + command)
    if command in ("tour", "show", "draw", "codegen", "bench"):
        assert "example" in out and f"lossgraph {command}" in out.split("example", 1)[1]


# --- the documented command lines run as written

def documented_commands():
    """Every `lossgraph ...` line of the bash blocks in the README's and the guide's command
    line sections, as argv lists."""
    import re
    import shlex
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    lines = []
    for doc in ("README.md", "docs/guide.md"):
        text = (root / doc).read_text()
        section = text[text.index("## Command line"):]
        for block in re.findall(r"^```bash\n(.*?)^```", section, re.S | re.M)[:1]:
            lines += [shlex.split(line, comments=True)[1:] for line in block.splitlines()
                      if line.startswith("lossgraph ")]
    return lines


def help_examples():
    """The example lines of every command's --help (`  lossgraph ...  what it does`)."""
    import contextlib
    import io
    import re
    import shlex
    lines = []
    for command in ("tour", "show", "draw", "codegen", "bench"):
        text = io.StringIO()
        with contextlib.redirect_stdout(text), pytest.raises(SystemExit):
            main([command, "--help"])
        examples = text.getvalue().split("examples:", 1)[1]
        lines += [shlex.split(re.split(r"\s{2,}", line.strip())[0])[1:]
                  for line in examples.splitlines() if line.strip().startswith("lossgraph ")]
    return lines


@pytest.mark.parametrize("argv", documented_commands() + help_examples(), ids=" ".join)
def test_documented_command_lines_run(argv, tmp_path, monkeypatch, capsys):
    import shutil

    import benchmarks.losses as bench
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mylosses.py").write_text(
        "import lossgraph as lg\n\n"
        "def focal(p: lg.Float['N'], y: lg.Float['N']):\n"
        "    q = lg.sigmoid(p)\n"
        "    return lg.mean(-y * (1 - q) ** 2 * lg.log(q))\n")
    ran = []
    monkeypatch.setattr(bench, "run", lambda *a, **k: ran.append((a, k)))  # timed elsewhere
    if argv[0] == "draw" and not argv[argv.index("-o") + 1].endswith(".dot") \
            and shutil.which("dot") is None:
        pytest.skip("graphviz `dot` is not installed")
    try:
        assert main(argv) == 0, capsys.readouterr().err
    finally:
        sys.modules.pop("mylosses", None)
    assert capsys.readouterr().err == "" or argv[0] == "bench"
    graph_bench = "-i" in argv or "--input" in argv      # timed by bench_graph, not run()
    assert (argv[0] != "bench") or len(ran) == (0 if graph_bench else 1)


def test_bench_outside_a_source_checkout_says_what_it_needs(tmp_path, capsys, monkeypatch):
    import lossgraph.cli.bench as bench
    monkeypatch.setattr(bench, "__file__",
                        str(tmp_path / "site-packages" / "lossgraph" / "cli" / "bench.py"))
    assert main(["bench", "mse"]) == 2
    err = capsys.readouterr().err
    assert "benchmarks/losses.py" in err and "pip install -e" in err


def test_cache_shows_and_clears_the_kernel_cache(tmp_path, monkeypatch, capsys):
    import numpy as np

    import codegen
    monkeypatch.setenv("LOSSGRAPH_CACHE_DIR", str(tmp_path / "kernels"))
    monkeypatch.delenv("LOSSGRAPH_CACHE", raising=False)
    x = lg.input("x", shape=("N",))
    codegen.compile(lg.sum(lg.exp(x) * 0.125), wrt=[x], backend="llvm")(np.ones(3))
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "kernels") in out and "1 entry," in out and "KB" in out
    assert main(["cache", "--clear"]) == 0
    assert "removed 1 compiled kernel from" in capsys.readouterr().out
    assert main(["cache"]) == 0 and "0 entries, 0 bytes" in capsys.readouterr().out
    monkeypatch.setenv("LOSSGRAPH_CACHE", "0")
    assert main(["cache"]) == 0 and "is off" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["mse", "huber", "bce_logits", "softmax_ce_10", "soft_ce_10"])
def test_benchmark_hand_numpy_matches_the_graph(name):
    """Each workload's hand-written NumPy (loss, gradient) is the loss its graph declares."""
    import lossgraph as lg
    from benchmarks.workloads import WORKLOADS
    w = WORKLOADS[name]
    arrays = w.inputs(200, "float64", seed=3)
    loss, grad = w.hand(arrays["pred"].copy(), arrays["target"])
    want_loss, want_grad = lg.value_and_grad(w.loss)(arrays["pred"], arrays["target"])
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-10, atol=1e-15)
