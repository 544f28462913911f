"""Canonical losses, one definition each, written as lossgraph graphs.

Each returns the unreduced loss by default; `reduction=` and `weights=` (zoo.reduction) are
shared by all. Arrays in give arrays out; nodes in give a node out.
"""
from .regression import *  # noqa: F401,F403
from .classification import *  # noqa: F401,F403
from .divergence import *  # noqa: F401,F403
from .ranking import *  # noqa: F401,F403
from .segmentation import *  # noqa: F401,F403
from .regularizers import *  # noqa: F401,F403
from .sequence import *  # noqa: F401,F403
from . import (regression, classification, divergence, ranking, segmentation, regularizers,
               sequence)

__all__ = [*regression.__all__, *classification.__all__, *divergence.__all__, *ranking.__all__,
           *segmentation.__all__, *regularizers.__all__, *sequence.__all__]
