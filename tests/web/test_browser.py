"""The pages in a real browser: headless Chromium driven by Selenium, all on 127.0.0.1.

The app runs under a real werkzeug server; a second server on another port
(another origin) serves a page that frames the embeds. Chromium resolves no
host but 127.0.0.1 and every request it makes is checked from its performance
log, so nothing may leave the machine; every page must load without a console
error (a CSP violation is one). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.web.browser import (
    ARTIFACTS,
    CHROMIUM,
    Server,
    assert_clean,
    static_page,
    wait_for,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the system Chromium at "
                       "/usr/bin/chromium (Debian packages chromium and chromium-driver)"),
]


def framing_page(embeds: list[tuple[str, str]]) -> Any:
    """A WSGI app serving one HTML page with an iframe per (title, src)."""
    frames = "\n".join(f'<iframe src="{src}" title="{title}" width="800" height="420"></iframe>'
                       for title, src in embeds)
    return static_page(f"<h1>A talk</h1>{frames}")


IMAGES_LOADED = ("(() => { const images = [...document.querySelectorAll('.pl-notebook img')];"
                 " return images.length > 0 && images.every(i => i.complete && i.naturalWidth > 0)"
                 " && images.every(i => i.alt) })()")


def test_pages_embeds_and_slides_in_headless_chromium(app, nexus, figures, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    figure_lesson = figures[0]
    with Server(app) as site:
        embeds = [("Lesson", f"{site.url}/embed/lessons/{figure_lesson}"),
                  ("Figure", f"{site.url}/embed/lessons/{figure_lesson}"
                             "?cell=figure-cell&part=output")]
        with Server(framing_page(embeds)) as other_origin:
            # The shipped course's first lesson: its maths is typeset by KaTeX.
            browser.get(f"{site.url}/lessons/{nexus[0]}")
            assert wait_for(browser, "document.querySelectorAll('.pl-notebook .katex').length")
            # Keyboard: the first Tab reaches the skip link.
            ActionChains(browser).send_keys(Keys.TAB).perform()
            assert browser.execute_script("return document.activeElement.className") == \
                "skip-link"
            browser.save_screenshot(str(ARTIFACTS / "lesson-maths.png"))
            urls = assert_clean(browser, "the NeXus lesson")
            assert any("/static/vendor/katex/" in url for url in urls)

            # A lesson with a figure: maths and the image both render.
            browser.get(f"{site.url}/lessons/{figure_lesson}")
            assert wait_for(browser, "document.querySelectorAll('.katex-display').length")
            assert wait_for(browser, IMAGES_LOADED)
            browser.save_screenshot(str(ARTIFACTS / "lesson-figure.png"))
            assert_clean(browser, "the figure lesson")

            # Embeds inside the page of another origin.
            browser.get(other_origin.url)
            frames = browser.find_elements("css selector", "iframe")
            assert len(frames) == 2
            browser.switch_to.frame(frames[0])
            assert wait_for(browser, "document.querySelector('.katex') !== null")
            assert wait_for(browser, IMAGES_LOADED)
            assert browser.execute_script("return location.origin") == site.url
            browser.switch_to.default_content()
            browser.switch_to.frame(frames[1])
            assert wait_for(browser, IMAGES_LOADED)
            assert not browser.execute_script("return document.querySelector('.highlight')")
            browser.switch_to.default_content()
            browser.save_screenshot(str(ARTIFACTS / "embed-other-origin.png"))
            assert_clean(browser, "the framing page")

            # Slides: reveal.js from the platform, the keyboard moves to the next slide.
            browser.get(f"{site.url}/lessons/{figure_lesson}/slides")
            assert wait_for(browser, "window.Reveal && Reveal.isReady()")
            assert browser.execute_script("return Reveal.getTotalSlides()") == 3
            assert wait_for(browser, "document.querySelector('.reveal .katex') !== null")
            before = browser.execute_script("return Reveal.getIndices()")
            browser.save_screenshot(str(ARTIFACTS / "slides-1.png"))
            ActionChains(browser).send_keys(Keys.ARROW_RIGHT).perform()
            after = wait_for(browser, f"Reveal.getIndices().h !== {before['h']} "
                                      "&& Reveal.getIndices()")
            assert after["h"] == before["h"] + 1
            wait_for(browser, "document.querySelector('.reveal .present img') !== null")
            time.sleep(1)  # only for the screenshot: let the slide transition finish
            browser.save_screenshot(str(ARTIFACTS / "slides-2.png"))
            urls = assert_clean(browser, "the slides")
            assert any("/static/vendor/reveal.js/dist/reveal.js" in url for url in urls)

            # The API docs (Swagger UI, inline script allowed by hash) live under the same CSP.
            browser.get(f"{site.url}/api/docs")
            assert wait_for(browser, "document.querySelector('.swagger-ui .info') !== null")
            assert_clean(browser, "the API docs")
