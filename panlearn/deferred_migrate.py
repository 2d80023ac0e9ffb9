"""Flask-Migrate, set up when a migration runs rather than when the app starts.

Flask-Migrate imports Alembic (about a third of a second), and every `flask`
command builds the app first. So `init_app` registers a `db` command group
that loads Flask-Migrate's own commands only when it is used, and puts a
stand-in in `app.extensions["migrate"]` that sets up Flask-Migrate the first
time anything reads it (`flask_migrate.upgrade()`, `migrations/env.py`).
"""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup


class _DeferredMigrate:
    """`app.extensions["migrate"]` until first read: then Flask-Migrate's own, set up here."""

    def __init__(self, app: Flask, db: Any, options: dict[str, Any]) -> None:
        self._app, self._db, self._options = app, db, options

    def __getattr__(self, name: str) -> Any:
        from flask_migrate import Migrate

        Migrate(self._app, self._db, **self._options)  # replaces this stand-in on the app
        return getattr(self._app.extensions["migrate"], name)


class _DeferredCommands(AppGroup):
    """The `db` group: Flask-Migrate's own group, imported when the group is used."""

    def _group(self) -> click.Group:
        from flask_migrate.cli import db

        return db

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        """Flask-Migrate's group parses its own options and runs its own callback."""
        return self._group().make_context(info_name, args, parent=parent, **extra)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Flask-Migrate's command names."""
        return self._group().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """One of Flask-Migrate's commands."""
        return self._group().get_command(ctx, cmd_name)


def init_app(app: Flask, db: Any, **options: Any) -> None:
    """Register migrations for ``db``; ``options`` go to `flask_migrate.Migrate`."""
    app.extensions["migrate"] = _DeferredMigrate(app, db, options)
    app.cli.add_command(_DeferredCommands("db", help="Perform database migrations."))
