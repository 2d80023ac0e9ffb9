"""Settings: every `PANLEARN_*` environment variable, its type, default and meaning.

One table (`SETTINGS`) is the source of truth: `load_settings` reads it from the
environment (or from a mapping in tests), the README's configuration table is
checked against it by a test, and defaults keep a fresh checkout runnable on
SQLite with everything under the instance directory.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "PANLEARN_"
DEFAULT_PANOSC_URL = "https://federated.panosc.ess.eu/api"


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def _path_list(raw: str) -> list[str]:
    return [part for part in raw.split(os.pathsep) if part]


@dataclass(frozen=True)
class Setting:
    """One configuration key: `name` without the prefix, a parser and a default."""

    name: str
    default: Any
    doc: str
    parse: Callable[[str], Any] = str

    @property
    def env(self) -> str:
        """The environment variable that sets it."""
        return PREFIX + self.name


SETTINGS: tuple[Setting, ...] = (
    Setting("ENV", "development", "`development` or `production`; production refuses to start "
            "without PANLEARN_SECRET_KEY."),
    Setting("LOG_FORMAT", "text", "`text`, or `json` for one JSON object a line (log "
            "collectors)."),
    Setting("LOG_LEVEL", "INFO", "Level of panlearn's own logs (DEBUG, INFO, WARNING, …)."),
    Setting("INSTANCE_DIR", "./instance", "Runtime data: SQLite database, search index, caches, "
            "blobs. Created on start."),
    Setting("DATABASE_URL", None, "SQLAlchemy URL; default SQLite file `panlearn.sqlite3` in "
            "the instance dir. PostgreSQL: `postgresql+psycopg://user:pw@host/db`."),
    Setting("SECRET_KEY", None, "Signs session cookies. Required in production; in development "
            "a random key is generated once into the instance dir."),
    Setting("MAX_UPLOAD_MB", 20, "Largest accepted upload (course archive, notebook), in MiB.",
            int),
    Setting("TOKEN_TTL_HOURS", 24 * 30, "Lifetime of API tokens issued by "
            "`POST /api/auth/token`, in hours.", int),
    Setting("PUBLIC_URL", None, "Public base URL the platform is reached at (e.g. "
            "`https://learn.example.org`); identifiers in signed credentials are built from it, "
            "so set it before issuing any. Default `http://localhost:5000`."),
    Setting("ADMIN_EMAIL", None, "Contact address of this installation (OAI-PMH Identify); "
            "default `admin@<host>`."),
    Setting("OAI_PAGE_SIZE", 50, "Records per OAI-PMH page before a resumption token.", int),
    Setting("LOCAL_LOGIN", True, "Sign-in with a panlearn username and password (the form, "
            "and `POST /api/auth/token`); `false` leaves only the identity providers.", _bool),
    Setting("IDENTITY_FILE", None, "The OpenID Connect providers people sign in with (YAML, "
            "see docs/OPERATIONS.md); default `identity.yml` in PANLEARN_CONTENT_DIR, none if "
            "absent."),
    Setting("OIDC_CLOCK_SKEW_S", 60, "Seconds of clock difference allowed with identity "
            "providers when checking an id_token's `exp` and `iat`.", int),
    Setting("OIDC_TIMEOUT_S", 10.0, "Seconds to wait for an identity provider (discovery, "
            "token, keys, userinfo) before the sign-in page says it is unreachable.", float),
    Setting("LOGIN_RATE", "10 per minute", "Login attempts allowed per client address."),
    Setting("LOGIN_LOCKOUT", "5 per 15 minutes", "Failed logins allowed per username before "
            "it is locked out for the rest of the window."),
    Setting("RATELIMIT_STORAGE_URL", "memory://", "Where rate-limit counters live; share them "
            "between processes and machines with `redis://host:6379/1`."),
    Setting("COURSES_DIR", "./courses", "Folder of course sources that `flask setup` imports."),
    Setting("CONTENT_DIR", "./content", "Editorial content: organisations.yml, datasets.yml."),
    Setting("ARCHIVE_MAX_FILES", 2000, "Most files a course archive may contain.", int),
    Setting("SEARCH_DIR", None, "The whoosh search index; default `search` in the instance dir."),
    Setting("EMBED_ORIGINS", "*", "Origins allowed to frame embeds and slides of published "
            "lessons (`frame-ancestors`), space-separated; `*` for any."),
    Setting("GIT_IMPORT_URLS", "https://github.com/ https://gitlab.com/ https://codeberg.org/",
            "URL prefixes the author workspace may import public git repositories from, "
            "space-separated (e.g. add your facility's `https://gitlab.example.org/`); any other "
            "URL is refused."),
    Setting("ARCHIVE_MAX_UNPACKED_MB", 200, "Most bytes a course archive may unpack to, in MiB "
            "(zip bombs).", int),
    Setting("PANOSC_URL", DEFAULT_PANOSC_URL, "PaNOSC search API base URL (the federated "
            "endpoint by default; an organisation may set its facility's own)."),
    Setting("PANOSC_CONNECT_TIMEOUT", 5.0, "Seconds to wait for a PaNOSC API connection.", float),
    Setting("PANOSC_READ_TIMEOUT", 20.0, "Seconds to wait for a PaNOSC API answer (the "
            "federated search gives each facility 10 s).", float),
    Setting("PANOSC_RETRIES", 2, "Retries on connection errors and HTTP 502/503/504, with "
            "exponential backoff.", int),
    Setting("PANOSC_CACHE_TTL", 3600, "Seconds a cached PaNOSC answer is fresh; older ones "
            "are only served, marked stale, when the upstream fails.", int),
    Setting("PANOSC_MAX_RESPONSE_MB", 10, "Largest PaNOSC API response read, in MiB.", int),
    Setting("PANOSC_CACHE_DIR", None, "Where PaNOSC answers are cached (SQLite); default "
            "`panosc-cache` in the instance dir."),
    Setting("DATASET_REGISTRY", None, "The dataset registry file; default `datasets.yml` in "
            "PANLEARN_CONTENT_DIR."),
    Setting("DATA_CACHE_DIR", None, "Content-addressed cache of data files; default "
            "`data-cache` in the instance dir."),
    Setting("DATA_CACHE_MAX_MB", 5120, "Data cache size cap in MiB; least recently used "
            "files are evicted beyond it.", int),
    Setting("DATA_MAX_FILE_MB", 2048, "Largest single data file downloaded, in MiB.", int),
    Setting("DATA_DIRS", [], "Local mirror folders of data files (os.pathsep-separated), "
            "searched by file name and verified by sha256 before any download.", _path_list),
    Setting("SANDBOX", "auto", "How student notebooks are isolated: `zygote` (each job forked "
            "from a warm interpreter into namespaces of its own), `bubblewrap` (a fresh "
            "interpreter per job; the fallback where unprivileged namespaces are not allowed), "
            "`auto` (the zygote where it runs, else bubblewrap), or `none` (no isolation: local "
            "authoring only; must be set explicitly)."),
    Setting("GRADING_WORKERS", 2, "Grading worker processes the app starts (local pool; "
            "unused with PANLEARN_BROKER_URL).", int),
    Setting("GRADING_KERNELS", 2, "Warm sandboxed kernels each worker keeps ready.", int),
    Setting("GRADING_PRELOAD", "numpy,h5py", "Modules every sandbox imports before it is "
            "handed out (comma-separated): once per zygote (an exercise environment), or once "
            "per kernel under bubblewrap; each exercise's own imports are preloaded on top. "
            "Light on purpose: a fork costs more the more its zygote has imported."),
    Setting("GRADING_CELL_TIMEOUT_S", 30.0, "Time limit of one cell of a submission, in "
            "seconds.", float),
    Setting("GRADING_TIMEOUT_S", 120.0, "Time limit of a whole grading run, in seconds.", float),
    Setting("GRADING_MEMORY_MB", 2048, "Memory limit of a submission, all its processes and "
            "the files it writes together (its cgroup), in MiB.", int),
    Setting("GRADING_CPU_S", 120, "CPU-time limit of each process of a submission, in seconds.",
            int),
    Setting("GRADING_FSIZE_MB", 100, "Largest file a submission may write, in MiB.", int),
    Setting("GRADING_DISK_MB", 200, "Most bytes a submission may write, all files together "
            "(a size-capped tmpfs), in MiB.", int),
    Setting("GRADING_NPROC", 2000, "Most processes a submission may run at once (its cgroup).",
            int),
    Setting("GRADING_CGROUP", "auto", "Where each submission's cgroup is made: `auto` (cgroup "
            "v1 under the grader's own, when writable), `off`, or a delegated cgroup v2 folder "
            "(see docs/OPERATIONS.md)."),
    Setting("GRADING_WEAK_LIMITS", False, "Let a production grader start although it cannot "
            "enforce every per-submission limit (no cgroup, not root); it always logs which.",
            _bool),
    Setting("GRADING_ZYGOTES", 3, "Warm zygotes (exercise environments) each worker keeps.",
            int),
    Setting("GRADING_LEASE_S", 30.0, "A worker's claim on a submission lasts this long and is "
            "renewed while it grades; a dead worker's work is resumed after it.", float),
    Setting("GRADING_VALIDATE", True, "Grade each exercise's reference solution at import; it "
            "must score full marks.", _bool),
    Setting("GRADING_ATTEMPTS", 3, "Claims of one submission by a grading worker (each start "
            "of a grading, one whose worker died included) before it is marked `failed`.", int),
    Setting("SUBMISSIONS_PER_HOUR", 30, "Notebooks a student may hand in per exercise per hour, "
            "refused ones included (429 beyond, with Retry-After).", int),
    Setting("SUBMISSIONS_QUEUED_PER_STUDENT", 10, "Submissions one student may have waiting or "
            "being graded at once, across all exercises (429 beyond, with Retry-After).", int),
    Setting("LIVE_TIMEOUT_S", 10.0, "Time limit of a live run from a lesson page (the cell "
            "and the cells above it), in seconds; the page says \"stopped after N s\".", float),
    Setting("LIVE_RUN_RATE", "30 per minute", "Live runs a user may start (per client address "
            "for anonymous viewers); 429 beyond."),
    Setting("LIVE_QUEUED_PER_STUDENT", 2, "Live runs one user may have waiting or running at "
            "once (anonymous viewers share one allowance); 429 beyond.", int),
    Setting("LIVE_DRAFT_RATE", "60 per minute", "Autosaves of exercise drafts a user may make; "
            "429 beyond (the page retries)."),
    Setting("LIVE_ANONYMOUS", False, "Let visitors who are not signed in run cells of published "
            "lessons (a live embed in a lecturer's slides on another site, where the session "
            "cookie is not sent); they share one student's turn in the queue.", _bool),
    Setting("JUPYTERHUB_URL", None, "A JupyterHub (e.g. `https://hub.example.org`): exercise "
            "pages of courses imported from git then link to it with nbgitpuller, for those "
            "who prefer their own Jupyter."),
    Setting("BROKER_URL", None, "Celery broker (e.g. `redis://127.0.0.1:6379/0`); when set, "
            "grading runs on `flask worker` processes instead of the local pool."),
    Setting("DATA_DOWNLOAD_TIMEOUT", 60.0, "Seconds a data file download may stall before "
            "it is retried (resuming with HTTP Range).", float),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS}


class ConfigurationError(RuntimeError):
    """A setting is missing or malformed; raised at start-up, before serving anything."""


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Resolve every setting: overrides (tests), then the environment, then the default."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(_BY_NAME) - _FLASK_PASSTHROUGH)
    if unknown:
        raise ConfigurationError(f"unknown settings: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.name in overrides:
            values[setting.name] = overrides[setting.name]
        elif setting.env in environ:
            raw = environ[setting.env]
            try:
                values[setting.name] = setting.parse(raw)
            except ValueError as error:
                raise ConfigurationError(f"{setting.env}={raw!r}: {error}") from error
        else:
            values[setting.name] = setting.default
    for key in _FLASK_PASSTHROUGH & set(overrides):
        values[key] = overrides[key]
    return _derive(values)


# Plain Flask keys tests may pass through (e.g. TESTING).
_FLASK_PASSTHROUGH = {"TESTING"}


def _derive(values: dict[str, Any]) -> dict[str, Any]:
    if values["LOG_FORMAT"] not in {"text", "json"}:
        raise ConfigurationError(f"{PREFIX}LOG_FORMAT must be text or json, "
                                 f"got {values['LOG_FORMAT']!r}")
    if values["ENV"] not in {"development", "production"}:
        raise ConfigurationError(f"{PREFIX}ENV must be development or production, "
                                 f"got {values['ENV']!r}")
    instance = Path(values["INSTANCE_DIR"]).resolve()
    values["INSTANCE_DIR"] = str(instance)
    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = f"sqlite:///{instance / 'panlearn.sqlite3'}"
    # Folders whose default lies in another setting's folder: derived here, once.
    values["DATA_CACHE_DIR"] = values["DATA_CACHE_DIR"] or str(instance / "data-cache")
    values["PANOSC_CACHE_DIR"] = values["PANOSC_CACHE_DIR"] or str(instance / "panosc-cache")
    values["DATASET_REGISTRY"] = (values["DATASET_REGISTRY"]
                                  or str(Path(values["CONTENT_DIR"]) / "datasets.yml"))
    if not values["SECRET_KEY"]:
        if values["ENV"] == "production":
            raise ConfigurationError(f"{PREFIX}SECRET_KEY must be set in production")
        values["SECRET_KEY"] = _development_secret(instance)
    return values


def _development_secret(instance: Path) -> str:
    """A random key kept in the instance dir, so sessions survive restarts in development."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def flask_config(values: Mapping[str, Any]) -> dict[str, Any]:
    """Map our settings onto the Flask and extension keys they drive."""
    url = values["DATABASE_URL"]
    engine_options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        # Several processes (web, workers, CLI) share the file: wait on locks.
        engine_options = {"connect_args": {"timeout": 30}}
    return {
        "SECRET_KEY": values["SECRET_KEY"],
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "MAX_CONTENT_LENGTH": values["MAX_UPLOAD_MB"] * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": values["ENV"] == "production",
        "API_TITLE": "panlearn",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        # Swagger UI assets are served by the platform, never from a CDN.
        "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
        "TESTING": values.get("TESTING", False),
        "RATELIMIT_STORAGE_URI": values["RATELIMIT_STORAGE_URL"],
    }


def default(name: str) -> Any:
    """The declared default of a setting (for code that needs it outside the app)."""
    return _BY_NAME[name].default


def settings_table() -> str:
    """The README's configuration table, generated from `SETTINGS`."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for setting in SETTINGS:
        default = "—" if setting.default is None else f"`{setting.default}`"
        rows.append(f"| `{setting.env}` | {default} | {setting.doc} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
