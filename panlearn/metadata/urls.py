"""Absolute URLs of catalogue pages, as harvesters must see them.

Metadata names pages by absolute URL (JSON-LD `url`, sitemap `loc`, Dublin
Core `identifier`). The services take a `CatalogueUrls` so they stay testable
without a request; `FlaskUrls` builds them with `url_for(_external=True)`, i.e.
from the host the harvester asked (or SERVER_NAME outside a request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flask import url_for


class CatalogueUrls(Protocol):
    """Where the catalogue's pages live."""

    def home(self) -> str:
        """The catalogue's front page."""
        ...

    def course(self, slug: str) -> str:
        """A course page."""
        ...

    def course_jsonld(self, slug: str) -> str:
        """A course's JSON-LD document."""
        ...

    def lesson(self, lesson_id: int) -> str:
        """A lesson page."""
        ...


class FlaskUrls:
    """URLs from the app's routes; needs a request or an app context with SERVER_NAME."""

    def home(self) -> str:
        """The catalogue's front page."""
        return url_for("pages.catalogue", _external=True)

    def course(self, slug: str) -> str:
        """A course page."""
        return url_for("pages.course", slug=slug, _external=True)

    def course_jsonld(self, slug: str) -> str:
        """A course's JSON-LD document."""
        return url_for("metadata.course_jsonld", slug=slug, _external=True)

    def lesson(self, lesson_id: int) -> str:
        """A lesson page."""
        return url_for("pages.lesson", lesson_id=lesson_id, _external=True)


@dataclass(frozen=True)
class StaticUrls:
    """URLs under a fixed base (CLI exports, tests); mirrors the app's routes."""

    base: str

    def home(self) -> str:
        """The catalogue's front page."""
        return self.base.rstrip("/") + "/"

    def course(self, slug: str) -> str:
        """A course page."""
        return f"{self.base.rstrip('/')}/courses/{slug}"

    def course_jsonld(self, slug: str) -> str:
        """A course's JSON-LD document."""
        return f"{self.base.rstrip('/')}/courses/{slug}.jsonld"

    def lesson(self, lesson_id: int) -> str:
        """A lesson page."""
        return f"{self.base.rstrip('/')}/lessons/{lesson_id}"
