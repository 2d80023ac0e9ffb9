"""Progress's subscription to "graded": completion after a submission's result is committed.

Wired in `panlearn.wiring` as one of grading's after-commit hooks. Grading
must never fail because of progress or credentials: anything raised here is
logged and swallowed, and the graded result stands. The work is idempotent,
so a later event (another submission, enrolling again) completes what a
failure here left undone.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from panlearn.credentials.service import IssuerConfig
from panlearn.progress.completion import record_graded_submission

log = logging.getLogger(__name__)


def on_submission_graded(session: Session, submission_id: int, *,
                         issuer: IssuerConfig | None) -> None:
    """Record exercise (and maybe course) completion for a graded submission; never raises.

    ``issuer`` signs the credential of a course completed here (None: none issued).
    """
    try:
        record_graded_submission(session, submission_id, issuer=issuer)
    except Exception:  # progress must never turn a graded submission into a failure
        log.exception("submission %s: recording progress failed", submission_id)
        try:
            session.rollback()
        except Exception:
            log.exception("submission %s: rollback after a progress failure failed",
                          submission_id)
