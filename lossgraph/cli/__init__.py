"""The `lossgraph` command (the application layer: the one package of lossgraph that may import
zoo and codegen, lazily inside its commands).

Exit codes: 0 success, 1 error (a LossgraphError, reported on stderr without a traceback),
2 usage (unknown command, option or loss name). A closed output pipe (`lossgraph list | head`)
ends the command quietly.
"""
from __future__ import annotations

import os
import sys

from lossgraph.errors import FormulaError

from .parser import parser
from .usage import UsageError

__all__ = ["main", "parser", "UsageError"]


def main(argv=None):
    """Run the command line; returns the exit code (argparse exits 2 itself on bad usage)."""
    import lossgraph as lg
    args = None
    try:
        top = parser()
        args = top.parse_args(argv)
        if not hasattr(args, "run"):
            top.print_help()
            code = 0
        else:
            code = args.run(args)
        sys.stdout.flush()
        return code
    except (UsageError, FormulaError) as e:   # a malformed LOSS is bad usage, like a bad name
        kind = "error" if isinstance(e, UsageError) else type(e).__name__
        print(f"lossgraph {args.command}: {kind}: {e}", file=sys.stderr)  # after parse_args
        return 2
    except lg.LossgraphError as e:
        where = f"lossgraph {args.command}" if args else "lossgraph"
        print(f"{where}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:        # the reader left (`lossgraph list | head`): stop quietly
        _discard_stdout()
        return 1
    except KeyboardInterrupt:
        return 130


def _discard_stdout():
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass
