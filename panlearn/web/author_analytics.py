"""A course's analytics in the workspace: charts, tables, a CSV export, anonymised examples.

The figures are `progress.analytics.course_analytics`, the same as
`GET /api/courses/<slug>/analytics`; this module only draws them
(`web.charts`) and writes them as CSV. Authors' try-outs are left out of
every figure and only counted apart.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, render_template, request

from panlearn.authoring.workspace import course_row
from panlearn.extensions import db
from panlearn.models import User
from panlearn.progress.analytics import SCORE_BINS, course_analytics, failure_examples
from panlearn.web.args import CoursePageArgsSchema, FailureArgsSchema, parse
from panlearn.web.author import author_page
from panlearn.web.charts import Meter, column_chart, line_chart

bp = Blueprint("author_analytics", __name__, url_prefix="/author/courses")

#: Labels of the score distribution's bins (`progress.analytics.score_bin`): each bin's
#: lower bound in percent ("40" is 40 to 49 %), and "100" for full marks only.
SCORE_LABELS = [str(10 * i) for i in range(SCORE_BINS)] + ["100"]


def _figures(viewer: User, slug: str) -> tuple[Any, dict[str, Any]]:
    args = parse(CoursePageArgsSchema(), request.args)
    row = course_row(db.session, slug, viewer)
    return row, course_analytics(db.session, row.course, viewer,
                                 version_number=args.get("version"))


@bp.route("/<slug>/analytics")
@author_page
def analytics(viewer: User, slug: str) -> str:
    """Learners over time, completion, score distributions, check pass rates, failures."""
    row, figures = _figures(viewer, slug)
    timeline = figures["timeline"]
    growth = line_chart(
        "Learners and completions over time", [day["date"] for day in timeline],
        {"learners": ("learners enrolled", [day["learners"] for day in timeline]),
         "completed": ("completed the course", [day["completed"] for day in timeline])})
    exercises = [{
        **exercise,
        "chart": column_chart(f"Learners by best score in “{exercise['title']}” (% of the "
                              "points; 40 means 40 to 49 %, 100 full marks)",
                              SCORE_LABELS, exercise["score_distribution"], unit="learners"),
        "meters": {check["grade_id"]: Meter.of(check["pass_rate"])
                   for check in exercise["checks"]},
    } for exercise in figures["exercises"]]
    return render_template("author/analytics.html", row=row, figures=figures, growth=growth,
                           exercises=exercises, meter=Meter.of)


@bp.route("/<slug>/analytics.csv")
@author_page
def analytics_csv(viewer: User, slug: str) -> Response:
    """The same figures as rows (tidy: one figure a row), for a spreadsheet."""
    row, figures = _figures(viewer, slug)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["course", "version", "scope", "lesson", "check", "figure", "value"])
    version = figures["version_number"]

    def put(scope: str, figure: str, value: Any, lesson: str = "", check: str = "") -> None:
        writer.writerow([slug, version, scope, lesson, check, figure,
                         "" if value is None else value])

    for name in ("learners", "completed", "completion_rate", "credentials_issued"):
        put("course", name, figures[name])
    for day in figures["timeline"]:
        put("day", f"learners {day['date']}", day["learners"])
        put("day", f"completed {day['date']}", day["completed"])
    for entry in figures["versions"]:
        put(f"version {entry['version_number']}", "learners", entry["learners"])
        put(f"version {entry['version_number']}", "completed", entry["completed"])
    for lesson in figures["lessons"]:
        put("lesson", "completion_rate", lesson["completion_rate"], lesson["slug"])
    for exercise in figures["exercises"]:
        for name in ("learners", "submissions", "passed", "pass_rate", "mean_best_fraction",
                     "preview_submissions"):
            put("exercise", name, exercise[name], exercise["slug"])
        for label, count in zip(SCORE_LABELS, exercise["score_distribution"], strict=True):
            put("exercise", f"best score {label}", count, exercise["slug"])
        for check in exercise["checks"]:
            put("check", "pass_rate", check["pass_rate"], exercise["slug"], check["grade_id"])
        for failure in exercise["common_failures"]:
            put("failure", failure["message"], failure["count"], exercise["slug"],
                failure["grade_id"])
    name = f"{slug}-v{version}-analytics.csv" if version else f"{slug}-analytics.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/<slug>/exercises/<int:exercise_id>/failures")
@author_page
def failures(viewer: User, slug: str, exercise_id: int) -> str:
    """What some learners answered when a check failed with a message; nobody is named."""
    args = parse(FailureArgsSchema(), request.args)
    row = course_row(db.session, slug, viewer)
    examples = failure_examples(db.session, row.course, viewer, exercise_id, args["check"],
                                args["message"])
    return render_template("author/failures.html", row=row, check=args["check"],
                           message=args["message"], examples=examples)
