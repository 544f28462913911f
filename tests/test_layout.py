"""The test tree is a package tree, so a bare `pytest` (the README's command) imports the real
`zoo` and `lossgraph`, never a test folder of the same name."""
from pathlib import Path

import lossgraph
import zoo

ROOT = Path(__file__).resolve().parents[1]


def test_every_test_folder_is_a_package():
    folders = {p.parent for p in (ROOT / "tests").rglob("test_*.py")}
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists())
    assert not missing, f"test folders without __init__.py: {missing}"


def test_zoo_and_lossgraph_are_the_packages_not_the_test_folders():
    assert Path(zoo.__file__).resolve() == ROOT / "zoo" / "__init__.py"
    assert Path(lossgraph.__file__).resolve() == ROOT / "lossgraph" / "__init__.py"
    assert callable(zoo.catalog)
