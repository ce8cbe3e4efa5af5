"""The package's boundaries: lira.models is the only part of lira that imports torch, no part of lira
imports snakemake, and no module's name shadows a standard-library module or repeats another's.

The modules are discovered with pkgutil.walk_packages, not listed here: a new module is checked as
soon as it exists. Imports are checked in fresh interpreters, so what this test process (or another
test) has imported cannot hide or fake an import.
"""

from __future__ import annotations

import importlib.util
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import lira

TORCH_SIDE = "lira.models."  # its modules; the package itself (its __init__) is on the torch-free side


def lira_modules() -> list[str]:
    """Every module and package of lira, found by pkgutil.walk_packages (which imports each
    package's __init__ to look inside; an error there fails the test rather than hiding modules)."""

    def failed(name):
        raise ImportError(f"pkgutil.walk_packages could not import the package {name}")

    return ["lira"] + [module.name for module in pkgutil.walk_packages(lira.__path__, "lira.", onerror=failed)]


def modules_loaded_by_importing(names: list[str]) -> list[str]:
    """sys.modules of a fresh interpreter after importing `names`: what this process (or another
    test) has imported can neither hide nor fake an import."""
    code = (
        "import importlib, json, sys\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    process = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr[-4000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


def loaded_of(modules: list[str], package: str) -> list[str]:
    return [name for name in modules if name == package or name.startswith(package + ".")]


def test_every_module_file_is_found():
    """The discovery sees every .py file of the package (a folder without __init__.py would be
    skipped silently, and with it every check below)."""
    root = Path(lira.__file__).parent
    files = {
        ".".join(("lira", *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
        for path in root.rglob("*.py")
    }
    assert set(lira_modules()) == files
    assert {"lira.core", "lira.models", "lira.workflow", "lira.reports", "lira.tools"} <= files


def test_only_lira_models_imports_torch():
    names = [name for name in lira_modules() if not name.startswith(TORCH_SIDE)]
    assert len(names) > 10 and "lira.core.attacks" in names
    assert loaded_of(modules_loaded_by_importing(names), "torch") == [], "a module outside lira.models.* imports torch"


def test_no_module_of_lira_imports_snakemake():
    """Every module, the torch side included where torch is installed."""
    torch_installed = importlib.util.find_spec("torch") is not None
    names = [name for name in lira_modules() if torch_installed or not name.startswith(TORCH_SIDE)]
    loaded = modules_loaded_by_importing(names)
    if torch_installed:
        assert loaded_of(loaded, "torch")  # the torch side was really imported
    assert loaded_of(loaded, "snakemake") == [], "a module of lira imports snakemake"


def test_no_module_is_named_like_a_standard_library_module():
    # lira.core.statistics or lira.workflow.io would shadow the standard library's statistics and
    # io for a script run from inside its folder, and confuse every reader of an import line.
    clashes = [name for name in lira_modules()[1:] if name.rsplit(".", 1)[-1] in sys.stdlib_module_names]
    assert clashes == []


def test_no_two_modules_share_a_basename():
    by_basename: dict[str, list[str]] = {}
    for name in lira_modules()[1:]:
        by_basename.setdefault(name.rsplit(".", 1)[-1], []).append(name)
    assert {base: names for base, names in by_basename.items() if len(names) > 1} == {}


def test_the_core_needs_only_numpy_and_scipy():
    """lira.core, the method, loads neither torch nor pandas nor matplotlib, nor any other part of
    lira: it runs wherever numpy and scipy do."""
    names = [name for name in lira_modules() if name.startswith("lira.core")]
    assert "lira.core.gaussian" in names
    loaded = modules_loaded_by_importing(names)
    for package in ("torch", "pandas", "matplotlib", "lira.models", "lira.workflow", "lira.reports", "lira.tools"):
        assert loaded_of(loaded, package) == [], f"lira.core loads {package}"
