"""The app's collaborators, built once by `create_app` and found in one place.

`create_app` calls `build_services` once and stores the result under one key;
views and commands ask `services()` (the current app's) or `services_of(app)`
and pass what they need to the services as arguments. Services never fetch
collaborators themselves.

The after-commit hooks are wired here too, so the dependencies point one way:
grading publishes "graded" to the hooks it is given, and progress and LTI
grade passback subscribe; submitting publishes "submitted", and the grading
dispatcher subscribes; authoring publishes a changed course, and the search
index subscribes.

Settings are read through the live `settings` mapping (the same dict as
`app.config["PANLEARN"]`), and the values derived from them (limits, the
issuer) are derived on each use: cheap, and a test that changes a setting
sees the change.

This module imports only light modules at start-up; the heavy ones (the
grading pool, whoosh, Authlib) are imported when a collaborator is built or
first used, so `flask --app app --help` stays quick.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flask import Flask, current_app

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from panlearn.authoring.runner import ImportRunner
    from panlearn.authoring.service import CourseHook
    from panlearn.credentials.service import IssuerConfig
    from panlearn.datasets.settings import DatasetsContext
    from panlearn.grading.core.settings import GradingSettings
    from panlearn.grading.hooks import SubmissionHook
    from panlearn.grading.runs import RunLimits
    from panlearn.grading.submissions import SubmissionLimits
    from panlearn.lti.keys import ToolKey
    from panlearn.search.sync import SearchContext
    from panlearn.sso.client import OidcClients

#: The one `app.extensions` key of panlearn's collaborators.
EXTENSION = "panlearn"


class Dispatcher(Protocol):
    """Hands committed jobs (submissions, live runs) to the grading workers."""

    def start(self) -> None:
        """Start what runs the jobs (idempotent)."""

    def enqueue(self, job_id: int) -> None:
        """Wake a worker for a committed job."""

    def stop(self) -> None:
        """Stop what `start` started."""


@dataclass(frozen=True)
class Services:
    """Everything the edges (views, commands, workers) hand to the services."""

    #: The `PANLEARN_*` settings by name (the same dict as `app.config["PANLEARN"]`).
    settings: dict[str, Any]
    #: The PaNOSC client, the dataset registry and the verified file cache.
    datasets: DatasetsContext
    #: The search index (opened on first use).
    search: SearchContext
    #: Sends committed submissions and live runs to the grading workers.
    dispatcher: Dispatcher
    #: The OpenID Connect identity providers.
    sso: OidcClients
    #: Runs the workspace's import jobs on a thread of this process.
    imports: ImportRunner
    #: Run after each commit that changed a course (the search index).
    course_hooks: tuple[CourseHook, ...] = ()
    #: Run after a submission's result is committed (progress, LTI grade passback).
    graded_hooks: tuple[SubmissionHook, ...] = ()
    #: Builds an app from setting overrides: what a spawned grading worker runs.
    app_factory: Callable[..., Flask] | None = None
    #: The grader's version, recorded on each grading run.
    version: str = ""
    #: Where the Alembic migrations are.
    migrations_dir: Path = field(
        default_factory=lambda: Path(__file__).resolve().parent.parent / "migrations")

    @property
    def submitted_hooks(self) -> tuple[SubmissionHook, ...]:
        """Run after a submission is committed: hand it to the grading workers."""
        return (self.dispatch,)

    def dispatch(self, _session: Session | None, job_id: int) -> None:
        """Hand a committed job to the workers (after the commit: nothing lost if this fails)."""
        self.dispatcher.enqueue(job_id)

    @property
    def instance_dir(self) -> Path:
        """The instance folder: database, caches, indexes, keys."""
        return Path(self.settings["INSTANCE_DIR"])

    @property
    def render_cache_dir(self) -> Path:
        """Where rendered notebooks are cached (lesson pages and feedback share it)."""
        from panlearn.notebooks.cache import render_cache_dir

        return render_cache_dir(self.settings)

    @property
    def grading(self) -> GradingSettings:
        """The grading core's limits (`PANLEARN_GRADING_*`)."""
        from panlearn.grading.core.settings import grading_settings

        return grading_settings(self.settings)

    @property
    def submission_limits(self) -> SubmissionLimits:
        """Upload size and rate limits of submissions."""
        from panlearn.grading.submissions import submission_limits

        return submission_limits(self.settings)

    @property
    def run_limits(self) -> RunLimits:
        """Live runs' time limit, queue share and who may run."""
        from panlearn.grading.runs import run_limits

        return run_limits(self.settings)

    @property
    def issuer(self) -> IssuerConfig:
        """Who issues credentials, and the secret their keys are sealed with."""
        from panlearn.credentials.service import issuer_config

        return issuer_config(self.settings)

    def tool_key(self) -> ToolKey:
        """The LTI tool's signing key (made once in the instance dir)."""
        from panlearn.lti.keys import tool_key

        return tool_key(self.settings["INSTANCE_DIR"])


def services_of(app: Flask) -> Services:
    """The collaborators of this app (assembled first if it was deferred)."""
    from panlearn.deferred_app import DeferredApp

    if isinstance(app, DeferredApp):
        app.assemble()
    found: Services = app.extensions[EXTENSION]
    return found


def services() -> Services:
    """The collaborators of the current app (in a request, a command, an app context)."""
    return services_of(current_app)


def replace_services(app: Flask, **changes: Any) -> Services:
    """Swap some collaborators of an app (tests: a dispatcher with real workers)."""
    replaced = dataclasses.replace(services_of(app), **changes)
    app.extensions[EXTENSION] = replaced
    return replaced


def build_services(app: Flask, settings: dict[str, Any], *,
                   app_factory: Callable[..., Flask], version: str) -> Services:
    """Build the app's collaborators from its settings, once, and store them on the app."""
    import os

    from panlearn.authoring.runner import ImportRunner
    from panlearn.datasets.settings import DatasetsConfig, DatasetsContext
    from panlearn.extensions import db
    from panlearn.grading.runtime import dispatcher_for
    from panlearn.search.sync import SearchContext, course_hook

    instance = Path(settings["INSTANCE_DIR"])
    search = SearchContext(Path(settings["SEARCH_DIR"] or instance / "search"))
    built = Services(
        settings=settings,
        datasets=DatasetsContext(DatasetsConfig.from_settings(settings)),
        search=search,
        dispatcher=dispatcher_for(app, settings, app_factory=app_factory),
        sso=_oidc_clients(app, settings, os.environ),
        imports=ImportRunner(app),
        course_hooks=(course_hook(lambda: db.session, search),),
        graded_hooks=_graded_hooks(settings),
        app_factory=app_factory,
        version=version,
    )
    app.extensions[EXTENSION] = built
    return built


def _graded_hooks(settings: Mapping[str, Any]) -> tuple[SubmissionHook, ...]:
    """Progress (completion, credentials), then LTI grade passback; neither may fail grading."""

    def progress(session: Session, submission_id: int) -> None:
        from panlearn.credentials.service import issuer_config
        from panlearn.progress.hooks import on_submission_graded

        on_submission_graded(session, submission_id, issuer=issuer_config(settings))

    def passback(session: Session, submission_id: int) -> None:
        from panlearn.lti.keys import tool_key
        from panlearn.lti.passback import post_score

        post_score(session, submission_id, key=lambda: tool_key(settings["INSTANCE_DIR"]))

    return (progress, passback)


def _oidc_clients(app: Flask, settings: Mapping[str, Any],
                  environ: Mapping[str, str]) -> OidcClients:
    """The identity providers of the identity file, as OpenID Connect clients of this app."""
    import logging

    from panlearn.extensions import db
    from panlearn.sso.client import LoginStateStore, OidcClients
    from panlearn.sso.providers import load_identity_file

    path = Path(settings["IDENTITY_FILE"] or Path(settings["CONTENT_DIR"]) / "identity.yml")
    providers = load_identity_file(path, environ)
    if not providers and not settings["LOCAL_LOGIN"]:
        logging.getLogger(__name__).warning(
            "PANLEARN_LOCAL_LOGIN=false and no identity provider in %s: nobody can sign in",
            path)
    return OidcClients(app, providers, state=LoginStateStore(lambda: db.session),
                       timeout_s=settings["OIDC_TIMEOUT_S"],
                       clock_skew_s=settings["OIDC_CLOCK_SKEW_S"])

