"""Where a lesson's slides break when its author marked none: at headings, and by length.

Jupyter's slide metadata (`metadata.slideshow.slide_type`) is what RISE and
`nbconvert --to slides` read, and it wins whenever a notebook has it. Shipped
lessons have none, and an author should not have to add it to get usable
slides, so `plan_slides` derives it:

- a markdown cell is split at its level-1 to level-3 headings (outside code
  fences), so each heading leads a cell of its own;
- a level-1 or level-2 heading starts a slide (horizontal); a level-3 heading
  a sub-slide (vertical, below it);
- a cell taller than a slide gets a sub-slide of its own (with the short
  text that leads into it, if any), and when the cells of a slide would
  overflow it, the next one continues on a sub-slide;
- a code cell taller than a slide that shows a figure is shown as its code,
  then its outputs on a sub-slide of their own (the copy's source hidden, its
  id suffixed `-out`), so the figure is never cut off below the code.

Height is estimated in lines of slide text (`SLIDE_LINES` fit on a 16:9
slide): wrapped prose, code at its smaller size, a fixed height per figure.

A notebook in which any cell starts a slide or sub-slide is left as it is;
cells marked `skip`, `notes` or `fragment` keep their type either way.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterator

from nbformat import NotebookNode

#: Lines of slide text that fit on one 16:9 slide (1280 × 720 at the slides' type size).
SLIDE_LINES = 18.0
#: A slide holding at most this many lines may take a tall cell after it (a lead-in).
LEAD_LINES = 5.0
#: A slide may run this much over SLIDE_LINES before a cell moves to the next one (the
#: estimate is rough; a one-line cell should not be left alone on a slide).
SLACK = 1.1
#: Characters per line of prose, and of code (smaller type), on a slide.
PROSE_CHARS, CODE_CHARS = 90, 100
#: Height of a code line relative to a prose line.
CODE_LINE = 0.75
#: Height of one figure (image, SVG) and of any other rich output, in prose lines.
FIGURE_LINES, RICH_LINES = 11.0, 6.0
#: Text outputs longer than this fold into a <details> on the page: one line high.
FOLDED_OUTPUT_LINES = 40
#: Slide types an author sets that start a slide; any of them turns planning off.
STARTS = frozenset({"slide", "subslide"})

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+\S")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
_RICH_TYPES = ("text/html", "text/markdown", "text/latex")


def slide_type(cell: NotebookNode) -> str | None:
    """The author's slide type of a cell, or None when it has none."""
    slideshow = cell.get("metadata", {}).get("slideshow")
    if isinstance(slideshow, dict) and isinstance(slideshow.get("slide_type"), str):
        return slideshow["slide_type"]
    return None


def has_slide_starts(nb: NotebookNode) -> bool:
    """Whether the author has already said where slides start."""
    return any(slide_type(cell) in STARTS for cell in nb.cells)


def heading_level(cell: NotebookNode) -> int | None:
    """The level of the heading a markdown cell opens with, or None."""
    if cell.get("cell_type") != "markdown":
        return None
    for line in cell.get("source", "").splitlines():
        if not line.strip():
            continue
        match = _HEADING.match(line)
        return len(match.group(1)) if match else None
    return None


def _split_points(lines: list[str]) -> Iterator[int]:
    """Indices of lines holding a level-1 to 3 heading, outside fenced code."""
    fenced = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = _HEADING.match(line)
        if not fenced and match and len(match.group(1)) <= 3:
            yield index


def split_at_headings(cell: NotebookNode) -> list[NotebookNode]:
    """A markdown cell as one cell per heading (the first keeps the id; others get `-sN`)."""
    lines = cell.source.splitlines(keepends=True)
    points = [point for point in _split_points(lines) if point > 0]
    if cell.get("attachments") or not points:
        return [cell]
    bounds = [0, *points, len(lines)]
    parts = []
    for number, (start, stop) in enumerate(zip(bounds, bounds[1:], strict=False)):
        text = "".join(lines[start:stop]).strip("\n")
        if not text.strip():
            continue
        part = copy.deepcopy(cell)
        part.source = text
        if number and "id" in cell:
            part.id = f"{str(cell.id)[:58]}-s{number}"
        parts.append(part)
    return parts or [cell]


def _source_hidden(cell: NotebookNode) -> bool:
    """Whether nbconvert leaves the cell's source out (`metadata.transient.remove_source`)."""
    transient = cell.get("metadata", {}).get("transient")
    return isinstance(transient, dict) and bool(transient.get("remove_source"))


def _shows_figure(cell: NotebookNode) -> bool:
    return any(kind in (output.get("data") or {})
               for output in cell.get("outputs", []) for kind in _IMAGE_TYPES)


def split_code_from_figures(cell: NotebookNode) -> list[NotebookNode]:
    """A code cell taller than a slide that shows a figure, as its code then its outputs.

    The outputs' copy hides its source (nbconvert honours `transient.remove_source`)
    and gets the id `<id>-out`; other cells are returned as they are.
    """
    if (cell.get("cell_type") != "code" or not cell.get("source", "").strip()
            or _source_hidden(cell) or not _shows_figure(cell)
            or cell_height(cell) <= SLIDE_LINES):
        return [cell]
    code = copy.deepcopy(cell)
    code.outputs = []
    outputs = copy.deepcopy(cell)
    outputs.setdefault("metadata", {}).setdefault("transient", {})["remove_source"] = True
    if "id" in cell:
        outputs.id = f"{str(cell.id)[:58]}-out"
    return [code, outputs]


def _text_lines(text: str, width: int) -> float:
    return sum(max(1, math.ceil(len(line) / width)) if line.strip() else 0.3
               for line in text.splitlines())


def cell_height(cell: NotebookNode) -> float:
    """Estimated height of a cell on a slide, in lines of prose."""
    if cell.get("cell_type") == "markdown":
        source = cell.get("source", "")
        figures = source.count("![") + source.count("<img")
        display_maths = source.count("$$") // 2
        return _text_lines(source, PROSE_CHARS) + figures * FIGURE_LINES + display_maths
    if cell.get("cell_type") != "code":
        return _text_lines(cell.get("source", ""), PROSE_CHARS)
    height = 0.0 if _source_hidden(cell) else (
        _text_lines(cell.get("source", ""), CODE_CHARS) * CODE_LINE + 1)
    for output in cell.get("outputs", []):
        data = output.get("data") or {}
        if any(kind in data for kind in _IMAGE_TYPES):
            height += FIGURE_LINES
        elif any(kind in data for kind in _RICH_TYPES):
            height += RICH_LINES
        else:
            text = output.get("text") or data.get("text/plain") or "\n".join(
                output.get("traceback", []))
            text = text if isinstance(text, str) else "".join(text)
            lines = _text_lines(text, CODE_CHARS)
            height += 1 if lines > FOLDED_OUTPUT_LINES else lines * CODE_LINE
    return height


def _set_type(cell: NotebookNode, kind: str) -> None:
    cell.setdefault("metadata", {})["slideshow"] = {"slide_type": kind}


def plan_slides(nb: NotebookNode) -> NotebookNode:
    """A copy of the notebook with slide types set at headings and by length.

    Returns the notebook unchanged when its author already set slide starts.
    """
    if has_slide_starts(nb):
        return nb
    planned = copy.deepcopy(nb)
    cells: list[NotebookNode] = []
    for cell in planned.cells:
        if cell.get("cell_type") == "markdown" and slide_type(cell) is None:
            cells.extend(split_at_headings(cell))
        elif slide_type(cell) is None:
            cells.extend(split_code_from_figures(cell))
        else:
            cells.append(cell)
    planned.cells = cells
    heights = [cell_height(cell) for cell in cells]
    used = 0.0
    started = False
    for index, cell in enumerate(cells):
        author = slide_type(cell)
        if author in {"skip", "notes"}:
            continue
        level = heading_level(cell)
        height = heights[index]
        # A short text leading into a tall cell goes with it, not with what came before.
        leads_in = (cell.get("cell_type") == "markdown" and height <= LEAD_LINES
                    and index + 1 < len(cells) and heights[index + 1] > SLIDE_LINES)
        if not started or (level is not None and level <= 2):
            kind = "slide"
        elif (level == 3 or leads_in or (height > SLIDE_LINES and used > LEAD_LINES)
              or (height <= SLIDE_LINES and used + height > SLIDE_LINES * SLACK)) and used > 0:
            kind = "subslide"
        else:
            kind = "-"
        started = True
        if author == "fragment" and kind == "-":
            continue  # the author's fragment stays a fragment of the current slide
        if author is None or kind != "-":
            _set_type(cell, kind)
        # A cell taller than a slide fills its own: whatever follows starts a new one.
        used = (height if kind != "-" else used + height)
        if height > SLIDE_LINES:
            used = SLIDE_LINES + 1
    return planned
