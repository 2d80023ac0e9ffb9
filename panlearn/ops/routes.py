"""Probes and metrics for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

from panlearn.extensions import db
from panlearn.wiring import services

bp = Blueprint("ops", __name__)


@bp.route("/healthz")
def healthz() -> Response:
    """Liveness: the process answers. Nothing else is checked, so it never flaps."""
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: the database answers and its schema is at the code's migration head."""
    # Alembic is imported here, not at start-up: it costs every `flask` command a third of a second.
    from alembic.config import Config
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    checks: dict[str, str] = {}
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
        directory = services().migrations_dir
        config = Config()
        config.set_main_option("script_location", str(Path(directory)))
        expected = set(ScriptDirectory.from_config(config).get_heads())
        checks["database"] = "ok"
        checks["migrations"] = "ok" if current == expected else (
            f"at {sorted(current)}, code expects {sorted(expected)}: run `flask db upgrade`")
    except Exception as error:  # any failure means not ready; say which
        checks["database"] = f"unreachable: {type(error).__name__}"
    ready = all(value == "ok" for value in checks.values()) and "migrations" in checks
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


@bp.route("/metrics")
def metrics() -> Response:
    """Prometheus exposition of the grading metrics."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    from panlearn.ops.metrics import GradingCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(GradingCollector(current_app._get_current_object()))  # type: ignore[attr-defined]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
