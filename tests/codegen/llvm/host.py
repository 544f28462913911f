"""This host's vector width, as the emitter pins its loops to it (codegen.llvm.jit.vector_bits):
the lanes per dtype, the IR vector types of a full register and the register's assembly name;
and `emitting_for(bits)`, which has the emitter take another width for a while."""
import contextlib

import codegen
from codegen.llvm import jit, specialize

BITS = jit.vector_bits()
LANES = {"float32": BITS // 32, "float64": BITS // 64}
VECTOR = {"float32": f"<{LANES['float32']} x float>", "float64": f"<{LANES['float64']} x double>"}
REGISTER = {512: "zmm", 256: "ymm", 128: "xmm"}[BITS]


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
