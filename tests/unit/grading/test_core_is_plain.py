"""The grading core is plain Python: importing it loads neither Flask nor the database.

Every sandboxed process imports the core, and the workers and the CLI call it
without an app; a Flask or SQLAlchemy import creeping in would slow every
sandbox start and tie the core to the app side. Checked in a fresh interpreter,
so what the test process already imported cannot hide it.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import panlearn.grading.core

CORE_MODULES = sorted(
    module.name
    for module in pkgutil.walk_packages(panlearn.grading.core.__path__, "panlearn.grading.core.")
)
#: Top-level names that must not be in `sys.modules` after importing the core.
FORBIDDEN = ("flask", "werkzeug", "sqlalchemy", "flask_sqlalchemy", "panlearn.models",
             "panlearn.extensions")


def _loaded_after_import(module: str) -> list[str]:
    code = ("import json, sys; import " + module + "; "
            "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    return json.loads(done.stdout)


def test_the_core_has_the_modules_it_is_documented_to_hold():
    names = {name.removeprefix("panlearn.grading.core.") for name in CORE_MODULES}
    assert {"spec", "nbgrader", "matching", "sandbox", "pool", "engine", "answers", "checks",
            "pipeline", "live", "settings", "errors", "launchers", "launchers.zygotes"} <= names


@pytest.mark.parametrize("module", ["panlearn.grading.core", *CORE_MODULES])
def test_importing_a_core_module_loads_neither_flask_nor_sqlalchemy(module):
    loaded = _loaded_after_import(module)
    assert module in loaded
    offending = [name for name in loaded
                 if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)]
    assert offending == []
