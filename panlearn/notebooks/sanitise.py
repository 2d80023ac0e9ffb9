"""Sanitising notebook-derived HTML and SVG before it reaches a student's browser.

A notebook is authored by someone else and its outputs were produced by code we
never reviewed: any HTML it carries is untrusted. Only notebook-derived pieces
go through here (markdown, text/html and text/markdown outputs, raw cells,
SVG); the template scaffold around them is ours.

The policy is an allowlist (nh3, i.e. ammonia): no script, style, iframe,
object, embed, form, base or meta; no event handlers; URLs only http(s),
mailto, relative, or `data:image/...` on `<img src>` (an image loaded through
`<img>` never runs script, SVG included). Ids get an `nb-` prefix so content
cannot clobber the page's own ids (`cell-…`, the platform's), and in-page
anchors are rewritten to match. Classes are dropped but for those of
highlighted code and heading anchors: otherwise a student's output could wear
the platform's own look (a `notice` saying "Graded: 3 / 3", a fake check cell).
"""

from __future__ import annotations

import base64
import binascii
import re
from xml.etree import ElementTree

import nh3
from defusedxml import ElementTree as SafeElementTree
from defusedxml.common import DefusedXmlException
from pygments.token import STANDARD_TYPES

#: Bump when the policy changes: it is part of the render cache key.
SANITISER_VERSION = "2"

#: Prefix given to every id that comes from notebook content.
ID_PREFIX = "nb-"

_TAGS = (set(nh3.ALLOWED_TAGS) - {"map", "area"}) | {"section"}
_ATTRIBUTES: dict[str, set[str]] = {
    tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()
}
_ATTRIBUTES["*"] = {"class", "id", "title", "lang", "dir", "style"}
_ATTRIBUTES["img"] = {"src", "alt", "width", "height", "title"}
_ATTRIBUTES["a"] = {"href", "hreflang", "title"}
_ATTRIBUTES.pop("area", None)

# Presentational properties only: no position, z-index, margins or URLs, so
# content can neither overlay the page nor load anything through CSS.
_STYLE_PROPERTIES = {
    "color", "background-color", "font-weight", "font-style", "font-family", "font-size",
    "text-decoration", "text-align", "vertical-align", "white-space", "border",
    "border-collapse", "border-color", "border-style", "border-width", "padding",
    "width", "height", "max-width",
}

#: The only classes notebook content keeps: pygments' token classes and the wrappers of
#: highlighted code and heading anchors that nbconvert's markdown makes. The platform's
#: stylesheet gives these their look inside `.pl-notebook`, and nothing else.
_KEPT_CLASSES = (frozenset(STANDARD_TYPES.values()) - {""}) | {"highlight", "anchor-link"}
_HIGHLIGHT_LANGUAGE = re.compile(r"^hl-[a-z0-9_+-]{1,40}$")

_URL_ATTRIBUTES = {"href", "src", "cite"}
_IMAGE_DATA_URL = re.compile(r"^data:image/(png|jpeg|gif|webp|svg\+xml)[;,]", re.IGNORECASE)
# Browsers ignore ASCII whitespace and control characters inside a URL scheme.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Drop platform classes, restrict `data:` URLs to images, keep in-page anchors working.

    Never raises: nh3 reports a raising filter through sys.unraisablehook.
    """
    if attribute == "class":
        kept = [name for name in value.split()
                if name in _KEPT_CLASSES or _HIGHLIGHT_LANGUAGE.match(name)]
        return " ".join(kept) or None
    if attribute in _URL_ATTRIBUTES:
        compact = _URL_NOISE.sub("", value).lower()
        if compact.startswith("data:"):
            if tag == "img" and attribute == "src" and _IMAGE_DATA_URL.match(compact):
                return value
            return None
        if attribute == "href" and value.startswith("#") and not value.startswith("#" + ID_PREFIX):
            return "#" + ID_PREFIX + value[1:]
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags={"script", "style"},
    attributes=_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    strip_comments=True,
    link_rel="noopener noreferrer nofollow",
    url_schemes={"http", "https", "mailto", "data"},
    filter_style_properties=_STYLE_PROPERTIES,
    id_prefix=ID_PREFIX,
)


def sanitise_html(html: object) -> str:
    """Return `html` with everything that could run or escape its box removed."""
    if html is None:
        return ""
    return _CLEANER.clean(str(html))


# --- SVG -------------------------------------------------------------------

_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_NS = "http://www.w3.org/1999/xlink"
# Serialise SVG with its usual prefixes rather than ns0:/ns1:.
ElementTree.register_namespace("", _SVG_NS)
ElementTree.register_namespace("xlink", _XLINK_NS)
_DROP_SVG_ELEMENTS = {"script", "foreignobject", "iframe", "embed", "object", "set", "animate",
                      "handler", "listener"}


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].lower()


def sanitise_svg(svg: str) -> str | None:
    """Strip scripts, event handlers, foreign objects and non-image URLs from an SVG.

    Returns None when the SVG is not well-formed XML (it is then not shown).
    SVG is only ever embedded through `<img>`, where script cannot run anyway;
    this keeps the file harmless if someone opens it on its own.
    """
    try:
        root = SafeElementTree.fromstring(svg)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        return None
    if _local(root.tag) != "svg":
        return None
    for parent in list(root.iter()):
        for child in list(parent):
            if not isinstance(child.tag, str) or _local(child.tag) in _DROP_SVG_ELEMENTS:
                parent.remove(child)
        for name in list(parent.attrib):
            local = _local(name)
            value = _URL_NOISE.sub("", parent.attrib[name]).lower()
            if local.startswith("on"):
                del parent.attrib[name]
            elif local == "href" and not (
                value.startswith("#") or _IMAGE_DATA_URL.match(value)
            ):
                del parent.attrib[name]
            elif "javascript:" in value:
                del parent.attrib[name]
    return ElementTree.tostring(root, encoding="unicode")


def svg_data_url(svg: object) -> str | None:
    """Return a `data:image/svg+xml` URL of the sanitised SVG, or None if it is unusable."""
    if not isinstance(svg, str):
        return None
    clean = sanitise_svg(svg)
    if clean is None:
        return None
    return "data:image/svg+xml;base64," + base64.b64encode(clean.encode("utf-8")).decode("ascii")


_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]+$")


def image_data_url(data: object, mimetype: str) -> str | None:
    """Return a data URL for a base64 PNG/JPEG output, or None if the payload is not base64.

    Outputs are never linked by file name or URL: `metadata.filenames` in a
    notebook could point a student's browser anywhere.
    """
    if mimetype not in {"image/png", "image/jpeg", "image/gif", "image/webp"}:
        return None
    if not isinstance(data, str) or not _BASE64.match(data):
        return None
    compact = re.sub(r"\s+", "", data)
    try:
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    return f"data:{mimetype};base64,{compact}"
