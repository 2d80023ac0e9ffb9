"""Malformed course archives: every one is a 4xx problem, and nothing is half-imported.

Issue 13 (item 8): archive import answered 500 on a zip with lying sizes, on
members `a` and `a/b`, and on a 300-character member name; and one import
answered 400 after it had already committed and published version 1.
"""

from __future__ import annotations

import io
import struct
import zipfile

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tests.builders import make_org, make_user, token_for, write_course, zip_folder


@pytest.fixture
def author(app, client):
    make_org(app, "psi")
    make_user(app, "author", "author", "psi")
    return token_for(client, "author")


def _upload(client, headers, data: bytes, *, publish: bool = False):
    form = {"archive": (io.BytesIO(data), "course.zip")}
    if publish:
        form["publish"] = "true"
    return client.post("/api/courses/import", data=form, headers=headers,
                       content_type="multipart/form-data")


def _assert_problem(response, status: int = 400) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _lying_sizes(data: bytes) -> bytes:
    """The archive with every central-directory entry claiming 5 bytes, whatever it holds."""
    raw = bytearray(data)
    offset = raw.find(b"PK\x01\x02")
    while offset != -1:
        # Central directory header: compressed size at +20, uncompressed size at +24.
        struct.pack_into("<II", raw, offset + 20, 5, 5)
        offset = raw.find(b"PK\x01\x02", offset + 4)
    return bytes(raw)


def test_a_zip_whose_sizes_lie_is_a_400_problem(client, author, tmp_path):
    archive = _lying_sizes(zip_folder(write_course(tmp_path), prefix="demo/"))
    with pytest.raises(zipfile.BadZipFile):  # the archive really is broken
        with zipfile.ZipFile(io.BytesIO(archive)) as opened:
            opened.read(opened.namelist()[0])
    body = _assert_problem(_upload(client, author, archive))
    assert "archive" in body["errors"]


@pytest.mark.parametrize("order", [("a", "a/b"), ("a/b", "a")])
def test_a_member_that_is_both_a_file_and_a_folder_is_a_400_problem(client, author, order):
    archive = _zip({name: b"x" for name in order} | {"course.yml": b"title: x"})
    body = _assert_problem(_upload(client, author, archive))
    assert "'a'" in body["detail"]


def test_a_300_character_member_name_is_a_400_problem(client, author):
    archive = _zip({"course.yml": b"title: x", "n" * 300 + ".ipynb": b"{}"})
    body = _assert_problem(_upload(client, author, archive))
    assert "too long" in body["detail"]


def test_duplicate_members_are_a_400_problem(client, author, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning, match="Duplicate"):
        archive.writestr("course.yml", b"title: one")
        archive.writestr("course.yml", b"title: two")
    body = _assert_problem(_upload(client, author, buffer.getvalue()))
    assert "more than once" in body["detail"]


def _reading_with_a_stray_marker():
    # A reading lesson whose student version cannot be made: an END without a BEGIN.
    return new_notebook(cells=[new_markdown_cell("# Reading"),
                               new_code_cell("x = 1\n### END SOLUTION", execution_count=1)])


def test_a_refused_import_has_committed_nothing(client, author, tmp_path):
    folder = write_course(tmp_path, "stray")
    nbformat.write(_reading_with_a_stray_marker(), folder / "03-more.ipynb")
    response = _upload(client, author, zip_folder(folder, prefix="stray/"), publish=True)
    body = _assert_problem(response)
    assert any(p["file"] == "stray/03-more.ipynb" for p in body["errors"]["problems"])
    # Neither a draft nor a published version was left behind.
    assert client.get("/api/courses/stray", headers=author).status_code == 404
    assert client.get("/api/courses/stray").status_code == 404


def test_an_archive_of_two_courses_imports_both_or_neither(app, client, author, tmp_path):
    make_org(app, "ess")
    good = write_course(tmp_path / "src", "good-one")
    taken = write_course(tmp_path / "src", "taken", org="ess")
    other = token_for_new_author(app, client, "ess-author", "ess")
    assert _upload(client, other, zip_folder(taken, prefix="taken/")).status_code == 201
    # psi now uploads both: `taken` belongs to ess, so the whole import is refused.
    write_course(tmp_path / "src", "taken")  # same slug, psi's manifest
    both = io.BytesIO()
    with zipfile.ZipFile(both, "w") as archive:
        for folder in (good, taken):
            for path in sorted(folder.rglob("*")):
                archive.write(path, f"{folder.name}/{path.relative_to(folder)}")
    response = _upload(client, author, both.getvalue(), publish=True)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]
    assert client.get("/api/courses/good-one", headers=author).status_code == 404


def token_for_new_author(app, client, username: str, org: str) -> dict[str, str]:
    make_user(app, username, "author", org)
    return token_for(client, username)
