"""After-commit hooks of submissions: what other features do once one is handed in or graded.

Grading publishes; it does not know who listens. `submit_notebook` runs its
"submitted" hooks after the submission's commit (the dispatcher wakes a
worker), and the worker runs its "graded" hooks after a result's commit
(progress, LTI grade passback). The subscribers are wired once, in
`panlearn.wiring`. A hook that raises is logged and its session rolled back:
the commit stands, and the next hook still runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: Called with the session and the submission's id after the commit of an event.
SubmissionHook = Callable[[Session, int], None]


def publish(hooks: Iterable[SubmissionHook], session: Session, submission_id: int, *,
            event: str) -> None:
    """Run each hook for a committed event; never raises (the commit stands)."""
    for hook in hooks:
        try:
            hook(session, submission_id)
        except Exception:
            log.exception("submission %s: a %r hook (%r) failed; the commit stands",
                          submission_id, event, hook)
            try:
                session.rollback()
            except Exception:
                log.exception("submission %s: rollback after a failed hook failed",
                              submission_id)
