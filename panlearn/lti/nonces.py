"""Nonces kept in the database and consumed by the launch: an id_token works once.

pylti1p3 keeps nonces in the Flask session by default. That fails twice over:
the launch is a cross-site POST from the LMS, which a `SameSite=Lax` session
cookie does not accompany, and a cookie-held nonce can be replayed with the
same cookie. Here `save_nonce` stores the nonce with an expiry and
`check_nonce` deletes it in one statement, so of two uses of one id_token only
the first succeeds, whichever process serves them. The browser binding of the
login is pylti1p3's state cookie, checked as before.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pylti1p3.request import Request
from pylti1p3.session import SessionService
from sqlalchemy import delete
from sqlalchemy.orm import Session

from panlearn.models import LtiNonce, utcnow

#: How long a login may take between `/lti/login` and `/lti/launch`.
NONCE_TTL = timedelta(minutes=10)


class DatabaseSessionService(SessionService):
    """pylti1p3's session service with nonces in the database and no launch cache."""

    def __init__(self, request: Request, session: Session) -> None:
        super().__init__(request)
        self._db = session

    def save_nonce(self, nonce: str) -> None:
        """Remember a nonce handed to the platform (and forget expired ones)."""
        now = utcnow()
        self._db.execute(delete(LtiNonce).where(LtiNonce.expires_at < now))
        self._db.add(LtiNonce(nonce=nonce[:128], expires_at=now + NONCE_TTL))
        self._db.commit()

    def check_nonce(self, nonce: str) -> bool:
        """Consume a nonce: True only for the first use of a live one."""
        result = self._db.execute(delete(LtiNonce).where(
            LtiNonce.nonce == nonce[:128], LtiNonce.expires_at > utcnow()))
        self._db.commit()
        return result.rowcount == 1

    def save_launch_data(self, key: str, jwt_body: Any) -> None:
        """Not kept: what a launch decides is stored by `lti.launch` (a cookie would overflow)."""

    def get_launch_data(self, key: str) -> Any:
        """Launches are never restored from a cache here."""
        return None

    def set_state_valid(self, state: str, id_token_hash: str) -> None:
        """Not kept: a state is proven by pylti1p3's state cookie, at the one launch."""

    def check_state_is_valid(self, state: str, id_token_hash: str) -> bool:
        """Never from the session, so the state cookie is always what is checked."""
        return False
