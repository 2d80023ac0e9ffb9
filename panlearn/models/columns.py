"""Column types and helpers every model module shares: one clock, aware UTC, enums as strings."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import DateTime, Enum
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Timezone-aware now; one clock for every timestamp column."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; refuse naive datetimes, which are always a bug here."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use panlearn.models.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column(kind: type[enum.Enum], name: str) -> Enum:
    """A string column limited to an enum's values."""
    # Stored as VARCHAR + CHECK so SQLite and PostgreSQL agree and migrations stay simple.
    return Enum(kind, name=name, native_enum=False, values_callable=lambda k: [m.value for m in k],
                length=16, create_constraint=True, validate_strings=True)
