"""Pipelined rows (emit.NestEmitter.pipelined_row): the row maxima of softmax's shift run one
row ahead, inside the loop of the row before. The bits are those of the plain row loops, at
every row count a chunk can have (1 row, where the row ahead is the row itself), on 1 and 2
threads, with nan, inf and -inf rows; and the loop vectorizes."""
import numpy as np
import pytest

import codegen
import lossgraph as lg
import zoo
from codegen.llvm import emit

LABELS = lg.input("labels", shape=("N",), dtype="int64")


def ce(c):
    """Mean sparse softmax CE over static rows of c, and its logits."""
    logits = lg.input("logits", shape=("N", c))
    return lg.mean(zoo.tf.sparse_softmax_cross_entropy(logits, LABELS)), logits


def kernels(c, threads):
    """(pipelined, plain) kernels of mean sparse softmax CE over rows of c (a fresh pair)."""
    loss, logits = ce(c)
    out = []
    for on in (True, False):
        emit.PIPELINE_MAX = on
        try:
            k = codegen.compile(loss, wrt=[logits], backend="llvm", threads=threads,
                                name=f"pipelined={on}")
            k(logits=np.zeros((2, c), np.float32), labels=np.zeros(2, np.int64))
            k(logits=np.zeros((2, c)), labels=np.zeros(2, np.int64))
        finally:
            emit.PIPELINE_MAX = True
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


def test_the_pipelined_loop_vectorizes():
    """Every max of the float32 kernel is a vector one, the fused loop's included (a shift's
    maxnum without nsz left that loop scalar, 6x slower)."""
    loss, logits = ce(1000)
    k = codegen.compile(loss, wrt=[logits], backend="llvm", dtype="float32", name="vectorizes")
    k(logits=np.zeros((4, 1000), np.float32), labels=np.zeros(4, np.int64))
    ir = k.optimized_ir
    assert "@llvm.maxnum.v16f32" in ir and "@llvm.maxnum.f32(" not in ir
