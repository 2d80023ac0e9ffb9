"""Unpacking an uploaded course archive safely.

Uploads are untrusted: no member may land outside the target folder (absolute
paths, `..`, symlinks), and the archive may not unpack to more files or bytes
than configured (zip bombs). Every member is checked before anything is written.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from panlearn.errors import InvalidInputError, PayloadTooLargeError

CHUNK = 1 << 16


def extract_course_archive(
    stream: IO[bytes], target: Path, *, max_files: int, max_unpacked_bytes: int
) -> Path:
    """Extract a zip into `target` and return the course folder inside it."""
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError) as error:
        raise InvalidInputError(f"The upload is not a zip archive ({error}).",
                                errors={"archive": ["not a zip archive"]}) from None
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if len(members) > max_files:
            raise PayloadTooLargeError(f"The archive holds {len(members)} files; "
                                       f"at most {max_files} are accepted.")
        declared = sum(info.file_size for info in members)
        if declared > max_unpacked_bytes:
            raise PayloadTooLargeError(f"The archive unpacks to {declared} bytes; at most "
                                       f"{max_unpacked_bytes} are accepted.")
        for info in archive.infolist():
            _check_member(info)
        written = 0
        root = target.resolve()
        for info in members:
            destination = root.joinpath(*PurePosixPath(info.filename).parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, destination.open("wb") as sink:
                while chunk := source.read(CHUNK):
                    # Declared sizes can lie: count what really comes out.
                    written += len(chunk)
                    if written > max_unpacked_bytes:
                        raise PayloadTooLargeError("The archive unpacks to more than "
                                                   f"{max_unpacked_bytes} bytes.")
                    sink.write(chunk)
    return _course_root(root)


def _check_member(info: zipfile.ZipInfo) -> None:
    name = info.filename
    path = PurePosixPath(name)
    mode = info.external_attr >> 16
    if "\\" in name or path.is_absolute() or ".." in path.parts or name.startswith("/"):
        raise InvalidInputError(f"Archive member {name!r} points outside the archive.",
                                errors={"archive": [f"unsafe path {name!r}"]})
    if stat.S_ISLNK(mode):
        raise InvalidInputError(f"Archive member {name!r} is a symbolic link.",
                                errors={"archive": [f"symbolic link {name!r}"]})


def _course_root(root: Path) -> Path:
    """`course.yml` at the top, or inside the archive's single top-level folder."""
    if (root / "course.yml").is_file():
        return root
    entries = [p for p in root.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / "course.yml").is_file():
        return entries[0]
    raise InvalidInputError("The archive has no course.yml at its top or in a single "
                            "top-level folder.", errors={"archive": ["no course.yml"]})
