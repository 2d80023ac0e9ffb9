"""Grading publishes "graded" after its commit; a subscriber that raises never undoes a grade."""

from __future__ import annotations

from sqlalchemy import select

from panlearn.extensions import db
from panlearn.grading.jobs import GradingContext, process_submission
from panlearn.models import LessonCompletion, Submission, SubmissionState
from panlearn.wiring import services_of
from tests.integration.submissions.conftest import answered, submit

RIGHT = answered("float(two_theta[np.argmax(counts)])",
                 "wavelength / (2 * np.sin(np.radians(peak_two_theta / 2)))")


def test_a_raising_graded_hook_neither_fails_grading_nor_stops_the_other_hooks(
        grading_app, exercise_id, student):
    client = grading_app.test_client()
    assert client.post("/api/courses/reading-nexus/enrol", headers=student).status_code == 200
    response = submit(client, exercise_id, student, RIGHT)
    assert response.status_code == 202, response.get_json()
    submission_id = response.get_json()["id"]
    heard: list[tuple[str, int, str]] = []

    def broken(session, graded_id):
        # Leaves the session dirty, then fails: the grade must stand anyway.
        session.get(Submission, graded_id).score = -1.0
        raise RuntimeError("the subscriber is down")

    def listener(session, graded_id):
        heard.append(("graded", graded_id, session.get(Submission, graded_id).state.value))

    wired = services_of(grading_app)
    with grading_app.app_context():
        context = GradingContext(settings=wired.grading, datasets=wired.datasets,
                                 grader_version=wired.version,
                                 on_graded=(broken, *wired.graded_hooks, listener))
        assert process_submission(db.session, submission_id, context) is True
        db.session.remove()

    with grading_app.app_context():
        submission = db.session.get(Submission, submission_id)
        assert (submission.state, submission.score, submission.max_score) == (
            SubmissionState.GRADED, 3, 3)
        assert submission.runs[-1].grader_version == wired.version
        # The hooks after the broken one ran: progress recorded the passed exercise.
        completed = db.session.scalars(select(LessonCompletion.lesson_id).where(
            LessonCompletion.user_id == submission.user_id)).all()
        assert submission.exercise.lesson_id in completed
    assert heard == [("graded", submission_id, "graded")]
    body = client.get(f"/api/submissions/{submission_id}", headers=student).get_json()
    assert (body["state"], body["score"]) == ("graded", 3)
