"""The API reference shows each zoo loss with the keywords and the Raises entries its
decorators add (griffe reads source statically; docs/tools/runtime_signatures.py shows the
imported function's signature and docstring)."""
import inspect
from pathlib import Path

import pytest

import zoo.losses

griffe = pytest.importorskip("griffe")        # the docs extra
ROOT = Path(__file__).resolve().parents[1]


def test_reference_signatures_are_the_runtime_ones():
    ext = griffe.load_extensions(f"{ROOT / 'docs/tools/runtime_signatures.py'}:RuntimeSignatures")
    losses = griffe.load("zoo.losses", search_paths=[str(ROOT)], extensions=ext)
    for name in ("huber", "softmax_cross_entropy", "tversky"):
        shown = [p.name for p in losses[name].parameters]
        assert shown == list(inspect.signature(getattr(zoo.losses, name)).parameters), name
        assert shown[-2:] == ["reduction", "weights"]
        assert losses[name].docstring.value == inspect.getdoc(getattr(zoo.losses, name))
        assert "OptionError: a reduction zoo.reduction does not know." in \
            losses[name].docstring.value


def test_classes_show_their_runtime_docstrings():
    """zoo.mxnet's base class writes the shared Raises entries and forward's docstring."""
    import zoo.mxnet
    ext = griffe.load_extensions(f"{ROOT / 'docs/tools/runtime_signatures.py'}:RuntimeSignatures")
    mx = griffe.load("zoo.mxnet", search_paths=[str(ROOT)], extensions=ext)
    for name in ("HingeLoss", "L1Loss", "CTCLoss"):
        assert mx[name].docstring.value == inspect.getdoc(getattr(zoo.mxnet, name)), name
        assert "TypeError: an unknown constructor or call keyword." in mx[name].docstring.value
        assert mx[name]["forward"].docstring.value == \
            inspect.getdoc(getattr(zoo.mxnet, name).forward)
