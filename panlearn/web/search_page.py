"""The search page: a query box, hits with highlighted snippets, facets as filters.

A GET form and links, so it works without JavaScript; the query is the same
service as `GET /api/search`, as the same viewer (drafts stay with their authors).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from marshmallow import ValidationError

from panlearn.api.identity import current_user
from panlearn.api.search import current_synonyms
from panlearn.errors import InvalidInputError
from panlearn.schemas.search import SearchArgsSchema
from panlearn.search.sync import viewer_for
from panlearn.wiring import services

bp = Blueprint("search_page", __name__)

FACETS = ("technique", "facility", "level", "kind")


@bp.route("/search")
def search_page() -> tuple[str, int] | str:
    """Search the catalogue; bad syntax is explained on the page, not raised."""
    try:
        args: dict[str, Any] = SearchArgsSchema().load(request.args)
    except ValidationError as error:
        return render_template("search.html", args=dict(request.args), result=None,
                               error=f"Invalid search parameters: {error.messages}"), 400
    from panlearn.search.query import search  # whoosh and numpy, with the first search

    q = args.pop("q")
    try:
        result = search(services().search.index, q,
                        viewer=viewer_for(current_user()), synonyms=current_synonyms(), **args)
    except InvalidInputError as error:
        return render_template("search.html", args={"q": q, **args}, result=None,
                               error=error.detail), 400
    return render_template("search.html", args={"q": q, **args}, result=result, error=None,
                           facets=FACETS)
