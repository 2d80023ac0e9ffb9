"""Flask-Migrate, set up when a migration runs rather than when the app starts.

Flask-Migrate imports Alembic (about a third of a second), and every `flask`
command builds the app first. So `init_commands` registers a `db` command group
that loads Flask-Migrate's own commands only when it is used, and `init_app` puts a
stand-in in `app.extensions["migrate"]` that sets up Flask-Migrate the first
time anything reads it (`flask_migrate.upgrade()`, `migrations/env.py`).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from panlearn.deferred_app import LazyGroup


class _DeferredMigrate:
    """`app.extensions["migrate"]` until first read: then Flask-Migrate's own, set up here."""

    def __init__(self, app: Flask, db: Any, options: dict[str, Any]) -> None:
        self._app, self._db, self._options = app, db, options

    def __getattr__(self, name: str) -> Any:
        from flask_migrate import Migrate

        Migrate(self._app, self._db, **self._options)  # replaces this stand-in on the app
        return getattr(self._app.extensions["migrate"], name)


def init_commands(app: Flask) -> None:
    """Register the `db` command group (listed before the app is assembled)."""
    app.cli.add_command(LazyGroup("db", "flask_migrate.cli:db",
                                  help="Perform database migrations."))


def init_app(app: Flask, db: Any, **options: Any) -> None:
    """Register migrations for ``db``; ``options`` go to `flask_migrate.Migrate`."""
    app.extensions["migrate"] = _DeferredMigrate(app, db, options)
