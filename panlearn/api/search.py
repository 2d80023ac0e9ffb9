"""Catalogue search: courses, lessons and exercises, with facets."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from panlearn.api.identity import current_user
from panlearn.schemas import SearchArgsSchema, SearchResultSchema
from panlearn.search import search
from panlearn.search.sync import SearchContext, viewer_for

bp = Blueprint("search", __name__, url_prefix="/api/search", description="Search")


@bp.route("")
@bp.arguments(SearchArgsSchema, location="query")
@bp.response(200, SearchResultSchema)
def search_all(args: dict[str, Any]) -> Any:
    """Search with phrases, prefixes and fields; facets count technique, facility, level, kind."""
    context: SearchContext = current_app.extensions["panlearn.search"]
    q = args.pop("q")
    return search(context.index, q, viewer=viewer_for(current_user()), **args)
