"""One identity for "unchanged": a folder, its zip and a git checkout of it are one version.

The git repository here stores course.yml and the notebooks with CRLF line
endings in checkouts (`* text eol=crlf`, as a Windows-made repository does),
so its files differ byte for byte from the folder's; the content does not.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import yaml
from sqlalchemy import select

from panlearn.authoring.folder import load_course_folder
from panlearn.authoring.service import import_courses
from panlearn.authoring.sources import SourceLimits, read_git
from panlearn.extensions import db
from panlearn.models import Course, User
from tests.builders import make_org, make_user, token_for, write_course, zip_folder
from tests.gitserver import bare_clone, commit_folder, git_http_server


def _versions(app) -> list[tuple[int, str]]:
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.slug == "demo"))
        return [(v.number, v.source_uri) for v in course.versions]


def test_the_same_course_by_folder_zip_and_git_url_is_one_version(app, client, runner,
                                                                  tmp_path):
    make_org(app)
    make_user(app, "author", "author", "psi")
    headers = token_for(client, "author")
    folder = write_course(tmp_path / "work")

    result = runner.invoke(args=["courses", "import", str(folder)])
    assert result.exit_code == 0 and "created" in result.output, result.output

    upload = client.post("/api/courses/import", headers=headers,
                         content_type="multipart/form-data",
                         data={"archive": (io.BytesIO(zip_folder(folder, "demo/")), "demo.zip")})
    assert upload.status_code == 201, upload.get_json()
    assert upload.get_json()["courses"][0]["outcome"] == "unchanged"

    repo = tmp_path / "repo"
    shutil.copytree(folder, repo / "demo")
    (repo / ".gitattributes").write_text("* text eol=crlf\n")
    commit = commit_folder(repo)
    served = tmp_path / "served"
    served.mkdir()
    bare_clone(repo, served, "courses.git")
    with git_http_server(served) as base, app.app_context():
        checkout = tmp_path / "checkout"
        sources, problems = read_git(f"{base}courses.git", "main", checkout,
                                     limits=SourceLimits(100, 10**7, git_prefixes=(base,)),
                                     registry=None)
        assert problems == []
        # The checkout's bytes differ from the folder's (CRLF); the identity does not.
        checked_out = (checkout / "tree" / "demo" / "course.yml").read_bytes()
        assert b"\r\n" in checked_out and checked_out != (folder / "course.yml").read_bytes()
        assert sources[0].source_hash == load_course_folder(folder).source_hash
        author = db.session.scalar(select(User).where(User.username == "author"))
        [result] = import_courses(db.session, sources, actor=author)
        assert (result.outcome, result.version) == ("unchanged", 1)

    result = runner.invoke(args=["courses", "import", "--git", str(repo), "--ref", commit])
    assert result.exit_code == 0 and "unchanged" in result.output, result.output
    assert len(_versions(app)) == 1


def test_formatting_is_not_a_change_but_content_is(tmp_path):
    folder = write_course(tmp_path)
    before = load_course_folder(folder).source_hash
    manifest = yaml.safe_load((folder / "course.yml").read_text())
    # Another key order, a comment, CRLF line endings and a byte-order mark.
    text = "# edited on Windows\r\n" + yaml.safe_dump(dict(reversed(list(manifest.items()))),
                                                     sort_keys=False).replace("\n", "\r\n")
    (folder / "course.yml").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_course_folder(folder).source_hash == before
    manifest["summary"] = "Another summary."
    (folder / "course.yml").write_text(yaml.safe_dump(manifest))
    assert load_course_folder(folder).source_hash != before


def test_a_version_imported_with_the_old_byte_hash_is_still_unchanged(app, tmp_path):
    make_org(app)
    folder = write_course(tmp_path)
    source = load_course_folder(folder)
    with app.app_context():
        import_courses(db.session, [source])
        # As recorded before the identity hash existed.
        version = db.session.scalar(select(Course)).versions[0]
        version.source_hash = source.legacy_hash
        db.session.commit()
        [again] = import_courses(db.session, [load_course_folder(Path(folder))])
        assert again.outcome == "unchanged"
