"""Timings taken in a fresh interpreter, for first-compile figures.

    seconds = fresh_seconds(script, [arg, ...], {"LOSSGRAPH_CACHE": "0"})

The script runs after IMPORTS (llvmlite and every module of the LLVM backend, so that import
time is not compile time), at the project root, with env added to this process's
environment; it prints the seconds it measured last.
"""
from __future__ import annotations

import os
import subprocess
import sys

IMPORTS = """import importlib, pkgutil, sys, time
import codegen, codegen.llvm, llvmlite.binding
for m in pkgutil.iter_modules(codegen.llvm.__path__):     # imports are not compile time
    importlib.import_module("codegen.llvm." + m.name)
"""

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fresh_seconds(script, args, env, imports=IMPORTS):
    """The last number script prints, run after imports (IMPORTS) in a new interpreter."""
    run = subprocess.run([sys.executable, "-c", imports + script, *args], cwd=ROOT,
                         capture_output=True, text=True, env=dict(os.environ, **env))
    if run.returncode:
        lines = run.stderr.strip().splitlines() or ["(no output)"]
        raise RuntimeError(f"{' '.join(args)}: {lines[-1]}")
    return float(run.stdout.split()[-1])
