"""The examples in the docstrings run and print what they say (doctest)."""
import doctest
import importlib
import importlib.util

import numpy as np
import pytest

import lossgraph as lg

MODULES = ["lossgraph.api", "lossgraph.autodiff", "lossgraph.transforms", "lossgraph.losstype",
           "lossgraph.rewrite", "lossgraph.printing", "zoo.losses.regression",
           "zoo.losses.classification", "zoo.losses.divergence", "zoo.losses.ranking",
           "zoo.losses.segmentation", "zoo.losses.sequence", "zoo.losses.regularizers",
           "zoo.tf", "zoo.mxnet", "zoo.tflearn", "zoo.tensorlayer", "zoo.axon", "zoo.torch",
           "codegen", "codegen.kernel"]
# the interop modules import their frameworks (the `interop` extra): listed when installed
MODULES += [m for m, frameworks in (("codegen.interop", ("torch", "jax")),
                                    ("codegen.interop.torch", ("torch",)),
                                    ("codegen.interop.jax", ("jax",)),
                                    ("codegen.interop.dask", ("dask", "distributed")))
            if all(importlib.util.find_spec(f) for f in frameworks)]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    import codegen
    import zoo
    from zoo import losses
    globs = {"lg": lg, "np": np, "codegen": codegen, "zoo": zoo, "losses": losses,
             "__name__": name}
    tests = finder.find(module, name, globs=globs)
    for t in tests:
        runner.run(t)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
