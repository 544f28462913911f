"""Every Python block of the README runs as written, each in a fresh namespace, and prints what
its comments say: a line `print(expr)  # text` promises that `text` appears in the output."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(), re.S | re.M)
PROMISE = re.compile(r"^\s*print\(.*\)\s*#\s*(.+?)\s*$")


def promises(block):
    return [m.group(1) for m in map(PROMISE.match, block.splitlines()) if m]


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_block_runs_and_prints_what_it_says(index, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                      # a block that writes files writes them here
    block = BLOCKS[index]
    exec(compile(block, f"README.md (python block {index + 1})", "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out
    for text in promises(block):
        assert text in out, f"README block {index + 1} promises {text!r}; it printed:\n{out}"


def test_short_example_promises_the_textbook_gradient_and_explains_rewrites(capsys):
    block = BLOCKS[0]
    assert "(softmax(logits) - one_hot(labels, C)) / N" in promises(block)
    exec(compile(block, "README.md", "exec"), {})
    assert "log-sigmoid" in capsys.readouterr().out   # explain lists the stability rewrite

