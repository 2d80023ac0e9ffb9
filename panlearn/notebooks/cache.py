"""On-disk cache of rendered notebooks, keyed by content address.

A rendering depends only on the notebook's bytes, our templates and sanitiser,
the libraries that produce it, and a few options; the notebook is immutable
under its sha256, so entries never go stale and need no invalidation, only a
new key when one of those inputs changes (`RENDER_STAMP`). Files are written to
a temporary name and moved into place with `os.replace`, so a reader never sees
half a page and concurrent renderers of the same page simply race to write the
same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from panlearn.notebooks.sanitise import SANITISER_VERSION

#: Bump when a template or the rendering pipeline changes in a way the library
#: versions and template bytes below do not capture.
TEMPLATE_VERSION = "2"

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_VARIANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")


def _library_versions() -> list[str]:
    found = []
    for name in ("nbconvert", "nh3", "pygments", "mistune", "nbformat", "defusedxml"):
        try:
            found.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            found.append(f"{name}=absent")
    return found


def _render_stamp() -> str:
    """Fingerprint of everything besides the notebook that shapes a rendering.

    Upgrading nbconvert or nh3 (say, for a sanitiser fix) or editing a template
    then changes every key, so no page rendered under the old rules is served.
    """
    digest = hashlib.sha256()
    digest.update(f"template={TEMPLATE_VERSION};sanitiser={SANITISER_VERSION}".encode())
    digest.update(";".join(_library_versions()).encode())
    for path in sorted(TEMPLATES_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(TEMPLATES_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


#: Part of every cache key; computed once per process.
RENDER_STAMP = _render_stamp()


def render_cache_dir(settings: Mapping[str, Any]) -> Path:
    """Where rendered notebooks are cached: ``<INSTANCE_DIR>/cache/render``.

    Lesson pages, embeds, slides and the feedback on submissions share it.
    """
    return Path(settings["INSTANCE_DIR"]) / "cache" / "render"


def variant_name(kind: str, options: Mapping[str, Any]) -> str:
    """Return a short, file-name-safe variant from a kind and its options (hashed)."""
    blob = json.dumps(dict(options), sort_keys=True, separators=(",", ":"), default=str)
    return f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def cache_path(cache_dir: str | os.PathLike[str], sha256: str, variant: str) -> Path:
    """Where the rendering of (sha256, RENDER_STAMP, variant) lives.

    Raises ValueError on a malformed hash or variant, so a caller-supplied value
    can never steer the path outside the cache directory.
    """
    if not _SHA256.match(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    if not _VARIANT.match(variant):
        raise ValueError(f"not a render variant: {variant!r}")
    return Path(cache_dir) / sha256[:2] / f"{sha256}.{RENDER_STAMP}.{variant}.html"


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def cached(
    cache_dir: str | os.PathLike[str] | None,
    sha256: str,
    variant: str,
    produce: Callable[[], str],
) -> str:
    """Return the cached rendering, or `produce()` it and store it.

    With `cache_dir=None` nothing is read or written (previews, tests).
    """
    if cache_dir is None:
        return produce()
    path = cache_path(cache_dir, sha256, variant)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        pass
    text = produce()
    write_atomic(path, text)
    return text
