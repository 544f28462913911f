"""Library errors. Each derives from LossgraphError and from the matching built-in.

Messages name the argument, what was expected and what came.
"""


class LossgraphError(Exception):
    """Base class of every error raised by lossgraph."""


class ShapeError(LossgraphError, ValueError):
    """Shapes that do not broadcast, reduce or reshape as asked."""


class DTypeError(LossgraphError, TypeError):
    """A dtype that an op or an input declaration does not accept."""


class InputError(LossgraphError, ValueError):
    """Arrays passed to evaluation do not match the declared inputs."""


class GradientError(LossgraphError, ValueError):
    """A gradient was asked of something that has none (int input, stop_gradient, ...)."""


class OptionError(LossgraphError, ValueError):
    """An option value outside its allowed set (unknown reduction, bad axis, ...)."""


class SerializationError(LossgraphError, ValueError):
    """Malformed or hostile JSON given to from_json."""


class RenderError(LossgraphError, RuntimeError):
    """Drawing needs a program (graphviz `dot`) that is not installed."""


class FormulaError(LossgraphError, ValueError):
    """A formula (lossgraph.formula.parse) that does not follow the grammar or names an
    unknown input or function; the message points at the column."""
