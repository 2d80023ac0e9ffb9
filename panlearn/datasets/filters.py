"""A typed builder for the PaNOSC search API's LoopBack `filter`.

The API takes one URL-encoded JSON document (`where`, `include`, `limit`,
`skip`, `order`, `fields`, `query`). Building it from small immutable values
instead of nested dicts catches typos (an unknown operator, a negative limit)
before a request is sent, and gives the response cache a stable key: the same
filter always serialises to the same compact, key-sorted JSON.

    >>> f = Filter(
    ...     where=field("title").like("beam") & field("isPublic").eq(True),
    ...     include=(Include.techniques(name="small angle neutron scattering"),
    ...              Include.parameter("photon_energy", between=(880, 990), unit="eV")),
    ...     limit=10, query="temperature beam")
    >>> f.dumps()[:22]
    '{"include":[{"relation'
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from panlearn.datasets.errors import InvalidFilterError

Operator = Literal[
    "eq", "neq", "gt", "gte", "lt", "lte", "between", "inq", "nin",
    "like", "nlike", "ilike", "nilike", "regexp",
]
OPERATORS: frozenset[str] = frozenset(Operator.__args__)  # type: ignore[attr-defined]

#: Relations the PaNOSC data model exposes through `include`, per top-level model.
RELATIONS: dict[str, frozenset[str]] = {
    "Dataset": frozenset(
        {"document", "documents", "instrument", "techniques", "files", "parameters", "samples"}
    ),
    "Document": frozenset({"datasets", "members", "parameters"}),
    "Instrument": frozenset({"datasets"}),
}

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_ORDER = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)(?:\s+(ASC|DESC))?$", re.IGNORECASE)
_PANET = re.compile(r"(?:^|/)PaNET\d{5}$")


class Clause:
    """A `where` clause; combine clauses with `&` (and) and `|` (or)."""

    def to_json(self) -> dict[str, Any]:
        """Render the LoopBack JSON for this clause."""
        raise NotImplementedError

    def __and__(self, other: Clause) -> And:
        return And((*_flatten(self, And), *_flatten(other, And)))

    def __or__(self, other: Clause) -> Or:
        return Or((*_flatten(self, Or), *_flatten(other, Or)))


def _flatten(clause: Clause, kind: type[And] | type[Or]) -> tuple[Clause, ...]:
    # a & b & c becomes one `and` of three, not nested pairs: shorter JSON, same meaning.
    return clause.clauses if isinstance(clause, kind) else (clause,)


@dataclass(frozen=True)
class Condition(Clause):
    """`field <op> value`; equality is sent as `{"field": value}`, as LoopBack 3 expects."""

    field: str
    op: str
    value: Any

    def __post_init__(self) -> None:
        if not _NAME.match(self.field):
            raise InvalidFilterError(f"invalid field name {self.field!r}")
        if self.op not in OPERATORS:
            raise InvalidFilterError(f"unknown operator {self.op!r}")
        if self.op == "between" and (
            not isinstance(self.value, list | tuple) or len(self.value) != 2
        ):
            raise InvalidFilterError(f"between on {self.field!r} needs two bounds")
        if self.op in {"inq", "nin"} and not isinstance(self.value, list | tuple):
            raise InvalidFilterError(f"{self.op} on {self.field!r} needs a list")

    def to_json(self) -> dict[str, Any]:
        """Render the LoopBack JSON for this clause."""
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        if self.op == "eq":
            return {self.field: value}
        return {self.field: {self.op: value}}


@dataclass(frozen=True)
class And(Clause):
    """All of the clauses hold."""

    clauses: tuple[Clause, ...]

    def to_json(self) -> dict[str, Any]:
        """Render the LoopBack JSON for this clause."""
        return {"and": [clause.to_json() for clause in self.clauses]}


@dataclass(frozen=True)
class Or(Clause):
    """At least one of the clauses holds."""

    clauses: tuple[Clause, ...]

    def to_json(self) -> dict[str, Any]:
        """Render the LoopBack JSON for this clause."""
        return {"or": [clause.to_json() for clause in self.clauses]}


@dataclass(frozen=True)
class Text(Clause):
    """The PaNOSC `text` operator: case-insensitive substring over the model's text fields."""

    text: str

    def to_json(self) -> dict[str, Any]:
        """Render the LoopBack JSON for this clause."""
        return {"text": self.text}


@dataclass(frozen=True)
class Field:
    """A property to compare; each method returns a `Condition`."""

    name: str

    def eq(self, value: Any) -> Condition:
        """Equal to `value`."""
        return Condition(self.name, "eq", value)

    def neq(self, value: Any) -> Condition:
        """Not equal to `value`."""
        return Condition(self.name, "neq", value)

    def gt(self, value: Any) -> Condition:
        """Greater than `value`."""
        return Condition(self.name, "gt", value)

    def gte(self, value: Any) -> Condition:
        """Greater than or equal to `value`."""
        return Condition(self.name, "gte", value)

    def lt(self, value: Any) -> Condition:
        """Less than `value`."""
        return Condition(self.name, "lt", value)

    def lte(self, value: Any) -> Condition:
        """Less than or equal to `value`."""
        return Condition(self.name, "lte", value)

    def between(self, low: Any, high: Any) -> Condition:
        """Within `[low, high]` inclusive."""
        return Condition(self.name, "between", (low, high))

    def inq(self, values: Iterable[Any]) -> Condition:
        """One of `values`."""
        return Condition(self.name, "inq", tuple(values))

    def nin(self, values: Iterable[Any]) -> Condition:
        """None of `values`."""
        return Condition(self.name, "nin", tuple(values))

    def like(self, pattern: str) -> Condition:
        """Match `pattern` (providers differ: `%` wildcards, or substring/regex)."""
        return Condition(self.name, "like", pattern)

    def nlike(self, pattern: str) -> Condition:
        """Do not match `pattern`."""
        return Condition(self.name, "nlike", pattern)

    def ilike(self, pattern: str) -> Condition:
        """Match `pattern`, ignoring case."""
        return Condition(self.name, "ilike", pattern)

    def nilike(self, pattern: str) -> Condition:
        """Do not match `pattern`, ignoring case."""
        return Condition(self.name, "nilike", pattern)

    def regexp(self, pattern: str) -> Condition:
        """Match the regular expression `pattern`."""
        return Condition(self.name, "regexp", pattern)


def field(name: str) -> Field:
    """Start a condition on property `name`: `field("size").gt(0)`."""
    return Field(name)


def text(words: str) -> Text:
    """Use the PaNOSC `text` where-operator (substring search over text fields)."""
    return Text(words)


@dataclass(frozen=True)
class Include:
    """Embed a relation; a `where` in its scope also drops parents without a match.

    That inner-join meaning is how the PaNOSC API filters by technique,
    parameter, sample or facility: "datasets with some parameter such that …".
    """

    relation: str
    where: Clause | None = None
    include: tuple[Include, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.relation):
            raise InvalidFilterError(f"invalid relation name {self.relation!r}")

    def to_json(self) -> dict[str, Any]:
        """Render the LoopBack JSON for this include."""
        out: dict[str, Any] = {"relation": self.relation}
        scope: dict[str, Any] = {}
        if self.where is not None:
            scope["where"] = self.where.to_json()
        if self.include:
            scope["include"] = [inc.to_json() for inc in self.include]
        if scope:
            out["scope"] = scope
        return out

    @classmethod
    def files(cls, where: Clause | None = None) -> Include:
        """Embed a dataset's files (optionally only those matching `where`)."""
        return cls("files", where)

    @classmethod
    def samples(cls, where: Clause | None = None) -> Include:
        """Embed samples; with `where`, keep only datasets with a matching sample."""
        return cls("samples", where)

    @classmethod
    def instrument(cls, *, facility: str | None = None, name: str | None = None) -> Include:
        """Embed the instrument; `facility`/`name` keep only datasets measured there."""
        clauses = [
            field(key).eq(value)
            for key, value in (("facility", facility), ("name", name))
            if value is not None
        ]
        return cls("instrument", _all(clauses))

    @classmethod
    def techniques(cls, *, name: str | None = None, pid: str | None = None) -> Include:
        """Embed techniques; `name` or `pid` (a PaNET id) keeps only datasets using it."""
        clauses = [
            field(key).eq(value) for key, value in (("name", name), ("pid", pid)) if value
        ]
        return cls("techniques", _all(clauses))

    @classmethod
    def technique(cls, term: str) -> Include:
        """Keep datasets with technique `term`: a PaNET id/PURL is matched on `pid`, else `name`."""
        term = term.strip()
        if _PANET.search(term):
            pid = term if "/" in term else f"http://purl.org/pan-science/PaNET/{term}"
            return cls.techniques(pid=pid)
        return cls.techniques(name=term)

    @classmethod
    def parameter(
        cls,
        name: str,
        *,
        value: Any = None,
        between: tuple[Any, Any] | None = None,
        gt: Any = None,
        gte: Any = None,
        lt: Any = None,
        lte: Any = None,
        unit: str | None = None,
    ) -> Include:
        """Keep only records with a parameter `name` whose value satisfies the bounds.

        Built in the canonical shape `{"and":[{"name":…},{"value":…},{"unit":…}]}`;
        several parameter includes in one filter must all hold.
        """
        value_field = field("value")
        clauses: list[Clause] = [field("name").eq(name)]
        if value is not None:
            clauses.append(value_field.eq(value))
        if between is not None:
            clauses.append(value_field.between(*between))
        for op, bound in (("gt", gt), ("gte", gte), ("lt", lt), ("lte", lte)):
            if bound is not None:
                clauses.append(Condition("value", op, bound))
        if unit is not None:
            clauses.append(field("unit").eq(unit))
        return cls("parameters", And(tuple(clauses)))


def _all(clauses: Sequence[Clause]) -> Clause | None:
    if not clauses:
        return None
    if len(clauses) == 1:
        return clauses[0]
    return And(tuple(clauses))


@dataclass(frozen=True)
class Filter:
    """A whole PaNOSC `filter`; immutable, so it can be shared and used as a cache key."""

    where: Clause | None = None
    include: tuple[Include, ...] = ()
    limit: int | None = None
    skip: int | None = None
    order: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    query: str | None = None

    def __post_init__(self) -> None:
        for name in ("limit", "skip"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise InvalidFilterError(f"{name} must be a non-negative integer, got {value!r}")
        order = tuple(_normalise_order(item) for item in self.order)
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "include", tuple(self.include))
        object.__setattr__(self, "fields", tuple(self.fields))
        for name in self.fields:
            if not _NAME.match(name):
                raise InvalidFilterError(f"invalid field name {name!r}")
        if self.query is not None and not self.query.strip():
            object.__setattr__(self, "query", None)

    def and_where(self, clause: Clause) -> Filter:
        """Return a copy with `clause` and-ed onto `where`."""
        return replace(self, where=clause if self.where is None else self.where & clause)

    def including(self, *includes: Include) -> Filter:
        """Return a copy with more includes."""
        return replace(self, include=self.include + includes)

    def page(self, limit: int | None, skip: int | None = None) -> Filter:
        """Return a copy with another page window."""
        return replace(self, limit=limit, skip=skip)

    def to_json(self) -> dict[str, Any]:
        """Render the filter as a JSON-ready dict; empty parts are left out."""
        out: dict[str, Any] = {}
        if self.where is not None:
            out["where"] = self.where.to_json()
        if self.include:
            out["include"] = [inc.to_json() for inc in self.include]
        if self.limit is not None:
            out["limit"] = self.limit
        if self.skip:
            out["skip"] = self.skip
        if self.order:
            out["order"] = list(self.order)
        if self.fields:
            out["fields"] = list(self.fields)
        if self.query is not None:
            out["query"] = self.query
        return out

    def dumps(self) -> str:
        """Compact, key-sorted JSON: the `filter` query parameter and the cache key."""
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True)

    def check_relations(self, model: str) -> None:
        """Refuse includes the PaNOSC data model does not have for `model` (one 400, not N)."""
        allowed = RELATIONS.get(model, frozenset())
        unknown = sorted({inc.relation for inc in self.include} - allowed)
        if unknown:
            raise InvalidFilterError(
                f"{model} has no relation {', '.join(map(repr, unknown))}",
                errors={"include": [f"allowed: {', '.join(sorted(allowed))}"]},
            )


def _normalise_order(item: str | tuple[str, str]) -> str:
    if isinstance(item, tuple):
        item = " ".join(item)
    match = _ORDER.match(item.strip()) if isinstance(item, str) else None
    if not match:
        raise InvalidFilterError(f"order must be 'field ASC|DESC', got {item!r}")
    return f"{match.group(1)} {(match.group(2) or 'ASC').upper()}"


def where_json(clause: Clause | None) -> str:
    """Render a bare `where` as compact JSON, as the `/count` endpoints take it."""
    return json.dumps(
        clause.to_json() if clause is not None else {}, separators=(",", ":"), sort_keys=True
    )
