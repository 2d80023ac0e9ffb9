"""schema.org/Bioschemas JSON-LD of a course: what TeSS and search engines read.

`course_jsonld(version)` describes a course version as a Bioschemas `Course`
(profile Course 1.0-RELEASE): its minimum properties (name, description,
keywords), the recommended ones panlearn knows (about, teaches,
educationalLevel, coursePrerequisites, license, provider, timeRequired, url,
mentions, hasCourseInstance) and its lessons as `LearningResource`s under
`hasPart` (profile TrainingMaterial 1.0-RELEASE). Properties without data are
left out rather than filled with placeholders: a harvester should see what
the author wrote, not what we guessed.

The same dict is served at `/courses/<slug>.jsonld` and embedded in the course
page (`<script type="application/ld+json">`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from license_expression import ExpressionError, LicenseSymbol, get_spdx_licensing

from panlearn.datasets.registry import Registry
from panlearn.metadata.urls import CatalogueUrls, FlaskUrls
from panlearn.models import CourseVersion, Lesson, LessonKind

COURSE_PROFILE = "https://bioschemas.org/profiles/Course/1.0-RELEASE"
TRAINING_MATERIAL_PROFILE = "https://bioschemas.org/profiles/TrainingMaterial/1.0-RELEASE"
SPDX_LICENCE_URL = "https://spdx.org/licenses/{}.html"
ORCID_URL = "https://orcid.org/{}"
#: The media type of JSON-LD documents.
JSONLD_MIMETYPE = "application/ld+json"

#: Reading speed for technical prose, and time per line of code read and run, in minutes.
WORDS_PER_MINUTE = 150
MINUTES_PER_CODE_LINE = 0.5
#: Extra time an exercise takes: working out the answer, submitting, reading feedback.
EXERCISE_MINUTES = 20
MIN_LESSON_MINUTES = 5
DESCRIPTION_CHARS = 300
#: Used only when a course names no technique: `keywords` is required by the profile.
FALLBACK_KEYWORDS = ("photon science", "neutron science")

_WORD = re.compile(r"\w+")
_HEADING = re.compile(r"^\s{0,3}#")


def course_jsonld(version: CourseVersion, *, urls: CatalogueUrls | None = None,
                  registry: Registry | None = None) -> dict[str, Any]:
    """The Bioschemas `Course` of one course version, as a JSON-ready dict.

    `urls` gives absolute page URLs (default: the app's routes, for the host of
    the current request). `registry` (optional) adds the datasets the exercises
    use as `mentions` and PaNET terms for techniques it knows.
    """
    urls = urls or FlaskUrls()
    course = version.course
    course_url = urls.course(course.slug)
    lessons = [lesson for module in version.modules for lesson in module.lessons]
    minutes = sum(lesson_minutes(lesson) for lesson in lessons)
    keywords = _keywords(version)
    document: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "Course",
        "@id": course_url,
        "dct:conformsTo": {"@type": "CreativeWork", "@id": COURSE_PROFILE},
        "name": version.title,
        "description": version.summary or version.title,
        "keywords": keywords,
        "url": course_url,
        "identifier": course_url,
        "courseCode": course.slug,
        "version": version.version,
        "inLanguage": version.language,
        "educationalLevel": version.level,
        "isAccessibleForFree": True,
        "timeRequired": iso_duration(minutes),
        "provider": _organisation(course.organisation),
        "creator": [_person(author) for author in version.authors],
        "hasCourseInstance": {
            "@type": "CourseInstance",
            "courseMode": "online",
            "courseWorkload": iso_duration(minutes),
            "location": {"@type": "VirtualLocation", "url": course_url},
        },
        "hasPart": [_lesson(lesson, index, urls, course_url, keywords, version.language)
                    for index, lesson in enumerate(lessons, start=1)],
    }
    licence = licence_reference(version.licence)
    if licence is not None:
        document["license"] = licence
    about = _about(version.techniques, registry)
    if about:  # a course with no technique (onboarding) says nothing rather than []
        document["about"] = about
    if version.objectives:
        document["teaches"] = list(version.objectives)
    if version.prerequisites:
        document["coursePrerequisites"] = list(version.prerequisites)
    published = version.published_at or version.created_at
    if published is not None:
        document["datePublished"] = published.date().isoformat()
        document["dateModified"] = published.isoformat(timespec="seconds")
    mentions = _mentions(lessons, registry)
    if mentions:
        document["mentions"] = mentions
    return document


def course_jsonld_text(document: dict[str, Any]) -> str:
    """The document serialised for a `<script type="application/ld+json">` element.

    `<`, `>` and `&` are escaped as JSON unicode escapes, so no course text can
    close the script element (`</script>`) or start an HTML comment in the page.
    """
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def lesson_minutes(lesson: Lesson) -> int:
    """An estimate of the time a lesson takes, in minutes, from its notebook's size.

    Prose is read at WORDS_PER_MINUTE, code at MINUTES_PER_CODE_LINE a line, and an
    exercise adds EXERCISE_MINUTES; rounded up to 5 minutes.
    """
    words = code_lines = 0
    try:
        notebook = json.loads(lesson.notebook.content)
    except (ValueError, AttributeError):
        notebook = {}
    for cell in notebook.get("cells", []):
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "markdown":
            words += len(_WORD.findall(text))
        elif cell.get("cell_type") == "code":
            code_lines += sum(1 for line in text.splitlines() if line.strip())
    minutes = words / WORDS_PER_MINUTE + code_lines * MINUTES_PER_CODE_LINE
    if lesson.kind == LessonKind.EXERCISE:
        minutes += EXERCISE_MINUTES
    return max(MIN_LESSON_MINUTES, 5 * math.ceil(minutes / 5))


def iso_duration(minutes: int) -> str:
    """Minutes as an ISO 8601 duration (`PT1H25M`), the form schema.org asks for."""
    hours, rest = divmod(int(minutes), 60)
    if hours and rest:
        return f"PT{hours}H{rest}M"
    if hours:
        return f"PT{hours}H"
    return f"PT{rest}M"


@lru_cache(maxsize=1)
def _licensing() -> Any:
    return get_spdx_licensing()


def licence_reference(spdx: str | None) -> str | dict[str, Any] | None:
    """The licence as the URL of its SPDX page, or a named CreativeWork for expressions.

    A single SPDX id (`CC-BY-4.0`) becomes `https://spdx.org/licenses/CC-BY-4.0.html`;
    an expression (`MIT OR Apache-2.0`) or a LicenseRef has no such page and is
    named instead. NOASSERTION means the licence is unknown: no `license` then.
    """
    if not spdx or spdx.strip().upper() in {"NOASSERTION", "NONE"}:
        return None
    try:
        parsed = _licensing().parse(spdx, validate=True)
    except ExpressionError:
        parsed = None
    if isinstance(parsed, LicenseSymbol) and not parsed.key.startswith("LicenseRef-"):
        return SPDX_LICENCE_URL.format(parsed.key)
    return {"@type": "CreativeWork", "name": spdx}


def _keywords(version: CourseVersion) -> str:
    # The profile's `keywords` is one text, comma-delimited.
    terms = list(dict.fromkeys(t.strip() for t in version.techniques if t.strip()))
    return ", ".join(terms or FALLBACK_KEYWORDS)


def _about(techniques: Iterable[str], registry: Registry | None) -> list[dict[str, Any]]:
    known = _panet_terms(registry)
    terms = []
    for technique in techniques:
        term: dict[str, Any] = {"@type": "DefinedTerm", "name": technique}
        panet = known.get(technique.casefold())
        if panet is not None:
            term.update({"@id": panet.purl, "url": panet.purl, "termCode": panet.id,
                         "inDefinedTermSet": "http://purl.org/pan-science/PaNET/PaNET.owl"})
        terms.append(term)
    return terms


def _panet_terms(registry: Registry | None) -> dict[str, Any]:
    """PaNET terms by lower-cased label, from the techniques the registry's datasets name."""
    if registry is None:
        return {}
    return {ref.label.casefold(): ref for dataset in registry for ref in dataset.techniques}


def _organisation(organisation: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"@type": "Organization", "name": organisation.name}
    if organisation.ror_id:
        # The ROR id is the organisation's persistent identifier (and its @id).
        found["@id"] = organisation.ror_id
        found["identifier"] = organisation.ror_id
        found["sameAs"] = organisation.ror_id
    if organisation.website:
        found["url"] = organisation.website
    return found


def _person(author: dict[str, Any]) -> dict[str, Any]:
    person: dict[str, Any] = {"@type": "Person", "name": author.get("name", "")}
    orcid = author.get("orcid")
    if orcid:
        person["@id"] = ORCID_URL.format(orcid)
        person["identifier"] = ORCID_URL.format(orcid)
    if author.get("affiliation"):
        person["affiliation"] = {"@type": "Organization", "name": author["affiliation"]}
    return person


def _lesson(lesson: Lesson, position: int, urls: CatalogueUrls, course_url: str,
            keywords: str, language: str) -> dict[str, Any]:
    url = urls.lesson(lesson.id)
    return {
        "@type": "LearningResource",
        "@id": url,
        "dct:conformsTo": {"@type": "CreativeWork", "@id": TRAINING_MATERIAL_PROFILE},
        "name": lesson.title,
        "description": lesson_description(lesson),
        "keywords": keywords,
        "url": url,
        "position": position,
        "learningResourceType": "exercise" if lesson.kind == LessonKind.EXERCISE else "lesson",
        "interactivityType": "active" if lesson.kind == LessonKind.EXERCISE else "expositive",
        "encodingFormat": "application/x-ipynb+json",
        "inLanguage": language,
        "timeRequired": iso_duration(lesson_minutes(lesson)),
        "isPartOf": {"@id": course_url},
    }


def lesson_description(lesson: Lesson) -> str:
    """The first paragraph of prose in the lesson's notebook, or a plain fallback."""
    try:
        notebook = json.loads(lesson.notebook.content)
    except (ValueError, AttributeError):
        notebook = {}
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        for paragraph in re.split(r"\n\s*\n", text):
            lines = [line.strip() for line in paragraph.splitlines()
                     if line.strip() and not _HEADING.match(line)]
            if lines:
                return _shorten(" ".join(lines))
    kind = "Exercise" if lesson.kind == LessonKind.EXERCISE else "Lesson"
    return f"{kind} {lesson.position} of the module {lesson.module.title!r}."


def _shorten(text: str) -> str:
    if len(text) <= DESCRIPTION_CHARS:
        return text
    return text[:DESCRIPTION_CHARS - 1].rsplit(" ", 1)[0] + "…"


def _mentions(lessons: list[Lesson], registry: Registry | None) -> list[dict[str, Any]]:
    """The open datasets the course's exercises run on (PaN data is the point of them)."""
    if registry is None:
        return []
    found: dict[str, dict[str, Any]] = {}
    for lesson in lessons:
        exercise = lesson.exercise
        entries = exercise.datasets if exercise is not None else []
        # An entry may offer several files (`choices`): every one of them is used.
        for reference in (choice for entry in entries for choice in
                          (entry.get("choices") or [entry])):
            name = reference.get("dataset") or reference.get("pid") or reference.get("doi")
            dataset = registry.find(str(name)) if name else None
            if dataset is None or dataset.name in found:
                continue
            entry: dict[str, Any] = {"@type": "Dataset", "name": dataset.title}
            if dataset.doi:
                entry["@id"] = f"https://doi.org/{dataset.doi}"
                entry["identifier"] = f"https://doi.org/{dataset.doi}"
            elif dataset.pid:
                entry["identifier"] = dataset.pid
            if dataset.source is not None and dataset.source.url:
                entry["url"] = dataset.source.url
            licence = licence_reference(dataset.licence)
            if licence is not None:
                entry["license"] = licence
            found[dataset.name] = entry
    return list(found.values())
