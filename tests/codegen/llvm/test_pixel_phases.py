"""Nests whose reductions stay in arrays (softmax over the channels of (N, C, H, W)): values
over the kept axes are computed once per pixel (codegen.llvm.pixels) and the phases run per
slab of the kept axes (NestEmitter.kept_outside), with the bits of the plain loops, and agree
with lg.evaluate, extremes included."""
import numpy as np
import pytest

import codegen
import lossgraph as lg
from codegen.llvm import emit, jit, lower
from lossgraph.pipeline import derive

SHAPE = ("N", 5, 6, 20)


def _inputs(shape):
    x = lg.input("x", shape=shape)
    return x, lg.input("t", shape=shape), lg.input("y", shape=shape[:1] + shape[2:],
                                                   dtype="int64")


def _forms(shape=SHAPE):
    x, t, y = _inputs(shape)
    return {
        "soft CE": (lg.mean(lg.sum(t * (lg.logsumexp(x, axis=1, keepdims=True) - x), axis=1)),
                    [x, t]),
        "hard CE": (lg.mean(lg.logsumexp(x, axis=1) - lg.pick(x, y, axis=1)), [x]),
        "softmax": (lg.sum(lg.softmax(x, axis=1) * t), [x, t]),
        "log_softmax": (lg.sum(lg.log_softmax(x, axis=1) * t), [x]),
        "over two axes": (lg.sum(t * lg.log(lg.sum(lg.exp(x), axis=(1, 2), keepdims=True))
                                 - x / lg.sum(lg.exp(x), axis=(1, 2), keepdims=True)), [x]),
        "middle axis": (lg.sum(lg.softmax(x, axis=2) * t), [x]),
    }


def _feed(kernel, n, dtype, rng, extreme=False):
    c, h, w = SHAPE[1:]
    x = 3 * rng.normal(size=(n, c, h, w))
    if extreme:
        x[0, :, 0, 0] = -np.inf              # an all -inf pixel: softmax 0, logsumexp -inf
        x[0, 2, 1, 1] = np.inf
        x[0, 1, 2, 3] = np.nan
        x[-1, :, 3, 4] = 1e4
        x[-1, 0, 3, 5] = -1e4
    t = rng.random(size=(n, c, h, w))
    t /= t.sum(axis=1, keepdims=True)
    feed = {"x": x.astype(dtype), "t": t.astype(dtype), "y": rng.integers(0, c, (n, h, w))}
    return {k: feed[k] for k in kernel.input_names}


def _kernel(form, dtype, threads, monkeypatch, pixels=True, slabs=True, tiles=False,
            forms=_forms):
    """The kernel with or without pixel phases and slabs; tiles: slabs of 64 pixels."""
    monkeypatch.setattr(lower, "PIXEL_PHASES", pixels)
    monkeypatch.setattr(emit, "KEPT_OUTSIDE", slabs)
    monkeypatch.setattr(emit, "TILE_BYTES", 1 if tiles else 128 * 1024)
    codegen.CACHE.clear()
    loss, wrt = forms()[form]
    kernel = codegen.compile(loss, wrt=wrt, backend="llvm", dtype=dtype, threads=threads)
    kernel.llvm_ir                      # built now (kernels build lazily), with this setting
    return kernel


@pytest.mark.parametrize("form", list(_forms()))
def test_the_values_over_pixels_get_a_phase_of_their_own(form):
    """The nest over (N, C, H, W) computes 1 / s (softmax's divisor) and the logs once per
    pixel, in a phase over the reductions' shape between the sum and the phases reading it."""
    loss, wrt = _forms()[form]
    y, grads = derive(loss, wrt)
    plan = lower.plan([y, *grads], "float32")
    nests = [s for s in plan.steps if isinstance(s, lower.Nest) and s.pixel_phases]
    assert nests, "no pixel phase"
    nest = nests[0]
    for j, shape in nest.pixel_phases.items():
        stored = nest.phases[j]
        assert all(n.shape == shape for n in stored)
        assert all(plan.stored[id(n)] == plan.steps.index(nest) for n in stored)
        sums = [r for ph in nest.phases[:j] for r in ph if id(r) in nest.memory]
        assert sums and all(r.shape == shape for r in sums)
    assert plan.reciprocals or form in ("hard CE", "log_softmax"), "softmax's 1 / s not stored"
    em = emit.NestEmitter(jit.new_module("t"), plan, nest, plan.steps.index(nest))
    em.b.position_at_end(em.entry)
    channels = all(r.attrs["axis"] == (1,) for r in nest.sinks if id(r) in nest.memory)
    assert em.kept_axes() == ([2, 3] if channels else [3])
    assert em.slab_layout() == ([2, 3] if channels else [])    # rows of 20: merged, 120


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("form", list(_forms()))
@pytest.mark.parametrize("change", ["pixels", "slabs", "tiles"])
def test_pixel_phases_and_slabs_give_the_bits_of_the_plain_loops(form, dtype, threads, change,
                                                                  monkeypatch):
    """Stored values are rounded to the precision the loop computes in, 1 / s is
    fused.BROADCAST_OPERAND's own reciprocal, and a slab sums each pixel's channels in the
    same order: the bits do not change, but for the loss sum over the whole nest, which slabs
    add up in another order (to a few ulp)."""
    rng = np.random.default_rng(7)
    if change == "tiles":         # 120 pixels per (n, c): 64 and 56 (20 is no whole vector)
        plain = _kernel(form, dtype, threads, monkeypatch, slabs=False)
        new = _kernel(form, dtype, threads, monkeypatch, tiles=True)
    else:
        plain = _kernel(form, dtype, threads, monkeypatch, **{change: False})
        new = _kernel(form, dtype, threads, monkeypatch)
    # slabs need a kept axis besides the last one: not for the sums over (1, 2) or over 2
    applies = change == "pixels" or form not in ("over two axes", "middle axis")
    assert (new.llvm_ir != plain.llvm_ir) == applies
    for extreme in (False, True):
        feed = _feed(new, 9, dtype, rng, extreme)
        v0, g0 = plain(**feed)
        v1, g1 = new(**feed)
        if change == "pixels" or form == "hard CE":      # its loss sums in another nest
            np.testing.assert_array_equal(v1, v0)
        else:
            np.testing.assert_allclose(v1, v0, rtol=8 * np.finfo(dtype).eps)
        for a, b in zip(g1, g0):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("form", list(_forms()))
def test_pixel_phases_agree_with_evaluate(form, dtype, threads, monkeypatch):
    """float64 to 1e-12; float32 to 2e-5 relative (the float32 terms round once each, the
    sums accumulate in float64), extremes (all -inf pixels, +inf, NaN, logits of 1e4) as
    lg.evaluate gives them."""
    rng = np.random.default_rng(11)
    k = _kernel(form, dtype, threads, monkeypatch)
    loss, wrt = _forms()[form]
    y, grads = derive(loss, wrt)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    for n, extreme in ((1, False), (9, False), (9, True)):
        feed = _feed(k, n, dtype, rng, extreme)
        v, g = k(**feed)
        want = lg.evaluate([y, *grads], {a: b.astype(np.float64) if b.dtype != np.int64 else b
                                         for a, b in feed.items()})
        np.testing.assert_allclose(v, want[0], rtol=rtol)
        for got, exp in zip(g, want[1:]):
            finite = np.abs(exp[np.isfinite(exp)]).max()
            np.testing.assert_allclose(got, exp, rtol=rtol, atol=rtol * finite)


def _sequences():
    x = lg.input("x", shape=("N", 5, 150))
    y = lg.input("y", shape=("N", 150), dtype="int64")
    return {"hard CE": (lg.mean(lg.logsumexp(x, axis=1) - lg.pick(x, y, axis=1)), [x]),
            "softmax": (lg.sum(lg.softmax(x, axis=1) * x), [x])}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("form", list(_sequences()))
def test_tiles_of_a_long_last_axis(form, threads, monkeypatch):
    """(N, C, L) with the reduction over C runs its phases per tile of L (64, 64, 22 here):
    the plain loops' gradient bits, lg.evaluate's values."""
    rng = np.random.default_rng(5)
    feed = {"x": 3 * rng.normal(size=(3, 5, 150)), "y": rng.integers(0, 5, (3, 150))}
    plain = _kernel(form, "float64", threads, monkeypatch, slabs=False, forms=_sequences)
    tiled = _kernel(form, "float64", threads, monkeypatch, tiles=True, forms=_sequences)
    assert tiled.llvm_ir != plain.llvm_ir
    feed = {k: feed[k] for k in tiled.input_names}
    (v0, g0), (v1, g1) = plain(**feed), tiled(**feed)
    np.testing.assert_array_equal(g1[0], g0[0])
    loss, wrt = _sequences()[form]
    y, grads = derive(loss, wrt)
    want = lg.evaluate([y, *grads], feed)
    np.testing.assert_allclose(v1, want[0], rtol=1e-12)
    np.testing.assert_allclose(g1[0], want[1], rtol=1e-12, atol=1e-15)
