"""Glue between the pages and the notebook renderer: which notebook, which cache, which assets.

Every page, embed and slide deck renders the notebook that `catalogue.lesson_notebook`
gives the viewer (the student version), and the renderer itself hides
solutions unless asked (`solutions=False` is never overridden here), so an
answer cannot reach a page by either path alone.

The notebook is read lazily (`LazyNotebook`): a cached page is addressed by
`lesson.notebook_hash`, so a cache hit never parses the notebook's JSON.
"""

from __future__ import annotations

import base64
import binascii
import html
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from flask import current_app, request, url_for

from panlearn.catalogue import lesson_notebook
from panlearn.models import Lesson, User
from panlearn.wiring import services

#: URLs of the KaTeX files under /static/vendor/katex/ (the npm package's dist/).
KATEX_CSS = "dist/katex.min.css"
KATEX_SCRIPTS = ("dist/katex.min.js", "dist/contrib/auto-render.min.js")
#: `app.extensions` key: the pinned npm packages found installed at start-up.
ASSETS_EXTENSION = "panlearn.web.assets"
#: A file of the reveal.js package, to derive the package's URL prefix from the URL map.
REVEAL_PROBE = "dist/reveal.js"


class LazyNotebook(Mapping[str, Any]):
    """A notebook mapping that is loaded on first access (only on a cache miss)."""

    def __init__(self, load: Callable[[], Mapping[str, Any]]) -> None:
        self._load = load
        self._notebook: Mapping[str, Any] | None = None

    def _get(self) -> Mapping[str, Any]:
        if self._notebook is None:
            self._notebook = self._load()
        return self._notebook

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def _student_notebook(lesson: Lesson, viewer: User | None) -> LazyNotebook:
    return LazyNotebook(lambda: lesson_notebook(lesson, viewer, version="student"))


def lesson_html(lesson: Lesson, viewer: User | None) -> str:
    """The lesson's notebook as a sanitised HTML fragment (student version, cached)."""
    from panlearn.notebooks.render import render_lesson

    return render_lesson(_student_notebook(lesson, viewer), services().render_cache_dir,
                         sha256=lesson.notebook_hash)


def cell_html(lesson: Lesson, viewer: User | None, cell_id: str,
              part: Literal["cell", "output"]) -> str:
    """One cell, or its outputs only, as HTML; NotFoundError for an unknown cell."""
    from panlearn.notebooks.render import render_cell

    return render_cell(_student_notebook(lesson, viewer), cell_id, services().render_cache_dir,
                       part=part, sha256=lesson.notebook_hash)


def maths_assets() -> tuple[list[str], list[str]]:
    """Style sheets and scripts that typeset maths, or nothing when KaTeX is not installed."""
    if "katex" not in current_app.extensions.get(ASSETS_EXTENSION, ()):
        return [], []
    # Every page asks; the URLs only change with the mount point, so build them once each.
    cache: dict[str, tuple[list[str], list[str]]] = current_app.extensions.setdefault(
        "panlearn.web.maths_urls", {})
    root = request.script_root
    if root not in cache:
        katex = "vendor.npm_package"
        stylesheets = [url_for(katex, package="katex", filename=KATEX_CSS)]
        scripts = [url_for(katex, package="katex", filename=name) for name in KATEX_SCRIPTS]
        scripts.append(url_for("static", filename="js/maths.js"))
        cache[root] = (stylesheets, scripts)
    return cache[root]


def slides_html(lesson: Lesson, viewer: User | None) -> str:
    """The lesson as a standalone reveal.js document served from the platform (cached)."""
    from panlearn.notebooks.slides import render_slides

    maths_css, maths_js = maths_assets()
    stylesheets = [*maths_css, url_for("pages.highlight_css"),
                   url_for("static", filename="css/slides.css")]
    if lesson.questions:
        stylesheets.append(url_for("static", filename="css/quiz.css"))
    return render_slides(
        _student_notebook(lesson, viewer), services().render_cache_dir,
        reveal_url_prefix=url_for("vendor.npm_package", package="reveal.js",
                                  filename=REVEAL_PROBE).removesuffix("/" + REVEAL_PROBE),
        title=lesson.title, stylesheets=stylesheets,
        scripts=[*maths_js, url_for("static", filename="js/page.js")],
        sha256=lesson.notebook_hash,
    )


def with_preview_marker(document: str, text: str) -> str:
    """A slide deck with a marker saying it is a draft's preview (the cached deck has none).

    The deck is cached by notebook hash and shared with the published version
    of the same notebook, so the marker is added to each draft response.
    """
    body = '<body class="pl-slides">'
    return document.replace(body, f'{body}<p class="pl-preview-marker" role="note">'
                                  f'{html.escape(text)}</p>', 1)


def has_top_heading(fragment: str) -> bool:
    """Whether the rendered notebook brings its own <h1> (then the page adds none)."""
    return "<h1" in fragment


@dataclass(frozen=True)
class Thumbnail:
    """The first PNG figure of a lesson, for oEmbed consumers."""

    png: bytes
    width: int
    height: int


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk, or None if it is not a PNG."""
    if len(data) < 24 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return (width, height) if width and height else None


def lesson_thumbnail(lesson: Lesson, viewer: User | None) -> Thumbnail | None:
    """The first PNG output of the student version of the notebook, if it has one.

    Taken from the student version, whose solution and check cells have no
    outputs, so a thumbnail cannot show a solution's plot.
    """
    notebook = lesson_notebook(lesson, viewer, version="student")
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) or []:
            encoded = (output.get("data") or {}).get("image/png")
            if not isinstance(encoded, str):
                continue
            try:
                png = base64.b64decode("".join(encoded.split()), validate=True)
            except (binascii.Error, ValueError):
                continue
            size = _png_size(png)
            if size is not None:
                return Thumbnail(png=png, width=size[0], height=size[1])
    return None
