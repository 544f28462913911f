"""Registers backend="llvm" without importing llvmlite: the real backend
(codegen.llvm.backend) is imported on the first compile that asks for it."""
from ..kernel import register_backend


class LazyLLVMBackend:
    """Stands in for codegen.llvm.backend.LLVMBackend until a kernel is built."""
    name = "llvm"

    def build(self, schedule, name, options):
        from .backend import LLVMBackend
        return LLVMBackend().build(schedule, name, options)


register_backend("llvm", LazyLLVMBackend())
