"""Importing from the workspace: start a job, then watch its report grow.

Posting the form stores everything the import needs in an `ImportJob` and
redirects to the job's page at once; the runner thread does the work
(`authoring.jobs`). The page shows the report as stored and, with
JavaScript, fetches the report fragment every second until the job is done
(`static/js/import-report.js`); without it, the page reloads itself. Closing
the page or losing the connection loses nothing: the job goes on, and its
page shows where it is whenever it is opened again.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, url_for

from panlearn.authoring.jobs import get_import_job, recent_import_jobs, start_import
from panlearn.authoring.report import ImportReport
from panlearn.authoring.workspace import organisation_courses
from panlearn.errors import InvalidInputError
from panlearn.extensions import db
from panlearn.models import ImportJob, ImportJobState, User
from panlearn.web.author import author_page
from panlearn.web.forms import ImportForm
from panlearn.wiring import services

bp = Blueprint("author_imports", __name__, url_prefix="/author/imports")

#: Seconds between two looks at a running job (the no-JavaScript reload).
POLL_S = 2


@bp.route("", methods=["POST"])
@author_page
def start(viewer: User) -> Response | tuple[str, int]:
    """Queue the import of the uploaded zip or the git URL, then show its page."""
    form = ImportForm()
    form.validate()  # CSRFProtect has checked the token; the fields are checked below
    upload = form.archive.data
    data = upload.read() if upload else None
    try:
        job = start_import(db.session, viewer, mode=form.mode.data or "import",
                           archive=data or None, filename=upload.filename if upload else "",
                           git_url=(form.git_url.data or "").strip() or None,
                           git_ref=form.git_ref.data, settings=services().settings)
    except InvalidInputError as error:
        return render_template("author/home.html", rows=organisation_courses(db.session, viewer),
                               jobs=recent_import_jobs(db.session, viewer), form=form,
                               organisation=viewer.organisation, form_error=error.detail), 400
    services().imports.submit(job.id)
    return redirect(url_for("author_imports.show", job_id=job.id), code=303)


def _report_of(job: ImportJob) -> ImportReport:
    if job.state in (ImportJobState.QUEUED, ImportJobState.RUNNING):
        # Whoever looks keeps the job alive: one left behind by a dead process is resumed.
        services().imports.resume()
    return ImportReport.from_dict(job.report)


@bp.route("/<int:job_id>")
@author_page
def show(viewer: User, job_id: int) -> str:
    """The job and its report so far."""
    job = get_import_job(db.session, job_id, viewer)
    return render_template("author/import.html", job=job, report=_report_of(job),
                           poll_s=POLL_S)


@bp.route("/<int:job_id>/report")
@author_page
def report(viewer: User, job_id: int) -> Response:
    """The report as an HTML fragment, for the job page to swap in while it grows."""
    job = get_import_job(db.session, job_id, viewer)
    body = render_template("author/_report.html", job=job, report=_report_of(job))
    response = Response(body, mimetype="text/html")
    response.cache_control.no_store = True
    return response
