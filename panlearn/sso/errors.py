"""Why a sign-in through an identity provider did not work, for people and for the log."""

from __future__ import annotations

from panlearn.errors import PanlearnError


class SignInError(PanlearnError):
    """A sign-in failed: `detail` tells the person what to do, `reason` tells operators why.

    The status depends on whose fault it is: 400 for a stale or replayed
    sign-in, 401 for an answer that fails verification, 403 for a disabled
    account, 502/504 when the provider answers badly or not at all.
    """

    title, slug = "Sign-in did not work", "sign-in-failed"

    def __init__(self, detail: str, *, reason: str, status: int = 400) -> None:
        super().__init__(detail)
        self.reason = reason
        self.status = status
