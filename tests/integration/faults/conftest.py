"""Fault injection: real servers and workers, killed and restarted while they work.

Every test here starts real processes on 127.0.0.1 (gunicorn, `flask worker`, Celery,
redis-server, PostgreSQL), breaks one of them mid-grading, and then checks in the database
that every accepted submission was graded exactly once (one graded GradingRun each) and that
nothing was lost. Short limits keep recovery quick: a 3 s lease, 5 s per cell, 20 s a run.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil
import pytest
from flask import Flask
from sqlalchemy import func, select

from panlearn.extensions import db
from panlearn.models import GradingRun, Submission, SubmissionState
from panlearn.wiring import replace_services
from tests.builders import PASSWORD, make_org, make_user
from tests.conftest import REPO_ROOT, _shared_data_dir

COURSE = REPO_ROOT / "courses" / "reading-nexus"
RIGHT = ("float(two_theta[np.argmax(counts)])",
         "wavelength / (2 * np.sin(np.radians(peak_two_theta / 2)))")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process {process.args} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def requires(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed")
    return path


# -- PostgreSQL ---------------------------------------------------------------------------


def _pg_bin() -> Path | None:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                  key=lambda p: [int(x) for x in p.parent.parent.name.split(".") if x.isdigit()])
    if bins:
        return bins[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresCluster:
    """A throwaway cluster like `.ci/run`: initdb in a temp dir (as `postgres` when root),
    a free port, its socket in the same dir. Stoppable and restartable by the test."""

    def __init__(self, base: Path) -> None:
        found = _pg_bin()
        if found is None:
            pytest.skip("PostgreSQL is not installed (no initdb): cannot start a throwaway "
                        "cluster; set PANLEARN_TEST_DATABASE_URL to use a running server")
        self.bin = found
        self.dir = base
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            for folder in (self.dir, *self.dir.parents):
                if folder == Path("/"):
                    break
                folder.chmod(folder.stat().st_mode | 0o005)  # postgres may traverse
            shutil.chown(self.dir, "postgres")

    def _run(self, *argv: str) -> None:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def init(self) -> PostgresCluster:
        self._run("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres")
        return self.start()

    def start(self) -> PostgresCluster:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        try:
            self.stop("immediate")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[tuple[str, PostgresCluster | None]]:
    """A PostgreSQL server URL: PANLEARN_TEST_DATABASE_URL's server if set, else a throwaway
    cluster for the session (skipped with the reason if PostgreSQL is not installed)."""
    configured = os.environ.get("PANLEARN_TEST_DATABASE_URL", "")
    if configured.startswith("postgresql"):
        yield configured, None
        return
    # Not under pytest's base temp dir: each pytest session resets its owner-only mode,
    # which would lock the `postgres` user out of a cluster another session is running.
    base = Path(tempfile.mkdtemp(prefix="panlearn-faults-pg-"))
    cluster = PostgresCluster(base).init()
    yield f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/postgres", cluster
    cluster.close()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server) -> Iterator[str]:
    """A fresh database on the session's PostgreSQL server, dropped afterwards."""
    import psycopg

    server_url, cluster = postgres_server
    parts = urlsplit(server_url.replace("postgresql+psycopg", "postgresql"))
    admin = urlunsplit(parts._replace(path="/postgres"))
    name = f"panlearn_faults_{secrets.token_hex(4)}"
    if cluster is not None:
        try:
            psycopg.connect(admin, connect_timeout=5).close()
        except psycopg.OperationalError:  # our throwaway server was stopped: start it again
            cluster.start()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- redis -------------------------------------------------------------------------------


class RedisServer:
    """redis-server on a fixed free port, without persistence: a restart loses every message."""

    def __init__(self) -> None:
        self.binary = requires("redis-server")
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, start_new_session=True)
        wait_port(self.port, 10, self.process)
        return self

    def kill(self) -> None:
        """kill -9: in-flight and queued messages are gone with it."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.close()


# -- the app, its workers and servers -------------------------------------------------------


_APPS: list[Flask] = []


@pytest.fixture(autouse=True)
def _close_app_connections() -> Iterator[None]:
    """Close the pooled database connections of each test's apps when the test ends.

    Left open, they would be garbage-collected during some later test and raise
    ResourceWarning there (an error under filterwarnings=error).
    """
    yield
    while _APPS:
        app = _APPS.pop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def make_fault_app(tmp_path: Path, database_url: str, **overrides: Any) -> Flask:
    """The real app with short grading limits, the shipped course published, a student.

    It grades in the sandbox: tests calling it are marked `requires_bubblewrap`.
    """
    from flask_migrate import upgrade

    from panlearn import create_app
    from panlearn.authoring.folder import load_course_folders
    from panlearn.authoring.service import import_courses
    from tests.conftest import _reset_database

    config = {
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "faults-test-secret-key",
        "COURSES_DIR": str(REPO_ROOT / "courses"),
        "CONTENT_DIR": str(REPO_ROOT / "content"),
        "TESTING": True,
        "GRADING_WORKERS": 0,  # grading runs in the worker processes the tests start
        "GRADING_VALIDATE": False,
        "GRADING_TIMEOUT_S": 20.0, "GRADING_CELL_TIMEOUT_S": 5.0, "GRADING_LEASE_S": 3.0,
        "GRADING_KERNELS": 1,
        "SUBMISSIONS_PER_HOUR": 1000,
        "LOGIN_RATE": "1000 per minute",
        "DATA_DIRS": [str(_shared_data_dir() / "nexus")],
        # Nothing here may reach the internet; a closed port on loopback.
        "PANOSC_URL": f"http://127.0.0.1:{free_port()}/api", "PANOSC_RETRIES": 0,
        "PANOSC_CONNECT_TIMEOUT": 1.0, "PANOSC_READ_TIMEOUT": 2.0,
        **overrides,
    }
    app = create_app(config)
    _APPS.append(app)
    with app.app_context():
        _reset_database(db)
        upgrade(directory=str(REPO_ROOT / "migrations"), revision="heads")
    make_org(app, "psi")
    make_user(app, "student")
    with app.app_context():
        import_courses(db.session, load_course_folders(COURSE), publish=True)
        db.session.remove()
    return app


def process_env(app: Flask, **extra: str) -> dict[str, str]:
    """The environment of a server or worker process sharing the test app's settings."""
    settings = app.config["PANLEARN"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANLEARN_")}
    for name in ("INSTANCE_DIR", "DATABASE_URL", "SECRET_KEY", "COURSES_DIR", "CONTENT_DIR",
                 "GRADING_TIMEOUT_S", "GRADING_CELL_TIMEOUT_S", "GRADING_LEASE_S",
                 "GRADING_KERNELS", "GRADING_VALIDATE", "SUBMISSIONS_PER_HOUR", "LOGIN_RATE",
                 "PANOSC_URL", "PANOSC_RETRIES", "PANOSC_CONNECT_TIMEOUT",
                 "PANOSC_READ_TIMEOUT"):
        env[f"PANLEARN_{name}"] = str(settings[name])
    env["PANLEARN_DATA_DIRS"] = os.pathsep.join(settings["DATA_DIRS"])
    env["PANLEARN_GRADING_WORKERS"] = str(settings["GRADING_WORKERS"])  # web: local pool size
    if settings["BROKER_URL"]:
        env["PANLEARN_BROKER_URL"] = settings["BROKER_URL"]
    env.update(extra)
    return env


class Processes:
    """Processes a test starts, each in its own session; all of them stopped at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[tuple[subprocess.Popen, Path]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = self.tmp_path / f"{name}-{len(self.started)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=output,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append((process, log))
        return process

    def worker(self, app: Flask, **extra: str) -> subprocess.Popen:
        """`flask --app app worker`: Celery when the app has a broker, else a DB-polling one."""
        env = process_env(app, **{"PANLEARN_GRADING_WORKERS": "1", **extra})
        return self.start("worker", [sys.executable, "-m", "flask", "--app", "app", "worker"],
                          env)

    def gunicorn(self, app: Flask, port: int, workers: int = 2) -> subprocess.Popen:
        process = self.start("gunicorn", [
            sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class",
            "sync", "--bind", f"127.0.0.1:{port}", "--timeout", "60", "app:create_app()"],
            process_env(app))
        wait_port(port, 60, process)
        return process

    @staticmethod
    def kill_tree(process: subprocess.Popen) -> None:
        """kill -9 a process and everything under it (a machine that dies)."""
        stop_tree(process, signal.SIGKILL)

    def logs(self) -> str:
        out = []
        for process, log in self.started:
            text = log.read_text(errors="replace") if log.exists() else ""
            out.append(f"--- {log.name} (exit {process.poll()}):\n{text[-2500:]}")
        return "\n".join(out)

    def close(self) -> None:
        for process, _ in reversed(self.started):
            stop_tree(process, signal.SIGTERM)


def stop_tree(process: subprocess.Popen, sig: int, timeout: float = 15) -> None:
    """Signal a process we started, its process group and its descendants, then reap it.

    The group is signalled only while its leader is not reaped (its id cannot have been
    reused); stragglers found beforehand are killed through psutil, which checks that each
    pid still names the same process.
    """
    try:
        family = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        family = []
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    for child in family:  # kernels, pool children that outlived the leader
        try:
            child.kill()
        except psutil.Error:
            pass


@pytest.fixture
def processes(tmp_path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    yield started
    started.close()


def use_broker(app: Flask, url: str) -> None:
    """Send this test app's grading tasks to `url` (and not through a pooled connection to
    an earlier test's broker: the Celery app is module-global)."""
    from panlearn.grading.runtime import CeleryDispatcher
    from panlearn.grading.tasks import celery_app, configure

    configure(url)
    celery_app.close()  # drops the connection pool; the producer pool keeps its own
    celery_app.amqp._producer_pool = None
    replace_services(app, dispatcher=CeleryDispatcher(app))


def python_children(process: subprocess.Popen | int) -> list[psutil.Process]:
    pid = process if isinstance(process, int) else process.pid
    return [child for child in psutil.Process(pid).children()
            if "python" in child.name().lower() or "flask" in " ".join(child.cmdline())]


# -- submissions and the database ------------------------------------------------------------


def notebook_body(peak: str = RIGHT[0], d: str = RIGHT[1], sleep: float = 0.0) -> bytes:
    """The exercise answered (right by default); `sleep` seconds make grading last."""
    import nbformat

    from tests.integration.submissions.conftest import answered

    if sleep:
        peak = f"{peak}\nimport time; time.sleep({sleep})"
    return nbformat.writes(answered(peak, d)).encode()


def exercise_id_of(app: Flask) -> int:
    from panlearn.models import Exercise

    with app.app_context():
        value = db.session.scalar(select(Exercise.id))
        db.session.remove()
    return value


def token(base_url: str) -> dict[str, str]:
    import requests

    response = requests.post(f"{base_url}/api/auth/token",
                             json={"username": "student", "password": PASSWORD}, timeout=30)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def states(app: Flask) -> dict[int, str]:
    with app.app_context():
        rows = db.session.execute(select(Submission.id, Submission.state)).all()
        db.session.remove()
    return {row.id: row.state.value for row in rows}


def wait_state(app: Flask, submission_id: int, wanted: tuple[str, ...],
               timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = states(app).get(submission_id)
        if state in wanted:
            return state
        time.sleep(0.1)
    raise AssertionError(f"submission {submission_id} still {state} after {timeout} s")


def wait_all_done(app: Flask, timeout: float, logs: Any = None) -> dict[int, str]:
    deadline = time.monotonic() + timeout
    current: dict[int, str] = {}
    while time.monotonic() < deadline:
        current = states(app)
        if current and all(state in ("graded", "failed") for state in current.values()):
            return current
        time.sleep(0.25)
    raise AssertionError(f"not all graded after {timeout} s: {current}\n"
                         + (logs() if callable(logs) else ""))


def assert_graded_exactly_once(app: Flask, accepted: set[int], score: float | None = 3,
                               logs: Any = None) -> dict[int, Any]:
    """Every accepted submission is in the database, graded, with exactly one graded run."""
    with app.app_context():
        rows = {row.id: row for row in db.session.execute(
            select(Submission.id, Submission.state, Submission.score, Submission.attempts,
                   Submission.claim_token))}
        graded_runs = dict(db.session.execute(
            select(GradingRun.submission_id, func.count(GradingRun.id))
            .where(GradingRun.state == SubmissionState.GRADED)
            .group_by(GradingRun.submission_id)).all())
        db.session.remove()
    detail = f"rows {rows}; graded runs {graded_runs}\n" + (logs() if callable(logs) else "")
    assert accepted <= set(rows), "lost: " + str(accepted - set(rows)) + "\n" + detail
    for submission_id, row in rows.items():
        assert row.state == SubmissionState.GRADED, detail
        assert graded_runs.get(submission_id) == 1, detail
        if score is not None:
            assert row.score == score, detail
    return rows
