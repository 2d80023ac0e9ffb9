"""The grading worker's call into progress, after a submission's result is committed.

Grading must never fail because of progress or credentials: anything raised
here is logged and swallowed, and the graded result stands. The work is
idempotent, so a later event (another submission, enrolling again) completes
what a failure here left undone.
"""

from __future__ import annotations

import logging

from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from panlearn.credentials.service import IssuerConfig, issuer_config
from panlearn.progress.completion import record_graded_submission

log = logging.getLogger(__name__)


def current_issuer() -> IssuerConfig | None:
    """The issuer configuration of the running app, if there is one."""
    if not has_app_context():
        return None
    return issuer_config(current_app.config["PANLEARN"])


def on_submission_graded(session: Session, submission_id: int) -> None:
    """Record exercise (and maybe course) completion for a graded submission; never raises."""
    try:
        record_graded_submission(session, submission_id, issuer=current_issuer())
    except Exception:  # progress must never turn a graded submission into a failure
        log.exception("submission %s: recording progress failed", submission_id)
        try:
            session.rollback()
        except Exception:
            log.exception("submission %s: rollback after a progress failure failed",
                          submission_id)
