"""A griffe extension for the API reference: a decorated module-level function is shown as the
decorators made it, with the imported function's `inspect.signature` and docstring instead of
what its source spells (zoo's `@loss` adds `reduction=` and `weights=`, and the errors every
reduced loss shares to the Raises section)."""
from __future__ import annotations

import importlib
import inspect

import griffe

_KINDS = {inspect.Parameter.POSITIONAL_ONLY: griffe.ParameterKind.positional_only,
          inspect.Parameter.POSITIONAL_OR_KEYWORD: griffe.ParameterKind.positional_or_keyword,
          inspect.Parameter.VAR_POSITIONAL: griffe.ParameterKind.var_positional,
          inspect.Parameter.KEYWORD_ONLY: griffe.ParameterKind.keyword_only,
          inspect.Parameter.VAR_KEYWORD: griffe.ParameterKind.var_keyword}


class RuntimeSignatures(griffe.Extension):
    def on_function_instance(self, *, func, **kwargs):
        if not func.parent.is_module or not func.decorators:
            return
        try:
            obj = getattr(importlib.import_module(func.parent.path), func.name)
            real = inspect.signature(obj)
        except (ImportError, AttributeError, TypeError, ValueError):
            return
        if func.docstring is not None and obj.__doc__:
            func.docstring.value = inspect.cleandoc(obj.__doc__)
        spelled = {p.name for p in func.parameters}
        for p in real.parameters.values():
            if p.name not in spelled:
                default = None if p.default is p.empty else repr(p.default)
                func.parameters.add(griffe.Parameter(p.name, kind=_KINDS[p.kind],
                                                     default=default))
