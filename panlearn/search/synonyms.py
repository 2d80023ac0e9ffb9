"""Short names for techniques and facilities: `technique:SANS`, `facility=PSI`.

The index holds facet values as the catalogue writes them ("small angle
neutron scattering", "Paul Scherrer Institute (PSI)"); people type the
acronyms they use every day. `Synonyms` maps a short name to the values it
stands for, per facet, and search applies it to the technique and facility
filters and to `technique:` / `facility:` field queries, at query time (a
changed table needs no reindexing).

Where the names come from, all data the platform already has:

- `content/synonyms.yml`: PaNET acronyms of techniques (SANS, SAXS, XAS, …)
  and other names of facilities (SINQ, SLS, APS, …), by organisation slug;
- the organisations: each one's slug and the short names in parentheses of
  its name ("European Synchrotron Radiation Facility (ESRF)" gives ESRF);
- the dataset registry: PaNET ids of techniques (`PaNET01189`).

Plain values in, whoosh queries out: nothing here touches Flask or the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from whoosh import query as wq

from panlearn.errors import InvalidInputError

#: Facets whose values have short names.
SYNONYM_FACETS: tuple[str, ...] = ("technique", "facility")

_PARENTHESES = re.compile(r"\(([^()]*)\)")


def normalise(value: str) -> str:
    """A facet value as the index stores it: lower case, single spaces, no commas."""
    return " ".join(value.replace(",", " ").split()).lower()


@dataclass(frozen=True)
class Synonyms:
    """Per facet, each short name (normalised) → the facet values it stands for."""

    names: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def values(self, facet: str, value: str) -> tuple[str, ...]:
        """`value` normalised, followed by the values it stands for (no repeats)."""
        own = normalise(value)
        extra = self.names.get(facet, {}).get(own, ())
        return (own, *(name for name in extra if name != own))

    def expand_filter(self, facet: str,
                      value: str | Sequence[str] | None) -> str | list[str] | None:
        """A filter's value(s) with every short name's values added (any of them matches)."""
        if value is None or facet not in self.names:
            return value
        values = [value] if isinstance(value, str) else list(value)
        expanded: list[str] = []
        for raw in values:
            if not isinstance(raw, str) or not raw.strip():
                return value  # let search() reject it with its own message
            expanded.extend(v for v in self.values(facet, raw) if v not in expanded)
        return expanded

    def expand_query(self, query: wq.Query) -> wq.Query:
        """Replace each `technique:`/`facility:` term that is a short name by an OR of values."""

        def visit(node: wq.Query) -> wq.Query:
            if (isinstance(node, wq.Term) and node.fieldname in self.names
                    and isinstance(node.text, str)):
                values = self.values(node.fieldname, node.text)
                if len(values) > 1:
                    return wq.Or([wq.Term(node.fieldname, text, boost=node.boost)
                                  for text in values])
            return node

        return query.accept(visit)


def _add(table: dict[str, dict[str, list[str]]], facet: str, name: str, value: str) -> None:
    key, target = normalise(name), normalise(value)
    if key and target and key != target:
        targets = table.setdefault(facet, {}).setdefault(key, [])
        if target not in targets:
            targets.append(target)


def organisation_short_names(slug: str, name: str) -> list[str]:
    """An organisation's slug and the comma-separated short names in its name's parentheses."""
    found = [slug]
    for group in _PARENTHESES.findall(name):
        found.extend(part.strip() for part in group.split(",") if part.strip())
    return found


def build_synonyms(table: Mapping[str, Any] | None,
                   organisations: Iterable[tuple[str, str]],
                   techniques: Iterable[tuple[str, str]] = ()) -> Synonyms:
    """Synonyms from the content table, the organisations (slug, name) and PaNET (id, label).

    `table` is the parsed `synonyms.yml`: `techniques: {SHORT: [value, …]}` and
    `facilities: {SHORT: [organisation slug, …]}`.
    """
    result: dict[str, dict[str, list[str]]] = {facet: {} for facet in SYNONYM_FACETS}
    names_by_slug: dict[str, str] = {}
    for slug, name in organisations:
        names_by_slug[slug.lower()] = name
        for short in organisation_short_names(slug, name):
            _add(result, "facility", short, name)
    table = table or {}
    for short, values in (table.get("techniques") or {}).items():
        for value in _as_list(values):
            _add(result, "technique", str(short), value)
    for short, slugs in (table.get("facilities") or {}).items():
        for slug in _as_list(slugs):
            if slug.lower() in names_by_slug:
                _add(result, "facility", str(short), names_by_slug[slug.lower()])
    for panet_id, label in techniques:
        _add(result, "technique", panet_id, label)
    return Synonyms({facet: {key: tuple(values) for key, values in names.items()}
                     for facet, names in result.items()})


def _as_list(values: Any) -> list[str]:
    return [values] if isinstance(values, str) else [str(v) for v in values or []]


def load_table(path: Path) -> dict[str, Any]:
    """Parse `synonyms.yml`; a missing file is an empty table, a malformed one an error."""
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise InvalidInputError(f"{path}: {error}") from None
    if not isinstance(data, dict) or not all(
            isinstance(data.get(key) or {}, dict) for key in ("techniques", "facilities")):
        raise InvalidInputError(f"{path}: expected mappings `techniques` and `facilities`")
    return data
