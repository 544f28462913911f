"""Label checks left to a pick (lower._picked): when a pick of the same labels and depth is in
the plan (segmentation CE's loss beside its gradient's one_hot), one_hot's loops do not flag
the labels again. The bits stay, and a label out of range still raises the error it raised,
on 1 thread and 2; a one_hot with no pick beside it keeps its own check."""
import numpy as np
import pytest

import codegen
import lossgraph as lg
from codegen.llvm import lower

SHAPE = ("N", 6, 5, 7)


def _inputs():
    x = lg.input("x", shape=SHAPE)
    return x, lg.input("y", shape=SHAPE[:1] + SHAPE[2:], dtype="int64")


def hard_ce():
    x, y = _inputs()
    return x, lg.mean(lg.logsumexp(x, axis=1) - lg.pick(x, y, axis=1))


def one_hot_ce():
    x, y = _inputs()
    return x, -lg.mean(lg.sum(lg.one_hot(y, 6, axis=1) * lg.log_softmax(x, axis=1), axis=1))


def _feed(dtype=np.float32, n=3, seed=2):
    rng = np.random.default_rng(seed)
    return {"x": (3 * rng.normal(size=(n,) + SHAPE[1:])).astype(dtype),
            "y": rng.integers(0, 6, size=(n,) + SHAPE[2:])}


def _plan(loss, x, feed):
    k = codegen.compile(loss, wrt=[x], backend="llvm")
    k(**feed)
    return k._fn.program_for("float32", [a.shape for a in feed.values()]).plan


def test_the_pick_takes_over_one_hots_check_and_a_lone_one_hot_keeps_it():
    feed = _feed()
    plan = _plan(*reversed(hard_ce()), feed)
    one_hots = {k for k, c in plan.checks.items() if c[2] == "one_hot"}
    assert one_hots and plan.picked == one_hots
    plan = _plan(*reversed(one_hot_ce()), feed)
    assert plan.checks and plan.picked == set()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_the_bits_are_those_of_both_checks(dtype, threads, monkeypatch):
    x, loss = hard_ce()
    feed = _feed(dtype, n=5000)                     # large enough for units on 2 threads
    got = []
    for on in (True, False):
        monkeypatch.setattr(lower, "PICKS_FLAG_LABELS", on)
        k = codegen.compile(loss, wrt=[x], backend="llvm", threads=threads,
                            name=f"checks {on}")
        v, (g,) = k(**feed)
        got.append(v.tobytes() + g.tobytes())
    assert got[0] == got[1]


@pytest.mark.parametrize("form", [hard_ce, one_hot_ce])
@pytest.mark.parametrize("bad", [6, -1, 1 << 40])
@pytest.mark.parametrize("threads", [1, 2])
def test_a_label_out_of_range_still_raises(form, bad, threads):
    x, loss = form()
    k = codegen.compile(loss, wrt=[x], backend="llvm", threads=threads)
    for n, at in ((3, (0, 0, 0)), (5000, (4999, 4, 6))):     # one call, and units
        feed = _feed(n=n)
        feed["y"][at] = bad
        with pytest.raises(lg.errors.InputError, match=f"label {bad} is out of range"):
            k(**feed)
