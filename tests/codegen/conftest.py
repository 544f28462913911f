"""Fixtures the codegen tests share."""
import pytest

from ..lazy import lazy

jax = lazy("jax")


@pytest.fixture
def jax_x64():
    """jax_enable_x64 on in every thread for the test: jax.enable_x64() is thread-local, and
    the host callback runs on XLA's thread, where device_put would narrow float64 inputs to
    float32 (the kernel then ran float32 and the declared float64 results failed)."""
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)
