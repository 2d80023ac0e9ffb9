"""Where a course comes from: a folder, an uploaded zip, or a git commit (local or by URL).

Each way ends in the same `folder.read_course_folders` over a folder on disk,
so the same content gives the same courses, the same problems and the same
identity hash whichever way it arrived; each records its origin in the
sources (`upload:<name>`, `git:<url>` at a commit, or the folder's path).
Archives and git trees are unpacked under `workdir`, a temporary folder the
caller owns and removes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from panlearn.authoring.archive import extract_course_archive
from panlearn.authoring.folder import read_course_folders
from panlearn.authoring.git import export_commit, fetch_commit
from panlearn.authoring.manifest import CourseSource, Problem
from panlearn.datasets.registry import Registry

#: The most characters of an upload's file name kept in `source_uri`.
MAX_NAME = 200

Read = tuple[list[CourseSource], list[Problem]]


@dataclass(frozen=True)
class SourceLimits:
    """What an archive or a git tree may hold, and where git may fetch from."""

    max_files: int
    max_unpacked_bytes: int
    git_prefixes: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SourceLimits:
        """`PANLEARN_ARCHIVE_MAX_FILES`, `…_MAX_UNPACKED_MB` and `PANLEARN_GIT_IMPORT_URLS`."""
        return cls(max_files=settings["ARCHIVE_MAX_FILES"],
                   max_unpacked_bytes=settings["ARCHIVE_MAX_UNPACKED_MB"] * 1024 * 1024,
                   git_prefixes=tuple(str(settings["GIT_IMPORT_URLS"]).split()))


def read_folder(path: Path, registry: Registry | None) -> Read:
    """The courses of a folder (a course, or a folder of courses)."""
    return read_course_folders(path, registry=registry)


def read_archive(stream: IO[bytes], filename: str, workdir: Path, *, limits: SourceLimits,
                 registry: Registry | None) -> Read:
    """The courses of an uploaded zip (raises `InvalidInputError` for a malformed archive)."""
    root = workdir / "archive"
    root.mkdir(parents=True, exist_ok=True)
    folder = extract_course_archive(stream, root, max_files=limits.max_files,
                                    max_unpacked_bytes=limits.max_unpacked_bytes)
    sources, problems = read_course_folders(folder, registry=registry, anonymous=root)
    for source in sources:
        source.origin_uri = f"upload:{(filename or 'archive.zip')[:MAX_NAME]}"
    return sources, problems


def read_git(repository: str | Path, ref: str, workdir: Path, *, limits: SourceLimits,
             registry: Registry | None) -> Read:
    """The courses of a git commit: a local repository (a `Path`), or a public URL."""
    tree = workdir / "tree"
    tree.mkdir(parents=True, exist_ok=True)
    if isinstance(repository, Path):
        commit = export_commit(repository, ref, tree, max_files=limits.max_files,
                               max_bytes=limits.max_unpacked_bytes)
        origin = f"git:{repository.resolve()}"
    else:
        commit = fetch_commit(repository, ref, workdir, tree,
                              allowed_prefixes=limits.git_prefixes,
                              max_files=limits.max_files, max_bytes=limits.max_unpacked_bytes)
        origin = f"git:{repository.strip()}"
    sources, problems = read_course_folders(tree, registry=registry, anonymous=tree)
    for source in sources:
        source.origin_uri, source.origin_ref = origin, commit
    return sources, problems

