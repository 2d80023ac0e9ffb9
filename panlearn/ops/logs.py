"""Structured logs: one JSON object a line, for log collectors (`PANLEARN_LOG_FORMAT=json`).

Only panlearn's own loggers are configured, so a host's logging setup (gunicorn,
Celery, pytest) is left as it is.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """A record as JSON: time, level, logger, message, exception, and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """One line of JSON."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        return json.dumps(entry, default=str)


def configure_logging(log_format: str, level: str) -> None:
    """Send panlearn's logs to stderr as JSON, or leave the default text logging."""
    logger = logging.getLogger("panlearn")
    logger.setLevel(level.upper())
    if log_format != "json" or any(isinstance(h.formatter, JsonFormatter)
                                   for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.propagate = False
