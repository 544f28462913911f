"""The README's first example runs as written and prints what it says."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_short_example_runs(capsys):
    block = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[0]
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "(softmax(logits) - one_hot(labels, C)) / N" in out
    assert "log-sigmoid" in out
