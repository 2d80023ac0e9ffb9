"""A course's numbers for its organisation's authors and admins.

Learners and completion count enrolments across all versions (and per
version), also day by day (`timeline`). Lesson and exercise figures are for
one version (the newest published by default, `version` to pick another),
because each version has its own lessons and exercises. Per-check pass rates
count each submission's latest graded run, like the exercise's own pass
rates; failure messages are grouped by their first line, which is where
checks put the reason. The distribution of scores counts each learner's best
score. Authors' try-outs (`Submission.preview`) are counted apart and never
in learners' figures. No learner is ever named; `failure_examples` shows
what some learners answered when a check failed with a given message,
labelled "Learner A", "Learner B"…. Quiz questions give each learner's first
answer (before any feedback: what they thought), counted per option and per
whole answer, and how many got it right at once or in the end.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import nbformat
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from panlearn.accounts.permissions import require_staff
from panlearn.errors import NotFoundError
from panlearn.grading.core.nbgrader import read_contract
from panlearn.grading.submissions import source_notebook
from panlearn.models import (
    CheckResult,
    Course,
    CourseVersion,
    Credential,
    Enrolment,
    Exercise,
    GradingRun,
    Lesson,
    LessonCompletion,
    NotebookBlob,
    QuizAttempt,
    QuizQuestion,
    Submission,
    SubmissionState,
    User,
    utcnow,
)
from panlearn.progress.completion import passes, score_fraction, version_lessons
from panlearn.progress.enrolment import newest_published

#: How many of the commonest failure messages are listed, per exercise and overall.
TOP_FAILURES = 5
MESSAGE_CHARS = 200
#: Score distribution bins: 0–10 %, …, 90–100 % (exclusive), and full marks.
SCORE_BINS = 10
#: Anonymised examples shown for one failure message.
EXAMPLES = 5
#: How many of the commonest first answers are listed per question.
TOP_ANSWERS = 10


def first_line(output: str) -> str:
    """The first non-empty line of a check's output: what the check said was wrong."""
    for line in (output or "").splitlines():
        if line.strip():
            return line.strip()[:MESSAGE_CHARS]
    return "(no message)"


def _commonest(counter: Counter[Any], limit: int) -> list[tuple[Any, int]]:
    """The most frequent entries, ties broken by the entry itself, so the order is stable."""
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:limit]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def course_analytics(session: Session, course: Course, viewer: User | None, *,
                     version_number: int | None = None) -> dict[str, Any]:
    """Learners, completion, per-lesson, per-exercise and per-check figures of a course."""
    require_staff(viewer, course)
    version = _pick_version(course, version_number)
    enrolments = list(session.scalars(select(Enrolment).where(Enrolment.course_id == course.id)))
    by_version: dict[int, list[Enrolment]] = defaultdict(list)
    for enrolment in enrolments:
        by_version[enrolment.course_version_id].append(enrolment)
    completed = sum(e.completed_at is not None for e in enrolments)
    credentials = session.execute(
        select(func.count(Credential.id), func.count(Credential.revoked_at))
        .join(CourseVersion, CourseVersion.id == Credential.course_version_id)
        .where(CourseVersion.course_id == course.id)).one()
    return {
        "course": course.slug,
        "timeline": _timeline(enrolments),
        "version_number": version.number if version else None,
        "learners": len(enrolments),
        "completed": completed,
        "completion_rate": _rate(completed, len(enrolments)),
        "credentials_issued": credentials[0],
        "credentials_revoked": credentials[1],
        "versions": [{
            "version_number": v.number, "status": v.status.value,
            "learners": len(by_version[v.id]),
            "completed": sum(e.completed_at is not None for e in by_version[v.id]),
        } for v in course.versions],
        **(_version_figures(session, version, by_version[version.id]) if version else
           {"lessons": [], "exercises": [], "questions": [], "common_failures": []}),
    }


def _timeline(enrolments: list[Enrolment]) -> list[dict[str, Any]]:
    """Learners enrolled and courses completed by the end of each day (UTC), cumulative."""
    events: Counter[tuple[date, str]] = Counter()
    for enrolment in enrolments:
        events[(enrolment.enrolled_at.date(), "learners")] += 1
        if enrolment.completed_at is not None:
            events[(enrolment.completed_at.date(), "completed")] += 1
    if not events:
        return []
    first = min(day for day, _ in events)
    last = max(max(day for day, _ in events), utcnow().date())
    rows, learners, completed = [], 0, 0
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        learners += events[(day, "learners")]
        completed += events[(day, "completed")]
        rows.append({"date": day.isoformat(), "learners": learners, "completed": completed})
    return rows


def score_bin(fraction: float) -> int:
    """The distribution bin of a score fraction: 0 … SCORE_BINS - 1, SCORE_BINS for full marks."""
    if fraction >= 1:
        return SCORE_BINS
    return min(SCORE_BINS - 1, max(0, int(fraction * SCORE_BINS)))


def _pick_version(course: Course, number: int | None) -> CourseVersion | None:
    if number is None:
        return newest_published(course) or (course.versions[-1] if course.versions else None)
    for version in course.versions:
        if version.number == number:
            return version
    raise NotFoundError(f"No version {number} of {course.slug!r}.")


def _version_figures(session: Session, version: CourseVersion,
                     enrolled: list[Enrolment]) -> dict[str, Any]:
    lessons = version_lessons(version)
    learner_ids = {e.user_id for e in enrolled}
    done_rows = session.execute(select(LessonCompletion.lesson_id, LessonCompletion.user_id)
                                .where(LessonCompletion.lesson_id.in_([x.id for x in lessons])))
    done_by: dict[int, set[int]] = defaultdict(set)
    for lesson_id, user_id in done_rows:
        done_by[lesson_id].add(user_id)
    lesson_rows = [{
        "lesson_id": lesson.id, "slug": lesson.slug, "title": lesson.title,
        "kind": lesson.kind.value, "completed": len(done_by[lesson.id]),
        "completed_by_enrolled": len(done_by[lesson.id] & learner_ids),
        "completion_rate": _rate(len(done_by[lesson.id] & learner_ids), len(learner_ids)),
    } for lesson in lessons]
    exercises = []
    overall: Counter[tuple[int, str, str]] = Counter()
    for lesson in lessons:
        if lesson.exercise is not None:
            figures, failures = _exercise_figures(session, lesson.exercise.id, version.pass_mark)
            exercises.append({"exercise_id": lesson.exercise.id, "lesson_id": lesson.id,
                              "slug": lesson.slug, "title": lesson.title,
                              "points": lesson.exercise.points, **figures})
            for (grade_id, message), count in failures.items():
                overall[(lesson.exercise.id, grade_id, message)] += count
    return {
        "lessons": lesson_rows,
        "exercises": exercises,
        "questions": _question_figures(session, lessons),
        "common_failures": [{"exercise_id": exercise_id, "grade_id": grade_id,
                             "message": message, "count": count}
                            for (exercise_id, grade_id, message), count
                            in _commonest(overall, TOP_FAILURES * 2)],
    }


def _exercise_figures(session: Session, exercise_id: int, pass_mark: float
                      ) -> tuple[dict[str, Any], Counter[tuple[str, str]]]:
    submissions = session.execute(
        select(Submission.user_id, Submission.state, Submission.score, Submission.max_score)
        .where(Submission.exercise_id == exercise_id, Submission.preview.is_(False))).all()
    try_outs = session.scalar(select(func.count(Submission.id)).where(
        Submission.exercise_id == exercise_id, Submission.preview.is_(True)))
    best: dict[int, float] = {}
    for user_id, state, score, max_score in submissions:
        fraction = score_fraction(score, max_score) if state == SubmissionState.GRADED else None
        if fraction is not None and fraction > best.get(user_id, -1.0):
            best[user_id] = fraction
    passed = sum(passes(fraction, pass_mark) for fraction in best.values())
    latest_runs = _latest_graded_runs(exercise_id)
    checks: dict[str, dict[str, Any]] = {}
    failures: Counter[tuple[str, str]] = Counter()
    for grade_id, name, status, output, position in session.execute(
            select(CheckResult.grade_id, CheckResult.name, CheckResult.status,
                   CheckResult.output, CheckResult.position)
            .where(CheckResult.run_id.in_(latest_runs))):
        entry = checks.setdefault(grade_id, {"grade_id": grade_id, "name": name,
                                             "position": position, "runs": 0, "passed": 0})
        entry["runs"] += 1
        if status == "passed":
            entry["passed"] += 1
        else:
            failures[(grade_id, first_line(output))] += 1
    check_rows = sorted(checks.values(), key=lambda entry: entry["position"])
    for entry in check_rows:
        entry["pass_rate"] = _rate(entry["passed"], entry["runs"])
        del entry["position"]
    return {
        "learners": len({row[0] for row in submissions}),
        "submissions": len(submissions),
        "graded": sum(row[1] == SubmissionState.GRADED for row in submissions),
        "passed": passed,
        "pass_rate": _rate(passed, len(best)),
        "mean_best_fraction": round(sum(best.values()) / len(best), 4) if best else None,
        "score_distribution": _distribution(best.values()),
        "preview_submissions": try_outs,
        "checks": check_rows,
        "common_failures": [{"grade_id": grade_id, "message": message, "count": count}
                            for (grade_id, message), count in _commonest(failures, TOP_FAILURES)],
    }, failures


def _latest_graded_runs(exercise_id: int) -> Select[Any]:
    """Each learner submission's latest graded run (authors' try-outs left out)."""
    return (select(func.max(GradingRun.id)).join(Submission)
            .where(Submission.exercise_id == exercise_id, Submission.preview.is_(False),
                   GradingRun.state == SubmissionState.GRADED)
            .group_by(GradingRun.submission_id))


def _distribution(fractions: Iterable[float]) -> list[int]:
    counts = [0] * (SCORE_BINS + 1)
    for fraction in fractions:
        counts[score_bin(fraction)] += 1
    return counts


def failure_examples(session: Session, course: Course, viewer: User | None, exercise_id: int,
                     grade_id: str, message: str) -> list[dict[str, Any]]:
    """What a few learners answered when `grade_id` failed with `message` (its first line).

    Anonymised: each example is labelled "Learner A", "Learner B" … in the
    order found (the most recent first), with the day of the submission, the
    source of the answer cells and the check's whole output. Nothing names
    the learner or leads to their account.
    """
    require_staff(viewer, course)
    exercise = session.get(Exercise, exercise_id)
    if exercise is None or exercise.lesson.module.course_version.course_id != course.id:
        raise NotFoundError(f"No exercise {exercise_id} in {course.slug!r}.")
    rows = session.execute(
        select(CheckResult.output, Submission.user_id, Submission.created_at,
               Submission.notebook_hash)
        .join(GradingRun, GradingRun.id == CheckResult.run_id)
        .join(Submission, Submission.id == GradingRun.submission_id)
        .where(CheckResult.run_id.in_(_latest_graded_runs(exercise_id)),
               CheckResult.grade_id == grade_id, CheckResult.status != "passed")
        .order_by(Submission.created_at.desc()))
    answer_cells = [cell.cell_id for cell in read_contract(source_notebook(exercise)).solutions]
    labels: dict[int, str] = {}
    examples: list[dict[str, Any]] = []
    for output, user_id, created_at, notebook_hash in rows:
        if first_line(output) != message or user_id in labels:
            continue
        labels[user_id] = f"Learner {chr(ord('A') + len(labels))}"
        cells = _cells_of(session.get(NotebookBlob, notebook_hash))
        examples.append({
            "learner": labels[user_id], "day": created_at.date().isoformat(),
            "answers": [cells[cell_id].source for cell_id in answer_cells if cell_id in cells],
            "output": output})
        if len(examples) == EXAMPLES:
            break
    return examples


def _cells_of(blob: NotebookBlob | None) -> dict[str, Any]:
    """A stored submission's cells by id (none for a blob that is no notebook)."""
    try:
        notebook = nbformat.reads(blob.content.decode("utf-8"), as_version=4) if blob else None
    except Exception:  # a stored blob was accepted once; never let one break the page
        return {}
    return {cell.get("id"): cell for cell in (notebook.cells if notebook else [])}


def _question_figures(session: Session, lessons: list[Lesson]) -> list[dict[str, Any]]:
    """Per question of the version: learners, attempts, success, first-answer distribution."""
    from panlearn.quizzes.grading import grade
    from panlearn.quizzes.questions import parse_question

    rows: list[QuizQuestion] = [row for lesson in lessons for row in lesson.questions]
    by_question: dict[int, dict[int, list[tuple[Any, bool]]]] = defaultdict(dict)
    if rows:
        for question_id, user_id, answer, correct in session.execute(
                select(QuizAttempt.question_id, QuizAttempt.user_id, QuizAttempt.answer,
                       QuizAttempt.correct)
                .where(QuizAttempt.question_id.in_([row.id for row in rows]))
                .order_by(QuizAttempt.question_id, QuizAttempt.user_id, QuizAttempt.number)):
            by_question[question_id].setdefault(user_id, []).append((answer, correct))
    figures = []
    for row in rows:
        question = parse_question(row.spec)
        learners = by_question[row.id]
        firsts = [attempts[0] for attempts in learners.values()]
        attempts = sum(len(items) for items in learners.values())
        whole: Counter[str] = Counter(json.dumps(answer) for answer, _ in firsts)
        options = []
        if question.options:
            picked: Counter[int] = Counter()
            for answer, _ in firsts:
                picked.update(answer if isinstance(answer, list) else [answer])
            options = [{"answer": index, "label": option.text, "correct": option.correct,
                        "count": picked[index]} for index, option in enumerate(question.options)]
        answers = []
        for encoded, count in _commonest(whole, TOP_ANSWERS):
            answer = json.loads(encoded)
            answers.append({"answer": answer, "label": _label(question, answer),
                            "correct": grade(question, answer).correct, "count": count})
        figures.append({
            "lesson_id": row.lesson_id, "question_id": row.key, "type": row.type,
            "points": row.points, "learners": len(learners), "attempts": attempts,
            "correct_first": sum(correct for _, correct in firsts),
            "correct_eventually": sum(any(c for _, c in items) for items in learners.values()),
            "first_attempt_rate": _rate(sum(correct for _, correct in firsts), len(firsts)),
            "mean_attempts": round(attempts / len(learners), 4) if learners else None,
            "options": options, "answers": answers,
        })
    return figures


def _label(question: Any, answer: Any) -> str:
    """An answer as an author reads it: the options' texts, or the number or text itself."""
    if question.type == "choice":
        return question.options[answer].text
    if question.type == "multi":
        return "; ".join(question.options[index].text for index in answer) or "(nothing picked)"
    if question.type == "numeric":
        return f"{answer:g}"
    return str(answer)
