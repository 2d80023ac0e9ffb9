"""The author's workspace in real headless Chromium, from a broken upload to analytics.

An author signs in, uploads a zip of a course with a known problem and sees
the problem with its file; uploads the fixed zip and watches each exercise's
reference solution being graded in the sandbox; previews the draft;
publishes it; finds it in the catalogue. A student submits the exercise from
its page and it is graded for real; the author then sees the analytics with
their charts. Every page loads without a console error or a request off
127.0.0.1. Screenshots of each workspace page at 1280 and 375 px go to
test-artifacts/author-*.png.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from sqlalchemy import select

from panlearn.extensions import db
from panlearn.models import Submission
from panlearn.wiring import services
from tests.builders import PASSWORD, make_org, make_user, reading_notebook, write_course, zip_folder
from tests.web.browser import ARTIFACTS, Server, assert_clean, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
    pytest.mark.requires_bubblewrap,
]

WIDTHS = (1280, 375)


def screenshots(driver: Any, name: str) -> None:
    """The whole page at each width, as a phone (375) or a desktop (1280) lays it out."""
    for width in WIDTHS:
        metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 500}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {**metrics, "height": min(max(height, 600), 8000)})
        time.sleep(0.2)
        driver.save_screenshot(str(ARTIFACTS / f"author-{name}-{width}.png"))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def sign_in(driver: Any, base: str, username: str) -> None:
    driver.get(f"{base}/login")
    driver.find_element("id", "username").send_keys(username)
    driver.find_element("id", "password").send_keys(PASSWORD)
    driver.find_element("css selector", "main form button[type=submit]").click()
    wait_for(driver, "!location.pathname.startsWith('/login')")


def sign_out(driver: Any) -> None:
    driver.find_element("css selector", ".site-header form button").click()
    wait_for(driver, "location.pathname === '/'")


def upload(driver: Any, base: str, archive: Path) -> None:
    driver.get(f"{base}/author")
    driver.find_element("id", "archive").send_keys(str(archive))
    driver.find_element("css selector", ".ws-import button[type=submit]").click()
    wait_for(driver, "location.pathname.startsWith('/author/imports/')")


def report_done(driver: Any, timeout: float = 120) -> str:
    """Wait until the page's script has shown the finished report; its text."""
    wait_for(driver, "document.querySelector('.ws-report[data-running=\"false\"]') !== null",
             timeout=timeout)
    return driver.find_element("id", "import-report").text


def test_an_author_imports_previews_publishes_and_reads_analytics(app, browser, tmp_path):
    app.config["PANLEARN"]["GRADING_VALIDATE"] = True
    make_org(app, "psi", "Paul Scherrer Institute")
    make_user(app, "author", "author", "psi")
    make_user(app, "student")
    folder = write_course(tmp_path / "src")
    exercise = nbformat.read(folder / "02-exercise.ipynb", as_version=4)
    unexecuted = reading_notebook("Reading two", "Scattering vectors.")
    unexecuted.cells[1].execution_count = None
    executed = nbformat.read(folder / "03-more.ipynb", as_version=4)
    nbformat.write(unexecuted, folder / "03-more.ipynb")
    broken = tmp_path / "demo-broken.zip"
    broken.write_bytes(zip_folder(folder, "demo/"))
    nbformat.write(executed, folder / "03-more.ipynb")
    fixed = tmp_path / "demo.zip"
    fixed.write_bytes(zip_folder(folder, "demo/"))

    with Server(app) as site:
        sign_in(browser, site.url, "author")
        browser.get(f"{site.url}/author")
        assert "Workspace of Paul Scherrer Institute" in browser.page_source
        assert_clean(browser, "the empty workspace")
        screenshots(browser, "home-empty")

        # A course with a known problem: the report names it with its file and cell.
        upload(browser, site.url, broken)
        text = report_done(browser)
        assert "1 problem: nothing was imported." in text
        assert "demo/03-more.ipynb, cell #2" in text and "not saved executed" in text
        assert_clean(browser, "the report with a problem")
        screenshots(browser, "report-problem")

        # The fixed course: the exercise is graded while the page watches, then imported.
        upload(browser, site.url, fixed)
        wait_for(browser, "document.querySelector('.ws-report progress') !== null "
                          "|| document.querySelector('.ws-report[data-running=\"false\"]')")
        text = report_done(browser)
        assert "Imported." in text and "created as version 1 (draft)" in text
        assert "passed" in text and "full marks with the solution" in text
        assert_clean(browser, "the report of an import")
        screenshots(browser, "report-imported")

        # Preview the draft as students will see it.
        browser.find_element("link text", "Preview it").click()
        wait_for(browser, "document.querySelector('.notice strong') !== null")
        assert "Preview" in browser.find_element("css selector", ".notice").text
        assert_clean(browser, "the draft's course page")
        screenshots(browser, "preview-course")
        browser.find_element("partial link text", "An exercise").click()
        wait_for(browser, "document.querySelector('article.lesson') !== null")
        assert "try-out" in browser.find_element("css selector", ".notice").text
        assert_clean(browser, "the draft's exercise page")

        # Publish it, after the confirmation.
        browser.get(f"{site.url}/author/courses/demo")
        assert_clean(browser, "the course's workspace page")
        screenshots(browser, "course-draft")
        browser.find_element("partial link text", "Publish version 1").click()
        wait_for(browser, "location.pathname.endsWith('/publish')")
        assert "not in the catalogue yet" in browser.find_element("tag name", "main").text
        assert_clean(browser, "the publish confirmation")
        screenshots(browser, "publish")
        browser.find_element("css selector", ".ws-confirm-form button").click()
        wait_for(browser, "document.querySelector('.ws-flash') !== null")
        assert "Version 1 is published" in browser.find_element("css selector", ".ws-flash").text
        screenshots(browser, "course-published")
        browser.get(f"{site.url}/author/courses/demo/unpublish")
        assert "What learners keep" in browser.page_source
        assert_clean(browser, "the withdraw confirmation")
        screenshots(browser, "unpublish")
        sign_out(browser)

        # Anyone finds it in the catalogue.
        browser.get(f"{site.url}/")
        assert "Course demo" in browser.find_element("tag name", "main").text

        # A student submits the exercise from its page; it is graded for real.
        sign_in(browser, site.url, "student")
        browser.get(f"{site.url}/courses/demo")
        browser.find_element("css selector", ".progress-box form button").click()
        wait_for(browser, "document.querySelector('.progress-box progress') !== null")
        browser.find_element("partial link text", "An exercise").click()
        wait_for(browser, "document.querySelector('form.upload') !== null")
        answer = tmp_path / "my-answer.ipynb"
        nbformat.write(exercise, answer)  # the student's notebook answers it right
        browser.find_element("css selector", "form.upload input[type=file]").send_keys(str(answer))
        browser.find_element("css selector", "form.upload button").click()
        wait_for(browser, "location.pathname.startsWith('/submissions/')")
        with app.app_context():
            assert db.session.scalar(select(Submission.id)) is not None
        from panlearn.grading.runtime import build_context, grade_one

        context = build_context(app, warm_kernels=0)
        try:
            assert grade_one(app, context)  # the only submission waiting: this one
        finally:
            context.pool.close()
        browser.refresh()
        wait_for(browser, "document.body.innerText.includes('All checks passed')", timeout=30)
        assert "2 of 2 points" in browser.find_element("tag name", "main").text
        sign_out(browser)

        # The author's analytics: charts of learners and scores, the CSV.
        sign_in(browser, site.url, "author")
        browser.get(f"{site.url}/author/courses/demo/analytics")
        wait_for(browser, "document.querySelectorAll('svg[role=img]').length >= 2")
        heights = browser.execute_script(
            "return [...document.querySelectorAll('.chart-column')].map(c => "
            "c.getBoundingClientRect().height)")
        assert max(heights) > 50  # the one learner's full marks, drawn
        text = browser.find_element("tag name", "main").text
        assert "1 learner, 1 submission" in text and "1 passed (100 %)" in text
        assert_clean(browser, "the analytics page")
        screenshots(browser, "analytics")
        browser.get(f"{site.url}/author")
        assert_clean(browser, "the workspace")
        screenshots(browser, "home")


def _learner_submission(app: Any, username: str, exercise_id: int, answer: str,
                        passed: bool) -> None:
    """A graded submission with a real notebook (the answer cell as the learner wrote it)."""
    from panlearn.grading.submissions import source_notebook
    from panlearn.models import (
        CheckResult,
        Exercise,
        GradingRun,
        NotebookBlob,
        SubmissionState,
        User,
    )
    from panlearn.notebooks.canonical import canonical_json, notebook_sha256
    from panlearn.notebooks.student import make_student_version
    from panlearn.progress.hooks import on_submission_graded

    with app.app_context():
        exercise = db.session.get(Exercise, exercise_id)
        notebook = make_student_version(source_notebook(exercise))
        notebook.cells[1].source = answer
        sha = notebook_sha256(notebook)
        if db.session.get(NotebookBlob, sha) is None:
            content = canonical_json(notebook)
            db.session.add(NotebookBlob(sha256=sha, content=content, size=len(content)))
        user = db.session.scalar(select(User).where(User.username == username))
        output = "" if passed else "AssertionError: answer should be the answer to everything"
        submission = Submission(
            exercise_id=exercise_id, user_id=user.id, notebook_hash=sha, attempts=1,
            state=SubmissionState.GRADED, score=2.0 if passed else 0.0, max_score=2.0,
            runs=[GradingRun(state=SubmissionState.GRADED, grader_version="test",
                             check_suite_hash="1" * 64, score=2.0 if passed else 0.0,
                             max_score=2.0,
                             checks=[CheckResult(position=0, grade_id="check-answer",
                                                 name="check-answer",
                                                 status="passed" if passed else "failed",
                                                 score=2.0 if passed else 0.0, max_score=2.0,
                                                 output=output)])])
        db.session.add(submission)
        db.session.commit()
        on_submission_graded(db.session, submission.id, issuer=services().issuer)


def test_the_workspace_of_a_course_with_learners_and_a_new_draft(app, browser, tmp_path):
    """Versions, the diff before publishing, analytics of several learners, examples."""
    import yaml

    from panlearn.authoring.folder import load_course_folders
    from panlearn.authoring.service import import_courses
    from panlearn.models import Course
    from tests.api.test_progress import enrol
    from tests.builders import exercise_notebook, token_for

    make_org(app, "psi", "Paul Scherrer Institute")
    make_user(app, "author", "author", "psi")
    folder = write_course(tmp_path / "src", title="Small-angle scattering at SINQ")
    with app.app_context():
        import_courses(db.session, load_course_folders(folder), publish=True)
        exercise_id = db.session.scalar(select(Course)).versions[0].modules[0].lessons[1] \
            .exercise.id
    client = app.test_client()
    answers = ["answer = 42", "answer = 6 * 7", "answer = 41", "answer = 4.2",
               "answer = 42", "answer = 0"]
    for index, answer in enumerate(answers):
        name = f"learner{index}"
        make_user(app, name)
        assert enrol(client, token_for(client, name), "demo").status_code == 200
        _learner_submission(app, name, exercise_id, answer, passed=answer.endswith(("42", "7")))
    nbformat.write(exercise_notebook(points=3), folder / "02-exercise.ipynb")
    nbformat.write(reading_notebook("Reading two", "Now with Guinier plots."),
                   folder / "03-more.ipynb")
    nbformat.write(reading_notebook("Radial averaging"), folder / "04-radial.ipynb")
    manifest = yaml.safe_load((folder / "course.yml").read_text())
    manifest["modules"][1]["lessons"].append({"notebook": "04-radial.ipynb"})
    manifest["version"] = "1.1"
    (folder / "course.yml").write_text(yaml.safe_dump(manifest))
    with app.app_context():
        import_courses(db.session, load_course_folders(folder))

    with Server(app) as site:
        sign_in(browser, site.url, "author")
        for name, path in (("course-two-versions", "/author/courses/demo"),
                           ("publish-diff", "/author/courses/demo/publish"),
                           ("analytics-learners", "/author/courses/demo/analytics?version=1")):
            browser.get(site.url + path)
            assert_clean(browser, path)
            screenshots(browser, name)
        text = browser.find_element("tag name", "main").text
        assert "6 learners, 6 submissions; 3 passed (50 %)" in text
        browser.find_element("link text", "See examples").click()
        wait_for(browser, "location.pathname.endsWith('/failures')")
        text = browser.find_element("tag name", "main").text
        assert "Learner A" in text and "Learner C" in text and "answer = 41" in text
        assert "learner2" not in text
        assert_clean(browser, "the failure examples")
        screenshots(browser, "failures")
        browser.get(site.url + "/author/courses/demo/publish")
        text = browser.find_element("tag name", "main").text
        assert "The 6 learners enrolled in version 1 stay on version 1" in text
        assert "check-answer: 2 → 3 points" in text
