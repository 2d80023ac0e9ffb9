"""Parse rendered HTML and list what a browser could execute or be steered by."""

from __future__ import annotations

from html.parser import HTMLParser

FORBIDDEN_TAGS = {"script", "iframe", "object", "embed", "form", "base", "meta", "style",
                  "frame", "frameset", "link", "svg", "math", "input", "button", "textarea"}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    handle_startendtag = handle_starttag


def elements(html: str) -> list[tuple[str, dict[str, str]]]:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.tags


def dangers(html: str, allowed_tags: frozenset[str] = frozenset()) -> list[str]:
    """Everything in `html` that could run script or load a page; [] when safe."""
    found = []
    for tag, attrs in elements(html):
        if tag in FORBIDDEN_TAGS - allowed_tags:
            found.append(f"<{tag}>")
        for name, value in attrs.items():
            compact = "".join(value.split()).lower()
            if name.startswith("on"):
                found.append(f"{tag}@{name}")
            if name in {"href", "src", "action", "formaction", "xlink:href", "cite"}:
                if compact.startswith(("javascript:", "vbscript:")):
                    found.append(f"{tag}@{name}={value[:30]}")
                if compact.startswith("data:") and not (
                    tag == "img" and compact.startswith("data:image/")
                ):
                    found.append(f"{tag}@{name}={value[:30]}")
            if name == "srcdoc":
                found.append(f"{tag}@srcdoc")
    return found
