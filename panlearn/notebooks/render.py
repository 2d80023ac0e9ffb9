r"""Lesson HTML from notebooks: nbconvert with panlearn's template, sanitised and cached.

`render_lesson` returns an HTML fragment (body content only) for a platform
page to embed: markdown, maths left as $…$ / \\(…\\) for the platform's
MathJax/KaTeX, pygments-highlighted code, images and plots inline as data URLs,
long outputs folded into <details>. Each cell sits in
`<section id="cell-<cell id>">`, and `render_cell` cuts one cell, or its
outputs, out of the same cached page (embeds, oEmbed).

Safety: everything derived from the notebook is escaped or sanitised by
`panlearn.notebooks.sanitise` (see the template's notes). An exercise
notebook is rendered as its student version unless `solutions=True`, so a
lesson page cannot leak answers by mistake.

Cost: a cold render runs nbconvert (tens of milliseconds and up); a page is
therefore cached on disk under (notebook sha256, RENDER_STAMP, variant) and a
hit reads one file without touching nbconvert.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from nbformat import NotebookNode

from panlearn.errors import NotFoundError
from panlearn.notebooks.cache import TEMPLATES_DIR, cached, variant_name
from panlearn.notebooks.canonical import CELL_ID_PATTERN, normalize_notebook
from panlearn.notebooks.sanitise import image_data_url, sanitise_html, svg_data_url
from panlearn.notebooks.student import make_student_version, needs_student_version
from panlearn.quizzes.blocks import has_quizzes, split_markdown

if TYPE_CHECKING:  # nbconvert is imported with the first cold render: a cached page never needs it
    from nbconvert.exporters import HTMLExporter

#: Text outputs longer than this many lines fold into a <details> element.
DEFAULT_COLLAPSE_LINES = 40
#: Alt text of output images (notebooks carry none).
OUTPUT_IMAGE_ALT = "Figure produced by the notebook"

LESSON_TEMPLATE = "panlearn_lesson"
SLIDES_TEMPLATE = "panlearn_slides"

_DATA_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


def _safe_cell_id(cell_id: object) -> str:
    """Return the cell id if it is a valid nbformat id, else a hash of it (never markup)."""
    text = str(cell_id or "")
    if CELL_ID_PATTERN.match(text):
        return text
    return "x" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _is_data_key(key: object) -> bool:
    return isinstance(key, str) and bool(_DATA_KEY.match(key))


def _filters() -> dict[str, Any]:
    return {
        "pl_sanitise": sanitise_html,
        # Anything left in nbconvert's base blocks that calls clean_html gets nh3 too.
        "clean_html": sanitise_html,
        "pl_svg_url": svg_data_url,
        "pl_image_url": image_data_url,
        "pl_cell_id": _safe_cell_id,
        "pl_is_data_key": _is_data_key,
        # Text and ```quiz blocks of a markdown cell: the page puts each question in place.
        "pl_quiz_segments": lambda source: list(split_markdown(str(source))),
    }


def new_exporter(kind: Literal["lesson", "slides"] = "lesson") -> HTMLExporter:
    """Build a configured nbconvert exporter for lesson fragments or slides.

    Building one loads and compiles the Jinja templates (~0.3 s), so the
    renderer keeps one per thread; tests may pass their own.
    """
    from nbconvert.exporters import HTMLExporter
    from traitlets.config import Config

    # The inline pygments <style> of nbconvert is useless in a fragment.
    config = Config({"CSSHTMLHeaderPreprocessor": {"enabled": False}})
    common: dict[str, Any] = {
        "config": config,
        "extra_template_basedirs": [str(TEMPLATES_DIR)],
        "sanitize_html": True,
        "filters": _filters(),
    }
    if kind == "slides":
        from nbconvert.exporters import SlidesExporter

        return SlidesExporter(template_name=SLIDES_TEMPLATE, reveal_url_prefix="", **common)
    return HTMLExporter(template_name=LESSON_TEMPLATE, **common)


_local = threading.local()


def _thread_exporter(kind: Literal["lesson", "slides"]) -> HTMLExporter:
    """One exporter per thread and kind: nbconvert exporters keep per-call state."""
    exporters: dict[str, HTMLExporter] = _local.__dict__.setdefault("exporters", {})
    if kind not in exporters:
        exporters[kind] = new_exporter(kind)
    return exporters[kind]


def _sha_of_normalised(node: NotebookNode) -> str:
    """sha256 of an already-normalised notebook (same bytes as `canonical_json`)."""
    text = json.dumps(node, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# What the template can show (nbconvert's HTML priority, minus widget views,
# which need a widget state and JavaScript that a lesson page does not run).
_SHOWN_MIMETYPES = frozenset({
    "application/javascript", "text/html", "text/markdown", "image/svg+xml",
    "text/vnd.mermaid", "text/latex", "image/png", "image/jpeg", "text/plain",
})


def _add_text_fallbacks(node: NotebookNode) -> None:
    """Give outputs nothing can show (a bare widget, a plotly bundle) a text stand-in.

    Otherwise nbconvert warns once per such output and shows nothing at all.
    """
    for cell in node.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if isinstance(data, dict) and not _SHOWN_MIMETYPES.intersection(data):
                kinds = ", ".join(sorted(data)) or "empty"
                data["text/plain"] = (
                    f"[{kinds} output: open the notebook in Jupyter to see it]"
                )


def prepare_for_display(nb: Mapping[str, Any], *, solutions: bool = False) -> NotebookNode:
    """Return the notebook a reader may see.

    Normalised, the student version if it could reveal answers (solutions, hidden
    checks, quiz answer keys), and a text stand-in for outputs the page cannot show.
    """
    node = normalize_notebook(nb)
    if not solutions and (needs_student_version(node) or has_quizzes(node)):
        node = make_student_version(node)
    _add_text_fallbacks(node)
    return node


def export_html(
    exporter: HTMLExporter, nb: NotebookNode, resources: Mapping[str, Any]
) -> str:
    """Run nbconvert once; the single place where the renderer calls it."""
    body, _ = exporter.from_notebook_node(nb, resources=dict(resources))
    return body


def _address(nb: Mapping[str, Any], sha256: str | None) -> tuple[str, NotebookNode | None]:
    """Return the cache key's hash: the caller's (a NotebookBlob knows it) or computed."""
    if sha256 is not None:
        return sha256, None
    node = normalize_notebook(nb)
    return _sha_of_normalised(node), node


def render_lesson(
    nb: Mapping[str, Any],
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    solutions: bool = False,
    sha256: str | None = None,
    collapse_lines: int = DEFAULT_COLLAPSE_LINES,
    exporter: HTMLExporter | None = None,
) -> str:
    """Render a notebook as a sanitised HTML fragment for a lesson page.

    `cache_dir` (the app passes instance/cache/render) enables the on-disk
    cache; `sha256` is the notebook's content address if the caller knows it
    (then a cache hit does not even look at `nb`). `solutions=True` shows an
    exercise with its answers (authors' preview only). Raises
    `InvalidInputError` for an invalid notebook or malformed solution markers.
    """
    sha, node = _address(nb, sha256)
    variant = variant_name("lesson", {"solutions": solutions, "collapse": collapse_lines})

    def produce() -> str:
        shown = prepare_for_display(node if node is not None else nb, solutions=solutions)
        resources = {"pl_collapse_lines": collapse_lines, "pl_image_alt": OUTPUT_IMAGE_ALT}
        return export_html(exporter or _thread_exporter("lesson"), shown, resources)

    return cached(cache_dir, sha, variant, produce)


def _between(html: str, start: str, end: str) -> str | None:
    begin = html.find(start)
    if begin < 0:
        return None
    stop = html.find(end, begin)
    if stop < 0:
        return None
    return html[begin + len(start):stop].strip()


def render_cell(
    nb: Mapping[str, Any],
    cell_id: str,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    part: Literal["cell", "output"] = "cell",
    solutions: bool = False,
    sha256: str | None = None,
    exporter: HTMLExporter | None = None,
) -> str:
    """One cell (`part="cell"`) or only its rich outputs (`part="output"`) as HTML.

    Cut from the cached lesson rendering, so embedding many cells of one
    notebook costs one render. `part="output"` keeps figures, HTML, markdown
    and LaTeX outputs, not printed text or errors (a lecturer embeds a figure),
    and returns "" for a cell without any; raises `NotFoundError` for an
    unknown cell id.
    """
    page = render_lesson(nb, cache_dir, solutions=solutions, sha256=sha256, exporter=exporter)
    if not CELL_ID_PATTERN.match(str(cell_id)):
        raise NotFoundError(f"No cell {cell_id!r} in this notebook.")
    cell_html = _between(page, f"<!--pl-cell:{cell_id}-->", f"<!--/pl-cell:{cell_id}-->")
    if cell_html is None:
        raise NotFoundError(f"No cell {cell_id!r} in this notebook.")
    if part == "cell":
        return cell_html
    if part == "output":
        outputs = _between(cell_html, f"<!--pl-output:{cell_id}-->",
                           f"<!--/pl-output:{cell_id}-->") or ""
        rich = _all_between(outputs, RICH_START, RICH_END)
        if not rich:
            return ""
        return '<div class="jp-OutputArea jp-Cell-outputArea">' + "\n".join(rich) + "</div>"
    raise ValueError(f"unknown part {part!r}")


#: The id of the one cell `render_outputs` renders.
_OUTPUTS_CELL = "pl-outputs"


def render_outputs(outputs: list[Mapping[str, Any]], *,
                   exporter: HTMLExporter | None = None) -> str:
    """A cell's outputs (nbformat output dicts) as the lesson page shows them, uncached.

    For outputs that are not in any stored notebook: those of a live run. The
    same template and sanitiser as a lesson (text escaped, HTML through nh3,
    images as checked data URLs), so a run's output is no more dangerous than
    a lesson's. Raises `InvalidInputError` for outputs nbformat refuses.
    """
    from nbformat import v4

    cell = v4.new_code_cell("", outputs=[dict(output) for output in outputs])
    cell.id = _OUTPUTS_CELL
    shown = prepare_for_display(v4.new_notebook(cells=[cell]))
    resources = {"pl_collapse_lines": DEFAULT_COLLAPSE_LINES, "pl_image_alt": OUTPUT_IMAGE_ALT}
    if exporter is not None:
        page = export_html(exporter, shown, resources)
    else:
        # One exporter for every thread, in turn: building one costs ~0.3 s, a render ~6 ms,
        # and a threaded server starts a thread per request.
        with _shared_lock:
            if "lesson" not in _shared:
                _shared["lesson"] = new_exporter("lesson")
            page = export_html(_shared["lesson"], shown, resources)
    return _between(page, f"<!--pl-output:{_OUTPUTS_CELL}-->",
                    f"<!--/pl-output:{_OUTPUTS_CELL}-->") or ""


_shared: dict[str, HTMLExporter] = {}
_shared_lock = threading.Lock()


#: The template's marks around each rich output (figures, HTML, markdown, LaTeX).
RICH_START, RICH_END = "<!--pl-rich-->", "<!--/pl-rich-->"


def _all_between(html: str, start: str, end: str) -> list[str]:
    """Every stretch of `html` between a `start` and the next `end` mark."""
    found = []
    position = 0
    while (begin := html.find(start, position)) >= 0:
        stop = html.find(end, begin)
        if stop < 0:
            break
        found.append(html[begin + len(start):stop].strip())
        position = stop + len(end)
    return found


_ONE_PARAGRAPH = re.compile(r"^<p>((?:(?!<p[ >]).)*)</p>$", re.DOTALL)


@lru_cache(maxsize=4096)
def render_markdown(text: str, *, inline: bool = False) -> str:
    """Markdown (maths left as TeX for KaTeX) as sanitised HTML, like a notebook's cells.

    For short texts shown on pages outside a notebook rendering (quiz questions,
    options, feedback). `inline` unwraps a lone paragraph (an option's label).
    """
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    html = sanitise_html(markdown2html_mistune(text)).strip()
    if inline:
        single = _ONE_PARAGRAPH.match(html)
        if single:
            return single.group(1)
    return html


def highlight_css(style: str = "default", selector: str = ".pl-notebook .highlight") -> str:
    """Pygments CSS for the code in rendered lessons; the platform serves it once.

    The fragment carries no <style>, so pages (and their CSP) stay in control.
    """
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style=style).get_style_defs(selector)
