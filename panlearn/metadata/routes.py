"""HTTP edge of the catalogue metadata: JSON-LD per course, the sitemap, OAI-PMH.

Thin views: parse the request, call one service of `panlearn.metadata`, answer
with the media type harvesters expect. Everything here is public and shows
only published courses (read as an anonymous visitor through the catalogue).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, request, url_for

from panlearn.catalogue import get_course_version
from panlearn.extensions import db
from panlearn.metadata.jsonld import JSONLD_MIMETYPE, course_jsonld
from panlearn.metadata.oai import OAI_MIMETYPE, Repository, handle_request
from panlearn.metadata.sitemap import build_sitemap, published_versions
from panlearn.metadata.urls import FlaskUrls
from panlearn.web.security import register_csrf_exempt
from panlearn.wiring import services

bp = Blueprint("metadata", __name__)

#: Flask config keys (optional): the OAI adminEmail, and records per OAI list page.
#: How long harvesters and caches may keep an answer, in seconds.
MAX_AGE = 300


@bp.route("/courses/<slug>.jsonld", endpoint="course_jsonld")
def course_jsonld_document(slug: str) -> Response:
    """The Bioschemas JSON-LD of a course's published version."""
    version = get_course_version(db.session, slug, None)
    registry = services().datasets.registry
    response = current_app.json.response(course_jsonld(version, registry=registry))
    response.mimetype = JSONLD_MIMETYPE
    return _cacheable(response)


@bp.route("/sitemap.xml")
def sitemap() -> Response:
    """Every published course and lesson page, with the time it last changed."""
    body = build_sitemap(published_versions(db.session), FlaskUrls())
    return _cacheable(Response(body, mimetype="application/xml"))


@bp.route("/oai", methods=["GET", "POST"])
def oai() -> Response:
    """The OAI-PMH endpoint (arguments in the query, or form-encoded in a POST body)."""
    source = request.form if request.method == "POST" else request.args
    arguments = {name: values for name, values in source.lists()}
    base_url = url_for("metadata.oai", _external=True)
    settings = services().settings
    host = urlsplit(base_url).hostname or "localhost"
    repository = Repository(
        name=f"panlearn at {host}", base_url=base_url,
        admin_email=settings["ADMIN_EMAIL"] or _placeholder_email(host),
        repository_id=host, secret=settings["SECRET_KEY"], page_size=settings["OAI_PAGE_SIZE"])
    body = handle_request(db.session, arguments, repository, FlaskUrls())
    return Response(body, mimetype=OAI_MIMETYPE, content_type=f"{OAI_MIMETYPE}; charset=utf-8")


def _placeholder_email(host: str) -> str:
    # Identify must name an address; without a configured one, say plainly it is none
    # (`.invalid` is reserved, RFC 2606) while keeping the form the schema requires.
    return f"admin@{host}" if "." in host else f"admin@{host}.invalid"


def _cacheable(response: Response) -> Response:
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    return response


def init_app(app: Flask) -> None:
    """Register the blueprint; OAI-PMH POSTs come from harvesters, not from our forms."""
    register_csrf_exempt(app, bp)
