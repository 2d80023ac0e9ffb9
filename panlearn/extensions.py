"""Extension objects (database, migrations, rate limits), unbound here, bound in `create_app`."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Engine, MetaData, event
from sqlalchemy.orm import DeclarativeBase

# Named constraints so Alembic migrations are stable across SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def configure_sqlite(engine: Engine) -> None:
    """Write-ahead logging on every connection to a SQLite file.

    The embedded default shares one file between web workers, grading workers and
    the CLI. In the default rollback journal a reader blocks a writer's commit, and
    a connection that read and then writes while another commits gets "database is
    locked" at once, whatever the busy timeout; in WAL mode readers never block the
    writer, and writers wait their turn for the timeout.
    """
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return

    @event.listens_for(engine, "connect")
    def _wal(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


# Limits are declared on the login routes only; storage is set from PANLEARN_RATELIMIT_STORAGE_URL.
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)
