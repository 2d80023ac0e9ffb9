"""`/sitemap.xml`: every published course and lesson, for crawlers and the TeSS ingestor.

TeSS's Bioschemas ingestor starts from a sitemap and reads the JSON-LD of each
page it lists; search engines do the same. Only what anonymous visitors may see
is listed: the newest published version of each course, and its lessons.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from xml.etree import ElementTree as ET

from sqlalchemy.orm import Session

from panlearn.catalogue import lessons_of, list_courses
from panlearn.metadata.urls import CatalogueUrls
from panlearn.models import CourseVersion

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
#: The sitemaps.org limit of URLs in one file (a sitemap index would be needed beyond it).
MAX_URLS = 50_000
#: Read in one go: the whole public catalogue.
ALL = 1_000_000


def published_versions(session: Session, organisation: str | None = None) -> list[CourseVersion]:
    """The newest published version of every course, as anonymous visitors see them."""
    return list(list_courses(session, None, organisation=organisation, per_page=ALL).items)


def version_datestamp(version: CourseVersion) -> datetime:
    """When a version became what the catalogue shows: its publication (else its import)."""
    return version.published_at or version.created_at


def build_sitemap(versions: Iterable[CourseVersion], urls: CatalogueUrls) -> bytes:
    """The sitemap XML of the catalogue front page, each course page and each lesson page."""
    root = ET.Element(f"{{{SITEMAP_NS}}}urlset")
    entries: list[tuple[str, datetime | None]] = []
    versions = list(versions)
    newest = max((version_datestamp(v) for v in versions), default=None)
    entries.append((urls.home(), newest))
    for version in versions:
        stamp = version_datestamp(version)
        entries.append((urls.course(version.course.slug), stamp))
        entries.extend((urls.lesson(lesson.id), stamp) for _, lesson in lessons_of(version))
    for loc, lastmod in entries[:MAX_URLS]:
        url = ET.SubElement(root, f"{{{SITEMAP_NS}}}url")
        ET.SubElement(url, f"{{{SITEMAP_NS}}}loc").text = loc
        if lastmod is not None:
            # W3C datetime; a published version never changes, so this is exact.
            ET.SubElement(url, f"{{{SITEMAP_NS}}}lastmod").text = lastmod.isoformat(
                timespec="seconds")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True,
                       default_namespace=SITEMAP_NS)
