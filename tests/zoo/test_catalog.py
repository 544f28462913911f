"""zoo.catalog(): derived from zoo.losses and each flavour module's CANONICAL table."""
import inspect

import pytest

import zoo
from zoo import inventory, losses

FLAVOURS = inventory.flavour_modules()


@pytest.fixture(scope="module")
def entries():
    return zoo.catalog()


def test_catalog_is_exposed_on_zoo():
    assert zoo.catalog is inventory.catalog


# exported by a flavour but not losses of their own (TF contrib's loss collections and its
# weighting helper, which is zoo.reduction's "sum_by_nonzero_weights")
HELPERS = {"LossSet", "add_loss", "get_losses", "get_regularization_losses", "get_total_loss",
           "compute_weighted_loss"}


@pytest.mark.parametrize("mod", FLAVOURS, ids=[m.__name__ for m in FLAVOURS])
def test_every_flavour_name_maps_to_an_existing_canonical_loss(mod):
    unmapped = set(mod.__all__) - set(mod.CANONICAL) - HELPERS
    assert not unmapped, f"{mod.__name__}: {sorted(unmapped)} are exported but not in CANONICAL"
    assert set(mod.CANONICAL) <= set(mod.__all__), f"{mod.__name__}: CANONICAL names a " \
        f"function missing from __all__: {sorted(set(mod.CANONICAL) - set(mod.__all__))}"
    canon = set(inventory.canonical_names())
    for original, targets in mod.CANONICAL.items():
        assert hasattr(mod, original), f"{mod.__name__}.{original} is listed but not defined"
        for t in (targets,) if isinstance(targets, str) else targets:
            assert t in canon, f"{mod.__name__}.{original} -> {t!r}: no such canonical loss"


def test_own_flavours_map_every_export():
    from zoo import axon, mxnet
    for mod in (axon, mxnet):
        assert set(mod.__all__) == set(mod.CANONICAL), mod.__name__


def test_one_entry_per_canonical_loss(entries):
    names = [e.name for e in entries]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert set(names) == {n for n in losses.__all__ if callable(getattr(losses, n))}


def test_every_formula_renders(entries):
    for e in entries:
        assert isinstance(e.formula, str) and e.formula.strip(), e.name
        assert e.formula.count("{") == e.formula.count("}"), e.name
        assert "\\left(" not in e.formula or \
            e.formula.count("\\left") == e.formula.count("\\right"), e.name


def test_formula_is_built_from_the_graph():
    import lossgraph as lg
    fn = losses.squared_error
    first, second = list(inspect.signature(fn).parameters)[:2]
    a = lg.input(first, shape=("N", "C"))
    b = lg.input(second, shape=("N", "C"))
    assert inventory.formula("squared_error") == lg.latex(fn(a, b))
    assert first in lg.latex(fn(a, b))


def test_arguments_match_signatures(entries):
    for e in entries:
        params = list(inspect.signature(getattr(losses, e.name)).parameters)
        assert [a.split("=")[0].lstrip("*") for a in e.arguments] == params, e.name


def test_flavours_are_derived_from_the_tables(entries):
    by_name = {e.name: e for e in entries}
    from zoo import axon, mxnet
    for mod in (axon, mxnet):
        for original, targets in mod.CANONICAL.items():
            for t in (targets,) if isinstance(targets, str) else targets:
                assert inventory.Flavour(mod.__name__, original) in by_name[t].flavours
    assert inventory.Flavour("zoo.mxnet", "L2Loss") in by_name["squared_error"].flavours
    assert inventory.Flavour("zoo.axon", "hinge") in by_name["hinge"].flavours


def test_markdown(entries):
    md = inventory.to_markdown(entries)
    for e in entries:
        assert f"## `{e.name}`" in md
    assert "`zoo.mxnet.L2Loss`" in md


def test_every_flavour_is_an_attribute_of_zoo():
    import zoo
    for name in inventory.FLAVOURS:
        assert getattr(zoo, name).__name__ == f"zoo.{name}"
