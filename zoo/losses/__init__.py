"""Canonical losses, one definition each, written as lossgraph graphs.

Each returns the unreduced loss by default; `reduction=` and `weights=` (zoo.reduction) are
shared by all. Arrays in give arrays out; nodes in give a node out.
"""
from .regression import *  # noqa: F401,F403
from .classification import *  # noqa: F401,F403
from .sequence import *  # noqa: F401,F403
from . import regression, classification, sequence

__all__ = [*regression.__all__, *classification.__all__, *sequence.__all__]
