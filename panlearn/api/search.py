"""Catalogue search: courses, lessons and exercises, with facets."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from panlearn.api.identity import current_user
from panlearn.schemas import SearchArgsSchema, SearchResultSchema
from panlearn.search import Viewer, search
from panlearn.search.sync import SearchContext

bp = Blueprint("search", __name__, url_prefix="/api/search", description="Search")


def viewer_of(user: Any) -> Viewer:
    """The search index's view of a user (drafts are per organisation)."""
    if user is None:
        return Viewer.anonymous()
    return Viewer(role=user.role.value,
                  organisation_slug=user.organisation.slug if user.organisation else None)


@bp.route("")
@bp.arguments(SearchArgsSchema, location="query")
@bp.response(200, SearchResultSchema)
def search_all(args: dict[str, Any]) -> Any:
    """Search with phrases, prefixes and fields; facets count technique, facility, level, kind."""
    context: SearchContext = current_app.extensions["panlearn.search"]
    q = args.pop("q")
    return search(context.index, q, viewer=viewer_of(current_user()), **args)
