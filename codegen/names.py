"""Safe, unique Python identifiers for generated code.

Every name that reaches generated source (input names, intermediates, helpers) goes through a
`Namer`: characters outside [A-Za-z0-9_] become "_", a leading digit gets a "_" in front,
keywords and reserved names (helpers, `np`, builtins the source uses) get a "_" appended, and a
name already taken gets a numeric suffix. User strings reach the source only this way or as
`repr`'d literals.
"""
from __future__ import annotations

import builtins
import keyword
import re
import unicodedata

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def safe_identifier(text):
    """An ASCII identifier made from text ("prob ŷ" -> "prob_y", "1st" -> "_1st")."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    text = _UNSAFE.sub("_", text) or "_"
    if text[0].isdigit():
        text = "_" + text
    return text


class Namer:
    """Hands out identifiers that are valid, not reserved and unique within one module."""

    def __init__(self, reserved=()):
        self.protected = _PROTECTED | set(reserved)
        self.taken = set(self.protected)

    def fresh(self, hint):
        base = safe_identifier(hint)
        if base in self.protected:
            base += "_"
        name, k = base, 1
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name


_PROTECTED = set(keyword.kwlist) | set(keyword.softkwlist) | set(dir(builtins))
