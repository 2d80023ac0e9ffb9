"""The canonical form of a notebook and its content address (NotebookBlob).

Two uploads of the same notebook must map to the same blob whatever editor
wrote them: list-or-string sources, key order, indentation, a trust signature
or missing cell ids must not change the address. So a notebook is first
normalised (nbformat 4.5+, joined multi-line strings, transient fields
stripped, deterministic cell ids), validated against the nbformat schema, then
dumped as compact, key-sorted UTF-8 JSON; its sha256 is the address.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import warnings
from collections.abc import Mapping
from typing import Any

import nbformat
from nbformat import NotebookNode

from panlearn.errors import InvalidInputError

#: nbformat's pattern for cell ids (4.5 schema).
CELL_ID_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

# Most characters of a schema error we repeat to a user: enough to locate it.
_MAX_DETAIL = 500


def _invalid(detail: str) -> InvalidInputError:
    """One shape for every notebook error, so the API can point at the upload."""
    return InvalidInputError(detail, errors={"notebook": [detail]})


def _derived_cell_id(index: int, cell: Mapping[str, Any], taken: set[str]) -> str:
    """Derive a stable id for a cell that has none, so the content address stays stable.

    nbformat would fill in random ids, which would give the same upload a new
    address each time.
    """
    seed = f"{index}\0{cell.get('cell_type', '')}\0{cell.get('source', '')}"
    base = hashlib.sha256(seed.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    candidate, counter = base, 1
    while candidate in taken:
        counter += 1
        candidate = f"{base}-{counter}"
    return candidate


def _ensure_cell_ids(nb: NotebookNode) -> None:
    """Give every cell a unique, valid id; duplicates get a deterministic suffix."""
    taken: set[str] = set()
    for index, cell in enumerate(nb.get("cells", [])):
        if not isinstance(cell, Mapping):
            continue  # left for the schema validation to report
        cell_id = cell.get("id")
        if isinstance(cell_id, str) and cell_id in taken:
            stem, counter = cell_id[:58], 1
            while cell_id in taken:
                counter += 1
                cell_id = f"{stem}-{counter}"
        elif not isinstance(cell_id, str) or not cell_id:
            cell_id = _derived_cell_id(index, cell, taken)
        cell["id"] = cell_id
        taken.add(cell_id)


def _joined(value: Any) -> Any:
    """Jupyter may store text as a list of lines; the canonical form is one string."""
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    return value


def _rejoin_bundle(bundle: Any) -> None:
    if isinstance(bundle, dict):
        for key, value in bundle.items():
            bundle[key] = _joined(value)


def _rejoin_and_strip(node: NotebookNode) -> None:
    """Nbformat's `rejoin_lines` + `strip_transient`, tolerant of malformed shapes.

    Malformed parts are left alone here so that schema validation reports them
    with a precise location instead of an AttributeError.
    """
    metadata = node.get("metadata")
    if isinstance(metadata, dict):
        for key in ("orig_nbformat", "orig_nbformat_minor", "signature"):
            metadata.pop(key, None)
    for cell in node["cells"]:
        if not isinstance(cell, dict):
            continue
        if isinstance(cell.get("metadata"), dict):
            cell["metadata"].pop("trusted", None)
        if "source" in cell:
            cell["source"] = _joined(cell["source"])
        attachments = cell.get("attachments")
        if isinstance(attachments, dict):
            for bundle in attachments.values():
                _rejoin_bundle(bundle)
        outputs = cell.get("outputs")
        if cell.get("cell_type") == "code" and isinstance(outputs, list):
            for output in outputs:
                if not isinstance(output, dict):
                    continue
                _rejoin_bundle(output.get("data"))
                if "text" in output:
                    output["text"] = _joined(output["text"])


def normalize_notebook(nb: Mapping[str, Any]) -> NotebookNode:
    """Return a validated, normalised deep copy of `nb` (the input is not changed).

    Raises `InvalidInputError` when the notebook is not nbformat 4 or does not
    validate against its schema.
    """
    if not isinstance(nb, Mapping):
        raise _invalid("A notebook must be a JSON object.")
    major = nb.get("nbformat")
    if major is None:
        raise _invalid("This is not a Jupyter notebook: it has no `nbformat` field.")
    if major != 4:
        raise _invalid(
            f"Notebook format {major!r} is not supported; open and save the notebook "
            "in a current Jupyter to convert it to nbformat 4."
        )
    node = nbformat.from_dict(copy.deepcopy(dict(nb)))
    if not isinstance(node.get("cells"), list):
        raise _invalid("The notebook has no `cells` list.")
    _rejoin_and_strip(node)
    minor = node.get("nbformat_minor")
    if not isinstance(minor, int) or minor < 5:
        # Cell ids arrived in 4.5; upgrading lets submissions be matched cell by cell.
        node["nbformat_minor"] = 5
    _ensure_cell_ids(node)
    try:
        with warnings.catch_warnings():
            # Ids are already repaired above; nbformat's own warnings are noise here.
            warnings.simplefilter("ignore")
            nbformat.validate(node)
    except nbformat.ValidationError as error:
        location = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        message = str(error.message)[:_MAX_DETAIL]
        raise _invalid(f"The notebook is not valid nbformat 4 at {location}: {message}") from error
    return node


def canonical_json(nb: Mapping[str, Any]) -> bytes:
    """Canonical bytes of a notebook: normalised, sorted keys, compact, UTF-8.

    These are the bytes a NotebookBlob stores; `read_notebook_bytes` reads them
    back to an equal notebook.
    """
    node = normalize_notebook(nb)
    try:
        text = json.dumps(node, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
        return text.encode("utf-8")
    except (ValueError, UnicodeEncodeError) as error:
        raise _invalid(f"The notebook cannot be stored as UTF-8 JSON: {error}.") from error


def notebook_sha256(nb: Mapping[str, Any]) -> str:
    """Return the content address of a notebook: hex sha256 of its canonical JSON."""
    return hashlib.sha256(canonical_json(nb)).hexdigest()


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def read_notebook_bytes(data: bytes) -> NotebookNode:
    """Parse an uploaded notebook, validate it as nbformat 4 and normalise it.

    Every way an upload can be wrong (not UTF-8, not JSON, NaN, not a notebook,
    an old format, a schema error) becomes an `InvalidInputError` whose detail
    tells the author what to fix.
    """
    try:
        text = bytes(data).decode("utf-8-sig")  # tolerate a BOM some Windows editors add
    except UnicodeDecodeError as error:
        raise _invalid(f"The notebook is not UTF-8 text (byte {error.start}).") from error
    if not text.strip():
        raise _invalid("The notebook file is empty.")
    try:
        raw = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise _invalid(
            f"The notebook is not valid JSON: {error.msg} at line {error.lineno}, "
            f"column {error.colno}."
        ) from error
    except ValueError as error:  # NaN / Infinity
        raise _invalid(f"The notebook is not valid JSON: {error}.") from error
    except RecursionError as error:
        raise _invalid("The notebook JSON is nested too deeply.") from error
    return normalize_notebook(raw)
