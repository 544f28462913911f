"""lossgraph: loss functions as small symbolic expression graphs."""
from . import ops  # noqa: F401  (fills the op table)
from .errors import (LossgraphError, ShapeError, DTypeError, InputError, GradientError,
                     OptionError, SerializationError, RenderError)
from .graph import Node, topo_order, inputs_of
from .api import *  # noqa: F401,F403
from .api import (input, constant, as_node, size, arange, add, subtract, multiply, divide,
                  power, maximum, minimum, xlogy, negative, exp, log, log1p, expm1, sqrt, abs,
                  sign, square, tanh, sigmoid, softplus, less, less_equal, greater,
                  greater_equal, equal, not_equal, logical_and, logical_or, logical_not,
                  stop_gradient, where, clip, cast, relu, log_sigmoid, sum, prod, max, min,
                  logsumexp, mean, softmax, log_softmax, reshape, expand_dims, squeeze,
                  transpose, broadcast_to, swapaxes, one_hot, pick, gather, take_along_axis,
                  scatter_along_axis, zeros_like, ones_like, matmul, dot)
from .evaluate import evaluate
from .autodiff import gradients, unbroadcast
from .transforms import grad, value_and_grad, hvp
from .printing import to_text, latex
from .rewrite import simplify, explain, guard_nans
from .symbolic import to_sympy, from_sympy, SymbolicError
from .serialize import to_json, from_json
from .viz import draw, render
from .losstype import Loss, loss, Spec, Float, Float32, Float64, Int, Int32, Int64, Bool

__version__ = "0.1.0"
