"""The reading pages: catalogue, course, lesson, slides, and the assets they share.

Pages work without JavaScript; only maths (KaTeX) and slides (reveal.js) use
it, both served by the platform. Every read goes through `panlearn.catalogue`
as the current viewer, so drafts stay with their authors and students get the
student version of exercise notebooks.
"""

from __future__ import annotations

from functools import cache

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_wtf import FlaskForm

from panlearn.accounts.permissions import can_view_version
from panlearn.api.identity import current_user
from panlearn.catalogue import (
    get_course_version,
    get_lesson,
    list_courses,
    list_organisations,
    neighbours,
)
from panlearn.datasets.resolve import dataset_credits
from panlearn.extensions import db
from panlearn.grading.reference import assignment_for
from panlearn.metadata.jsonld import course_jsonld, course_jsonld_text
from panlearn.models import LEVELS, LessonKind, VersionStatus
from panlearn.notebooks.slides import SLIDES_INIT_SCRIPT_CSP_SOURCE
from panlearn.progress.completion import enrolment_of
from panlearn.progress.report import course_progress
from panlearn.web import live as live_pages
from panlearn.web import rendering
from panlearn.web.args import CatalogueArgsSchema, CoursePageArgsSchema, parse
from panlearn.web.forms import SubmissionForm
from panlearn.web.quizzes import quiz_summary, with_questions
from panlearn.web.security import (
    allow_framing,
    allow_script,
    embed_frame_sources,
    is_public,
)
from panlearn.wiring import services

bp = Blueprint("pages", __name__)

PER_PAGE = 20
#: Facets are computed over at most this many courses (the whole catalogue today).
FACET_LIMIT = 10_000


@bp.route("/")
def catalogue() -> str:
    """The course catalogue, filtered by technique, level and organisation (a GET form)."""
    args = parse(CatalogueArgsSchema(), request.args)
    viewer = current_user()
    page = list_courses(db.session, viewer, technique=args.get("technique"),
                        level=args.get("level"), organisation=args.get("organisation"),
                        page=args["page"], per_page=PER_PAGE)
    everything = list_courses(db.session, viewer, per_page=FACET_LIMIT).items
    techniques = sorted({t for version in everything for t in version.techniques},
                        key=str.casefold)
    return render_template("catalogue.html", page=page, args=args, levels=LEVELS,
                           techniques=techniques,
                           organisations=list_organisations(db.session))


@bp.route("/courses/<slug>")
def course(slug: str) -> str:
    """A course with its modules and lessons (`?version=N` for an older version)."""
    args = parse(CoursePageArgsSchema(), request.args)
    viewer = current_user()
    version = get_course_version(db.session, slug, viewer, args.get("version"))
    versions = [v for v in version.course.versions if can_view_version(viewer, v)]
    # Search engines and the PaN training catalogue (TeSS) read the Bioschemas markup.
    jsonld = None
    if version.status == VersionStatus.PUBLISHED:
        registry = services().datasets.registry
        jsonld = course_jsonld_text(course_jsonld(version, registry=registry))
    progress = None
    if viewer is not None and (enrolment := enrolment_of(db.session, viewer.id,
                                                         version.course.id)) is not None:
        progress = course_progress(db.session, enrolment)
    return render_template("course.html", version=version, versions=versions,
                           draft=version.status == VersionStatus.DRAFT, jsonld=jsonld,
                           progress=progress, form=FlaskForm())


@bp.route("/lessons/<int:lesson_id>")
def lesson(lesson_id: int, upload_error: str | None = None,
           quiz_errors: dict[str, str] | None = None) -> str:
    """A lesson page: the rendered notebook with its questions, previous/next, exercises.

    `upload_error` re-renders the page with what was wrong with a submitted notebook,
    `quiz_errors` with what was wrong with an answer (by question id).
    """
    viewer = current_user()
    found = get_lesson(db.session, lesson_id, viewer)
    version = found.module.course_version
    before, after = neighbours(found)
    rendered = rendering.lesson_html(found, viewer)
    fragment = with_questions(rendered, found, viewer, interactive=True, errors=quiz_errors)
    published = is_public(version)
    page_url = url_for("pages.lesson", lesson_id=found.id, _external=True)
    oembed_url = None
    if published:
        oembed_url = url_for("embed.oembed", url=page_url, format="json", _external=True)
    exercise = found.exercise if found.kind == LessonKind.EXERCISE else None
    # The data credit names the viewer's own files (all choices for anonymous viewers).
    data_credits = dataset_credits(
        exercise.datasets if exercise is not None else [],
        registry=services().datasets.registry,
        assignment=assignment_for(exercise, viewer.id)
        if exercise is not None and viewer is not None else None)
    # A signed-in learner does the exercise in the page (js/live.js); others read it.
    live = (live_pages.live_config(found, viewer, exercise=exercise)
            if exercise is not None and viewer is not None else None)
    return render_template(
        "lesson.html", lesson=found, version=version, before=before, after=after,
        data_credits=data_credits, live=live,
        live_json=live_pages.config_json(live) if live else None,
        editor_url=live_pages.editor_url() if live else None,
        hub_url=live_pages.jupyterhub_link(found) if exercise is not None else None,
        fragment=fragment, own_heading=not rendering.has_top_heading(rendered),
        quiz=quiz_summary(db.session, found, viewer) if found.questions else None,
        exercise=exercise,
        published=published, oembed_url=oembed_url, page_url=page_url,
        embed_url=url_for("embed.lesson", lesson_id=found.id, _external=True),
        upload_form=SubmissionForm(), upload_error=upload_error, viewer=viewer,
    )


@bp.route("/lessons/<int:lesson_id>/slides")
def slides(lesson_id: int) -> Response:
    """The lesson as reveal.js slides; embeddable like `/embed/lessons/<id>`."""
    viewer = current_user()
    found = get_lesson(db.session, lesson_id, viewer)
    version = found.module.course_version
    allow_framing(embed_frame_sources(is_public(version)))
    allow_script(SLIDES_INIT_SCRIPT_CSP_SOURCE)
    html = with_questions(rendering.slides_html(found, viewer), found, viewer, interactive=False)
    if not is_public(version):
        html = rendering.with_preview_marker(html, f"Preview · draft version {version.number}")
    return Response(html, mimetype="text/html")


@bp.route("/lessons/<int:lesson_id>/thumbnail.png")
def thumbnail(lesson_id: int) -> Response:
    """The lesson's first figure (oEmbed's thumbnail); 404 when it has none."""
    viewer = current_user()
    image = rendering.lesson_thumbnail(get_lesson(db.session, lesson_id, viewer), viewer)
    if image is None:
        abort(404)
    response = Response(image.png, mimetype="image/png")
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response


@cache
def _highlight_css() -> str:
    from panlearn.notebooks.render import highlight_css

    return highlight_css()


@bp.route("/assets/highlight.css")
def highlight_css() -> Response:
    """Pygments colours for the code in lessons (the rendered fragments carry no <style>)."""
    response = Response(_highlight_css(), mimetype="text/css")
    response.cache_control.max_age = 86400
    return response


@bp.route("/favicon.ico")
def favicon() -> Response:
    """No icon for documents that link none (slides, API docs), instead of a logged 404."""
    return Response(status=204)
