"""Backends that lower a loss and its gradient graphs to NumPy source or LLVM kernels.

Not built yet: the core's op table (lossgraph.ops.OPS: kind, arity, attr kinds, impl) is what
the backends will lower from, one table keyed by op name. Until then, lossgraph.evaluate is the
reference interpreter for every graph.
"""
