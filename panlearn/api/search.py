"""Catalogue search: courses, lessons and exercises, with facets."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask_smorest import Blueprint

from panlearn.api.identity import current_user
from panlearn.extensions import db
from panlearn.schemas.search import SearchArgsSchema, SearchResultSchema
from panlearn.search.sync import registry_techniques, search_synonyms, viewer_for
from panlearn.wiring import services

if TYPE_CHECKING:
    from panlearn.search.synonyms import Synonyms

bp = Blueprint("search", __name__, url_prefix="/api/search", description="Search")


@bp.route("")
@bp.arguments(SearchArgsSchema, location="query")
@bp.response(200, SearchResultSchema)
def search_all(args: dict[str, Any]) -> Any:
    """Search with phrases, prefixes and fields; facets count technique, facility, level, kind.

    Techniques and facilities may be given by short name (`technique:SANS`, `facility=PSI`).
    """
    from panlearn.search.query import search  # whoosh and numpy, with the first search

    context = services().search
    q = args.pop("q")
    return search(context.index, q, viewer=viewer_for(current_user()),
                  synonyms=current_synonyms(), **args)


def current_synonyms() -> Synonyms:
    """The app's short names for techniques and facilities (content, organisations, PaNET)."""
    registry = services().datasets.registry
    return search_synonyms(db.session, Path(services().settings["CONTENT_DIR"]),
                           registry_techniques(registry))
