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
