"""A `flask` command builds the app without the heavy libraries; a server process imports them.

Every CLI command (and `--help`) loads the app first, so what `create_app`
imports is paid by each of them. A command's app is assembled (extensions,
models, views) only when a command runs (`panlearn.deferred_app`), and the
views import nbconvert, the grading core, whoosh and the rest when first used
(bench/startup.py measures it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO_ROOT

#: Imported by some command or view, never needed to list the commands.
HEAVY = ("nbconvert", "papermill", "nbclient", "jupyter_client", "numpy", "whoosh", "authlib",
         "pylti1p3", "alembic", "flask_migrate", "prometheus_client", "celery")
#: What assembling the app imports: extensions, models, views.
ASSEMBLY = ("sqlalchemy", "flask_sqlalchemy", "flask_smorest", "marshmallow", "flask_wtf")

_PROBE = """
import json, sys
from flask.cli import main
sys.argv = ["flask", "--app", "app", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(name for name in sys.modules if "." not in name)))
"""


def _modules_after(tmp_path, *args: str) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANLEARN_")}
    env["PANLEARN_INSTANCE_DIR"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_listing_the_commands_neither_assembles_the_app_nor_imports_the_heavy_libraries(tmp_path):
    loaded = _modules_after(tmp_path, "--help")
    assert "panlearn" in loaded  # the app was loaded, its commands listed
    assert loaded.isdisjoint(HEAVY + ASSEMBLY), sorted(loaded & set(HEAVY + ASSEMBLY))


def test_a_command_group_help_stays_light_too(tmp_path):
    for group in ("courses", "datasets", "lti", "users"):
        loaded = _modules_after(tmp_path, group, "--help")
        assert loaded.isdisjoint(HEAVY + ASSEMBLY), (group, sorted(loaded & set(HEAVY + ASSEMBLY)))


def _flask(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANLEARN_")}
    env["PANLEARN_INSTANCE_DIR"] = str(tmp_path)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


def test_a_command_run_from_the_shell_gets_the_whole_app(tmp_path):
    """App commands, Flask's own commands and plugins' commands all run on the assembled app."""
    migrated = _flask(tmp_path, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    created = _flask(tmp_path, "users", "create", "ada", "--role", "admin", "--password",
                     "a long enough password")
    assert created.returncode == 0, created.stderr
    assert "ada" in created.stdout + created.stderr
    again = _flask(tmp_path, "users", "create", "ada", "--password", "a long enough password")
    assert again.returncode == 1 and "Traceback" not in again.stderr, again.stderr
    listed = _flask(tmp_path, "--help")
    assert {"db", "openapi", "courses", "limiter"} <= set(listed.stdout.split()), listed.stdout
    spec = _flask(tmp_path, "openapi", "print")  # flask-smorest's group, added at the assembly
    assert spec.returncode == 0 and '"/api/courses"' in spec.stdout, spec.stderr
    routes = _flask(tmp_path, "routes")  # Flask's own: it enters the app context
    assert routes.returncode == 0 and "/api/courses" in routes.stdout, routes.stderr
    shell = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "shell"], cwd=REPO_ROOT,
        input="from panlearn.models import User; from panlearn.extensions import db\n"
              "print('users:', [u.username for u in db.session.query(User)])\n",
        env={**{k: v for k, v in os.environ.items() if not k.startswith("PANLEARN_")},
             "PANLEARN_INSTANCE_DIR": str(tmp_path)},
        capture_output=True, text=True, timeout=300)
    assert "users: ['ada']" in shell.stdout, shell.stdout + shell.stderr


def test_a_server_process_imports_what_requests_need_while_it_starts(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANLEARN_")}
    env["PANLEARN_INSTANCE_DIR"] = str(tmp_path)
    code = ("import json, sys; from panlearn import create_app; create_app(); "
            "print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert {"nbconvert", "papermill", "whoosh", "numpy", "authlib", "pylti1p3",
            "panlearn.grading.core.live", "panlearn.search.query"} <= loaded


def test_the_db_group_runs_flask_migrate_commands(app):
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["db", "--help"])
    assert listed.exit_code == 0 and {"upgrade", "downgrade", "current"} <= set(
        listed.output.split()), listed.output
    # Runs Flask-Migrate's own group (its -d option and callback), set up on first use.
    result = runner.invoke(args=["db", "current"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert type(app.extensions["migrate"]).__module__ == "flask_migrate"
    assert app.extensions["migrate"].directory == str(REPO_ROOT / "migrations")
