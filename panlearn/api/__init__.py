"""REST API blueprints (flask-smorest): parse with a schema, call a service, dump."""

from __future__ import annotations

from flask_smorest import Api


def register_api(api: Api) -> None:
    """Register every blueprint and the documented error body."""
    from panlearn.api import (
        auth,
        courses,
        credentials,
        datasets,
        lessons,
        live,
        organisations,
        progress,
        quizzes,
        search,
        submissions,
    )

    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "description": "POST /api/auth/token"}
    )
    for module in (auth, courses, datasets, lessons, organisations, search, submissions,
                   progress, credentials, quizzes, live):
        api.register_blueprint(module.bp)
