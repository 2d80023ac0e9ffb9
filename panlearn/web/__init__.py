"""Server-rendered pages and the static assets the platform serves itself."""

from __future__ import annotations

from flask import Flask

from panlearn.web import vendor


def init_app(app: Flask) -> None:
    """Register the page blueprints."""
    app.register_blueprint(vendor.bp)
