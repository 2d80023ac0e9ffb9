"""reveal.js slides from a notebook, honouring `metadata.slideshow.slide_type`.

A notebook without slide starts is split at its headings and by length first
(`slide_plan.plan_slides`); the slides are 16:9 (1280 × 720, scaled to the
screen by reveal.js) and figures are sized to fit one.

nbconvert's SlidesExporter groups cells into slides, sub-slides, fragments and
speaker notes (`slide`, `subslide`, `fragment`, `-`, `skip`, `notes`); our
template renders each cell through the same sanitising blocks as lesson pages
and wraps them in a scaffold that loads reveal.js from the platform itself
(`reveal_url_prefix`, e.g. /static/vendor/reveal.js, the npm package
`reveal.js`): no CDN, nothing committed. The scaffold's inline script is a
constant (the options travel in a JSON block), so a Content-Security-Policy can
allow it by hash: `SLIDES_INIT_SCRIPT_CSP_SOURCE`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from panlearn.errors import InvalidInputError
from panlearn.notebooks.cache import cached, variant_name
from panlearn.notebooks.render import (
    DEFAULT_COLLAPSE_LINES,
    OUTPUT_IMAGE_ALT,
    _address,
    _thread_exporter,
    export_html,
    prepare_for_display,
)
from panlearn.notebooks.slide_plan import plan_slides

if TYPE_CHECKING:
    from nbconvert.exporters import HTMLExporter

#: Where the platform serves the npm package `reveal.js` (dist/, plugin/).
DEFAULT_REVEAL_URL_PREFIX = "/static/vendor/reveal.js"

#: The only script of ours in the slides; constant so that a CSP can hash it.
SLIDES_INIT_SCRIPT = (
    "(function(){var c=JSON.parse(document.getElementById('pl-reveal-config').textContent);"
    "c.plugins=window.RevealNotes?[window.RevealNotes]:[];"
    "Reveal.initialize(c);})();"
)
#: CSP source expression allowing `SLIDES_INIT_SCRIPT`, e.g. in `script-src`.
_INIT_DIGEST = hashlib.sha256(SLIDES_INIT_SCRIPT.encode()).digest()
SLIDES_INIT_SCRIPT_CSP_SOURCE = f"'sha256-{base64.b64encode(_INIT_DIGEST).decode()}'"

#: Bump when `plan_slides` changes where slides break (it is part of the cache key).
PLAN_VERSION = 2
#: The slides' size in reveal.js units: 16:9, scaled to fit the screen or frame.
SLIDE_WIDTH, SLIDE_HEIGHT = 1280, 720

_THEME = re.compile(r"^[a-z0-9-]{1,40}$")
_TRANSITIONS = {"none", "fade", "slide", "convex", "concave", "zoom"}


def render_slides(
    nb: Mapping[str, Any],
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    reveal_url_prefix: str = DEFAULT_REVEAL_URL_PREFIX,
    title: str | None = None,
    theme: str = "white",
    transition: str = "slide",
    stylesheets: Sequence[str] = (),
    scripts: Sequence[str] = (),
    solutions: bool = False,
    sha256: str | None = None,
    exporter: HTMLExporter | None = None,
) -> str:
    """Render a notebook as a standalone reveal.js HTML document (cached).

    `stylesheets` and `scripts` are URLs the platform adds (its CSS, its
    MathJax); they are part of the cache key, like every option. Raises
    `InvalidInputError` for an invalid notebook or one whose cells are all
    skipped.
    """
    if not _THEME.match(theme):
        raise ValueError(f"invalid reveal.js theme name {theme!r}")
    if transition not in _TRANSITIONS:
        raise ValueError(f"invalid reveal.js transition {transition!r}")
    prefix = reveal_url_prefix.rstrip("/")
    options = {
        "prefix": prefix, "title": title, "theme": theme, "transition": transition,
        "stylesheets": list(stylesheets), "scripts": list(scripts), "solutions": solutions,
        "plan": PLAN_VERSION,
    }
    sha, node = _address(nb, sha256)
    variant = variant_name("slides", options)

    def produce() -> str:
        shown = plan_slides(
            prepare_for_display(node if node is not None else nb, solutions=solutions))
        resources = {
            "pl_collapse_lines": DEFAULT_COLLAPSE_LINES,
            "pl_image_alt": OUTPUT_IMAGE_ALT,
            "pl_reveal": {
                "url_prefix": prefix,
                "title": title or shown.metadata.get("title") or "Slides",
                "theme": theme,
                "stylesheets": list(stylesheets),
                "scripts": list(scripts),
                "init_script": SLIDES_INIT_SCRIPT,
                "config": {
                    "controls": True, "progress": True, "hash": True, "center": False,
                    "slideNumber": "c/t", "transition": transition,
                    "width": SLIDE_WIDTH, "height": SLIDE_HEIGHT, "margin": 0.05,
                },
            },
        }
        try:
            return export_html(exporter or _thread_exporter("slides"), shown, resources)
        except ValueError as error:
            # nbconvert: "All cells are hidden, cannot create slideshow".
            detail = f"This notebook cannot be shown as slides: {error}."
            raise InvalidInputError(detail, errors={"notebook": [detail]}) from error

    return cached(cache_dir, sha, variant, produce)
