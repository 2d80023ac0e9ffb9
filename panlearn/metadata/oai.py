"""An OAI-PMH 2.0 data provider over the published catalogue (Dublin Core records).

One record per course: the newest published version, identified as
`oai:<host>:course/<slug>`, with the organisation's slug as its set and the
version's publication time as its datestamp (seconds granularity, UTC).
Publishing a new version changes the datestamp, so incremental harvests with
`from` pick it up. Courses that leave the catalogue are not tracked as deleted
(`deletedRecord` is `no`).

Lists are paged with resumption tokens that are stateless: a signed,
timestamped blob naming the request and the last record sent (datestamp and
course id, so records added meanwhile are not skipped). A token expires after
`Repository.token_ttl`; a tampered or expired one is `badResumptionToken`.

Protocol: http://www.openarchives.org/OAI/openarchivesprotocol.html (2.0).
Every error a harvester can cause is an OAI error element with HTTP 200, as
the protocol asks; this module never raises for bad input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from panlearn.catalogue import list_organisations
from panlearn.metadata.jsonld import licence_reference
from panlearn.metadata.sitemap import published_versions, version_datestamp
from panlearn.metadata.urls import CatalogueUrls
from panlearn.models import CourseVersion, utcnow

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
DC_NS = "http://purl.org/dc/elements/1.1/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
#: The media type the protocol prescribes for responses.
OAI_MIMETYPE = "text/xml"

#: Metadata formats this repository disseminates: prefix → (schema, namespace).
METADATA_FORMATS = {"oai_dc": (OAI_DC_SCHEMA, OAI_DC_NS)}
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_TOKEN_SALT = "panlearn.oai.resumption"

ET.register_namespace("oai_dc", OAI_DC_NS)
ET.register_namespace("dc", DC_NS)
ET.register_namespace("xsi", XSI_NS)


@dataclass(frozen=True)
class Repository:
    """Who this repository is, and how it pages: set once per request by the HTTP edge."""

    name: str
    base_url: str
    admin_email: str
    #: The repository identifier in item identifiers (`oai:<this>:course/<slug>`): the host.
    repository_id: str
    #: Signs resumption tokens (the app's secret key).
    secret: str
    page_size: int = 50
    token_ttl: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class _Verb:
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    #: Verbs whose lists are paged accept `resumptionToken` as their only argument.
    paged: bool = False


_VERBS: dict[str, _Verb] = {
    "Identify": _Verb(),
    "ListMetadataFormats": _Verb(optional=frozenset({"identifier"})),
    "ListSets": _Verb(paged=True),
    "GetRecord": _Verb(required=frozenset({"identifier", "metadataPrefix"})),
    "ListIdentifiers": _Verb(required=frozenset({"metadataPrefix"}),
                             optional=frozenset({"from", "until", "set"}), paged=True),
    "ListRecords": _Verb(required=frozenset({"metadataPrefix"}),
                         optional=frozenset({"from", "until", "set"}), paged=True),
}


class OaiError(Exception):
    """One of the protocol's error conditions (code and a human-readable message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _ListRequest:
    verb: str
    prefix: str
    start: datetime | None = None
    end: datetime | None = None
    set_spec: str | None = None
    #: (datestamp ISO, course id) of the last record sent; cursor: how many were sent.
    after: tuple[str, int] | None = None
    cursor: int = 0
    raw: dict[str, str] = field(default_factory=dict)


def handle_request(session: Session, arguments: Mapping[str, Sequence[str]],
                   repository: Repository, urls: CatalogueUrls,
                   now: datetime | None = None) -> bytes:
    """Answer one OAI-PMH request (GET query or POST form, every value of each key)."""
    now = now or utcnow()
    # OAI elements are written unqualified under a default xmlns on the root (many
    # harvesters expect unprefixed names); ElementTree's default_namespace option
    # would refuse the unqualified attributes the protocol uses.
    root = ET.Element("OAI-PMH", xmlns=OAI_NS)
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_NS} {OAI_SCHEMA}")
    _child(root, "responseDate", _stamp(now))
    request_element = _child(root, "request")
    request_element.text = repository.base_url
    try:
        verb, args = _check_arguments(arguments)
        # The request's arguments are echoed only once they are known to be legal.
        request_element.set("verb", verb)
        for name, value in args.items():
            request_element.set(name, value)
        _VERB_HANDLERS[verb](root, session, args, repository, urls, now, verb)
    except OaiError as error:
        if error.code in {"badVerb", "badArgument"}:
            request_element.attrib.clear()
        for child in list(root)[2:]:
            root.remove(child)
        _child(root, "error", error.message).set("code", error.code)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _check_arguments(arguments: Mapping[str, Sequence[str]]) -> tuple[str, dict[str, str]]:
    verbs = list(arguments.get("verb", []))
    if len(verbs) != 1:
        raise OaiError("badVerb", "Give exactly one verb." if verbs else "The verb is missing.")
    verb = verbs[0]
    if verb not in _VERBS:
        raise OaiError("badVerb", f"{verb!r} is not an OAI-PMH verb.")
    spec = _VERBS[verb]
    args: dict[str, str] = {}
    for name, values in arguments.items():
        if name == "verb":
            continue
        allowed = spec.required | spec.optional | ({"resumptionToken"} if spec.paged else set())
        if name not in allowed:
            raise OaiError("badArgument", f"{verb} takes no argument {name!r}.")
        if len(values) != 1:
            raise OaiError("badArgument", f"The argument {name!r} is repeated.")
        args[name] = values[0]
    if "resumptionToken" in args:
        if len(args) > 1:
            raise OaiError("badArgument", "resumptionToken is an exclusive argument.")
        return verb, args
    missing = sorted(spec.required - set(args))
    if missing:
        raise OaiError("badArgument", f"{verb} needs {', '.join(missing)}.")
    return verb, args


# -- verbs ---------------------------------------------------------------------------------


def _identify(root: ET.Element, session: Session, args: dict[str, str],
              repository: Repository, urls: CatalogueUrls, now: datetime, verb: str) -> None:
    versions = published_versions(session)
    earliest = min((version_datestamp(v) for v in versions),
                   default=datetime(1970, 1, 1, tzinfo=UTC))
    identify = _child(root, "Identify")
    _child(identify, "repositoryName", repository.name)
    _child(identify, "baseURL", repository.base_url)
    _child(identify, "protocolVersion", "2.0")
    _child(identify, "adminEmail", repository.admin_email)
    _child(identify, "earliestDatestamp", _stamp(earliest))
    _child(identify, "deletedRecord", "no")
    _child(identify, "granularity", GRANULARITY)


def _list_metadata_formats(root: ET.Element, session: Session, args: dict[str, str],
                           repository: Repository, urls: CatalogueUrls, now: datetime,
                           verb: str) -> None:
    if "identifier" in args:
        _find(session, args["identifier"], repository)
    formats = _child(root, "ListMetadataFormats")
    for prefix, (schema, namespace) in METADATA_FORMATS.items():
        entry = _child(formats, "metadataFormat")
        _child(entry, "metadataPrefix", prefix)
        _child(entry, "schema", schema)
        _child(entry, "metadataNamespace", namespace)


def _list_sets(root: ET.Element, session: Session, args: dict[str, str],
               repository: Repository, urls: CatalogueUrls, now: datetime, verb: str) -> None:
    if "resumptionToken" in args:
        # The set list is never split, so no token of ours can name it.
        raise OaiError("badResumptionToken", "ListSets is never split; the token is not ours.")
    sets = _child(root, "ListSets")
    for organisation in list_organisations(session):
        entry = _child(sets, "set")
        _child(entry, "setSpec", organisation.slug)
        _child(entry, "setName", organisation.name)


def _get_record(root: ET.Element, session: Session, args: dict[str, str],
                repository: Repository, urls: CatalogueUrls, now: datetime, verb: str) -> None:
    version = _find(session, args["identifier"], repository)
    _check_prefix(args["metadataPrefix"])
    record = _child(_child(root, "GetRecord"), "record")
    _header(record, version, repository)
    _dublin_core(_child(record, "metadata"), version, urls)


def _list(root: ET.Element, session: Session, args: dict[str, str], repository: Repository,
          urls: CatalogueUrls, now: datetime, verb: str) -> None:
    serializer = URLSafeTimedSerializer(repository.secret, salt=_TOKEN_SALT)
    if "resumptionToken" in args:
        request = _read_token(serializer, args["resumptionToken"], verb, repository)
    else:
        request = _new_list_request(verb, args)
    matching = _matching(session, request)
    if not matching:
        raise OaiError("noRecordsMatch", "No record matches these arguments.")
    remaining = matching
    if request.after is not None:
        remaining = [v for v in matching if _key(v) > request.after]
        if not remaining:
            raise OaiError("noRecordsMatch", "No record is left to send for this token.")
    page = remaining[:repository.page_size]
    container = _child(root, verb)
    for version in page:
        if verb == "ListIdentifiers":
            _header(container, version, repository)
        else:
            record = _child(container, "record")
            _header(record, version, repository)
            _dublin_core(_child(record, "metadata"), version, urls)
    split = request.cursor > 0 or len(remaining) > len(page)
    if not split:
        return
    token = _child(container, "resumptionToken")
    token.set("completeListSize", str(len(matching)))
    token.set("cursor", str(request.cursor))
    if len(remaining) > len(page):
        payload = dict(request.raw, v=verb, a=list(_key(page[-1])),
                       c=request.cursor + len(page))
        token.text = serializer.dumps(payload)
        token.set("expirationDate", _stamp(now + repository.token_ttl))
    # else: the empty token closes a split list, as the protocol asks.


_VERB_HANDLERS = {
    "Identify": _identify,
    "ListMetadataFormats": _list_metadata_formats,
    "ListSets": _list_sets,
    "GetRecord": _get_record,
    "ListIdentifiers": _list,
    "ListRecords": _list,
}


# -- lists and tokens ----------------------------------------------------------------------


def _new_list_request(verb: str, args: dict[str, str]) -> _ListRequest:
    _check_prefix(args["metadataPrefix"])
    start = _parse_date(args.get("from"), "from", end_of_day=False)
    end = _parse_date(args.get("until"), "until", end_of_day=True)
    if "from" in args and "until" in args and len(args["from"]) != len(args["until"]):
        raise OaiError("badArgument", "from and until must have the same granularity.")
    if start is not None and end is not None and start > end:
        raise OaiError("badArgument", "from is later than until.")
    raw = {"p": args["metadataPrefix"]}
    for name, short in (("from", "f"), ("until", "u"), ("set", "s")):
        if name in args:
            raw[short] = args[name]
    return _ListRequest(verb=verb, prefix=args["metadataPrefix"], start=start, end=end,
                        set_spec=args.get("set"), raw=raw)


def _read_token(serializer: URLSafeTimedSerializer, token: str, verb: str,
                repository: Repository) -> _ListRequest:
    try:
        payload: Any = serializer.loads(token, max_age=repository.token_ttl.total_seconds())
    except SignatureExpired:
        raise OaiError("badResumptionToken", "The resumption token has expired; start the "
                       "list again.") from None
    except BadSignature:
        raise OaiError("badResumptionToken", "The resumption token is not valid.") from None
    if not isinstance(payload, dict) or payload.get("v") != verb:
        raise OaiError("badResumptionToken", f"The resumption token is not one of {verb}.")
    try:
        raw = {key: payload[key] for key in ("p", "f", "u", "s") if key in payload}
        after_stamp, after_id = payload["a"]
        return _ListRequest(
            verb=verb, prefix=payload["p"],
            start=_parse_date(payload.get("f"), "from", end_of_day=False),
            end=_parse_date(payload.get("u"), "until", end_of_day=True),
            set_spec=payload.get("s"), after=(str(after_stamp), int(after_id)),
            cursor=int(payload["c"]), raw=raw)
    except (KeyError, TypeError, ValueError, OaiError):
        raise OaiError("badResumptionToken", "The resumption token is not valid.") from None


def _matching(session: Session, request: _ListRequest) -> list[CourseVersion]:
    versions = published_versions(session, organisation=request.set_spec)
    if request.set_spec is not None:
        versions = [v for v in versions if v.course.organisation.slug == request.set_spec]
    found = []
    for version in versions:
        # Compared at the granularity shown, so `from=<a datestamp we sent>` includes it.
        stamp = _seconds(version_datestamp(version))
        if request.start is not None and stamp < request.start:
            continue
        if request.end is not None and stamp > request.end:
            continue
        found.append(version)
    return sorted(found, key=_key)


def _key(version: CourseVersion) -> tuple[str, int]:
    return _stamp(version_datestamp(version)), version.course.id


def _parse_date(value: str | None, name: str, *, end_of_day: bool) -> datetime | None:
    if value is None:
        return None
    try:
        if _DAY.match(value):
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
            return day + timedelta(days=1, seconds=-1) if end_of_day else day
        if _SECONDS.match(value):
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        pass
    raise OaiError("badArgument", f"{name} must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ (UTC).")


def _check_prefix(prefix: str) -> None:
    if prefix not in METADATA_FORMATS:
        raise OaiError("cannotDisseminateFormat",
                       f"{prefix!r} is not disseminated; use one of "
                       f"{', '.join(METADATA_FORMATS)}.")


def _find(session: Session, identifier: str, repository: Repository) -> CourseVersion:
    prefix = f"oai:{repository.repository_id}:course/"
    if identifier.startswith(prefix):
        slug = identifier[len(prefix):]
        for version in published_versions(session):
            if version.course.slug == slug:
                return version
    raise OaiError("idDoesNotExist", f"No item {identifier!r} in this repository.")


# -- XML -------------------------------------------------------------------------------------


def item_identifier(version: CourseVersion, repository: Repository) -> str:
    """The OAI identifier of a course."""
    return f"oai:{repository.repository_id}:course/{version.course.slug}"


def _header(parent: ET.Element, version: CourseVersion, repository: Repository) -> None:
    header = _child(parent, "header")
    _child(header, "identifier", item_identifier(version, repository))
    _child(header, "datestamp", _stamp(version_datestamp(version)))
    _child(header, "setSpec", version.course.organisation.slug)


def _dublin_core(parent: ET.Element, version: CourseVersion, urls: CatalogueUrls) -> None:
    """The record as unqualified Dublin Core (oai_dc)."""
    dc = ET.SubElement(parent, f"{{{OAI_DC_NS}}}dc")
    dc.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_DC_NS} {OAI_DC_SCHEMA}")

    def add(name: str, text: str | None) -> None:
        if text:
            ET.SubElement(dc, f"{{{DC_NS}}}{name}").text = text

    course = version.course
    add("title", version.title)
    for author in version.authors:
        add("creator", author.get("name"))
    for technique in version.techniques:
        add("subject", technique)
    add("description", version.summary)
    add("publisher", course.organisation.name)
    add("date", version_datestamp(version).date().isoformat())
    add("type", "InteractiveResource")
    add("format", "text/html")
    add("identifier", urls.course(course.slug))
    add("language", version.language)
    licence = licence_reference(version.licence)
    add("rights", licence if isinstance(licence, str) else version.licence)
    # Harvesters that read Bioschemas (TeSS) find the richer record here.
    add("relation", urls.course_jsonld(course.slug))


def _child(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, name)
    if text is not None:
        element.text = text
    return element


def _seconds(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _stamp(moment: datetime) -> str:
    return _seconds(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
