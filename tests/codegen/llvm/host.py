"""This host's vector width, as the emitter pins its loops to it (codegen.llvm.jit.vector_bits):
the lanes per dtype, the IR vector types of a full register and the register's assembly name."""
from codegen.llvm import jit

BITS = jit.vector_bits()
LANES = {"float32": BITS // 32, "float64": BITS // 64}
VECTOR = {"float32": f"<{LANES['float32']} x float>", "float64": f"<{LANES['float64']} x double>"}
REGISTER = {512: "zmm", 256: "ymm", 128: "xmm"}[BITS]
