"""Answer values taken out of the student's kernel as plain data, never pickles.

At each isolated check's place in the notebook, a tiny snippet runs in the
student's kernel and writes the values of the names the check reads into the
run folder: JSON for numbers, strings, bools, None, lists and dicts, ``.npy``
(``allow_pickle=False``) for numpy arrays and scalars. The grader reads them
back defensively (no symlinks, size caps) and hands them to the check runner.
A value that is not plain data (a function, an object) is recorded as such
and never crosses over.
"""

from __future__ import annotations

import base64
import errno
import io
import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Name of the helper module the pool's kernels register at start-up (see `kernels`).
EXTRACT_MODULE = "_panlearn_answers"

#: Source of that module. Defined once per kernel, before any student code, so
#: that the cell placed at each check is a one-line call: IPython's per-cell
#: cost (input transforms, compiling) grows with the cell's length, and this
#: helper ran twice per submission. The student's code can replace it, as it
#: could replace ``json`` or ``np.save`` before: whatever it writes is still
#: only read back as plain data, defensively.
EXTRACT_MODULE_SOURCE = """\
def extract(names, out):
    import json, os, sys
    os.makedirs(out, exist_ok=True)
    ns = sys._getframe(1).f_globals
    np = sys.modules.get("numpy")
    plain = (type(None), bool, int, float, str)

    def is_plain(v, depth=0):
        if depth > 50:
            return False
        if type(v) in plain:
            return True
        if type(v) in (list, tuple):
            return all(is_plain(x, depth + 1) for x in v)
        if type(v) is dict:
            return all(type(k) is str and is_plain(x, depth + 1) for k, x in v.items())
        return False

    manifest = {}
    for i, name in enumerate(names):
        if name not in ns:
            manifest[name] = {"kind": "missing"}
            continue
        value = ns[name]
        try:
            if type(value).__name__ == "module":
                manifest[name] = {"kind": "module", "name": value.__name__}
            elif is_plain(value):
                path = os.path.join(out, f"{i}.json")
                with open(path, "w") as f:
                    json.dump(value, f)
                manifest[name] = {
                    "kind": "json", "file": f"{i}.json", "tuple": type(value) is tuple
                }
            elif (
                np is not None
                and isinstance(value, (np.ndarray, np.generic))
                and not value.dtype.hasobject
            ):
                np.save(os.path.join(out, f"{i}.npy"), np.asarray(value), allow_pickle=False)
                manifest[name] = {
                    "kind": "npy", "file": f"{i}.npy", "scalar": isinstance(value, np.generic)
                }
            else:
                manifest[name] = {"kind": "unsupported", "type": type(value).__name__}
        except Exception as exc:
            manifest[name] = {
                "kind": "unsupported", "type": type(value).__name__, "error": str(exc)[:200]
            }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f)
"""


def extraction_code(names: tuple[str, ...], out_dir: Path) -> str:
    """Code run in the student's kernel to save ``names`` into ``out_dir``.

    One call of the helper module every sandboxed kernel defines at start-up
    (`EXTRACT_MODULE_SOURCE`); nothing is left in the student's namespace.
    """
    return f"__import__({EXTRACT_MODULE!r}).extract({list(names)!r}, {str(out_dir)!r})"


@dataclass
class Answer:
    """One name's value as received from the student's kernel."""

    kind: str  # "json", "npy", "missing", "module", "unsupported", "invalid"
    value: Any = None
    detail: str = ""


class AnswerReadError(Exception):
    """The answer files are missing or were tampered with."""


#: Deepest nesting of lists and dicts accepted in a JSON answer. The extraction in the
#: kernel never writes deeper than 51 levels; a deeper file was written by the student's code.
MAX_ANSWER_DEPTH = 64
#: Most lists and dicts (`[` and `{`) in one JSON answer file: bounds the parser's time and
#: memory (a list of a million numbers is one list).
MAX_ANSWER_CONTAINERS = 1_000_000


def read_answers(
    run_dir: Path, rel_dir: str, names: tuple[str, ...], max_bytes: int
) -> dict[str, Answer]:
    """Read one check's answers, refusing symlinks, odd files and oversized values.

    The run folder is writable by the student's code, so every path component
    is opened with ``O_NOFOLLOW`` relative to the run folder's descriptor, and
    every file is read as hostile: a JSON nested deeper than any answer, or a
    ``.npy`` header declaring more data than the file holds, makes that answer
    ``invalid`` with a message (the check then costs its points), never an
    exception in the grader. A manifest that cannot be read raises
    `AnswerReadError`.
    """
    manifest_raw = _read_inside(run_dir, f"{rel_dir}/manifest.json", 1_000_000)
    try:
        manifest = _load_json(manifest_raw)
    except ValueError as exc:
        raise AnswerReadError(f"the answer manifest is not usable JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise AnswerReadError("the answer manifest is not an object")
    out: dict[str, Answer] = {}
    for name in names:
        entry = manifest.get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("kind"), str):
            out[name] = Answer("missing")
            continue
        kind = entry["kind"]
        try:
            if kind == "json":
                data = _read_inside(run_dir, f"{rel_dir}/{_file(entry)}", max_bytes)
                value = _load_json(data)
                out[name] = Answer(
                    "json",
                    tuple(value) if entry.get("tuple") is True and isinstance(value, list)
                    else value,
                )
            elif kind == "npy":
                data = _read_inside(run_dir, f"{rel_dir}/{_file(entry)}", max_bytes)
                array = _load_npy(data)
                out[name] = Answer("npy", array[()] if entry.get("scalar") is True else array)
            elif kind in {"missing", "module"}:
                out[name] = Answer(kind, detail=_text(entry.get("name"), 200))
            else:
                out[name] = Answer("unsupported", detail=_text(entry.get("type"), 100) or "?")
        except (AnswerReadError, ValueError, OSError, EOFError, MemoryError) as exc:
            out[name] = Answer("invalid", detail=str(exc)[:200])
    return out


def _file(entry: dict[str, Any]) -> str:
    name = entry.get("file")
    if not isinstance(name, str) or "/" in name or name.startswith("."):
        raise AnswerReadError("bad file name in the answer manifest")
    return name


def _text(value: object, limit: int) -> str:
    """A string field of the manifest, cut; anything else (the student's code wrote it) is ''."""
    return value[:limit] if isinstance(value, str) else ""


def _load_json(data: bytes) -> Any:
    """JSON within the answer limits, or `ValueError` saying which one it broke."""
    containers = data.count(b"[") + data.count(b"{")
    if containers > MAX_ANSWER_CONTAINERS:
        raise ValueError(f"it holds {containers:,} lists and dicts, more than the "
                         f"{MAX_ANSWER_CONTAINERS:,} accepted")
    try:
        value = json.loads(data)
    except RecursionError:
        raise ValueError(f"it is nested more than {MAX_ANSWER_DEPTH} levels deep") from None
    if _deeper_than(value, MAX_ANSWER_DEPTH):
        raise ValueError(f"it is nested more than {MAX_ANSWER_DEPTH} levels deep")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and dicts nest more than `limit` deep (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if type(item) is not dict and type(item) is not list:
            continue
        if depth > limit:
            return True
        children = item.values() if type(item) is dict else item
        stack.extend((child, depth + 1) for child in children)
    return False


def _load_npy(data: bytes) -> np.ndarray:
    """A ``.npy`` file whose header agrees with its size, read without pickles.

    numpy allocates what the header declares before it reads the data, so a
    header declaring 8 TiB raised `MemoryError` however small the file: the
    declared size is checked against the bytes that are really there first.
    """
    buffer = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buffer)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(buffer)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(buffer)
        else:
            raise ValueError(f"version {version} is not one numpy.save writes here")
    except ValueError as exc:
        raise ValueError(f"the .npy file declares a header numpy cannot use ({exc})") from None
    if dtype.hasobject:
        raise ValueError("the .npy file declares Python objects, not plain data")
    declared = math.prod(shape) * dtype.itemsize
    held = len(data) - buffer.tell()
    if declared != held:
        raise ValueError(f"the .npy file declares {_size(declared)} of data "
                         f"({dtype} × {shape}) but holds {_size(held)}")
    return np.load(io.BytesIO(data), allow_pickle=False)


def _size(count: int) -> str:
    """Bytes in binary units: 8 TiB, 80 B."""
    value, unit = float(count), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if value < 1024 or unit == "EiB":
            break
        value /= 1024
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


def _read_inside(root: Path, rel: str, max_bytes: int) -> bytes:
    """Read ``root/rel`` without following any symlink below ``root``."""
    parts = [p for p in rel.split("/") if p]
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        try:
            ffd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise AnswerReadError(f"{rel} is a symlink") from exc
            raise AnswerReadError(f"{rel} is missing") from exc
        with os.fdopen(ffd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise AnswerReadError(f"{rel} is not a regular file")
            if st.st_size > max_bytes:
                raise AnswerReadError(
                    f"the value is {st.st_size:,} bytes, over the {max_bytes:,} byte limit"
                )
            return f.read(max_bytes + 1)
    except NotADirectoryError as exc:
        raise AnswerReadError(f"{rel}: not a folder") from exc
    finally:
        os.close(fd)


def write_answers(directory: Path, answers: dict[str, Answer]) -> dict[str, Any]:
    """Write received plain values for the check runner; returns its manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {}
    for i, (name, answer) in enumerate(answers.items()):
        if answer.kind == "json":
            path = directory / f"{i}.json"
            path.write_text(json.dumps(answer.value))
            manifest[name] = {
                "kind": "json",
                "file": path.name,
                "tuple": isinstance(answer.value, tuple),
            }
        elif answer.kind == "npy":
            path = directory / f"{i}.npy"
            np.save(path, np.asarray(answer.value), allow_pickle=False)
            manifest[name] = {
                "kind": "npy",
                "file": path.name,
                "scalar": np.ndim(answer.value) == 0 and not isinstance(answer.value, np.ndarray),
            }
        else:
            manifest[name] = {"kind": answer.kind, "detail": answer.detail}
    return manifest


#: Reference answers: grade id of a check → name → value, as the reference run produced them.
ReferenceAnswers = dict[str, dict[str, Answer]]


def encode_answers(answers: ReferenceAnswers) -> bytes:
    """Serialise answers (plain data only) for storage: JSON, arrays as base64 ``.npy``.

    Never pickles: arrays are written with ``allow_pickle=False``, so object
    arrays cannot be stored (they never arrive as answers anyway).
    """
    doc: dict[str, dict[str, Any]] = {}
    for grade_id, values in answers.items():
        entries: dict[str, Any] = {}
        for name, answer in values.items():
            if answer.kind == "json":
                entries[name] = {"kind": "json", "value": answer.value,
                                 "tuple": isinstance(answer.value, tuple)}
            elif answer.kind == "npy":
                buf = io.BytesIO()
                np.save(buf, np.asarray(answer.value), allow_pickle=False)
                entries[name] = {
                    "kind": "npy", "data": base64.b64encode(buf.getvalue()).decode("ascii"),
                    "scalar": np.ndim(answer.value) == 0
                    and not isinstance(answer.value, np.ndarray),
                }
            else:
                entries[name] = {"kind": answer.kind, "detail": answer.detail}
        doc[grade_id] = entries
    return json.dumps(doc, allow_nan=True, sort_keys=True).encode()


def decode_answers(data: bytes) -> ReferenceAnswers:
    """Inverse of `encode_answers` (``allow_pickle=False`` for arrays)."""
    doc = json.loads(data)
    out: ReferenceAnswers = {}
    for grade_id, entries in doc.items():
        values: dict[str, Answer] = {}
        for name, entry in entries.items():
            kind = entry.get("kind")
            if kind == "json":
                value = entry["value"]
                values[name] = Answer(
                    "json", tuple(value) if entry.get("tuple") and isinstance(value, list)
                    else value)
            elif kind == "npy":
                array = np.load(io.BytesIO(base64.b64decode(entry["data"])), allow_pickle=False)
                values[name] = Answer("npy", array[()] if entry.get("scalar") else array)
            else:
                values[name] = Answer(str(kind), detail=str(entry.get("detail", "")))
        out[grade_id] = values
    return out
