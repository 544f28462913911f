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
