"""The `course.yml` manifest: its schema and the typed course source it yields.

A course folder is `course.yml` plus notebooks. Loading never stops at the first
problem: every problem (file, field, what is wrong) is collected, so an author
fixes a folder in one pass.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from license_expression import Licensing, get_spdx_licensing
from marshmallow import Schema, ValidationError, fields, validate, validates

from panlearn.models import DEFAULT_PASS_MARK, LEVELS
from panlearn.quizzes.questions import Question

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ORCID_RE = re.compile(r"^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$")


@lru_cache(maxsize=1)
def _licensing() -> Licensing:
    return get_spdx_licensing()


class AuthorSchema(Schema):
    """A course author; ORCID iDs make attribution unambiguous."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    orcid = fields.String(validate=validate.Regexp(ORCID_RE, error="not an ORCID iD "
                                                   "(0000-0000-0000-0000)"))
    affiliation = fields.String()


class LessonEntrySchema(Schema):
    """A lesson in a module: a notebook path, optionally a title, slug and kind."""

    notebook = fields.String(required=True)
    title = fields.String(validate=validate.Length(min=1, max=200))
    slug = fields.String(validate=validate.Regexp(SLUG_RE, error="lowercase words and hyphens"))
    kind = fields.String(validate=validate.OneOf(("reading", "exercise")))


class ModuleEntrySchema(Schema):
    """A module: a title and its ordered lessons."""

    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    summary = fields.String(load_default="")
    lessons = fields.List(fields.Nested(LessonEntrySchema), required=True,
                          validate=validate.Length(min=1, error="a module needs a lesson"))


class ManifestSchema(Schema):
    """The whole `course.yml`."""

    slug = fields.String(validate=validate.Regexp(SLUG_RE, error="lowercase words and hyphens"))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    summary = fields.String(required=True, validate=validate.Length(min=1))
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    language = fields.String(load_default="en", validate=validate.Length(min=2, max=10))
    techniques = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    organisation = fields.String(required=True)
    licence = fields.String(required=True)
    version = fields.String(required=True, validate=validate.Length(min=1, max=40))
    authors = fields.List(fields.Nested(AuthorSchema), required=True,
                          validate=validate.Length(min=1, error="name at least one author"))
    prerequisites = fields.List(fields.String(), load_default=list)
    objectives = fields.List(fields.String(), load_default=list)
    # Fraction of an exercise's points a learner must reach for it to count as done.
    pass_mark = fields.Float(load_default=DEFAULT_PASS_MARK,
                             validate=validate.Range(min=0, max=1, min_inclusive=False))
    # Attempts a learner has at each quiz question (a question's own `attempts` wins);
    # unlimited when absent.
    quiz_attempts = fields.Integer(load_default=None, allow_none=True, strict=True,
                                   validate=validate.Range(min=1))
    modules = fields.List(fields.Nested(ModuleEntrySchema), required=True,
                          validate=validate.Length(min=1, error="a course needs a module"))

    @validates("licence")
    def _spdx(self, value: str, **_: Any) -> None:
        errors = _licensing().validate(value).errors
        if errors:
            raise ValidationError(f"not an SPDX licence identifier: {value!r}")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a course folder: where (file, line or cell), which field, what.

    `cell` is the cell's position in its notebook, counted from 1 as an author
    counts cells in Jupyter.
    """

    file: str
    message: str
    field: str | None = None
    line: int | None = None
    cell: int | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        where += f": cell #{self.cell}" if self.cell else ""
        return f"{where}: {self.field + ': ' if self.field else ''}{self.message}"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form for problem+json bodies."""
        return {k: v for k, v in vars(self).items() if v is not None}


def match_organisation(written: str, known: Mapping[str, str]) -> tuple[str | None, str]:
    """The slug `course.yml`'s `organisation` means, or None and what to tell the author.

    `known` maps each organisation's slug to its name. Slugs match whatever
    their case (`PSI` is `psi`); otherwise the message suggests the closest
    slug, or the organisation whose name contains what was written.
    """
    by_casefold = {slug.casefold(): slug for slug in known}
    wanted = written.strip().casefold()
    if wanted in by_casefold:
        return by_casefold[wanted], ""
    close = difflib.get_close_matches(wanted, list(by_casefold), n=1, cutoff=0.6)
    named = [slug for slug, name in known.items() if wanted and wanted in name.casefold()]
    suggestion = by_casefold[close[0]] if close else (named[0] if len(named) == 1 else None)
    message = f"unknown organisation {written!r}"
    if suggestion is not None:
        message += f"; did you mean {suggestion!r} ({known[suggestion]})?"
    elif known:
        message += " (the slug of an organisation on this platform, e.g. " + \
            ", ".join(repr(slug) for slug in sorted(known)[:4]) + ")"
    else:
        message += " (this platform has no organisations yet: `flask --app app orgs load` " \
            "loads them)"
    return None, message


@dataclass
class LessonSource:
    """A validated lesson: its notebook parsed and hashed."""

    slug: str
    title: str
    kind: str
    source_path: str
    notebook: Any
    notebook_bytes: bytes
    notebook_hash: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    datasets: list[dict[str, Any]] = field(default_factory=list)
    #: The ```quiz questions of the notebook, in order (answer keys included).
    questions: list[Question] = field(default_factory=list)
    #: Set by import-time validation: checks that must run in the student's kernel.
    in_kernel_checks: list[str] | None = None
    #: Set by import-time validation when checks read ``reference.<name>``: per choice of
    #: files, (parameter → file sha256, encoded reference answers), stored with the version.
    reference_answers: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@dataclass
class ModuleSource:
    """A validated module."""

    title: str
    summary: str
    lessons: list[LessonSource]


@dataclass
class CourseSource:
    """A whole validated course folder, ready to import."""

    slug: str
    #: The content's identity (`folder.identity_hash`): the same from a folder, an
    #: archive or a git checkout of the same content, so re-importing it changes nothing.
    source_hash: str
    manifest: dict[str, Any]
    modules: list[ModuleSource]
    #: Where it came from (a folder, an upload, a git repository) and, for git, the commit.
    origin_uri: str | None = None
    origin_ref: str | None = None
    #: The hash versions imported before the identity hash recorded (the manifest's bytes
    #: and the notebooks); accepted as "unchanged" so that no old course gets a new version.
    legacy_hash: str | None = None
    #: The course folder as shown in problems (`powder-diffraction`, or "" for an archive
    #: with `course.yml` at its top).
    display: str = ""

    def exercises(self) -> list[LessonSource]:
        """Its exercise lessons, in course order."""
        return [lesson for module in self.modules for lesson in module.lessons
                if lesson.kind == "exercise"]


def flatten_messages(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Turn marshmallow's nested error dict into (dotted field, message) pairs."""
    if isinstance(messages, dict):
        out: list[tuple[str, str]] = []
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(key, int) and prefix:
                name = f"{prefix}[{key}]"
            out.extend(flatten_messages(value, name))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [(prefix, message) for message in messages]
    if isinstance(messages, list):
        return [pair for item in messages for pair in flatten_messages(item, prefix)]
    return [(prefix, str(messages))]
