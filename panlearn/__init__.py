"""panlearn: notebook courses, auto-graded exercises on real PaN data, search."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the package itself stays light: the grading sandbox imports it
    import click
    from flask import Flask

__version__ = "0.1.0"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, errors, CLI.

    `config` overrides settings by name (without the PANLEARN_ prefix), which is
    how tests point the app at a temporary instance dir and database. A `flask`
    command's app holds its settings and commands only until it is first entered
    (`deferred_app`): listing the commands then costs little more than Flask.
    """
    from panlearn import cli, deferred_migrate
    from panlearn.config import flask_config, load_settings
    from panlearn.deferred_app import DeferredApp, LazyGroup
    from panlearn.ops.logs import configure_logging

    settings = load_settings(os.environ, config)
    configure_logging(settings["LOG_FORMAT"], settings["LOG_LEVEL"])
    instance = Path(settings["INSTANCE_DIR"])
    instance.mkdir(parents=True, exist_ok=True)
    app = DeferredApp(__name__, instance_path=str(instance), instance_relative_config=False)
    app.config.update(flask_config(settings))
    app.config["PANLEARN"] = settings
    cli.init_app(app)
    deferred_migrate.init_commands(app)
    # flask-smorest adds it when bound (at the assembly); listed from the start.
    app.cli.add_command(LazyGroup("openapi", "flask_smorest.spec:openapi_cli",
                                  help="OpenAPI commands."))
    command = _flask_command()
    if command is not None:
        app.assemble_later(lambda: _assemble(app, settings), command)
        return app
    _assemble(app, settings)
    if not _in_a_command():
        _import_what_requests_need()
    return app


def _assemble(app: Flask, settings: dict[str, Any]) -> None:
    """Bind the extensions, collaborators, routes and error handlers to ``app``."""
    from panlearn import deferred_migrate, web
    from panlearn.api import register_api
    from panlearn.authoring.runner import resume_with_first_request
    from panlearn.extensions import configure_sqlite, db, limiter
    from panlearn.http.openapi import api
    from panlearn.http.problems import register_error_handlers
    from panlearn.lti.routes import init_app as init_lti
    from panlearn.metadata.routes import init_app as init_metadata
    from panlearn.ops.routes import bp as ops_bp
    from panlearn.wiring import build_services

    # Every collaborator, built once; views and commands ask `wiring.services()`.
    services = build_services(app, settings, app_factory=create_app, version=__version__)
    db.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine)
    deferred_migrate.init_app(app, db, directory=str(services.migrations_dir),
                              render_as_batch=True, compare_type=True)
    api.init_app(app)
    limiter.init_app(app)
    register_api(api)
    app.register_blueprint(ops_bp)
    web.init_app(app)
    init_metadata(app)
    init_lti(app)
    # After flask-smorest, so our problem+json handlers replace its error handler.
    register_error_handlers(app)
    _start_grading_with_first_request(app, services.dispatcher)
    resume_with_first_request(app, services.imports)


#: What the views import when first used rather than at start-up (nbconvert, the grading
#: core, whoosh and numpy, Authlib, pylti1p3, requests, Alembic, Prometheus): a web or
#: grading process imports them while it starts, so that no first request pays for them.
REQUEST_MODULES = (
    "panlearn.notebooks.render", "nbconvert.exporters", "traitlets.config",
    "panlearn.grading.core.live", "panlearn.grading.core.pipeline", "panlearn.grading.core.pool",
    "panlearn.search.query", "panlearn.search.index", "panlearn.search.synonyms",
    "panlearn.datasets.client", "panlearn.datasets.filecache",
    "panlearn.authoring.reference_grading", "authlib.integrations.flask_client",
    "pylti1p3.contrib.flask", "panlearn.lti.config", "panlearn.lti.deep_linking",
    "panlearn.lti.keys", "panlearn.lti.launch", "panlearn.lti.nonces",
    "panlearn.ops.metrics", "alembic.migration", "alembic.script", "prometheus_client",
)


def _flask_command() -> click.Context | None:
    """The `flask` command loading this app (a click context), if one is.

    Not a `flask` command that runs with its app already current (`create_app()`
    typed in `flask shell`): that one builds a whole app.
    """
    import click
    from flask import current_app
    from flask.cli import ScriptInfo

    command = click.get_current_context(silent=True)
    if command is None or command.find_object(ScriptInfo) is None or current_app:
        return None
    return command


def _in_a_command() -> bool:
    """Whether a `flask` command is building this app (click's context is active)."""
    import click

    return click.get_current_context(silent=True) is not None


def _import_what_requests_need() -> None:
    """Import `REQUEST_MODULES` now: this process serves requests (or grades), it is no CLI.

    The models' relationships are resolved here too (SQLAlchemy does it at the
    first query otherwise: a tenth of a second of the first request).
    """
    import importlib

    from sqlalchemy.orm import configure_mappers

    for name in REQUEST_MODULES:
        importlib.import_module(name)
    configure_mappers()


def _start_grading_with_first_request(app: Flask, dispatcher: Any) -> None:
    """The local pool starts with the first request, not at import (nor for CLI commands)."""
    started: list[bool] = []

    @app.before_request
    def _start_grading() -> None:
        # Starting resumes work a crash left queued or running.
        if not started:
            started.append(True)
            dispatcher.start()
