"""Third-party front-end assets, served from installed packages, never from a CDN.

The libraries are installed from a package registry at setup (not committed),
so pages and slides work offline, in a lecture hall without internet: Swagger
UI from the PyPI package `swagger-ui-bundle`, KaTeX and reveal.js from the npm
packages pinned in `static/vendor.json`, CodeMirror as the bundle built from its
pinned packages at install time (see `panlearn.web.assets`).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, send_from_directory

from panlearn.web import assets

bp = Blueprint("vendor", __name__, url_prefix="/static/vendor")

#: The files never change under a pinned version; browsers may keep them a day.
MAX_AGE = 86400


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
    return send_from_directory(folder, filename, max_age=MAX_AGE)


@bp.route("/bundle/<name>")
def bundle(name: str) -> Response:
    """A script bundled at install time from pinned npm packages (`bundle/codemirror.js`)."""
    path = assets.bundle_path(name)
    if path is None:
        abort(404)
    return send_from_directory(path.parent, path.name, max_age=MAX_AGE)


@bp.route("/<package>/<path:filename>")
def npm_package(package: str, filename: str) -> Response:
    """A file of a pinned npm package (`/static/vendor/katex/dist/katex.min.js`).

    Only the packages pinned in vendor.json are reachable, not their
    dependencies or anything else under node_modules; `send_from_directory`
    refuses paths that leave the package folder.
    """
    folder = assets.package_dir(package)
    if folder is None:
        abort(404)
    return send_from_directory(folder, filename, max_age=MAX_AGE)
