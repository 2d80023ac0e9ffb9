"""Fixtures shared by every test folder.

Real data lives in ../shared/data (never copied into the project); tests find it
through PANLEARN_SHARED_DATA, defaulting to the folder beside the checkout.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _shared_data_dir() -> Path:
    configured = os.environ.get("PANLEARN_SHARED_DATA")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The folder of real PaN files and recorded PaNOSC responses (read-only)."""
    path = _shared_data_dir()
    if not (path / "nexus").is_dir():
        pytest.fail(f"shared data not found at {path}; set PANLEARN_SHARED_DATA")
    return path


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by what they use, and skip those that need a missing bubblewrap.

    Tests that use the database are marked `db`, so CI can rerun them on PostgreSQL.
    Tests that grade in the real sandbox are marked `requires_bubblewrap`: themselves,
    or through a fixture that asks for `bubblewrap`. `slow` tests (real kernels,
    servers, browsers, timing) share one xdist group: with `-n 2 --dist loadgroup`
    they run one at a time on one worker while the other runs the rest, so no two
    of them compete for the cores their time limits assume.
    """
    missing_bubblewrap = shutil.which("bwrap") is None
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.xdist_group("slow"))
        fixtures = getattr(item, "fixturenames", ())
        if "app" in fixtures:
            item.add_marker(pytest.mark.db)
        if "bubblewrap" in fixtures:
            item.add_marker(pytest.mark.requires_bubblewrap)
        if missing_bubblewrap and item.get_closest_marker("requires_bubblewrap"):
            item.add_marker(pytest.mark.skip(reason="needs bubblewrap (bwrap)"))


#: The sandboxes the grader can use: the zygote, and bubblewrap as the fallback. Fixtures
#: parametrised by it run the grading core on each (both must hold every guarantee).
SANDBOXES = ("zygote", pytest.param("bubblewrap", marks=pytest.mark.requires_bubblewrap))


@pytest.fixture(scope="session")
def bubblewrap() -> str:
    """The bubblewrap binary: fixtures that grade in the sandbox ask for it (see above)."""
    path = shutil.which("bwrap")
    assert path is not None  # tests using this fixture are skipped without it
    return path


@pytest.fixture
def app(tmp_path: Path):
    """The real app on a fresh database (temp SQLite, or PANLEARN_TEST_DATABASE_URL)."""
    with app_on_fresh_database(tmp_path) as made:
        yield made


@contextmanager
def app_on_fresh_database(tmp_path: Path, **overrides: Any) -> Iterator[Any]:
    """The test app with some settings changed (folders' own `app` fixtures use this)."""
    from flask_migrate import upgrade

    from panlearn import create_app
    from panlearn.extensions import db

    url = os.environ.get("PANLEARN_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.sqlite3'}"
    app = create_app({
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "DATABASE_URL": url,
        "COURSES_DIR": str(REPO_ROOT / "courses"),
        "CONTENT_DIR": str(REPO_ROOT / "content"),
        "TESTING": True,
        # Grading workers and import-time reference runs are started by the tests
        # that need them, so the rest stay fast.
        "GRADING_WORKERS": 0,
        "GRADING_VALIDATE": False,
        "DATA_DIRS": [str(_shared_data_dir() / "nexus"), str(_shared_data_dir() / "panosc")],
        **overrides,
    })
    with app.app_context():
        _reset_database(db)
        upgrade(directory=str(REPO_ROOT / "migrations"), revision="heads")
    yield app
    with app.app_context():
        db.session.remove()
        _reset_database(db)
        db.engine.dispose()


def _reset_database(db) -> None:
    """Drop every table (a shared PostgreSQL database is reused across tests)."""
    from sqlalchemy import MetaData

    with db.engine.begin() as connection:
        metadata = MetaData()
        metadata.reflect(bind=connection)
        metadata.drop_all(bind=connection)


@pytest.fixture
def client(app):
    """An HTTP client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner of the app's `flask` commands."""
    return app.test_cli_runner()
