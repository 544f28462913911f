"""Docstring sections that a decorator documents once for every function it wraps."""
from __future__ import annotations

import re
import textwrap

_ORDER = ("TypeError", "OptionError", "ShapeError", "DTypeError", "InputError")


def add_raises(fn, *entries):
    """Add `Type: text` entries to fn's Google-style "Raises:" section (made at the end when
    there is none), each before the first entry of a type that _ORDER puts later; an entry
    the section already has is not added again."""
    doc = fn.__doc__ or ""
    lines = doc.rstrip().split("\n")
    indent = min((len(l) - len(l.lstrip()) for l in lines[1:] if l.strip()), default=4)
    pad = " " * indent
    try:
        start = lines.index(pad + "Raises:")
    except ValueError:
        lines += ["", pad + "Raises:"]
        start = len(lines) - 1
    end = start + 1
    while end < len(lines) and (lines[end].startswith(pad + " ") or not lines[end].strip()):
        end += 1
    while not lines[end - 1].strip():
        end -= 1
    present = " ".join(" ".join(lines[start + 1:end]).split())
    for entry in entries:
        if " ".join(entry.split()) in present:
            continue
        rank = _rank(entry)
        at = next((i for i in range(start + 1, end)
                   if re.match(rf"{pad}    \w+:", lines[i]) and _rank(lines[i].strip()) > rank),
                  end)
        new = textwrap.wrap(entry, 96, initial_indent=pad + "    ",
                            subsequent_indent=pad + "        ")
        lines[at:at] = new
        end += len(new)
    fn.__doc__ = "\n".join(lines) + "\n" + pad
    return fn


def _rank(entry):
    kind = entry.split(":", 1)[0]
    return _ORDER.index(kind) if kind in _ORDER else len(_ORDER)
