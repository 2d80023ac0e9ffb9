"""A real HTTP server on 127.0.0.1 that plays PaNOSC search APIs and a file host.

It answers from the recorded real responses and provider dumps in
shared/data/panosc/ (read at start, never copied) and serves the real files of
shared/data/nexus/. Routes, each under its own prefix:

    /provider1/api, /provider2/api, /reference/api   LoopBack provider over a DB dump
    /federated/api     fan-out over provider1+2: tags `provider`, merges, sorts, slices
    /recorded/api      the recorded production responses, matched by filter
    /ill/api           the ILL Documents harvested by PaN-Finder (score null, "" dates)
    /quirks/api        provider1 records as sloppy providers send them (strings for numbers…)
    /files/<name>      the nexus files, with Range support
    /fault/<mode>/…    the same routes, misbehaving: timeout, slow, 500, 503, flaky,
                       garbage, 400, big, wrongshape, close; and for files
                       truncate-once, truncate-always, norange, wrongbytes, slowfile

`server.outage` makes every API route fail ("503" or "close") to test stale fallback.
"""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

MODELS = {"datasets": "Dataset", "documents": "Document", "instruments": "Instrument"}

TEXT_FIELDS = {
    "Dataset": ("title",),
    "Document": ("title", "summary"),
    "Instrument": ("name", "facility"),
    "File": ("name",),
    "Sample": ("name", "description"),
    "Technique": ("name",),
    "Parameter": (),
    "Member": (),
}


class FilterError(Exception):
    """A filter the fake provider rejects with HTTP 400, as LoopBack does."""


# -- a LoopBack-ish provider over a DB dump ---------------------------------------------------


class Store:
    """One provider's records, with the PaNOSC reading of LoopBack filters."""

    def __init__(self, models: dict[str, list[dict[str, Any]]]) -> None:
        self.models = defaultdict(list, models)

    @classmethod
    def from_dump(cls, path: Path) -> Store:
        dump = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            {name: [json.loads(raw) for raw in rows.values()]
             for name, rows in dump["models"].items()}
        )

    # relations --------------------------------------------------------------------------

    def _by(self, model: str, key: str, value: Any) -> list[dict[str, Any]]:
        return [row for row in self.models[model] if row.get(key) == value]

    def _join(self, link: str, left: str, value: Any, right: str, target: str) -> list[dict]:
        ids = [row[right] for row in self._by(link, left, value)]
        return [row for row in self.models[target] if row.get("pid", row.get("id")) in ids]

    def related(self, model: str, row: dict[str, Any], relation: str) -> tuple[str, list, bool]:
        """(target model, related rows, is single) for `relation` of `row`."""
        pid = row.get("pid")
        if model == "Dataset":
            if relation == "instrument":
                return "Instrument", self._by("Instrument", "pid", row.get("instrumentId")), True
            if relation == "document":
                return "Document", self._by("Document", "pid", row.get("documentId")), True
            if relation == "documents":
                docs = self._join("DocumentDataset", "datasetId", pid, "documentId", "Document")
                return "Document", docs or self._by("Document", "pid", row.get("documentId")), False
            if relation == "techniques":
                return "Technique", self._join(
                    "DatasetTechnique", "datasetId", pid, "techniqueId", "Technique"), False
            if relation == "samples":
                return "Sample", self._join(
                    "DatasetSample", "datasetId", pid, "sampleId", "Sample"), False
            if relation == "files":
                return "File", self._by("File", "datasetId", pid), False
            if relation == "parameters":
                return "Parameter", self._by("Parameter", "datasetId", pid), False
        if model == "Document":
            if relation == "datasets":
                linked = self._join("DocumentDataset", "documentId", pid, "datasetId", "Dataset")
                return "Dataset", linked or self._by("Dataset", "documentId", pid), False
            if relation == "members":
                return "Member", self._by("Member", "documentId", pid), False
            if relation == "parameters":
                return "Parameter", self._by("Parameter", "documentId", pid), False
        if model == "Instrument" and relation == "datasets":
            return "Dataset", self._by("Dataset", "instrumentId", pid), False
        if model == "Member":
            if relation == "person":
                return "Person", self._by("Person", "id", row.get("personId")), True
            if relation == "affiliation":
                return "Affiliation", self._by("Affiliation", "id", row.get("affiliationId")), True
        raise FilterError(f"Relation \"{relation}\" is not defined for {model} model")

    # filter semantics -------------------------------------------------------------------

    def find(self, model: str, filter: dict[str, Any]) -> list[dict[str, Any]]:
        _check_keys(filter)
        rows = [dict(row) for row in self.models[model]]
        rows = [row for row in rows if matches(row, filter.get("where"), model)]
        rows = self._include(model, rows, filter.get("include"))
        query = filter.get("query")
        if query:
            scored = [(score(row, model, query), row) for row in rows]
            rows = [dict(row, score=s) for s, row in scored if s > 0]
            rows.sort(key=lambda row: -row["score"])
        else:
            # Without a query every item scores 0; ILL sends its own `score: null` anyway.
            rows = [row if "score" in row else dict(row, score=0) for row in rows]
        rows = apply_order(rows, filter.get("order"))
        skip = int(filter.get("skip") or 0)
        limit = int(filter.get("limit") or 0)
        rows = rows[skip:skip + limit] if limit else rows[skip:]
        return [project(row, filter.get("fields")) for row in rows]

    def find_by_id(self, model: str, pid: str, filter: dict[str, Any]) -> dict | None:
        rows = [dict(row) for row in self._by(model, "pid", pid)]
        rows = self._include(model, rows, filter.get("include"))
        return project(rows[0], filter.get("fields")) if rows else None

    def count(self, model: str, where: dict[str, Any] | None) -> int:
        return sum(1 for row in self.models[model] if matches(row, where, model))

    def _include(self, model: str, rows: list[dict], include: Any) -> list[dict]:
        if not include:
            return rows
        specs = include if isinstance(include, list) else [include]
        for spec in specs:
            if isinstance(spec, str):
                relation, scope = spec, {}
            elif isinstance(spec, dict) and "relation" in spec:
                relation, scope = spec["relation"], spec.get("scope") or {}
            else:
                raise FilterError(f"invalid include {spec!r}")
            kept = []
            for row in rows:
                target, related, single = self.related(model, row, relation)
                related = [dict(r) for r in related if matches(r, scope.get("where"), target)]
                related = self._include(target, related, scope.get("include"))
                # A scoped include is an inner join: no match, no parent (PaNOSC semantics).
                if scope.get("where") and not related:
                    continue
                row[relation] = (related[0] if related else None) if single else related
                kept.append(row)
            rows = kept
        return rows


def _check_keys(filter: dict[str, Any]) -> None:
    unknown = set(filter) - {"where", "include", "limit", "skip", "order", "fields", "query"}
    if unknown:
        raise FilterError(f"Filter includes unknown keys: {sorted(unknown)}")
    for key in ("limit", "skip"):
        value = filter.get(key)
        if value is not None and (not isinstance(value, int) or value < 0):
            raise FilterError(f"The {key} parameter {value!r} is not valid")


def _number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _like(pattern: str, flags: int = 0) -> re.Pattern[str]:
    if "%" in pattern or "_" in pattern:
        regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        return re.compile(f"^{regex}$", flags | re.S)
    return re.compile(pattern, flags)  # LoopBack's memory connector: a regex search


def compare(value: Any, op: str, operand: Any) -> bool:
    if op == "eq":
        return value == operand
    if op == "neq":
        return value != operand
    if op in {"gt", "gte", "lt", "lte", "between"}:
        value = _number(value)
        bounds = [_number(b) for b in operand] if op == "between" else [_number(operand)]
        try:
            if op == "between":
                return bounds[0] <= value <= bounds[1]
            return {"gt": value > bounds[0], "gte": value >= bounds[0],
                    "lt": value < bounds[0], "lte": value <= bounds[0]}[op]
        except TypeError:
            return False
    if op == "inq":
        return value in operand
    if op == "nin":
        return value not in operand
    if op in {"like", "nlike", "ilike", "nilike", "regexp"}:
        if not isinstance(value, str):
            return op in {"nlike", "nilike"}
        flags = re.I if op in {"ilike", "nilike"} else 0
        try:
            pattern = re.compile(operand) if op == "regexp" else _like(operand, flags)
        except re.error as error:
            raise FilterError(f"Invalid regular expression {operand!r}: {error}") from error
        found = bool(pattern.search(value))
        return not found if op in {"nlike", "nilike"} else found
    raise FilterError(f"Unknown operator {op!r}")


def matches(row: dict[str, Any], where: Any, model: str) -> bool:
    if not where:
        return True
    if not isinstance(where, dict):
        raise FilterError(f"invalid where {where!r}")
    for key, condition in where.items():
        if key == "and":
            if not all(matches(row, part, model) for part in condition):
                return False
        elif key == "or":
            if not any(matches(row, part, model) for part in condition):
                return False
        elif key == "text":
            needle = str(condition).lower()
            if not any(needle in str(row.get(f) or "").lower() for f in TEXT_FIELDS[model]):
                return False
        elif isinstance(condition, dict):
            if not all(compare(row.get(key), op, operand) for op, operand in condition.items()):
                return False
        elif row.get(key) != condition:
            return False
    return True


def score(row: dict[str, Any], model: str, query: str) -> float:
    """A TF-like relevance in (0, 1): the share of query words found in the text fields."""
    words = [w for w in re.findall(r"\w+", query.lower()) if w]
    haystack = " ".join(str(row.get(f) or "") for f in TEXT_FIELDS[model]).lower()
    found = sum(1 for w in words if w in haystack)
    return found / (len(words) + 1) if words else 0.0


def apply_order(rows: list[dict], order: Any) -> list[dict]:
    if not order:
        return rows
    items = [order] if isinstance(order, str) else list(order)
    for item in reversed(items):
        name, _, direction = item.partition(" ")
        rows = sorted(rows, key=lambda r, n=name: (r.get(n) is None, str(r.get(n) or "")),
                      reverse=direction.strip().upper() == "DESC")
    return rows


def project(row: dict, fields: Any) -> dict:
    if not fields:
        return row
    names = [k for k, v in fields.items() if v] if isinstance(fields, dict) else list(fields)
    return {k: v for k, v in row.items() if k in names}


# -- the server -------------------------------------------------------------------------------


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up on a fault route is the point of the exercise, not news.
        pass


class PanoscTestServer:
    """Start with `start()`; `url("provider1")` is a PaNOSC base URL, `file_url(name)` a file."""

    def __init__(self, shared_data_dir: Path) -> None:
        panosc = shared_data_dir / "panosc"
        self.nexus = shared_data_dir / "nexus"
        self.stores = {
            "provider1": Store.from_dump(panosc / "federated_test_provider1_db.json"),
            "provider2": Store.from_dump(panosc / "federated_test_provider2_db.json"),
            "reference": Store.from_dump(panosc / "reference_search_api_test_db.json"),
        }
        ill = json.loads((panosc / "oscars_pan_finder_ill_data_manual_20250423102500.json")
                         .read_text(encoding="utf-8"))
        self.stores["ill"] = Store({"Document": [entry["panosc"] for entry in ill]})
        self.stores["quirks"] = Store(_quirky(self.stores["provider1"].models))
        self.recorded: list[tuple[str, dict, list]] = []
        for entry in json.loads((panosc / "requests.json").read_text(encoding="utf-8")):
            if entry["filter"] is None:
                continue
            body = json.loads((panosc / entry["file"]).read_text(encoding="utf-8"))
            model = entry["url"].rstrip("/").rsplit("/", 1)[-1]
            self.recorded.append((model, entry["filter"], body))
        self.outage: str | None = None
        self.delay = 3.0
        self.flaky_failures = 2
        self.log: list[tuple[str, str, str | None]] = []
        self.user_agents: list[str] = []
        self._counts: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle --------------------------------------------------------------------------

    def start(self) -> PanoscTestServer:
        handler = type("Handler", (_Handler,), {"app": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def root(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, provider: str) -> str:
        return f"{self.root}/{provider}/api"

    def file_url(self, name: str, fault: str | None = None) -> str:
        prefix = f"/fault/{fault}" if fault else ""
        return f"{self.root}{prefix}/files/{name}"

    def reset(self) -> None:
        with self._lock:
            self.log.clear()
            self.user_agents.clear()
            self._counts.clear()
        self.outage = None

    def hits(self, path_fragment: str) -> list[tuple[str, str, str | None]]:
        with self._lock:
            return [entry for entry in self.log if path_fragment in entry[1]]

    def count(self, key: str) -> int:
        with self._lock:
            self._counts[key] += 1
            return self._counts[key]

    def record(self, method: str, path: str, range_header: str | None, agent: str) -> None:
        with self._lock:
            self.log.append((method, path, range_header))
            self.user_agents.append(agent)

    # API ------------------------------------------------------------------------------------

    def api(self, provider: str, segments: list[str], params: dict[str, str]) -> tuple[int, Any]:
        try:
            filter = json.loads(params["filter"]) if "filter" in params else {}
            where = json.loads(params["where"]) if "where" in params else None
        except ValueError:
            return 400, _error(400, "Failed to parse request filter")
        if not isinstance(filter, dict):
            return 400, _error(400, "Filter must be an object")
        if not segments or segments[0].lower() not in MODELS:
            return 404, _error(404, "Shared class not found", "SHARED_CLASS_NOT_FOUND")
        model = MODELS[segments[0].lower()]
        rest = segments[1:]
        try:
            if provider == "recorded":
                return self._recorded(model, rest, filter)
            if provider == "federated":
                return self._federated(model, rest, filter, where)
            store = self.stores.get(provider)
            if store is None:
                return 404, _error(404, f"no provider {provider}")
            status, body = _route(store, model, rest, filter, where)
            if provider == "quirks" and rest == ["count"]:
                body = {"count": str(body["count"])}  # the federated "0" + … hazard
            return status, body
        except FilterError as error:
            return 400, _error(400, str(error))

    def _recorded(self, model: str, rest: list[str], filter: dict) -> tuple[int, Any]:
        collection = model + "s"
        if not rest:
            for recorded_model, recorded_filter, body in self.recorded:
                if recorded_model == collection and recorded_filter == filter:
                    return 200, body
            return 200, []  # the federated answer when nobody answered
        for recorded_model, _, body in self.recorded:
            if recorded_model == collection:
                for item in body:
                    if str(item.get("pid")) == rest[0]:
                        return 200, item
        return 404, _error(404, f'Unknown "{model}" id "{rest[0]}".', "MODEL_NOT_FOUND")

    def _federated(self, model: str, rest: list[str], filter: dict, where: Any) -> tuple[int, Any]:
        providers = ("provider1", "provider2")
        if not rest:
            limit = filter.get("limit") or 100
            merged = []
            for name in providers:
                for item in self.stores[name].find(model, dict(filter, limit=limit)):
                    merged.append(dict(item, provider=self.url(name)))
            if "query" in filter:
                merged.sort(key=lambda r: -(r.get("score") or 0))
            else:
                key = "name" if model == "Instrument" else "title"
                merged.sort(key=lambda r: str(r.get(key) or "").lower())
            return 200, merged[:limit]
        if rest == ["count"]:
            return 200, {"count": sum(self.stores[n].count(model, where) for n in providers)}
        for name in providers:
            status, body = _route(self.stores[name], model, rest, filter, where)
            if status == 200:
                return 200, dict(body, provider=self.url(name)) if isinstance(body, dict) \
                    else body
        return 404, _error(404, f'Unknown "{model}" id "{rest[0]}".', "MODEL_NOT_FOUND")


def _route(store: Store, model: str, rest: list[str], filter: dict, where: Any
           ) -> tuple[int, Any]:
    if not rest:
        return 200, store.find(model, filter)
    if rest == ["count"]:
        return 200, {"count": store.count(model, where)}
    pid = rest[0]
    record = store.find_by_id(model, pid, filter)
    if record is None:
        return 404, _error(404, f'Unknown "{model}" id "{pid}".', "MODEL_NOT_FOUND")
    if rest[1:] == ["files"] and model == "Dataset":
        files = [row for row in store.models["File"] if row.get("datasetId") == pid]
        return 200, [f for f in files if matches(f, filter.get("where"), "File")]
    if rest[1:] == ["files", "count"] and model == "Dataset":
        files = [row for row in store.models["File"] if row.get("datasetId") == pid]
        return 200, {"count": sum(1 for f in files if matches(f, where, "File"))}
    if len(rest) == 1:
        return 200, record
    return 404, _error(404, "no such route")


def _error(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    error = {"statusCode": status, "name": "Error", "message": message}
    if code:
        error["code"] = code
    return {"error": error}


def _quirky(models: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """provider1's records as sloppy real providers send them (each quirk seen in the wild)."""
    out = {name: [dict(row) for row in rows] for name, rows in models.items()}
    for index, row in enumerate(out["Dataset"]):
        row["size"] = str(1000 * (index + 1))           # numbers as strings
        row["creationDate"] = "" if index % 2 else None  # "" and null dates
        row["id"] = row["pid"]                           # the extra `id` ESRF sends
    out["Dataset"].append({"pid": 186715647, "title": "Numeric pid dataset",
                           "isPublic": "true", "creationDate": "not a date"})
    out["Dataset"].append({"title": "no pid: skipped by clients"})
    for row in out["Document"]:
        row["doi"] = " "                                 # ESRF's blank DOI
        row["releaseDate"] = ""                          # ILL
        row["keywords"] = None
    for row in out["Parameter"]:
        if isinstance(row.get("value"), int | float):
            row["value"] = str(row["value"])
    return out


class _Handler(BaseHTTPRequestHandler):
    app: PanoscTestServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms ACK stalls

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_HEAD(self) -> None:
        self.do_GET(head=True)

    def do_GET(self, head: bool = False) -> None:
        app = self.app
        raw_path, _, query = self.path.partition("?")
        app.record(self.command, raw_path, self.headers.get("Range"),
                   self.headers.get("User-Agent", ""))
        # Split before unquoting: a pid's encoded `/` must stay inside its segment.
        segments = [unquote(s) for s in raw_path.split("/") if s]
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        fault = None
        if segments[:1] == ["fault"] and len(segments) > 1:
            fault, segments = segments[1], segments[2:]
        if segments[:1] == ["files"] and len(segments) == 2:
            return self._file(segments[1], fault, head)
        if len(segments) < 2 or segments[1] != "api":
            return self._json(404, _error(404, "not found"))
        provider, rest = segments[0], segments[2:]
        if app.outage == "close" or fault == "close":
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        if app.outage == "503" or fault == "503":
            return self._json(503, _error(503, "Service Unavailable"))
        if fault == "timeout":
            app.stopping.wait(app.delay)
        elif fault == "slow":
            app.stopping.wait(0.2)
        elif fault == "500":
            return self._json(500, _error(500, "Internal Server Error: connect ECONNREFUSED"))
        elif fault == "400":
            return self._json(400, _error(400, "Filter structure is invalid: included relation "
                                               "'foo' is not a member of Dataset"))
        elif fault == "garbage":
            return self._send(200, b"<html><body>502 Bad Gateway</body></html>",
                              "application/json")
        elif fault == "wrongshape":
            return self._json(200, {"unexpected": True})
        elif fault == "big":
            return self._json(200, [{"pid": f"p{i}", "title": "x" * 200} for i in range(20000)])
        elif fault == "flaky" and app.count("flaky:" + raw_path) <= app.flaky_failures:
            return self._json(503, _error(503, "Service Unavailable"))
        status, body = app.api(provider, rest, params)
        self._json(status, body)

    def _json(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _file(self, name: str, fault: str | None, head: bool) -> None:
        app = self.app
        path = app.nexus / name
        if fault == "500":
            return self._send(500, b"oops", "text/plain")
        if fault == "timeout":
            app.stopping.wait(app.delay)
        if "/" in name or not path.is_file():
            return self._send(404, b"not found", "text/plain")
        data = path.read_bytes()
        if fault == "wrongbytes":
            middle = len(data) // 2
            data = data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 16]) \
                + data[middle + 16:]
        start = 0
        range_header = self.headers.get("Range")
        match = re.match(r"bytes=(\d+)-$", range_header or "")
        if match and fault != "norange":
            start = int(match.group(1))
            if start >= len(data):
                return self._send(416, b"", "text/plain",
                                  {"Content-Range": f"bytes */{len(data)}"})
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if head:
            return None
        first = app.count(f"file:{fault}:{name}") == 1
        if fault == "truncate-always" or (fault in {"truncate-once", "norange"} and first):
            # Promise everything, send half, hang up: a dropped connection.
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return None
        if fault == "slowfile":
            step = max(1, len(body) // 10)
            for offset in range(0, len(body), step):
                self.wfile.write(body[offset:offset + step])
                self.wfile.flush()
                app.stopping.wait(0.05)
            return None
        self.wfile.write(body)
        return None
