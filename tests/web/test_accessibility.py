"""WCAG 2.1 AA in a real browser: axe-core on every page type, and the keyboard.

axe-core (npm, pinned in tests/web/vendor.json, installed by `scripts/bootstrap
--test`) runs in headless Chromium on each page once its scripts have run (maths
typeset, embed controls added); no serious or critical violation is allowed.
Run `scripts/screenshots` for the full list of findings, best practices included.
"""

from __future__ import annotations

import time

import pytest

from tests.web import tour as site
from tests.web.browser import (
    CHROMIUM,
    Server,
    axe_available,
    run_axe,
    serious,
    set_width,
    wait_for,
)
from tests.web.test_browser_pages import load, sign_in

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the system Chromium at "
                       "/usr/bin/chromium (Debian packages chromium and chromium-driver)"),
]

#: The page types of issue 16, anonymous first, then as the signed-in student.
ANONYMOUS = ("catalogue", "course", "lesson", "search", "slides", "embed", "embed-figure",
             "sign-in", "credential", "not-found")
SIGNED_IN = ("exercise", "result", "notebook-as-it-ran", "course", "credential")


@pytest.fixture
def tour(app) -> site.Tour:
    built = site.populate(app)
    site.record_graded_run(app, built)
    site.certify(app, built)
    return built


def _settled(browser) -> None:
    wait_for(browser, "document.readyState === 'complete'", timeout=20)
    if browser.execute_script("return !!window.Reveal"):
        wait_for(browser, "Reveal.isReady()", timeout=20)
    # Deferred scripts (KaTeX, the embed controls) have run once the document is complete;
    # page.js marks boxes that scroll 150 ms after load.
    time.sleep(0.4)


def test_axe_finds_no_serious_or_critical_violation_on_any_page_type(app, tour, browser):
    if not axe_available():
        pytest.fail("axe-core is not installed: run `scripts/bootstrap --test` (or "
                    "`.venv/bin/python -m panlearn.web.assets install --test`)")
    found: dict[str, list[str]] = {}
    with Server(app) as server:
        # axe is live: an image without a text alternative is a critical violation.
        load(browser, server.url + tour.pages["not-found"])
        browser.execute_script("document.querySelector('main').insertAdjacentHTML("
                               "'beforeend', '<img src=\"/static/favicon.svg\">')")
        assert any(line.startswith("image-alt") for line in serious(run_axe(browser)))
        for width in (1280, 375):
            set_width(browser, width)
            for name in ANONYMOUS:
                if name == "slides" and width == 375:
                    continue  # reveal.js's own scroll view on phones
                load(browser, server.url + tour.pages[name])
                _settled(browser)
                found[f"{name}@{width}"] = serious(run_axe(browser))
        sign_in(browser, server.url)
        set_width(browser, 1280)
        for name in SIGNED_IN:
            load(browser, server.url + tour.pages[name])
            _settled(browser)
            found[f"{name} (signed in)"] = serious(run_axe(browser))
    problems = {page: lines for page, lines in found.items() if lines}
    assert problems == {}, "\n".join(f"{page}: {line}" for page, lines in problems.items()
                                     for line in lines)


def test_the_keyboard_reaches_everything_from_the_skip_link(app, tour, browser):
    from selenium.webdriver.common.keys import Keys

    with Server(app) as server:
        set_width(browser, 1280)
        load(browser, server.url + tour.pages["lesson"])
        _settled(browser)
        body = browser.find_element("css selector", "body")
        body.send_keys(Keys.TAB)
        assert browser.execute_script("return document.activeElement.className") == "skip-link"
        # The skip link is visible when focused, and Enter moves focus into the main content.
        assert browser.execute_script(
            "return document.activeElement.getBoundingClientRect().top >= 0")
        browser.switch_to.active_element.send_keys(Keys.ENTER)
        wait_for(browser, "document.activeElement.id === 'main'")
        browser.switch_to.active_element.send_keys(Keys.TAB)
        first = browser.execute_script("return document.activeElement.closest('main') !== null")
        assert first, "Tab after the skip link leaves the main content"
        # Every focusable element shows where the focus is.
        seen = set()
        for _ in range(80):
            browser.switch_to.active_element.send_keys(Keys.TAB)
            outline = browser.execute_script(
                "const s = getComputedStyle(document.activeElement);"
                "return [document.activeElement.tagName, s.outlineStyle, s.outlineWidth]")
            if outline[0] == "BODY":
                break  # past the last element of the page
            seen.add(outline[0])
            assert outline[1] != "none" and outline[2] != "0px", outline
        assert {"A", "BUTTON"} <= seen
        # The search form works from the keyboard alone.
        load(browser, server.url + "/search")
        field = browser.find_element("id", "search-q")
        field.send_keys("technique:SANS", Keys.ENTER)
        wait_for(browser, "location.search.includes('technique')")
        assert "Small-angle scattering" in browser.find_element("css selector", ".hits").text
