"""The pages in a real browser: headless Chromium driven by Selenium, all on 127.0.0.1.

The app runs under a real werkzeug server; a second server on another port
(another origin) serves a page that frames the embeds. Chromium resolves no
host but 127.0.0.1 and every request it makes is checked from its performance
log, so nothing may leave the machine; every page must load without a console
error (a CSP violation is one). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from tests.conftest import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = REPO_ROOT / "test-artifacts"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the system Chromium at "
                       "/usr/bin/chromium (Debian packages chromium and chromium-driver)"),
]


class Server:
    """A WSGI app served by werkzeug on 127.0.0.1 in a thread."""

    def __init__(self, wsgi_app: Any) -> None:
        self._server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def framing_page(embeds: list[tuple[str, str]]) -> Any:
    """A WSGI app serving one HTML page with an iframe per (title, src)."""
    frames = "\n".join(f'<iframe src="{src}" title="{title}" width="800" height="420"></iframe>'
                       for title, src in embeds)
    body = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Talk</title>"
            f"<link rel='icon' href='data:,'></head><body><h1>A talk</h1>{frames}</body></html>")

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body.encode()]

    return app


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium that can only reach 127.0.0.1, logging console and network."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not CHROMEDRIVER.exists() and shutil.which("chromedriver") is None:
        pytest.fail("chromedriver missing: install the Debian package chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1280,900",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(20)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def drain_logs(driver: Any) -> tuple[list[str], list[str]]:
    """Console errors and requested URLs since the last call."""
    errors = [entry["message"] for entry in driver.get_log("browser")
              if entry["level"] == "SEVERE"]
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return errors, urls


def assert_clean(driver: Any, what: str) -> list[str]:
    """No console error and no request to anything but 127.0.0.1 since the last check."""
    errors, urls = drain_logs(driver)
    assert errors == [], f"console errors on {what}: {errors}"
    outside = [url for url in urls
               if urlsplit(url).scheme in {"http", "https", "ws", "wss"}
               and urlsplit(url).hostname != "127.0.0.1"]
    assert outside == [], f"{what} requested {outside}"
    assert urls, f"no request logged for {what}"
    return urls


def wait_for(driver: Any, script: str, timeout: float = 10) -> Any:
    """Wait until a JavaScript expression is truthy, and return its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: d.execute_script(f"return {script}"))


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
