"""Option domains and keyword checks, declared once per loss.

    @options(delta=POSITIVE)            # huber(..., delta=-1) -> OptionError:
    @loss("pred", "target")             #   huber: delta must be > 0, got -1
    def huber(pred, target, delta=1.0): ...

Each declared option is checked when the loss is called: a number (or an array, every
element) inside its Domain, None where the domain is `optional`; a Node is symbolic and
passes. Calls are bound by `bind_call`, which names the loss in every binding error and
suggests the closest keyword for a misspelled one (`huber(..., detla=2)`).
"""
from __future__ import annotations

import functools
import inspect
import numbers
from dataclasses import dataclass, replace

import numpy as np

import lossgraph as lg
from lossgraph.names import quote, unknown_keywords


@dataclass(frozen=True)
class Domain:
    """The values an option takes: lo <= v <= hi (strict with lo_open / hi_open); integer
    for counts; optional when None is allowed."""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False
    optional: bool = False

    def says(self):
        kind = "an integer" if self.integer else "a number"
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None:
            left, right = "([" [not self.lo_open], ")]" [not self.hi_open]
            text = f"{kind} in {left}{lo}, {hi}{right}"
        elif lo is not None:
            text = f"{kind} {'>' if self.lo_open else '>='} {lo}"
        elif hi is not None:
            text = f"{kind} {'<' if self.hi_open else '<='} {hi}"
        else:
            text = kind
        return text + (" or None" if self.optional else "")

    def holds(self, v):
        """Whether every element of the float array v lies inside the domain."""
        ok = ~np.isnan(v)
        if self.lo is not None:
            ok &= (v > self.lo) if self.lo_open else (v >= self.lo)
        if self.hi is not None:
            ok &= (v < self.hi) if self.hi_open else (v <= self.hi)
        if self.integer:
            ok &= np.isfinite(v) & (v == np.round(v))
        return bool(np.all(ok))

    def check(self, owner, option, value):
        """value, or an OptionError naming the loss, the option, the domain and the value."""
        if value is None and self.optional or isinstance(value, lg.Node):
            return value
        arr = None
        if not isinstance(value, (bool, np.bool_, str)) and value is not None:
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                arr = None
        if arr is None or (self.integer and not _is_integral(value)) or not self.holds(arr):
            raise lg.OptionError(f"{owner}: {option} must be {self.says()}, got "
                                 f"{_describe(value)}")
        return value


def _is_integral(value):
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool)


def _describe(value):
    if isinstance(value, np.ndarray) and value.ndim > 0:
        finite = value[np.isfinite(value)] if value.dtype.kind in "fc" else value
        span = f" from {finite.min()} to {finite.max()}" if finite.size else ""
        return f"an array of shape {value.shape}{span}"
    if isinstance(value, (numbers.Number, np.generic, str)) or value is None:
        return quote(value)
    return f"{type(value).__name__} {quote(value)}"


def optional(domain):
    """The same domain, None allowed too."""
    return replace(domain, optional=True)


ANY = Domain()                                       # any real number (not NaN)
INTEGER = Domain(integer=True)                       # any integer: a class index
POSITIVE = Domain(lo=0, lo_open=True)                # > 0
NONNEGATIVE = Domain(lo=0)                           # >= 0
UNIT = Domain(lo=0, hi=1)                            # [0, 1]: probabilities, smoothing
BELOW_ONE = Domain(lo=0, hi=1, hi_open=True)         # [0, 1): a clip floor eps <= p <= 1
BELOW_HALF = Domain(lo=0, hi=0.5, hi_open=True)      # [0, 0.5): clip(p, eps, 1 - eps)
COSINE = Domain(lo=-1, hi=1)                         # [-1, 1]: a cosine margin
COUNT = Domain(lo=1, integer=True)                   # 1, 2, ...: a number of classes


def owner_name(fn):
    """How messages name a zoo function: 'huber' (canonical), 'tf.log_loss' (a flavour),
    'mxnet.HuberLoss' (a flavour class's constructor or forward)."""
    module = fn.__module__ or ""
    name = fn.__qualname__.split(".<locals>")[0].split(".")[0]
    if module.startswith("zoo.losses") or not module.startswith("zoo."):
        return name
    return f"{module.split('.')[-1]}.{name}"


def bind_call(owner, sig, args, kwargs):
    """sig.bind(*args, **kwargs), with binding errors that name the loss (and, for an unknown
    keyword, the closest one it takes)."""
    params = sig.parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        takes = [n for n, p in params.items() if p.kind is not p.VAR_POSITIONAL and n != "self"]
        unknown = [k for k in kwargs if k not in params]
        if unknown:
            raise unknown_keywords(owner, unknown, takes)
    try:
        return sig.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"{owner}(): {e}") from None


def options(**domains):
    """Decorator: check the named options against their Domains on every call."""
    def wrap(fn):
        sig = inspect.signature(fn)
        unknown = set(domains) - set(sig.parameters)
        if unknown:
            raise TypeError(f"options: {fn.__qualname__} has no parameter(s) {sorted(unknown)}")
        owner = owner_name(fn)

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            given = bind_call(owner, sig, args, kwargs).arguments
            for option, domain in domains.items():
                if option in given:
                    domain.check(owner, option, given[option])
            return fn(*args, **kwargs)
        checked.option_domains = dict(domains)
        return checked
    return wrap


__all__ = ["Domain", "optional", "options", "bind_call", "owner_name", "ANY", "INTEGER",
           "POSITIVE", "NONNEGATIVE", "UNIT", "BELOW_ONE", "BELOW_HALF", "COSINE", "COUNT"]
