"""The pages as people use them, in real headless Chromium on 127.0.0.1 (issue 16).

The site is the tour of `tests/web/tour.py`: the shipped courses, a student with a
graded submission and a certificate. Each test says in its name what a student,
lecturer or user office would notice if it broke.
"""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC
from typing import Any

import nbformat
import pytest
from sqlalchemy import select

from panlearn import create_app
from panlearn.extensions import db
from panlearn.models import Submission, SubmissionState
from panlearn.wiring import replace_services, services_of
from tests.builders import PASSWORD
from tests.web import tour as site
from tests.web.browser import (
    ARTIFACTS,
    CHROMIUM,
    Server,
    assert_clean,
    horizontal_overflow,
    set_width,
    static_page,
    wait_for,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the system Chromium at "
                       "/usr/bin/chromium (Debian packages chromium and chromium-driver)"),
]


@pytest.fixture
def tour(app) -> site.Tour:
    """The site: shipped courses, a student with a recorded graded run and a certificate."""
    built = site.populate(app)
    site.record_graded_run(app, built)
    site.certify(app, built)
    return built


def sign_in(browser: Any, base: str, username: str = site.STUDENT) -> None:
    """Sign in through the form, with the keyboard."""
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{base}/login")
    browser.find_element("id", "username").send_keys(username)
    browser.find_element("id", "password").send_keys(PASSWORD, Keys.ENTER)
    wait_for(browser, "!location.pathname.startsWith('/login')")


def load(browser: Any, url: str) -> None:
    browser.get(url)
    wait_for(browser, "document.readyState === 'complete'", timeout=20)


def test_no_page_scrolls_sideways_on_a_phone_and_the_check_table_fits(app, tour, browser):
    with Server(app) as server:
        for name in ("catalogue", "lesson", "exercise", "search", "credential"):
            for width in (375, 1280):
                set_width(browser, width)
                load(browser, server.url + tour.pages[name])
                assert horizontal_overflow(browser) == 0, (name, width)
        sign_in(browser, server.url)
        for name in ("exercise", "result", "notebook-as-it-ran"):
            set_width(browser, 375)
            load(browser, server.url + tour.pages[name])
            assert horizontal_overflow(browser) == 0, name
        for width in (1280, 375):
            set_width(browser, width)
            load(browser, server.url + tour.pages["result"])
            table = browser.execute_script(
                "const t = document.querySelector('table.checks').getBoundingClientRect();"
                "return [t.left, t.right, document.documentElement.clientWidth]")
            assert table[0] >= 0 and table[1] <= table[2], (width, table)
            # Check names stay whole, and the hint that matters is on screen, wrapped.
            names = browser.execute_script(
                "return [...document.querySelectorAll('.checks th[scope=row]')]"
                ".map(th => th.getClientRects().length === 1 && th.scrollWidth <= th.clientWidth)")
            assert all(names), (width, names)
            hint = browser.execute_script(
                "const m = [...document.querySelectorAll('.checks .message pre')]"
                ".find(p => p.textContent.includes('np.radians')).getBoundingClientRect();"
                "return [m.right, m.height]")
            assert hint[0] <= table[2] and hint[1] > 0
            assert browser.execute_script(
                "return [...document.querySelectorAll('.checks .status')]"
                ".map(s => s.textContent.trim())") == ["Passed", "Failed", "Passed"]
            browser.save_screenshot(str(ARTIFACTS / f"result-{width}.png"))
        assert_clean(browser, "the pages at 375 and 1280 px")


def test_a_refused_upload_is_explained_beside_the_form_with_focus_on_it(app, tour, browser,
                                                                        tmp_path):
    not_a_notebook = tmp_path / "answers.ipynb"
    not_a_notebook.write_text("my answers are 3.5 and 2.1")
    with Server(app) as server:
        sign_in(browser, server.url)
        for width in (1280, 375):
            set_width(browser, width)
            load(browser, server.url + tour.pages["exercise"])
            browser.find_element("id", "notebook").send_keys(str(not_a_notebook))
            browser.find_element("css selector", "form.upload button[type=submit]").click()
            wait_for(browser, "document.querySelector('#upload-error') !== null")
            wait_for(browser, "document.activeElement && document.activeElement.id === "
                              "'upload-error'")
            box = browser.execute_script(
                "const r = document.getElementById('upload-error').getBoundingClientRect();"
                "return [r.top, r.bottom, innerHeight]")
            assert 0 <= box[0] and box[1] <= box[2], (width, box)  # on screen, not at the top
            text = browser.find_element("id", "upload-error").text
            assert "not submitted" in text and "notebook" in text
            assert browser.find_element("id", "notebook").get_attribute("aria-invalid") == "true"
    with app.app_context():
        assert db.session.scalar(select(Submission).where(
            Submission.id != tour.submission)) is None


def test_slides_split_a_shipped_lesson_at_its_headings_and_next_moves(app, tour, browser):
    from selenium.webdriver.common.keys import Keys

    with Server(app) as server:
        set_width(browser, 1280, 720)
        load(browser, server.url + tour.pages["slides"])
        wait_for(browser, "window.Reveal && Reveal.isReady()", timeout=20)
        total = browser.execute_script("return Reveal.getTotalSlides()")
        horizontal = browser.execute_script("return Reveal.getHorizontalSlides().length")
        assert horizontal >= 3 and total > horizontal  # headings, and tall cells below them
        titles = browser.execute_script(
            "return Reveal.getHorizontalSlides().map(s => s.querySelector('h1, h2')"
            " && s.querySelector('h1, h2').textContent.replace('¶', '').trim())")
        assert titles[0].startswith("Radial averaging") and "Summary" in titles
        # "next" (the control, then the keyboard) moves.
        browser.find_element("css selector", ".reveal .controls .navigate-right").click()
        wait_for(browser, "Reveal.getIndices().h === 1")
        browser.find_element("css selector", "body").send_keys(Keys.ARROW_RIGHT)
        wait_for(browser, "Reveal.getIndices().h === 2")
        # Figures fit the 16:9 slide: every slide holding one (the lesson has several).
        with_figures = browser.execute_script(
            "return Reveal.getSlides().filter(s => s.querySelector('img'))"
            ".map(s => { const i = Reveal.getIndices(s); return [i.h, i.v || 0]; })")
        assert with_figures, "no slide of the lesson shows its figures"
        for h, v in with_figures:
            browser.execute_script(f"Reveal.slide({h}, {v})")
            time.sleep(0.8)  # the transition
            figure = browser.execute_script(
                "const i = document.querySelector('.reveal .slides section.present:not(.stack)"
                " img'); if (!i) return null; const r = i.getBoundingClientRect();"
                "const s = document.querySelector('.reveal .slides').getBoundingClientRect();"
                "return [r.bottom <= s.bottom + 1, r.right <= s.right + 1, r.height > 50]")
            assert figure is not None and all(figure), ((h, v), figure)
        browser.save_screenshot(str(ARTIFACTS / "slides-figure.png"))
        assert_clean(browser, "the slides")


def test_the_cell_embed_control_gives_a_snippet_that_works_on_another_site(app, tour, browser):
    from selenium.webdriver.common.keys import Keys

    reading = tour.lessons["reading"]
    with Server(app) as server:
        set_width(browser, 1280)
        load(browser, f"{server.url}/lessons/{reading}")
        browser.execute_cdp_cmd("Browser.grantPermissions", {
            "origin": server.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
        # Keyboard only: Tab until the figure cell's Embed button has focus, then Enter.
        target = "document.querySelector('#cell-pd02-07 .cell-tools > button')"
        for _ in range(200):
            browser.switch_to.active_element.send_keys(Keys.TAB)
            if browser.execute_script(f"return document.activeElement === {target}"):
                break
        else:
            pytest.fail("Tab never reached the figure cell's Embed button")
        # Hidden until hover or focus: keyboard focus shows it.
        wait_for(browser, f"getComputedStyle({target}.parentNode).opacity === '1'", timeout=2)
        browser.switch_to.active_element.send_keys(Keys.ENTER)
        wait_for(browser, "!document.querySelector('#cell-pd02-07 .embed-panel').hidden")
        assert "pd02-07" in browser.find_element("css selector", "#cell-pd02-07 .embed-panel").text
        browser.find_element("css selector", "#cell-pd02-07 .copy-snippet").click()
        wait_for(browser, "document.querySelector('#cell-pd02-07 [role=status]').textContent"
                          ".includes('Copied')")
        snippet = browser.execute_async_script(
            "navigator.clipboard.readText().then(arguments[0], e => arguments[0]('ERR ' + e))")
        assert snippet == browser.find_element(
            "css selector", "#cell-pd02-07 textarea").get_attribute("value")
        assert snippet.startswith("<iframe") and "cell=pd02-07" in snippet
        assert "part=output" in snippet
        browser.find_element("css selector", "#cell-pd02-07 .copy-oembed").click()
        oembed_url = browser.execute_async_script(
            "navigator.clipboard.readText().then(arguments[0])")
        # Escape closes the panel and gives focus back to the button.
        browser.switch_to.active_element.send_keys(Keys.ESCAPE)
        wait_for(browser, f"document.activeElement === {target}")

        talk = (f"<h1>A talk</h1>{snippet}<pre id='oembed'></pre>"
                f"<script>fetch({json.dumps(oembed_url)}).then(r => r.json()).then(o =>"
                f" document.getElementById('oembed').textContent = o.type + ' ' + o.title)"
                f"</script>")
        with Server(static_page(talk)) as other:
            browser.get(other.url)
            frame = browser.find_element("css selector", "iframe")
            # The presentation tool's fetch() of the oEmbed URL is allowed (CORS).
            wait_for(browser, "document.getElementById('oembed').textContent.startsWith('rich')")
            size = browser.execute_script(
                "const r = arguments[0].getBoundingClientRect(); return [r.width, r.height]",
                frame)
            browser.switch_to.frame(frame)
            wait_for(browser, "document.querySelector('.pl-notebook img') !== null && "
                              "document.querySelector('.pl-notebook img').complete")
            image = browser.execute_script(
                "const r = document.querySelector('.pl-notebook img').getBoundingClientRect();"
                "return [r.right, r.bottom, document.documentElement.scrollWidth,"
                " document.documentElement.scrollHeight, innerWidth, innerHeight]")
            # The figure fits the frame: nothing to scroll, across or down.
            assert image[0] <= image[4] and image[2] <= image[4] and image[3] <= image[5], image
            assert not browser.execute_script("return document.querySelector('.highlight')")
            browser.switch_to.default_content()
            assert size[0] > 0
            browser.save_screenshot(str(ARTIFACTS / "embed-snippet-other-origin.png"))
        assert_clean(browser, "the embed control and the talk")


def test_frames_show_html_for_errors_and_a_way_to_the_embed_for_lesson_pages(app, tour,
                                                                             browser):
    reading = tour.lessons["reading"]
    frames = [f"/lessons/{reading}", f"/embed/lessons/{reading}?cell=nope",
              f"/embed/lessons/{reading}?cell=pd02-01&part=output"]
    with Server(app) as server:
        talk = "".join(f"<iframe src='{server.url}{path}' width='700' height='300' "
                       f"title='frame {n}'></iframe>" for n, path in enumerate(frames))
        with Server(static_page(talk)) as other:
            set_width(browser, 1280, 1200)
            browser.get(other.url)
            texts = []
            for frame in browser.find_elements("css selector", "iframe"):
                browser.switch_to.frame(frame)
                wait_for(browser, "document.readyState === 'complete' && document.body"
                                  " && document.body.innerText.length > 0")
                texts.append((browser.execute_script("return document.body.innerText"),
                              browser.execute_script("return [...document.links].map(a => "
                                                     "a.href)")))
                browser.switch_to.default_content()
    refusal, unknown, no_figure = texts
    assert "cannot be shown inside another page" in refusal[0]
    assert f"{server.url}/embed/lessons/{reading}" in refusal[1]
    assert "No cell 'nope'" in unknown[0] and "{" not in unknown[0]
    assert "no figure" in no_figure[0].lower()
    assert any("cell=pd02-01" in link and "part" not in link for link in no_figure[1])


def test_the_certificate_prints_on_one_a4_page(app, tour, browser):
    with Server(app) as server:
        for who in ("anyone", "holder"):
            if who == "holder":
                sign_in(browser, server.url)
            load(browser, server.url + tour.pages["credential"])
            assert "Verified" in browser.find_element("css selector", ".verification").text
            pdf = browser.execute_cdp_cmd("Page.printToPDF", {
                "paperWidth": 8.27, "paperHeight": 11.69, "preferCSSPageSize": True,
                "printBackground": True})
            data = base64.b64decode(pdf["data"])
            (ARTIFACTS / f"credential-{who}.pdf").write_bytes(data)
            pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", data))
            assert pages == 1, (who, pages)


@pytest.mark.requires_bubblewrap
def test_the_result_appears_within_two_seconds_of_grading(app, browser, tmp_path):
    from panlearn.grading.runtime import LocalDispatcher

    tour = site.populate(app)
    app.config["PANLEARN"].update({"GRADING_WORKERS": 1, "GRADING_KERNELS": 1,
                                   "GRADING_TIMEOUT_S": 60.0, "GRADING_CELL_TIMEOUT_S": 20.0})
    dispatcher = LocalDispatcher(services_of(app).settings, app_factory=create_app)
    replace_services(app, dispatcher=dispatcher)
    answers = tmp_path / "answers.ipynb"
    answers.write_text(nbformat.writes(site.answered_notebook(app, tour.lessons["exercise"])))
    delays = []
    try:
        with Server(app) as server:
            sign_in(browser, server.url)
            for attempt in range(2):
                load(browser, server.url + tour.pages["exercise"])
                browser.find_element("id", "notebook").send_keys(str(answers))
                browser.find_element("css selector", "form.upload button[type=submit]").click()
                wait_for(browser, "location.pathname.startsWith('/submissions/')")
                wait_for(browser, "document.querySelector('table.checks, #submission-state "
                                  ".alert-error') !== null", timeout=180, poll=0.1)
                shown_ms = browser.execute_script(
                    "const n = performance.getEntriesByType('navigation')[0];"
                    "return performance.timeOrigin + n.domContentLoadedEventEnd")
                submission_id = int(browser.execute_script(
                    "return location.pathname.split('/')[2]"))
                with app.app_context():
                    submission = db.session.get(Submission, submission_id)
                    assert submission.state == SubmissionState.GRADED, submission.error
                    finished = submission.finished_at.astimezone(UTC).timestamp()
                    db.session.remove()
                delays.append(shown_ms / 1000 - finished)
                text = browser.find_element("css selector", "table.checks").text
                assert "np.radians" in text and "check-d-spacing" in text
                browser.save_screenshot(str(ARTIFACTS / f"result-real-{attempt}.png"))
    finally:
        dispatcher.stop()
    print(f"result shown {', '.join(f'{d:.2f}' for d in delays)} s after grading")
    assert all(0 <= delay <= 2.0 for delay in delays), delays
