"""A learner answers quiz questions in real headless Chromium and sees the feedback in place.

Uses the shipped onboarding course. The page's script posts the form in the
background and swaps in the question's new state (no reload: a marker set on
`window` survives), KaTeX typesets the feedback, and nothing is requested from
outside 127.0.0.1. Screenshots at 1280 and 375 px go to test-artifacts/.
"""

from __future__ import annotations

from tests.builders import PASSWORD, make_org, make_user
from tests.conftest import REPO_ROOT
from tests.web.browser import ARTIFACTS, Server, assert_clean, drain_logs, wait_for
from tests.web.conftest import import_folder, lesson_ids
from tests.web.test_browser import pytestmark  # noqa: F401 - slow, needs Chromium

ONBOARDING = REPO_ROOT / "courses" / "fair-data-at-pan-facilities"


def _answer(driver, key: str, value: str) -> None:
    section = driver.find_element("id", f"quiz-{key}")
    field = section.find_element("css selector", "input[name=answer][type=text]")
    field.clear()
    field.send_keys(value)
    section.find_element("css selector", "button[type=submit]").click()


def test_a_learner_answers_on_the_page_and_sees_the_feedback(app, browser):  # noqa: F811
    make_org(app, "esrf", "European Synchrotron Radiation Facility (ESRF)")
    make_user(app, "learner")
    import_folder(app, ONBOARDING)
    lesson = lesson_ids(app, "fair-data-at-pan-facilities")[1]
    with Server(app) as site:
        browser.get(f"{site.url}/login")
        browser.find_element("name", "username").send_keys("learner")
        browser.find_element("name", "password").send_keys(PASSWORD)
        browser.find_element("css selector", "form button[type=submit]").click()
        wait_for(browser, "document.body.textContent.includes('Signed in as')")

        browser.get(f"{site.url}/lessons/{lesson}")
        assert wait_for(browser, "document.querySelectorAll('.pl-quiz .katex').length")
        browser.execute_script("window.stillHere = true")

        # A wrong number: the hint appears at the question, the page is not reloaded.
        _answer(browser, "dmc-d-spacing", "1.76")
        wait_for(browser, "document.querySelector('#quiz-dmc-d-spacing .pl-quiz-feedback')")
        feedback = browser.find_element("css selector", "#quiz-dmc-d-spacing .pl-quiz-feedback")
        assert "Not quite" in feedback.text and "half of" in feedback.text
        assert "is-wrong" in feedback.get_attribute("class")
        assert browser.execute_script("return window.stillHere") is True
        assert wait_for(browser, "document.querySelector("
                                 "'#quiz-dmc-d-spacing .pl-quiz-feedback .katex') !== null")
        assert browser.execute_script("return document.activeElement.id") == \
            "quiz-dmc-d-spacing-feedback"

        # The right one: correct, with the explanation, still on the same page.
        _answer(browser, "dmc-d-spacing", "3.525")
        wait_for(browser, "document.querySelector('#quiz-dmc-d-spacing .is-correct')")
        correct = browser.find_element("css selector", "#quiz-dmc-d-spacing .pl-quiz-feedback")
        assert "Correct" in correct.text and "Explanation" in correct.text
        assert browser.execute_script("return window.stillHere") is True
        # Finished: no more button; the lesson's score below is up to date.
        assert not browser.find_elements("css selector", "#quiz-dmc-d-spacing button")
        assert "1 of 5 questions answered; 1 of 6 points" in browser.find_element(
            "css selector", ".pl-quiz-summary").text

        # A multiple-answer question, partly right.
        section = browser.find_element("id", "quiz-wavelength-fields")
        section.find_elements("css selector", "input[type=checkbox]")[0].click()
        section.find_element("css selector", "button[type=submit]").click()
        wait_for(browser, "document.querySelector('#quiz-wavelength-fields .is-partial')")
        assert "1 of 2 points" in browser.find_element(
            "css selector", "#quiz-wavelength-fields .pl-quiz-feedback").text
        assert_clean(browser, "answering questions")

        for width, height in ((1280, 900), (375, 800)):
            browser.set_window_size(width, height)
            for key in ("wavelength-fields", "dmc-d-spacing"):
                browser.execute_script(f"document.getElementById('quiz-{key}').scrollIntoView()")
                browser.save_screenshot(str(ARTIFACTS / f"quiz-{key}-{width}.png"))
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(str(ARTIFACTS / "quiz-lesson-375-top.png"))
        assert drain_logs(browser)[0] == []
