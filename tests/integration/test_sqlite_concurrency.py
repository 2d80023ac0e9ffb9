"""The embedded SQLite database under several processes writing at once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from sqlalchemy import func, select, text

from panlearn import create_app
from panlearn.extensions import db
from panlearn.models import Organisation


def _settings(instance: Path) -> dict[str, object]:
    return {"INSTANCE_DIR": str(instance), "SECRET_KEY": "test", "GRADING_WORKERS": 0,
            "DATABASE_URL": f"sqlite:///{instance / 'panlearn.sqlite3'}"}


def _read_then_write(instance: str, worker: int, rounds: int) -> None:
    """Each round reads, then writes in the same transaction (as services do)."""
    app = create_app(_settings(Path(instance)))
    with app.app_context():
        for i in range(rounds):
            db.session.scalar(select(func.count()).select_from(Organisation))
            db.session.add(Organisation(slug=f"org-{worker}-{i}", name=f"Org {worker} {i}"))
            db.session.scalar(select(func.count()).select_from(Organisation))
            db.session.commit()
        db.session.remove()
        db.engine.dispose()


def test_the_database_file_is_in_wal_mode(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path))
    with app.app_context():
        assert db.session.scalar(text("PRAGMA journal_mode")) == "wal"
        db.session.remove()
        db.engine.dispose()


def test_processes_reading_and_writing_at_once_all_commit(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path))
    with app.app_context():
        db.create_all()
        db.session.remove()
        db.engine.dispose()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_read_then_write, args=(str(tmp_path), w, 40))
               for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Organisation)) == 120
        db.session.remove()
        db.engine.dispose()
