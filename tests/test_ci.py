""".ci/run installs the interop extra (so the PyTorch, JAX and Dask tests run rather than skip),
runs the README's quick start as written, then the README's documentation build, and fails
whenever either would fail for a newcomer: checked with stub `pip`, `lossgraph`, `pytest`,
`mkdocs` and `dot` that record their calls."""
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICK_START = re.search(r"## Quick start.*?```bash\n(.*?)```", (ROOT / "README.md").read_text(),
                        re.S).group(1).splitlines()
INTEROP = "pip install -e .[interop]"
DOCS_BUILD = re.search(r"`([^`]*mkdocs build[^`]*)`", (ROOT / "README.md").read_text()).group(1)


def run_ci(tmp_path, pytest_exit=0, lossgraph_exit=0, mkdocs_exit=0):
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    stubs, log = tmp_path / "stubs", tmp_path / "calls.log"
    stubs.mkdir()
    for name, code in (("pip", 0), ("lossgraph", lossgraph_exit), ("pytest", pytest_exit),
                       ("mkdocs", mkdocs_exit), ("dot", 0)):
        (stubs / name).write_text(f'#!/bin/sh\necho "{name}${{*:+ $*}}" >> "{log}"\nexit {code}\n')
        (stubs / name).chmod(0o755)
    env = dict(os.environ, PATH=f"{stubs}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], env=env,
                          capture_output=True, text=True, timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    return done.returncode, calls


def calls_of(lines):
    return [" ".join(shlex.split(cmd)) for line in lines for cmd in line.split("&&")]


def test_ci_runs_the_quick_start_commands_verbatim_then_the_docs_build(tmp_path):
    expected = calls_of(QUICK_START)
    code, calls = run_ci(tmp_path)
    assert code == 0 and calls == [INTEROP] + expected + calls_of([DOCS_BUILD])
    assert expected[-1] == "pytest"
    assert calls[-2:] == ["pip install -e .[docs]", "mkdocs build --strict"]


def test_ci_fails_when_the_docs_build_fails(tmp_path):
    code, calls = run_ci(tmp_path, mkdocs_exit=1)
    assert code == 1 and calls[-1] == "mkdocs build --strict"


@pytest.mark.parametrize("pytest_exit", [1, 5])       # a failing test; no test collected
def test_ci_fails_when_pytest_fails_or_collects_nothing(tmp_path, pytest_exit):
    code, _ = run_ci(tmp_path, pytest_exit=pytest_exit)
    assert code == pytest_exit


def test_ci_fails_when_the_first_quick_start_line_fails(tmp_path):
    code, calls = run_ci(tmp_path, lossgraph_exit=3)
    assert code == 3 and calls[-1] == "lossgraph tour"     # pytest never ran
