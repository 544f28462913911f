"""The op table: importing this package registers every primitive in OPS."""
from .base import OPS, Op, register
from . import leaf, elementwise, reduce, shape, index, linalg, ctc  # noqa: F401  (registration)

__all__ = ["OPS", "Op", "register"]
