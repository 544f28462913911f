"""The kernels the interop tests export to PyTorch and JAX (no framework imported here)."""
import codegen
import lossgraph as lg
from zoo import losses

BACKENDS = [b for b in ("numpy", "llvm") if b in codegen.BACKENDS]


def bce_kernel(backend, **options):
    x, z = lg.input("logits", shape=("N",)), lg.input("labels", shape=("N",))
    return codegen.compile(losses.sigmoid_cross_entropy(x, z, reduction="mean"), wrt=[x],
                           backend=backend, **options)


def ce_kernel(backend):
    x = lg.input("logits", shape=("N", "C"))
    y = lg.input("labels", shape=("N",), dtype="int64")
    return codegen.compile(losses.sparse_softmax_cross_entropy(x, y, reduction="mean"),
                           wrt=[x], backend=backend)
