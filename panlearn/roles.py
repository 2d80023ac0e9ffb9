"""What a user may be: student, author or admin.

Apart from the models (which re-export it) so that a command can offer the
roles as choices without loading SQLAlchemy to list the commands.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """What an account may do; authors and admins act within their organisation."""

    STUDENT = "student"
    AUTHOR = "author"
    ADMIN = "admin"
