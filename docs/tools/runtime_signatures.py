"""A griffe extension for the API reference: a decorated module-level function is shown as the
decorators made it, with the imported function's `inspect.signature` and docstring instead of
what its source spells (zoo's `@loss` adds `reduction=` and `weights=`, and the errors every
reduced loss shares to the Raises section). Likewise a module-level class, and its methods,
show the docstrings they have at run time (zoo.mxnet.Loss.__init_subclass__ completes each
block's Raises section and documents `forward`)."""
from __future__ import annotations

import importlib
import inspect

import griffe

_KINDS = {inspect.Parameter.POSITIONAL_ONLY: griffe.ParameterKind.positional_only,
          inspect.Parameter.POSITIONAL_OR_KEYWORD: griffe.ParameterKind.positional_or_keyword,
          inspect.Parameter.VAR_POSITIONAL: griffe.ParameterKind.var_positional,
          inspect.Parameter.KEYWORD_ONLY: griffe.ParameterKind.keyword_only,
          inspect.Parameter.VAR_KEYWORD: griffe.ParameterKind.var_keyword}


def _runtime(path, name):
    """The imported object `name` of module or module-level class `path`, or None."""
    module, _, owner = path.rpartition(".") if "." in path else (path, "", "")
    for mod, attrs in ((path, [name]), (module, [owner, name])):
        try:
            obj = importlib.import_module(mod)
            for attr in attrs:
                obj = getattr(obj, attr)
            return obj
        except (ImportError, AttributeError):
            continue
    return None


def _show_runtime_doc(item, obj):
    doc = inspect.getdoc(obj) if obj is not None else None
    if not doc:
        return
    if item.docstring is None:
        item.docstring = griffe.Docstring(doc, parent=item)
    else:
        item.docstring.value = doc


class RuntimeSignatures(griffe.Extension):
    def on_class_instance(self, *, cls, **kwargs):
        if cls.parent.is_module:
            _show_runtime_doc(cls, _runtime(cls.parent.path, cls.name))

    def on_function_instance(self, *, func, **kwargs):
        if func.parent.is_class and func.parent.parent.is_module:
            if func.docstring is None:
                _show_runtime_doc(func, _runtime(func.parent.path, func.name))
            return
        if not func.parent.is_module or not func.decorators:
            return
        obj = _runtime(func.parent.path, func.name)
        try:
            real = inspect.signature(obj)
        except (TypeError, ValueError):      # (None: not importable)
            return
        if func.docstring is not None:
            _show_runtime_doc(func, obj)
        spelled = {p.name for p in func.parameters}
        for p in real.parameters.values():
            if p.name not in spelled:
                default = None if p.default is p.empty else repr(p.default)
                func.parameters.add(griffe.Parameter(p.name, kind=_KINDS[p.kind],
                                                     default=default))
