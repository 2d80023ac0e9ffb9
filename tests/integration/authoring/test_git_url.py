"""Fetching a course from a git URL: only from the allowed places, only what is asked, capped.

The repositories are served over git's smart HTTP on 127.0.0.1 (tests/gitserver.py).
"""

from __future__ import annotations

import os

import pytest

from panlearn.authoring.git import check_git_url, check_ref, fetch_commit
from panlearn.errors import InvalidInputError, PayloadTooLargeError
from tests.builders import write_course
from tests.gitserver import bare_clone, commit_folder, git_http_server


@pytest.fixture
def served(tmp_path):
    repo = tmp_path / "repo"
    write_course(repo)
    commit = commit_folder(repo)
    root = tmp_path / "served"
    root.mkdir()
    bare_clone(repo, root, "courses.git")
    with git_http_server(root) as base:
        yield base, commit, repo, root


def _fetch(base, url, ref, tmp_path, **limits):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    target = tmp_path / "tree"
    target.mkdir(exist_ok=True)
    return fetch_commit(url, ref, work, target, allowed_prefixes=[base],
                        max_files=limits.get("max_files", 100),
                        max_bytes=limits.get("max_bytes", 10**7))


def test_a_branch_tag_or_commit_is_fetched(served, tmp_path):
    base, commit, _, _ = served
    assert _fetch(base, f"{base}courses.git", "main", tmp_path) == commit
    assert (tmp_path / "tree" / "demo" / "course.yml").is_file()


@pytest.mark.parametrize("url", [
    "https://evil.example.org/courses.git",  # not under an allowed prefix
    "file:///etc",
    "ext::sh -c touch% /tmp/pwned",
    "http://user:secret@127.0.0.1/courses.git",
    "http://127.0.0.1/ courses.git",
    "http://127.0.0.1/" + "a" * 500 + ".git",
])
def test_urls_outside_the_allowed_prefixes_or_odd_are_refused(url):
    with pytest.raises(InvalidInputError):
        check_git_url(url, ["http://127.0.0.1/"])


@pytest.mark.parametrize("ref", ["--upload-pack=touch /tmp/pwned", "main:refs/heads/x",
                                 "a..b", "", "x" * 300])
def test_refs_that_are_options_or_refspecs_are_refused(ref):
    with pytest.raises(InvalidInputError):
        check_ref(ref)


def test_an_unknown_ref_is_named(served, tmp_path):
    base, _, _, _ = served
    with pytest.raises(InvalidInputError, match="'nope' is not a branch, tag or commit"):
        _fetch(base, f"{base}courses.git", "nope", tmp_path)


def test_a_repository_over_the_size_limit_is_refused(tmp_path):
    repo = tmp_path / "big"
    write_course(repo)
    (repo / "demo" / "blob.bin").write_bytes(os.urandom(200_000))
    commit_folder(repo)
    root = tmp_path / "served"
    root.mkdir()
    bare_clone(repo, root, "big.git")
    with git_http_server(root) as base, pytest.raises(PayloadTooLargeError):
        _fetch(base, f"{base}big.git", "main", tmp_path, max_bytes=50_000)
    assert not any((tmp_path / "tree").iterdir())
