"""The `lossgraph` command: --version and the tour (the README's first command)."""
import subprocess
import sys

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
    for step in range(1, 9):
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
    assert len(canonical) == 48 and "l2" in canonical and "tf.log_loss" in qualified
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
    import lossgraph.cli as cli
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
    import lossgraph.cli as cli

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
    assert "NAME" in out and "lossgraph list" in out and "tf.log_loss" in out and "alias" in out


def test_closed_pipe_ends_quietly():
    """`lossgraph list | head`: the reader leaves before the output is written."""
    proc = subprocess.Popen([sys.executable, "-m", "lossgraph.cli", "list"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                       # closed before lossgraph has printed anything
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err and err == ""


def test_every_alias_names_a_canonical_loss():
    from lossgraph.cli import ALIASES
    from zoo import inventory
    assert set(ALIASES.values()) <= set(inventory.canonical_names())
