"""Pipelined rows (emit.NestEmitter.pipelined_row): the row maxima of softmax's shift run one
row ahead, inside the loop of the row before. The bits are those of the plain row loops, at
every row count a chunk can have (1 row, where the row ahead is the row itself), on 1 and 2
threads, with nan, inf and -inf rows; and the loop vectorizes."""
import contextlib

import numpy as np
import pytest

import codegen
import lossgraph as lg
import zoo
from codegen.llvm import emit

from .host import LANES

LABELS = lg.input("labels", shape=("N",), dtype="int64")


def ce(c):
    """Mean sparse softmax CE over static rows of c, and its logits."""
    logits = lg.input("logits", shape=("N", c))
    return lg.mean(zoo.tf.sparse_softmax_cross_entropy(logits, LABELS)), logits


@contextlib.contextmanager
def pipelining(on):
    """Kernels built inside emit rows pipelined (on) or not (their programs are built on a
    kernel's first call of each dtype, so call them inside)."""
    emit.PIPELINE_MAX = on
    try:
        yield
    finally:
        emit.PIPELINE_MAX = True


def kernels(c, threads):
    """(pipelined, plain) kernels of mean sparse softmax CE over rows of c (a fresh pair)."""
    loss, logits = ce(c)
    out = []
    for on in (True, False):
        with pipelining(on):
            k = codegen.compile(loss, wrt=[logits], backend="llvm", threads=threads,
                                name=f"pipelined={on}")
            k(logits=np.zeros((2, c), np.float32), labels=np.zeros(2, np.int64))
            k(logits=np.zeros((2, c)), labels=np.zeros(2, np.int64))
        out.append(k)
    return out


@pytest.mark.parametrize("c", [5, 17, 127, 1000])
@pytest.mark.parametrize("threads", [1, 2])
def test_same_bits_as_the_plain_row_loops(c, threads):
    piped, plain = kernels(c, threads)
    rng = np.random.default_rng(c)
    for dtype in (np.float32, np.float64):
        for rows in (1, 2, 3, 17, 4000):
            x = (3 * rng.normal(size=(rows, c))).astype(dtype)
            if rows > 3:
                x[1, 2] = np.nan
                x[2] = -np.inf
                x[3, 0] = np.inf
            y = rng.integers(0, c, size=rows)
            (v1, (g1,)), (v2, (g2,)) = piped(logits=x, labels=y), plain(logits=x, labels=y)
            np.testing.assert_array_equal(v1, v2)
            np.testing.assert_array_equal(g1, g2)


X = lg.input("x", shape=("N", 33))
P = lg.input("p", shape=("N", 33))
ROW_LOSSES = {
    "logsumexp": lambda: lg.sum(lg.logsumexp(X, axis=1)),
    "log_softmax against p": lambda: -lg.sum(P * lg.log_softmax(X, axis=1)),
    "softmax squared": lambda: lg.sum(lg.square(lg.softmax(X, axis=1) - P)),
    "two shifts": lambda: lg.sum(lg.logsumexp(X, axis=1) + lg.logsumexp(2 * X, axis=1)),
}


@pytest.mark.parametrize("name", list(ROW_LOSSES))
@pytest.mark.parametrize("threads", [1, 2])
def test_other_row_losses_same_bits(name, threads):
    """Any nest whose first phase is a shift's max pipelines (or not) with the same bits."""
    loss = ROW_LOSSES[name]()
    rng = np.random.default_rng(1)
    feeds = [(rng.normal(size=(rows, 33)) * 4, rng.random((rows, 33))) for rows in (1, 5, 3000)]
    for x, _ in feeds:
        x[0, 3] = -np.inf
    got = []
    for on in (True, False):
        with pipelining(on):
            k = codegen.compile(loss, wrt=[X, P], backend="llvm", threads=threads,
                                name=f"{name} {on}")
            got += [k(x=x, p=p) for x, p in feeds]
    half = len(got) // 2
    for (v1, g1), (v2, g2) in zip(got[:half], got[half:]):
        np.testing.assert_array_equal(v1, v2)
        for a, b in zip(g1, g2):
            np.testing.assert_array_equal(a, b)


def test_the_pipelined_loop_vectorizes():
    """Every max of the float32 kernel is a vector one, the fused loop's included (a shift's
    maxnum without nsz left that loop scalar, 6x slower)."""
    loss, logits = ce(1000)
    k = codegen.compile(loss, wrt=[logits], backend="llvm", dtype="float32", name="vectorizes")
    k(logits=np.zeros((4, 1000), np.float32), labels=np.zeros(4, np.int64))
    ir = k.optimized_ir
    assert f"@llvm.maxnum.v{LANES['float32']}f32" in ir and "@llvm.maxnum.f32(" not in ir
