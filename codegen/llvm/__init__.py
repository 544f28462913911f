"""The LLVM backend: `codegen.compile(loss, backend="llvm")` (backend) and its foundations.

    backend    LLVMKernel and Program: a kernel's plans and native code per precision
               (and per static row length, and with streaming stores for large calls)
    lower      the plan of a schedule: loop nests, their phases and partials
    emit       the nests as LLVM IR functions and the kernel's one entry (packed: short
               static rows; loops: counted loops and the streaming copy)
    mathlib    exp, log, log1p, expm1, tanh, sigmoid, softplus, power, ... emitted inline as IR
               polynomials (no libm calls, so loops vectorize), float32 and float64
    jit        host target machine, O3 pass pipeline, MCJIT; JitModule keeps code alive
    objcache   machine code kept on disk between processes, keyed by IR and toolchain
    runtime    py_object entry stubs, argument checks, chunking over a persistent worker thread
    fastcall   the generated lean call path of a Program
    handmade   hand-built kernels (BCE with logits, elementwise maps) as yardsticks and tests

Importing this package does not import llvmlite.binding (codegen.llvm.lazy registers the
backend without it). Importing jit does, and jit then sets up the host's target machine and
its first MCJIT engine, once per process, so a first compile does not pay for them.
"""
