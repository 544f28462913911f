"""This host's vector width, as the emitter pins its loops to it (codegen.llvm.jit.vector_bits):
the lanes per dtype, the IR vector types of a full register and the register's assembly name,
the interleave count of a flat loop (`flat_interleave`); and `emitting_for(bits)`, which has
the emitter take another width for a while."""
import contextlib

import codegen
from codegen.llvm import emit, jit, specialize

BITS = jit.vector_bits()
LANES = {"float32": BITS // 32, "float64": BITS // 64}
VECTOR = {"float32": f"<{LANES['float32']} x float>", "float64": f"<{LANES['float64']} x double>"}
REGISTER = {512: "zmm", 256: "ymm", 128: "xmm"}[BITS]


def flat_interleave(expensive):
    """A flat loop's interleave count here: 4, but emit.NARROW_CHEAP_INTERLEAVE on a host of
    16 vector registers for a body without an EXPENSIVE op (BCE has exp and log1p)."""
    return 4 if expensive or BITS == 512 else emit.NARROW_CHEAP_INTERLEAVE


@contextlib.contextmanager
def emitting_for(bits):
    """Kernels compiled inside are emitted for vectors of `bits` (the kernel cache and
    specialize.fixed() emptied on the way in and out, so none leaks across)."""
    jit._STATE["vector_bits"] = bits
    specialize.fixed.cache_clear()
    codegen.CACHE.clear()
    try:
        yield bits
    finally:
        jit._STATE["vector_bits"] = BITS
        specialize.fixed.cache_clear()
        codegen.CACHE.clear()
