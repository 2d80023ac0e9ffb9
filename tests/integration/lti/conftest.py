"""The tool on a real server, a simulated LTI platform beside it, and a course to launch."""

from __future__ import annotations

import threading

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from panlearn.authoring.folder import load_course_folders
from panlearn.authoring.service import import_courses
from panlearn.extensions import db
from panlearn.lti.config import PlatformInput, register_platform
from panlearn.models import Lesson, LessonKind
from tests.builders import make_org, write_course
from tests.integration.lti.platform import Platform


@pytest.fixture
def platform():
    """The simulated LMS, serving on 127.0.0.1."""
    simulated = Platform().start()
    yield simulated
    simulated.stop()


@pytest.fixture
def tool(app, platform, tmp_path):
    """panlearn served on 127.0.0.1 (the platform fetches its JWKS), with the platform
    registered and one published course: a reading and an exercise."""
    make_org(app, "psi")
    write_course(tmp_path / "src", "neutrons")
    with app.app_context():
        import_courses(db.session, load_course_folders(tmp_path / "src"), publish=True)
        register_platform(db.session, PlatformInput(
            issuer=platform.issuer, client_id=platform.client_id,
            deployment_ids=(platform.deployment_id,), name="Simulated Moodle",
            **platform.urls()))
        lessons = {lesson.kind: lesson.id for lesson in db.session.scalars(select(Lesson))}
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    platform.tool_jwks_url = f"{base}/.well-known/jwks.json"
    platform.tool_launch_url = f"{base}/lti/launch"
    yield {"base": base, "reading": lessons[LessonKind.READING],
           "exercise": lessons[LessonKind.EXERCISE]}
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def browser():
    """The learner's browser: keeps cookies, does not follow redirects by itself."""
    with requests.Session() as session:
        yield session
