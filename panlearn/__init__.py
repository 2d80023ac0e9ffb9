"""panlearn: notebook courses, auto-graded exercises on real PaN data, search."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the package itself stays light: the grading sandbox imports it
    from flask import Flask

__version__ = "0.1.0"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, errors, CLI.

    `config` overrides settings by name (without the PANLEARN_ prefix), which is
    how tests point the app at a temporary instance dir and database.
    """
    from flask import Flask

    from panlearn import cli, web
    from panlearn.api import register_api
    from panlearn.authoring.runner import init_app as init_imports
    from panlearn.config import flask_config, load_settings
    from panlearn.datasets.settings import DatasetsConfig, DatasetsContext
    from panlearn.extensions import configure_sqlite, db, limiter, migrate
    from panlearn.http.openapi import api
    from panlearn.http.problems import register_error_handlers
    from panlearn.lti.routes import init_app as init_lti
    from panlearn.metadata.routes import init_app as init_metadata
    from panlearn.ops.logs import configure_logging
    from panlearn.ops.routes import bp as ops_bp
    from panlearn.search.sync import SearchContext, course_hook

    settings = load_settings(os.environ, config)
    configure_logging(settings["LOG_FORMAT"], settings["LOG_LEVEL"])
    instance = Path(settings["INSTANCE_DIR"])
    instance.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=False)
    app.config.update(flask_config(settings))
    app.config["PANLEARN"] = settings
    app.extensions["panlearn.datasets"] = DatasetsContext(DatasetsConfig.from_settings(settings))
    search_context = SearchContext(Path(settings["SEARCH_DIR"] or instance / "search"))
    app.extensions["panlearn.search"] = search_context
    # Authoring services call these after each commit that changes a course.
    app.extensions["panlearn_course_hooks"] = [course_hook(lambda: db.session, search_context)]

    db.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"),
                     render_as_batch=True, compare_type=True)
    api.init_app(app)
    limiter.init_app(app)
    register_api(api)
    app.register_blueprint(ops_bp)
    web.init_app(app)
    init_metadata(app)
    init_lti(app)
    _init_sso(app)
    # After flask-smorest, so our problem+json handlers replace its error handler.
    register_error_handlers(app)
    cli.init_app(app)
    _init_grading(app)
    init_imports(app)
    return app


def _init_sso(app: Flask) -> None:
    """The identity providers of the identity file, as OpenID Connect clients of this app."""
    import logging

    from panlearn.extensions import db
    from panlearn.sso.client import LoginStateStore, OidcClients
    from panlearn.sso.client import init_app as init_clients
    from panlearn.sso.providers import load_identity_file

    settings = app.config["PANLEARN"]
    path = Path(settings["IDENTITY_FILE"] or Path(settings["CONTENT_DIR"]) / "identity.yml")
    providers = load_identity_file(path, os.environ)
    init_clients(app, OidcClients(app, providers, state=LoginStateStore(lambda: db.session),
                                  timeout_s=settings["OIDC_TIMEOUT_S"],
                                  clock_skew_s=settings["OIDC_CLOCK_SKEW_S"]))
    if not providers and not settings["LOCAL_LOGIN"]:
        logging.getLogger(__name__).warning(
            "PANLEARN_LOCAL_LOGIN=false and no identity provider in %s: nobody can sign in",
            path)


def _init_grading(app: Flask) -> None:
    """Choose the dispatcher; the local pool starts with the first request, not at import."""
    from panlearn.grading.runtime import dispatcher_for

    broker = app.config["PANLEARN"]["BROKER_URL"]
    if broker:
        from panlearn.grading.tasks import configure

        configure(broker)
    dispatcher = dispatcher_for(app)
    app.extensions["panlearn.dispatcher"] = dispatcher
    started: list[bool] = []

    @app.before_request
    def _start_grading() -> None:
        # Starting resumes work a crash left queued or running.
        if not started:
            started.append(True)
            dispatcher.start()
