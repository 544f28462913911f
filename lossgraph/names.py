"""User-given names in messages: every error that quotes a name (an input, an option, a loss)
quotes it through `quote`, so a 10,000-character name cannot flood a message."""
from __future__ import annotations

import difflib

LIMIT = 60          # characters of a name kept in a message


def quote(name, limit=LIMIT):
    """repr(name), its middle elided when longer than `limit`: 'aaaa...aaaa' (10000 chars)."""
    text = repr(name)
    if len(text) <= limit:
        return text
    keep = (limit - 5) // 2
    length = f" ({len(name)} chars)" if isinstance(name, str) else ""
    return f"{text[:keep]}...{text[-keep:]}{length}"


def did_you_mean(name, candidates):
    """' (did you mean 'delta'?)' for the closest of candidates, or '' when none is close."""
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, [c for c in candidates if isinstance(c, str)], n=1)
    return f" (did you mean {quote(close[0])}?)" if close else ""


def unknown_keywords(owner, unknown, allowed):
    """The TypeError for keywords `owner` does not take, naming each with the closest allowed
    one: "huber() got an unexpected keyword 'detla' (did you mean 'delta'?)"."""
    parts = [f"{quote(k)}{did_you_mean(k, allowed)}" for k in unknown]
    plural = "s" if len(parts) > 1 else ""
    return TypeError(f"{owner}() got an unexpected keyword{plural} {', '.join(parts)}; it takes "
                     f"{', '.join(allowed) or 'no keywords'}")
