"""Lessons inside other pages: the chrome-less embed and the oEmbed provider.

A lecturer puts a lesson, or one figure of it, into a presentation or a course
site. `/embed/lessons/<id>` may be framed by PANLEARN_EMBED_ORIGINS when the
lesson is public (drafts only by the platform itself); `/oembed` answers
consumers that know a lesson page URL (oembed.com, JSON only).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from markupsafe import escape
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from panlearn.api.identity import current_user
from panlearn.catalogue import get_lesson
from panlearn.errors import NotFoundError, NotImplementedFormatError
from panlearn.extensions import db
from panlearn.models import Lesson
from panlearn.web import live as live_pages
from panlearn.web import rendering
from panlearn.web.args import EmbedArgsSchema, OEmbedArgsSchema, parse
from panlearn.web.quizzes import with_questions
from panlearn.web.security import allow_framing, embed_frame_sources, is_public

bp = Blueprint("embed", __name__)

#: Size of the embed when the consumer sets no maximum (the slides' 4:3).
DEFAULT_WIDTH, DEFAULT_HEIGHT = 800, 600
PROVIDER_NAME = "panlearn"
#: Endpoints whose URLs oEmbed accepts, and which kind of frame each gives.
_EMBEDDABLE = {"pages.lesson": "lesson", "embed.lesson": "lesson", "pages.slides": "slides"}


@bp.route("/embed/lessons/<int:lesson_id>")
def lesson(lesson_id: int) -> str:
    """A lesson without the site around it; `?cell=<id>[&part=output|&live=1]` for one cell."""
    # Frameable from the start, so a 404 shows inside the frame, not a blocked frame.
    allow_framing(embed_frame_sources(True))
    args = parse(EmbedArgsSchema(), request.args)
    viewer = current_user()
    found = get_lesson(db.session, lesson_id, viewer)
    allow_framing(embed_frame_sources(is_public(found.module.course_version)))
    cell_url = None
    if "cell" in args:
        fragment = rendering.cell_html(found, viewer, args["cell"], args["part"])
        if not fragment:
            # `part=output` of a cell without a figure: say so, and offer the whole cell.
            cell_url = url_for("embed.lesson", lesson_id=found.id, cell=args["cell"])
    else:
        fragment = rendering.lesson_html(found, viewer)
    own_heading = "cell" not in args and not rendering.has_top_heading(fragment)
    fragment = with_questions(fragment, found, viewer, interactive=False)
    # `live=1`: one code cell a lecturer can change and run on stage (js/live.js), for
    # viewers who may run cells (signed in, or anyone with PANLEARN_LIVE_ANONYMOUS).
    live = None
    if (args["live"] and "cell" in args and args["part"] == "cell"
            and live_pages.may_run_here(viewer)):
        live = live_pages.live_config(found, viewer, cell=args["cell"])
        if not live["notebook"]["cells"] or live["notebook"]["cells"][0]["cell_type"] != "code":
            live = None
    return render_template(
        "embed.html", lesson=found, fragment=fragment, whole="cell" not in args,
        part=args["part"] if "cell" in args else None, cell_id=args.get("cell"),
        cell_url=cell_url,
        own_heading=own_heading,
        page_url=url_for("pages.lesson", lesson_id=found.id, _external=True),
        live=live, live_json=live_pages.config_json(live) if live else None,
        editor_url=live_pages.editor_url() if live else None, viewer=viewer,
    )


def _lesson_of_url(url: str) -> tuple[int, str, dict[str, str]]:
    """(lesson id, kind of frame, embed query) of one of our lesson URLs, else NotFoundError."""
    unknown = NotFoundError(f"No lesson at {url!r} on this site.")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or parts.netloc.lower() != request.host.lower():
        raise unknown
    adapter = current_app.url_map.bind(request.host)
    try:
        endpoint, values = adapter.match(parts.path or "/", method="GET")
    except (HTTPException, RequestRedirect):
        raise unknown from None
    if endpoint not in _EMBEDDABLE:
        raise unknown
    query = {key: values_[0] for key, values_ in parse_qs(parts.query).items()
             if key in {"cell", "part"}}
    return values["lesson_id"], _EMBEDDABLE[endpoint], query


def _iframe(src: str, title: str, width: int, height: int) -> str:
    return (f'<iframe src="{escape(src)}" width="{width}" height="{height}" '
            f'title="{escape(title)}" loading="lazy" style="border:0" '
            f'allowfullscreen></iframe>')


def oembed_response(found: Lesson, kind: str, query: dict[str, str],
                    maxwidth: int | None, maxheight: int | None,
                    thumbnail: rendering.Thumbnail | None) -> dict[str, Any]:
    """The oEmbed `rich` response of a lesson (oembed.com, section 2.3.4)."""
    width = min(DEFAULT_WIDTH, maxwidth or DEFAULT_WIDTH)
    height = min(DEFAULT_HEIGHT, maxheight or DEFAULT_HEIGHT)
    if kind == "slides":
        src = url_for("pages.slides", lesson_id=found.id, _external=True)
    else:
        src = url_for("embed.lesson", lesson_id=found.id, _external=True, **query)
    version = found.module.course_version
    body: dict[str, Any] = {
        "version": "1.0",
        "type": "rich",
        "title": found.title,
        "provider_name": PROVIDER_NAME,
        "provider_url": url_for("pages.catalogue", _external=True),
        "html": _iframe(src, found.title, width, height),
        "width": width,
        "height": height,
    }
    authors = ", ".join(a.get("name", "") for a in version.authors if a.get("name"))
    if authors:
        body["author_name"] = authors
    if thumbnail is not None and thumbnail.width <= (maxwidth or thumbnail.width) \
            and thumbnail.height <= (maxheight or thumbnail.height):
        # A thumbnail larger than the consumer's maximum is left out rather than misreported.
        body["thumbnail_url"] = url_for("pages.thumbnail", lesson_id=found.id, _external=True)
        body["thumbnail_width"] = thumbnail.width
        body["thumbnail_height"] = thumbnail.height
    return body


@bp.after_request
def _oembed_cors(response: Response) -> Response:
    """Let any site's scripts read oEmbed answers (a presentation tool `fetch()`es them).

    Only the oEmbed endpoint, which describes public lessons, and without
    credentials: a cross-origin reader gets what an anonymous visitor gets.
    """
    if request.endpoint == "embed.oembed":
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.route("/oembed")
def oembed() -> Any:
    """Answer oEmbed requests for lesson pages, embeds and slides: JSON only (XML: 501)."""
    args = parse(OEmbedArgsSchema(), request.args)
    if args["format"] != "json":
        raise NotImplementedFormatError(
            f"oEmbed format {args['format']!r} is not provided; use format=json.")
    lesson_id, kind, query = _lesson_of_url(args["url"])
    viewer = current_user()
    found = get_lesson(db.session, lesson_id, viewer)
    thumbnail = rendering.lesson_thumbnail(found, viewer)
    return jsonify(oembed_response(found, kind, query, args.get("maxwidth"),
                                   args.get("maxheight"), thumbnail))
