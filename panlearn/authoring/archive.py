"""Unpacking an uploaded course archive safely.

Uploads are untrusted: no member may land outside the target folder (absolute
paths, `..`, symlinks), and the archive may not unpack to more files or bytes
than configured (zip bombs). Every member is checked before anything is
written: its name (length, characters), whether a name is both a file and a
folder, duplicates. Whatever a malformed archive does while it is read (sizes
that lie, a bad CRC, a truncated stream, an unknown compression) is an
`InvalidInputError`, never an unexpected exception.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO

from panlearn.errors import InvalidInputError, PayloadTooLargeError

CHUNK = 1 << 16
#: Longest name of one path component, in UTF-8 bytes (what Linux file systems store).
MAX_NAME_BYTES = 255
#: Longest member path, in characters; also what a lesson's `source_path` column holds.
MAX_PATH_CHARS = 300

#: What zipfile and zlib raise on archives that lie about themselves.
_BROKEN = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
           ValueError, OSError)


def _invalid(detail: str, reason: str) -> InvalidInputError:
    return InvalidInputError(detail, errors={"archive": [reason]})


def extract_course_archive(
    stream: IO[bytes], target: Path, *, max_files: int, max_unpacked_bytes: int
) -> Path:
    """Extract a zip into `target` and return the course folder inside it."""
    try:
        archive = zipfile.ZipFile(stream)
    except _BROKEN as error:
        raise _invalid(f"The upload is not a zip archive ({error}).",
                       "not a zip archive") from None
    with archive:
        infos = archive.infolist()
        members = [info for info in infos if not info.is_dir()]
        if len(members) > max_files:
            raise PayloadTooLargeError(f"The archive holds {len(members)} files; "
                                       f"at most {max_files} are accepted.")
        declared = sum(info.file_size for info in members)
        if declared > max_unpacked_bytes:
            raise PayloadTooLargeError(f"The archive unpacks to {declared} bytes; at most "
                                       f"{max_unpacked_bytes} are accepted.")
        for info in infos:
            _check_member(info)
        _check_layout(infos)
        root = target.resolve()
        try:
            _write_members(archive, members, root, max_unpacked_bytes)
        except _BROKEN as error:
            raise _invalid(f"The archive is damaged and cannot be read ({error}).",
                           "damaged archive") from None
    return _course_root(root)


def _write_members(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], root: Path,
                   max_unpacked_bytes: int) -> None:
    written = 0
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


def _check_member(info: zipfile.ZipInfo) -> None:
    name = info.filename
    path = PurePosixPath(name)
    mode = info.external_attr >> 16
    if "\\" in name or path.is_absolute() or ".." in path.parts or name.startswith("/"):
        raise _invalid(f"Archive member {name!r} points outside the archive.",
                       f"unsafe path {name!r}")
    if stat.S_ISLNK(mode):
        raise _invalid(f"Archive member {name!r} is a symbolic link.", f"symbolic link {name!r}")
    if any(ord(char) < 32 or char == "\x7f" for char in name):
        raise _invalid(f"Archive member {name!r} has a control character in its name.",
                       f"control character in {name!r}")
    if len(name.rstrip("/")) > MAX_PATH_CHARS:
        raise _invalid(f"Archive member {name[:60]!r}… has a name too long: "
                       f"{len(name)} characters, at most {MAX_PATH_CHARS}.",
                       "member name too long")
    for part in path.parts:
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise _invalid(f"Archive member {name[:60]!r}… has a file or folder name too long: "
                           f"{part[:40]!r}… is over {MAX_NAME_BYTES} bytes.",
                           "member name too long")


def _check_layout(infos: list[zipfile.ZipInfo]) -> None:
    """No file named twice, and no name that is both a file and a folder (`a` and `a/b`)."""
    files: set[PurePosixPath] = set()
    folders: set[PurePosixPath] = set()
    for info in infos:
        path = PurePosixPath(info.filename)
        folders.update(path.parents)
        if info.is_dir():
            folders.add(path)
        elif path in files:
            raise _invalid(f"Archive member {info.filename!r} is in the archive more than once.",
                           f"duplicate member {info.filename!r}")
        else:
            files.add(path)
    clash = sorted(files & folders)
    if clash:
        raise _invalid(f"Archive member {str(clash[0])!r} is both a file and a folder.",
                       f"{str(clash[0])!r} is both a file and a folder")


def _course_root(root: Path) -> Path:
    """The folder holding the course (or the course folders), maybe the single top folder."""
    for folder in (root, *_single_folder(root)):
        if (folder / "course.yml").is_file() or any(
                (child / "course.yml").is_file() for child in folder.iterdir() if child.is_dir()):
            return folder
    raise _invalid("The archive has no course.yml at its top, in its folders, or in a single "
                   "top-level folder.", "no course.yml")


def _single_folder(root: Path) -> list[Path]:
    entries = [p for p in root.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    return entries if len(entries) == 1 and entries[0].is_dir() else []
