"""Kernels compiled once per test session (LLVM at O3 takes a while on two shared cores)."""
import pytest

from codegen.llvm import handmade, mathlib


@pytest.fixture(scope="session")
def maps():
    """JitModule with map_<fn>_<dtype> for every mathlib function, float32 and float64."""
    return handmade.map_module(list(mathlib.FUNCTIONS))


@pytest.fixture(scope="session")
def bce():
    """dtype name -> the hand-built BCE-with-logits kernel."""
    return {dt: handmade.bce_with_logits(dt) for dt in ("float32", "float64")}
