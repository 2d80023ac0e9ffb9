"""Typed PaNOSC records, parsed leniently from what real providers send.

Real providers disagree with the spec in small ways: extra keys (`provider`,
`id`, `documentId`), `null` or `""` dates, `score: null`, `doi: " "`, numeric
pids, numbers sent as strings, a singular `document` where the spec says
`documents`. One bad field must not cost a student the whole search, so every
field is coerced or dropped to `None`, unknown keys are kept in `extra`, and
only an item with no usable `pid` is skipped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


# -- coercion helpers -------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """Coerce to a non-blank string, or None (`" "`, `""`, null, containers)."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


def _boolean(value: Any, default: bool = True) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    if isinstance(value, int | float):
        return bool(value)
    return default


def _date(value: Any) -> datetime | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [text for text in (_text(item) for item in value) if text]


def _many(value: Any, parse: Callable[[Any], T | None]) -> list[T]:
    """Parse a related list; a single object (belongsTo) counts as a list of one."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return []
    return [item for item in (parse(raw) for raw in value) if item is not None]


def _extra(raw: dict[str, Any], known: Iterable[str]) -> dict[str, Any]:
    known = set(known)
    return {key: value for key, value in raw.items() if key not in known}


# -- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Technique:
    """An experimental technique; `pid` is ideally a PaNET PURL."""

    pid: str | None
    name: str | None
    panet_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, raw: Any) -> Technique | None:
        """Lenient parse; None when `raw` is not an object."""
        if not isinstance(raw, dict):
            return None
        return cls(
            pid=_text(raw.get("pid")),
            name=_text(raw.get("name")),
            panet_id=_text(raw.get("panetId")),
            extra=_extra(raw, ("pid", "name", "panetId")),
        )


@dataclass(frozen=True)
class Parameter:
    """A named measured or set value; `value` as sent (number or string), `unit` or None."""

    name: str
    value: float | int | str | None
    unit: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def number(self) -> float | None:
        """The value as a float when it is numeric (providers send "930" as often as 930)."""
        return _number(self.value)

    @classmethod
    def parse(cls, raw: Any) -> Parameter | None:
        """Lenient parse; None when there is no name."""
        if not isinstance(raw, dict) or _text(raw.get("name")) is None:
            return None
        value = raw.get("value")
        if not isinstance(value, int | float | str) or isinstance(value, bool):
            value = _text(value)
        return cls(
            name=_text(raw["name"]) or "",
            value=value,
            unit=_text(raw.get("unit")),
            extra=_extra(raw, ("name", "value", "unit")),
        )


@dataclass(frozen=True)
class Sample:
    """A measured sample."""

    pid: str | None
    name: str | None
    description: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, raw: Any) -> Sample | None:
        """Lenient parse; None when `raw` is not an object."""
        if not isinstance(raw, dict):
            return None
        return cls(
            pid=_text(raw.get("pid")),
            name=_text(raw.get("name")),
            description=_text(raw.get("description")),
            extra=_extra(raw, ("pid", "name", "description")),
        )


@dataclass(frozen=True)
class File:
    """A file of a dataset; `path` is a directory on facility storage, never a URL."""

    name: str
    id: str | None = None
    path: str | None = None
    size: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, raw: Any) -> File | None:
        """Lenient parse; None when there is no name."""
        if not isinstance(raw, dict) or _text(raw.get("name")) is None:
            return None
        return cls(
            name=_text(raw["name"]) or "",
            id=_text(raw.get("id")),
            path=_text(raw.get("path")),
            size=_integer(raw.get("size")),
            extra=_extra(raw, ("name", "id", "path", "size")),
        )


@dataclass(frozen=True)
class Person:
    """A person named on a document."""

    id: str | None
    full_name: str | None
    orcid: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> Person | None:
        """Lenient parse; None when `raw` is not an object."""
        if not isinstance(raw, dict):
            return None
        return cls(
            id=_text(raw.get("id")),
            full_name=_text(raw.get("fullName")),
            orcid=_text(raw.get("orcid")),
            first_name=_text(raw.get("firstName")),
            last_name=_text(raw.get("lastName")),
        )


@dataclass(frozen=True)
class Affiliation:
    """An institution a member belonged to."""

    name: str | None
    address: str | None = None
    city: str | None = None
    country: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> Affiliation | None:
        """Lenient parse; None when `raw` is not an object."""
        if not isinstance(raw, dict):
            return None
        return cls(
            name=_text(raw.get("name")),
            address=_text(raw.get("address")),
            city=_text(raw.get("city")),
            country=_text(raw.get("country")),
        )


@dataclass(frozen=True)
class Member:
    """A person's role on a document (principal investigator, owner, …)."""

    role: str | None
    person: Person | None = None
    affiliation: Affiliation | None = None

    @classmethod
    def parse(cls, raw: Any) -> Member | None:
        """Lenient parse; None when `raw` is not an object."""
        if not isinstance(raw, dict):
            return None
        return cls(
            role=_text(raw.get("role")),
            person=Person.parse(raw.get("person")),
            affiliation=Affiliation.parse(raw.get("affiliation")),
        )


_DATASET_KEYS = (
    "pid", "title", "isPublic", "creationDate", "size", "score", "provider",
    "document", "documents", "instrument", "techniques", "files", "parameters", "samples",
)
_DOCUMENT_KEYS = (
    "pid", "title", "type", "isPublic", "summary", "doi", "startDate", "endDate",
    "releaseDate", "license", "keywords", "score", "provider", "datasets", "members",
    "parameters",
)
_INSTRUMENT_KEYS = ("pid", "name", "facility", "score", "provider", "datasets")


@dataclass(frozen=True)
class Instrument:
    """An instrument (beamline) at a facility."""

    pid: str
    name: str | None
    facility: str | None
    score: float | None = None
    provider: str | None = None
    datasets: list[Dataset] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, raw: Any) -> Instrument | None:
        """Lenient parse; None when there is no usable pid."""
        pid = _text(raw.get("pid")) if isinstance(raw, dict) else None
        if pid is None:
            return None
        return cls(
            pid=pid,
            name=_text(raw.get("name")),
            facility=_text(raw.get("facility")),
            score=_number(raw.get("score")),
            provider=_text(raw.get("provider")),
            datasets=_many(raw.get("datasets"), Dataset.parse),
            extra=_extra(raw, _INSTRUMENT_KEYS),
        )


@dataclass(frozen=True)
class Document:
    """A proposal or publication that groups datasets; the DOI is its resolvable handle."""

    pid: str
    title: str | None
    type: str | None = None
    is_public: bool = True
    summary: str | None = None
    doi: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    release_date: datetime | None = None
    license: str | None = None
    keywords: list[str] = field(default_factory=list)
    score: float | None = None
    provider: str | None = None
    datasets: list[Dataset] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    parameters: list[Parameter] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, raw: Any) -> Document | None:
        """Lenient parse; None when there is no usable pid."""
        pid = _text(raw.get("pid")) if isinstance(raw, dict) else None
        if pid is None:
            return None
        kind = _text(raw.get("type"))
        return cls(
            pid=pid,
            title=_text(raw.get("title")),
            type=kind.lower() if kind else None,
            is_public=_boolean(raw.get("isPublic")),
            summary=_text(raw.get("summary")),
            doi=_text(raw.get("doi")),
            start_date=_date(raw.get("startDate")),
            end_date=_date(raw.get("endDate")),
            release_date=_date(raw.get("releaseDate")),
            license=_text(raw.get("license")),
            keywords=_strings(raw.get("keywords")),
            score=_number(raw.get("score")),
            provider=_text(raw.get("provider")),
            datasets=_many(raw.get("datasets"), Dataset.parse),
            members=_many(raw.get("members"), Member.parse),
            parameters=_many(raw.get("parameters"), Parameter.parse),
            extra=_extra(raw, _DOCUMENT_KEYS),
        )


@dataclass(frozen=True)
class Dataset:
    """A dataset: the unit a PaNOSC search returns; `provider` says which facility answered."""

    pid: str
    title: str | None
    is_public: bool = True
    creation_date: datetime | None = None
    size: int | None = None
    score: float | None = None
    provider: str | None = None
    documents: list[Document] = field(default_factory=list)
    instrument: Instrument | None = None
    techniques: list[Technique] = field(default_factory=list)
    files: list[File] = field(default_factory=list)
    parameters: list[Parameter] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def facility(self) -> str | None:
        """The facility, when the instrument was included."""
        return self.instrument.facility if self.instrument else None

    @classmethod
    def parse(cls, raw: Any) -> Dataset | None:
        """Lenient parse; None when there is no usable pid."""
        pid = _text(raw.get("pid")) if isinstance(raw, dict) else None
        if pid is None:
            return None
        # The spec says `documents`; the federated model, SciCat and ILL send `document`.
        documents = _many(raw.get("documents"), Document.parse) + _many(
            raw.get("document"), Document.parse
        )
        return cls(
            pid=pid,
            title=_text(raw.get("title")),
            is_public=_boolean(raw.get("isPublic")),
            creation_date=_date(raw.get("creationDate")),
            size=_integer(raw.get("size")),
            score=_number(raw.get("score")),
            provider=_text(raw.get("provider")),
            documents=documents,
            instrument=Instrument.parse(raw.get("instrument")),
            techniques=_many(raw.get("techniques"), Technique.parse),
            files=_many(raw.get("files"), File.parse),
            parameters=_many(raw.get("parameters"), Parameter.parse),
            samples=_many(raw.get("samples"), Sample.parse),
            extra=_extra(raw, _DATASET_KEYS),
        )


def parse_list(payload: Any, parse: Callable[[Any], T | None], *, what: str) -> list[T] | None:
    """Parse a list response; None when it is not a list (the caller reports garbage)."""
    if not isinstance(payload, list):
        return None
    items = [parse(raw) for raw in payload]
    kept = [item for item in items if item is not None]
    if len(kept) != len(items):
        log.warning("skipped %d %s item(s) without a pid", len(items) - len(kept), what)
    return kept
