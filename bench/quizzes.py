"""Quiz answering and quiz pages: how "instant" an answer is, end to end in the app.

Usage: .venv/bin/python bench/quizzes.py [--answers N]

On a temporary instance (SQLite) with the shipped onboarding course imported
and published, a student answers its questions through the API
(`POST /api/quizzes/<lesson>/<question>/answers`: parse, grade, record the
attempt, update progress, commit) and reads the lesson pages with their quiz
forms (`GET /lessons/<id>`, the rendering cached after the first request).
Prints the median and 95th percentile of each, in-process through the test
client; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _figure(name: str, values: list[float], target: str) -> None:
    values = sorted(values)
    median = statistics.median(values)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    print(f"{name}: median {median:.2f} ms, p95 {p95:.2f} ms over {len(values)}")
    print("BENCH " + json.dumps({"name": f"{name} median", "value": round(median, 2),
                                 "unit": "ms", "target": target}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=300)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from panlearn import create_app
    from panlearn.authoring.folder import load_course_folders
    from panlearn.authoring.service import import_courses
    from panlearn.extensions import db
    from panlearn.organisations import load_organisations_file, sync_organisations
    from tests.builders import make_user, token_for

    with tempfile.TemporaryDirectory(prefix="bench-quiz-") as tmp:
        app = create_app({"INSTANCE_DIR": tmp, "DATABASE_URL": f"sqlite:///{tmp}/b.sqlite3",
                          "CONTENT_DIR": str(ROOT / "content"), "GRADING_WORKERS": 0,
                          "GRADING_VALIDATE": False, "LOGIN_RATE": "1000 per minute"})
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"), revision="heads")
            sync_organisations(db.session, load_organisations_file(
                ROOT / "content" / "organisations.yml"))
            db.session.commit()
            import_courses(db.session, load_course_folders(
                ROOT / "courses" / "fair-data-at-pan-facilities"), publish=True)
        make_user(app, "student")
        client = app.test_client()
        headers = token_for(client, "student")
        course = client.get("/api/courses/fair-data-at-pan-facilities").get_json()
        lessons = [lesson["id"] for module in course["modules"] for lesson in module["lessons"]]
        questions = []
        for lesson in lessons:
            for item in client.get(f"/api/quizzes/{lesson}").get_json()["items"]:
                wrong = {"choice": 0, "multi": [0], "numeric": -1.0, "text": "no"}[item["type"]]
                questions.append((lesson, item["id"], wrong))
        client.post("/api/courses/fair-data-at-pan-facilities/enrol", headers=headers)
        answers = []
        for index in range(args.answers):
            # New learners as earlier ones run out of attempts (3 per question).
            if index and index % (len(questions) * 3) == 0:
                make_user(app, f"student{index}")
                headers = token_for(client, f"student{index}")
            lesson, key, answer = questions[index % len(questions)]
            started = time.perf_counter()
            response = client.post(f"/api/quizzes/{lesson}/{key}/answers",
                                   json={"answer": answer}, headers=headers)
            answers.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 201, response.get_json()
        _figure("quiz: answer (API, graded and recorded)", answers, "< 50")
        pages = []
        quizzed = sorted({lesson for lesson, _, _ in questions})
        for lesson in quizzed:
            client.get(f"/lessons/{lesson}", headers=headers)  # render once into the cache
        for index in range(max(40, args.answers // 5)):
            started = time.perf_counter()
            client.get(f"/lessons/{quizzed[index % len(quizzed)]}", headers=headers)
            pages.append((time.perf_counter() - started) * 1000)
        _figure("quiz: lesson page with its forms (cached rendering)", pages, "< 50")


if __name__ == "__main__":
    main()
