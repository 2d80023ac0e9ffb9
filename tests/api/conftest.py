"""A catalogue with two organisations, their staff, a student, and courses in each state."""

from __future__ import annotations

import pytest
import yaml

from panlearn.authoring.folder import load_course_folders
from panlearn.authoring.service import import_courses
from panlearn.extensions import db
from panlearn.wiring import services_of
from tests.builders import make_org, make_user, token_for, write_course


@pytest.fixture
def catalogue(app, client, tmp_path):
    """psi: `published` (v1 published) and `drafty` (draft only); ess: `ess-course` published."""
    make_org(app, "psi")
    make_org(app, "ess")
    make_user(app, "student")
    make_user(app, "author", "author", "psi")
    make_user(app, "admin", "admin", "psi")
    make_user(app, "ess-author", "author", "ess")
    write_course(tmp_path / "src", "published", techniques=["SANS", "powder diffraction"])
    write_course(tmp_path / "src", "drafty", level="advanced")
    write_course(tmp_path / "src", "ess-course", org="ess", level="intermediate",
                 techniques=["imaging"])
    with app.app_context():
        sources = {s.slug: s for s in load_course_folders(tmp_path / "src")}
        hooks = services_of(app).course_hooks
        import_courses(db.session, [sources["published"], sources["ess-course"]], publish=True,
                       after_commit=hooks)
        import_courses(db.session, [sources["drafty"]], after_commit=hooks)
    headers = {name: token_for(client, name)
               for name in ("student", "author", "admin", "ess-author")}
    headers["anonymous"] = {}
    return headers


def bump_title(folder, title):
    """Change a course folder's title so the next import is a new version."""
    manifest = yaml.safe_load((folder / "course.yml").read_text())
    manifest["title"] = title
    (folder / "course.yml").write_text(yaml.safe_dump(manifest))
