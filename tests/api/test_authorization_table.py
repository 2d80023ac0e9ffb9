"""Every route, tried as every role: anonymous, student, another organisation's author,
the course's author and its organisation's admin.

The table states who may do what; a meta-test makes sure no route escapes it, so a
new route has to be classified here before it can land.
"""

from __future__ import annotations

import io

import nbformat
import pytest
from sqlalchemy import select

from panlearn.authoring.folder import load_course_folders
from panlearn.authoring.service import import_courses
from panlearn.extensions import db
from panlearn.models import ImportJob, ImportJobState, User
from panlearn.notebooks.student import make_student_version
from tests.api.conftest import bump_title
from tests.api.test_progress import complete_course
from tests.api.test_quizzes import import_quiz_course
from tests.builders import exercise_notebook, write_course, zip_folder
from tests.web.conftest import csrf_token

ROLES = ("anonymous", "student", "ess-author", "author", "admin")
OK = (200,) * 5

# (method, path template, body kind, expected status per role in ROLES order).
# Reads first, then changes in an order where each one still finds what it changes.
TABLE: list[tuple[str, str, str | None, tuple[int, ...]]] = [
    ("GET", "/api/courses", None, OK),
    ("GET", "/api/courses/published", None, OK),
    ("GET", "/api/courses/drafty", None, (404, 404, 404, 200, 200)),
    ("GET", "/api/courses/published/analytics", None, (401, 403, 403, 200, 200)),
    ("GET", "/api/lessons/{lesson}", None, OK),
    ("GET", "/api/lessons/{draft_lesson}", None, (404, 404, 404, 200, 200)),
    ("GET", "/api/lessons/{lesson}/notebook", None, OK),
    ("GET", "/api/lessons/{exercise_lesson}/notebook?version=source", None,
     (403, 403, 403, 200, 200)),
    ("GET", "/api/exercises/{exercise}/submissions", None, (401, 200, 200, 200, 200)),
    ("GET", "/api/exercises/{exercise}/draft", None, (401, 200, 200, 200, 200)),
    ("GET", "/api/submissions/{submission}", None, (401, 200, 404, 200, 200)),
    ("GET", "/api/submissions/{submission}/feedback", None, (401, 404, 404, 404, 404)),
    ("GET", "/api/me/progress", None, (401, 200, 200, 200, 200)),
    ("GET", "/api/me/credentials", None, (401, 200, 200, 200, 200)),
    ("GET", "/api/credentials/{credential}", None, (401, 200, 404, 200, 200)),
    ("GET", "/api/credentials/{credential}/verify", None, OK),
    ("POST", "/api/credentials/verify", "credential", OK),
    ("GET", "/api/organisations", None, OK),
    ("GET", "/api/organisations/psi", None, OK),
    ("GET", "/api/organisations/psi/keys", None, OK),
    ("GET", "/api/search?q=drafty", None, OK),
    ("GET", "/api/datasets/psi-sinq-dmc-gasb-2005/files", None, OK),
    ("GET", "/api/quizzes/{quiz_lesson}", None, OK),
    ("GET", "/api/quizzes/{draft_lesson}", None, (404, 404, 404, 200, 200)),
    ("GET", "/", None, OK),
    ("GET", "/courses/published", None, OK),
    ("GET", "/courses/drafty", None, (404, 404, 404, 200, 200)),
    ("GET", "/courses/published.jsonld", None, OK),
    ("GET", "/courses/drafty.jsonld", None, (404,) * 5),
    ("GET", "/lessons/{lesson}", None, OK),
    ("GET", "/lessons/{draft_lesson}", None, (404, 404, 404, 200, 200)),
    ("GET", "/lessons/{draft_lesson}/slides", None, (404, 404, 404, 200, 200)),
    ("GET", "/embed/lessons/{draft_lesson}", None, (404, 404, 404, 200, 200)),
    ("GET", "/lessons/{draft_lesson}/thumbnail.png", None, (404, 404, 404, 404, 404)),
    ("GET", "/submissions/{submission}", None, (303, 200, 404, 200, 200)),
    # The table's submission has no executed notebook: 404 for all who may see it.
    ("GET", "/submissions/{submission}/notebook", None, (303, 404, 404, 404, 404)),
    # A credential's page: anyone with its address (the holder shares it).
    ("GET", "/credentials/{credential}", None, OK),
    ("GET", "/search?q=drafty", None, OK),
    # The author's workspace: its organisation's authors and admins only; another
    # organisation's author sees its own (empty) workspace and none of psi's.
    ("GET", "/author", None, (303, 403, 200, 200, 200)),
    ("GET", "/author/courses/drafty", None, (303, 403, 404, 200, 200)),
    ("GET", "/author/courses/drafty/publish", None, (303, 403, 404, 200, 200)),
    ("GET", "/author/courses/published/unpublish", None, (303, 403, 404, 200, 200)),
    ("GET", "/author/courses/published/analytics", None, (303, 403, 404, 200, 200)),
    ("GET", "/author/courses/published/analytics.csv", None, (303, 403, 404, 200, 200)),
    ("GET", "/author/courses/published/exercises/{exercise}/failures?check=check-answer"
     "&message=AssertionError:%20answer%20is%20wrong", None, (303, 403, 404, 200, 200)),
    ("GET", "/author/imports/{job}", None, (303, 403, 404, 200, 200)),
    ("GET", "/author/imports/{job}/report", None, (303, 403, 404, 200, 200)),
    ("GET", "/account", None, (303, 200, 200, 200, 200)),
    ("GET", "/login/sso/nobody", None, (404,) * 5),
    ("GET", "/login/sso/nobody/callback", None, (404,) * 5),
    ("GET", "/healthz", None, OK),
    ("GET", "/readyz", None, OK),
    ("GET", "/metrics", None, OK),
    # Changes.
    ("POST", "/api/lessons/{lesson}/complete", None, (401, 200, 200, 200, 200)),
    ("POST", "/api/courses/published/enrol", None, (401, 200, 200, 200, 200)),
    ("POST", "/api/exercises/{exercise}/submissions", "notebook", (401, 202, 202, 202, 202)),
    # Live runs: anyone signed in who sees the lesson (PANLEARN_LIVE_ANONYMOUS off). The table
    # has no grading worker, so it asks to run a markdown cell: refused (400) after the access
    # checks; tests/api/test_live_runs.py runs cells for real.
    ("POST", "/api/exercises/{exercise}/runs", "run-exercise", (401, 400, 400, 400, 400)),
    ("POST", "/api/lessons/{lesson}/runs", "run-lesson", (401, 400, 400, 400, 400)),
    ("POST", "/api/lessons/{draft_lesson}/runs", "run-draft", (401, 404, 404, 400, 400)),
    ("PUT", "/api/exercises/{exercise}/draft", "draft", (401, 200, 200, 200, 200)),
    ("DELETE", "/api/exercises/{exercise}/draft", None, (401, 204, 204, 204, 204)),
    ("POST", "/api/quizzes/{quiz_lesson}/embargo/answers", "quiz-answer",
     (401, 201, 201, 201, 201)),
    ("PATCH", "/api/courses/drafty", "patch", (401, 403, 403, 200, 200)),
    ("POST", "/api/courses/drafty/publish", None, (401, 403, 403, 200, 200)),
    ("POST", "/api/credentials/{credential}/revoke", "revoke", (401, 403, 404, 200, 200)),
    ("POST", "/api/courses/published/archive", None, (401, 403, 403, 200, 200)),
    ("POST", "/api/courses/import", "archive", (401, 403, 403, 201, 201)),
    ("POST", "/api/courses/validate", "archive", (401, 403, 403, 200, 200)),
    ("POST", "/author/imports", "form-archive", (303, 403, 303, 303, 303)),
    ("POST", "/author/courses/workspace/publish", "form-publish", (303, 403, 404, 303, 303)),
    ("POST", "/author/courses/workspace/unpublish", "form", (303, 403, 404, 303, 303)),
    ("DELETE", "/api/courses/ess-course", None, (401, 403, 204, 403, 403)),
    ("DELETE", "/api/courses/drafty", None, (401, 403, 403, 204, 204)),
    ("DELETE", "/api/auth/token", None, (401, 204, 204, 204, 204)),
]

# Routes outside the table, each with the reason and the test that covers it.
UNCLASSIFIED_BY_DESIGN = {
    "/api/auth/token": "login itself (POST): tests/api/test_auth.py",
    "/login": "the sign-in form: tests/web/test_signin.py",
    "/logout": "sign-out (POST, CSRF-protected): tests/web/test_signin.py",
    "/lessons/<int:lesson_id>/submissions": "page form (CSRF): tests/web/test_submit_page.py",
    "/lessons/<int:lesson_id>/read": "page form (CSRF): tests/web/test_submit_page.py",
    "/courses/<slug>/enrol": "page form (CSRF): tests/web/test_submit_page.py",
    "/account/tokens": "page form (CSRF), own account only: tests/integration/sso",
    "/account/tokens/<int:token_id>/revoke": "page form (CSRF), own tokens only: "
                                             "tests/integration/sso",
    "/account/identities/<int:identity_id>/unlink": "page form (CSRF), own identities only: "
                                                    "tests/integration/sso",
    "/account/identities/<provider>/link": "page form (CSRF), links to the signed-in account: "
                                           "tests/integration/sso",
    "/lessons/<int:lesson_id>/quizzes/<question_id>":
        "page form (CSRF): tests/web/test_quiz_pages.py",
    "/oembed": "public oEmbed of published lessons: tests/web/test_embed.py",
    "/sitemap.xml": "published content only: tests/api/test_catalogue_metadata.py",
    "/oai": "published content only: tests/api/test_catalogue_metadata.py",
    "/.well-known/jwks.json": "public keys: tests/integration/lti",
    "/lti/login": "LTI, signed by the platform: tests/integration/lti",
    "/lti/launch": "LTI, signed by the platform: tests/integration/lti",
    "/lti/deep-link": "LTI, signed by the platform: tests/integration/lti",
    "/api/datasets": "public federated search: tests/integration/datasets",
    "/api/datasets/<path:pid>": "public dataset metadata: tests/integration/datasets",
    "/api/docs": "the API documentation page",
    "/api/openapi.json": "the API description",
    "/assets/highlight.css": "a stylesheet",
    "/favicon.ico": "an icon",
    "/static/<path:filename>": "static files",
    "/static/vendor/<package>/<path:filename>": "front-end libraries",
    "/static/vendor/bundle/<name>": "front-end libraries bundled at install (CodeMirror)",
    "/static/vendor/swagger-ui/<path:filename>": "front-end libraries",
}


@pytest.fixture
def ids(app, client, catalogue, tmp_path):
    """Concrete ids for the table's placeholders."""
    def lessons(slug, headers):
        body = client.get(f"/api/courses/{slug}", headers=headers).get_json()
        return [lesson for module in body["modules"] for lesson in module["lessons"]]

    published = lessons("published", {})
    reading = next(lesson for lesson in published if not lesson["exercise_id"])
    exercise = next(lesson for lesson in published if lesson["exercise_id"])
    progress = complete_course(app, client, catalogue["student"])
    submission = client.get(f"/api/exercises/{exercise['exercise_id']}/submissions",
                            headers=catalogue["student"]).get_json()["items"][0]["id"]
    credential = progress["credential"]["id"]
    document = client.get(f"/api/credentials/{credential}", headers=catalogue["student"])
    import_quiz_course(app, tmp_path / "quiz-src")
    draft_lesson = lessons("drafty", catalogue["author"])[0]["id"]

    def notebook(lesson_id, headers):
        return client.get(f"/api/lessons/{lesson_id}/notebook", headers=headers).get_json()

    runs = {"run-exercise": notebook(exercise["id"], {}), "run-lesson": notebook(reading["id"], {}),
            "run-draft": notebook(draft_lesson, catalogue["author"])}
    return {
        "runs": {kind: {"notebook": nb, "cell": nb["cells"][0]["id"]} for kind, nb in runs.items()},
        "draft": {"notebook": runs["run-exercise"]},
        "job": _import_job(app),
        "quiz_lesson": lessons("quizzed", {})[0]["id"],
        "lesson": reading["id"], "exercise_lesson": exercise["id"],
        "exercise": exercise["exercise_id"], "submission": submission,
        "draft_lesson": lessons("drafty", catalogue["author"])[0]["id"],
        "credential": credential, "credential_document": document.get_data(),
    }


@pytest.fixture
def workspace_course(app, tmp_path):
    """psi's `workspace`: version 1 published, version 2 a draft (for the page forms)."""
    folder = write_course(tmp_path / "ws", "workspace")
    with app.app_context():
        import_courses(db.session, load_course_folders(folder), publish=True)
    bump_title(folder, "Workspace, second edition")
    with app.app_context():
        import_courses(db.session, load_course_folders(folder))


def _import_job(app) -> int:
    """A finished import job of psi's author."""
    with app.app_context():
        author = db.session.scalar(select(User).where(User.username == "author"))
        job = ImportJob(organisation_id=author.organisation_id, user=author, mode="validate",
                        source_kind="upload", source_label="x.zip", state=ImportJobState.DONE,
                        report={"problems": [], "exercises": [], "outcomes": [],
                                "result": "valid"})
        db.session.add(job)
        db.session.commit()
        return job.id


def _form_token(client) -> str:
    """A CSRF token of this client's session (any page form carries one)."""
    return csrf_token(client.get("/login").get_data(as_text=True))


def _request(client, method, path, body, headers, ids, tmp_path, role):
    kwargs: dict = {"headers": headers}
    if body == "notebook":
        kwargs.update(data=nbformat.writes(make_student_version(exercise_notebook())),
                      content_type="application/json")
    elif body in ("run-exercise", "run-lesson", "run-draft"):
        kwargs["json"] = ids["runs"][body]
    elif body == "draft":
        kwargs["json"] = ids["draft"]
    elif body == "patch":
        kwargs["json"] = {"summary": "Edited."}
    elif body == "quiz-answer":
        kwargs["json"] = {"answer": 1}
    elif body == "revoke":
        kwargs["json"] = {"reason": "test"}
    elif body == "credential":
        kwargs.update(data=ids["credential_document"], content_type="application/json")
    elif body == "archive":
        folder = write_course(tmp_path / role / path.rsplit("/", 1)[-1], f"uploaded-{role}")
        kwargs.update(data={"archive": (io.BytesIO(zip_folder(folder)), "course.zip")},
                      content_type="multipart/form-data")
    elif body == "form-archive":
        folder = write_course(tmp_path / role / "form", f"form-{role}")
        kwargs.update(data={"csrf_token": _form_token(client), "mode": "validate",
                            "archive": (io.BytesIO(zip_folder(folder)), "course.zip")},
                      content_type="multipart/form-data")
    elif body == "form-publish":
        kwargs["data"] = {"csrf_token": _form_token(client), "version": "2"}
    elif body == "form":
        kwargs["data"] = {"csrf_token": _form_token(client)}
    return client.open(path.format(**ids), method=method, **kwargs)


@pytest.mark.parametrize("role", ROLES)
def test_every_route_answers_each_role_as_the_table_says(client, catalogue, ids, tmp_path,
                                                         workspace_course, role):
    index = ROLES.index(role)
    wrong = []
    for method, path, body, expected in TABLE:
        response = _request(client, method, path, body, catalogue[role], ids, tmp_path, role)
        if response.status_code != expected[index]:
            wrong.append(f"{method} {path}: {response.status_code}, expected {expected[index]}")
        if response.status_code >= 400 and path.startswith("/api/"):
            assert response.mimetype == "application/problem+json", f"{method} {path}"
        response.close()
    assert wrong == []


def test_no_route_escapes_the_table(app):
    covered = {path.split("?")[0] for _, path, _, _ in TABLE} | set(UNCLASSIFIED_BY_DESIGN)
    normalise = {"{lesson}": "<int:lesson_id>", "{draft_lesson}": "<int:lesson_id>",
                 "{exercise_lesson}": "<int:lesson_id>", "{exercise}": "<int:exercise_id>",
                 "{submission}": "<int:submission_id>", "{credential}": "<credential_id>",
                 "{quiz_lesson}": "<int:lesson_id>", "/embargo/": "/<question_id>/",
                 "published": "<slug>", "drafty": "<slug>", "ess-course": "<slug>",
                 "psi-sinq-dmc-gasb-2005": "<path:pid>", "/psi": "/<slug>",
                 "workspace": "<slug>", "{job}": "<int:job_id>", "nobody": "<provider>"}
    patterns = set()
    for path in covered:
        for placeholder, converter in normalise.items():
            path = path.replace(placeholder, converter)
        patterns.add(path)
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    assert sorted(routes - patterns) == []
