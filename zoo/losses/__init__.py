"""Canonical losses, one definition each, written as lossgraph graphs.

Each returns the unreduced loss by default; `reduction=` and `weights=` (zoo.reduction) are
shared by all. Arrays in give arrays out; nodes in give a node out.

    >>> import numpy as np
    >>> from zoo import losses
    >>> losses.huber(np.array([0.5, 3.0]), np.array([0.0, 0.0]), reduction="mean")
    np.float64(1.3125)

(Each loss's examples assume these two imports.) Errors, shared by every loss: a misspelled or
unknown keyword is a TypeError that suggests the close one; an option outside its domain
(huber's delta <= 0, a reduction zoo.reduction does not know) is an OptionError naming the
loss, the option, the domain and the value; a target whose shape differs from the prediction's
is a ShapeError (a loss never broadcasts a target silently); float labels where class ids are
expected are a DTypeError.
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
