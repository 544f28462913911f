"""Compiled generated Python source, cached by its text.

    code = compiled(source, filename)      # a code object; exec it in a fresh namespace

The argument checks, the LLVM backend's call paths and NumPy kernels are generated from
positions, slot numbers and sanitized names only, and many kernels share one text (every
two-input check of one rank, say): compiling it once per process saves the compile (about
0.2 ms per text) on the next kernel. Code objects are immutable, so each exec still gets its own
namespace.
"""
from __future__ import annotations

import functools


@functools.lru_cache(maxsize=2048)
def compiled(source, filename):
    """compile(source, filename, "exec"), once per (source, filename)."""
    return compile(source, filename, "exec")
