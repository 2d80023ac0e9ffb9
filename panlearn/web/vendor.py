"""Third-party front-end assets, served from installed packages, never from a CDN.

The libraries are installed from a package registry at setup (not committed),
so pages and slides work offline, in a lecture hall without internet.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, send_from_directory

bp = Blueprint("vendor", __name__, url_prefix="/static/vendor")


def _swagger_ui_dir() -> Path | None:
    try:
        import swagger_ui_bundle
    except ImportError:
        return None
    return Path(swagger_ui_bundle.swagger_ui_path)


@bp.route("/swagger-ui/<path:filename>")
def swagger_ui(filename: str) -> Response:
    """Swagger UI's assets for `/api/docs`."""
    folder = _swagger_ui_dir()
    if folder is None:
        abort(404)
    return send_from_directory(folder, filename, max_age=86400)
