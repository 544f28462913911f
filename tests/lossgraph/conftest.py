"""Fixtures for the core tests (the references themselves are in references.py)."""
import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)
