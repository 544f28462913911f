"""The LLVM backend's foundations: vectorizable math in IR, the JIT layer, the cheap call path.

    mathlib    exp, log, log1p, expm1, tanh, sigmoid, softplus, power, ... emitted inline as IR
               polynomials (no libm calls, so loops vectorize), float32 and float64
    jit        host target machine, O3 pass pipeline, MCJIT; JitModule keeps code alive
    runtime    py_object entry stubs, argument checks, chunking over a persistent worker thread
    handmade   hand-built kernels (BCE with logits, elementwise maps) as yardsticks and tests

Importing this package does not import llvmlite.binding; jit does so on first use.
"""
