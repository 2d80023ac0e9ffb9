"""The live exercise page in real headless Chromium, cells run by real grading workers (issue 15).

A learner signs in, types an answer in the editor, runs it with Shift-Enter and sees the
output; runs a cell on the real data file; checks the work and sees each check's result
beside its cell; reloads and finds the draft; a runaway cell is stopped with a message;
a network drop is reported and the save retried; reset asks first. A lecturer's live
embed runs one cell inside a slide on another site. Every page loads without a console
error (a CSP violation is one) and asks nothing of any host but 127.0.0.1.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

import pytest

from tests.builders import PASSWORD
from tests.live import D_CELL, PEAK_CELL, RIGHT_PEAK, live_site
from tests.web.browser import (
    ARTIFACTS,
    CHROMIUM,
    Server,
    assert_clean,
    axe_available,
    chromium,
    horizontal_overflow,
    run_axe,
    serious,
    set_width,
    static_page,
    wait_for,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the system Chromium at "
                       "/usr/bin/chromium (Debian packages chromium and chromium-driver)"),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap"),
]

WRONG_D = "d_spacing = wavelength / (2 * np.sin(peak_two_theta / 2))"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with live_site(tmp_path_factory.mktemp("live-web")) as made, Server(made.app) as server:
        made.url = server.url
        yield made


def sign_in(browser: Any, site: Any, username: str) -> None:
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{site.url}/login")
    browser.find_element("id", "username").send_keys(username)
    browser.find_element("id", "password").send_keys(PASSWORD, Keys.ENTER)
    wait_for(browser, "!location.pathname.startsWith('/login')")


def open_exercise(browser: Any, site: Any) -> None:
    browser.get(f"{site.url}/lessons/{site.lesson_id}")
    wait_for(browser, "document.querySelectorAll('.live-cell .cm-editor').length >= 6")
    wait_for(browser, "document.querySelector('[data-live=save]').textContent !== ''")


def editor_text(browser: Any, cell: str) -> str:
    return browser.execute_script(
        f"return document.querySelector('#cell-{cell} .cm-content').innerText")


def type_into(browser: Any, cell: str, text: str) -> None:
    """Replace a cell's code by typing, as a learner would (Ctrl+A, then the text)."""
    from selenium.webdriver.common.keys import Keys

    editor = browser.find_element("css selector", f"#cell-{cell} .cm-content")
    editor.click()
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(text)


def output_of(browser: Any, cell: str, contains: str, timeout: float = 30) -> str:
    script = (f"(document.querySelector('#cell-{cell} .live-output') || {{}}).innerText || ''")
    wait_for(browser, f"({script}).includes({contains!r})", timeout=timeout, poll=0.05)
    return browser.execute_script(f"return {script}")


def status_of(browser: Any, cell: str) -> str:
    return browser.execute_script(
        f"return document.querySelector('#cell-{cell} .live-status').textContent")


def saved(browser: Any) -> None:
    wait_for(browser, "document.querySelector('[data-live=save]').textContent"
                      ".startsWith('Saved at')", timeout=20)


def test_a_learner_types_an_answer_runs_it_with_shift_enter_and_sees_the_output(site, browser):
    from selenium.webdriver.common.keys import Keys

    sign_in(browser, site, "alice")
    open_exercise(browser, site)
    urls = assert_clean(browser, "the live exercise page")
    assert any("/static/vendor/bundle/codemirror.js" in url for url in urls)
    type_into(browser, PEAK_CELL, RIGHT_PEAK + "\nprint('peak at', peak_two_theta)")
    started = time.monotonic()
    browser.switch_to.active_element.send_keys(Keys.SHIFT, Keys.ENTER)
    assert "peak at 42.70000076293945" in output_of(browser, PEAK_CELL, "peak at")
    shown_s = time.monotonic() - started
    assert status_of(browser, PEAK_CELL).startswith("Ran in")
    # Shift-Enter moved on to the next cell, as in Jupyter.
    assert browser.execute_script(
        "return document.activeElement.closest('section').id") == "cell-peak-angle"
    browser.save_screenshot(str(ARTIFACTS / "live-run.png"))
    assert_clean(browser, "a run")
    print(f"Shift-Enter → output shown in {shown_s:.2f} s")


def test_a_cell_reads_the_learners_real_data_file(site, browser):
    sign_in(browser, site, "bob")
    open_exercise(browser, site)
    type_into(browser, PEAK_CELL, 'f = h5py.File(data_file, "r"); print(data_file, '
                                  'f["entry1/data1/counts"].shape, int(counts.max()))')
    browser.find_element("css selector", f"#cell-{PEAK_CELL} .live-run").click()
    assert "/data/dmc01.h5 (400,)" in output_of(browser, PEAK_CELL, "/data/dmc01.h5")
    assert_clean(browser, "a run on the data file")


def test_check_my_work_shows_each_checks_result_beside_its_cell_and_the_score(site, browser):
    sign_in(browser, site, "carol")
    open_exercise(browser, site)
    type_into(browser, PEAK_CELL, RIGHT_PEAK)
    type_into(browser, D_CELL, WRONG_D)
    started = time.monotonic()
    browser.find_element("css selector", "[data-live=check]").click()
    wait_for(browser, "document.querySelectorAll('.live-check').length === 2", timeout=60,
             poll=0.05)
    shown_s = time.monotonic() - started
    passed = browser.find_element("css selector", "#cell-peak-angle .live-check")
    failed = browser.find_element("css selector", "#cell-d-spacing .live-check")
    assert "Passed" in passed.text and "1 / 1 point" in passed.text
    assert "Not yet" in failed.text and "0 / 2 points" in failed.text
    assert "np.sin takes radians" in failed.text or "radians" in failed.text
    score = browser.find_element("css selector", "[data-live=score]").text
    assert score.startswith("Score 1 / 3") and "1 check to fix" in score
    result = browser.find_element("link text", "the result page").get_attribute("href")
    assert "/submissions/" in result
    browser.save_screenshot(str(ARTIFACTS / "live-checked.png"))
    assert_clean(browser, "check my work")
    if axe_available():  # the results shown in the page meet WCAG 2.1 AA too
        assert serious(run_axe(browser)) == []
    print(f"Check my work → inline results in {shown_s:.2f} s")


def test_the_draft_comes_back_after_a_reload_and_in_another_browser(site, browser):
    sign_in(browser, site, "dave")
    open_exercise(browser, site)
    type_into(browser, D_CELL, "d_spacing = 3.0  # my draft")
    saved(browser)
    browser.refresh()
    open_exercise(browser, site)
    wait_for(browser, f"document.querySelector('#cell-{D_CELL} .cm-content').innerText"
                      ".includes('my draft')")
    assert "is restored" in browser.find_element("css selector", "[data-live=save]").text
    with chromium() as other:
        sign_in(other, site, "dave")
        open_exercise(other, site)
        wait_for(other, f"document.querySelector('#cell-{D_CELL} .cm-content').innerText"
                        ".includes('my draft')")
    assert_clean(browser, "the restored draft")


def test_a_runaway_cell_is_stopped_with_a_message(site, browser):
    sign_in(browser, site, "alice")
    open_exercise(browser, site)
    type_into(browser, PEAK_CELL, "print('counting'); i = 0\nwhile True: i += 1")
    browser.find_element("css selector", f"#cell-{PEAK_CELL} .live-run").click()
    wait_for(browser, f"document.querySelector('#cell-{PEAK_CELL} .live-status').textContent"
                      ".startsWith('Stopped after 3 s')", timeout=30)
    assert "counting" in output_of(browser, PEAK_CELL, "counting")
    assert "this cell ran longer than the time limit" in status_of(browser, PEAK_CELL)
    assert_clean(browser, "a stopped run")


def test_a_network_drop_is_reported_and_the_save_retried(site, browser):
    sign_in(browser, site, "bob")
    open_exercise(browser, site)
    saved_text = "d_spacing = 2.5  # typed offline"
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    try:
        type_into(browser, D_CELL, saved_text)
        wait_for(browser, "document.querySelector('[data-live=save]').textContent"
                          ".startsWith('Not saved yet')", timeout=20)
        browser.save_screenshot(str(ARTIFACTS / "live-offline.png"))
    finally:
        browser.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    saved(browser)
    draft = site.client().get(site.draft_url, headers=site.tokens["bob"]).get_json()
    assert any(c["source"] == saved_text for c in draft["notebook"]["cells"])
    # The failed saves while offline are the only console errors.
    browser.get_log("browser")


def test_reset_asks_first_then_restores_the_original(site, browser):
    sign_in(browser, site, "carol")
    open_exercise(browser, site)
    type_into(browser, PEAK_CELL, "peak_two_theta = 0.0  # mine")
    saved(browser)
    browser.find_element("css selector", "[data-live=reset]").click()
    wait_for(browser, "document.getElementById('live-reset').open")
    browser.find_element("css selector", "#live-reset button[value=keep]").click()
    assert "mine" in editor_text(browser, PEAK_CELL)
    browser.find_element("css selector", "[data-live=reset]").click()
    browser.find_element("css selector", "#live-reset button[value=reset]").click()
    wait_for(browser, f"document.querySelector('#cell-{PEAK_CELL} .cm-content').innerText"
                      ".includes('raise NotImplementedError()')")
    wait_for(browser, "document.querySelector('[data-live=save]').textContent"
                      ".includes('back to the original')")
    draft = site.client().get(site.draft_url, headers=site.tokens["carol"]).get_json()
    assert draft["notebook"] is None
    assert_clean(browser, "reset")


def test_the_page_fits_a_phone(site, browser):
    sign_in(browser, site, "alice")
    set_width(browser, 375, 800)
    open_exercise(browser, site)
    assert horizontal_overflow(browser) == 0
    # The sticky bar stays small: the buttons and one line of status.
    assert browser.execute_script(
        "return document.querySelector('.live-sticky').getBoundingClientRect().height") < 130


def test_a_live_embed_runs_one_cell_in_a_slide_on_another_site(site, browser):
    from selenium.webdriver.common.keys import Keys

    modules = site.client().get("/api/courses/reading-nexus").get_json()["modules"]
    lesson = next(item["id"] for module in modules for item in module["lessons"]
                  if item["slug"].startswith("02-"))  # a reading lesson: a DMC plot
    src = f"{site.url}/embed/lessons/{lesson}?cell=nx02-03&live=1"
    talk = (f'<h1>My talk</h1><iframe src="{src}" title="Live cell" width="900" '
            'height="700"></iframe>')
    with Server(static_page(talk)) as other:
        # Anonymous viewers (the slide's frame sends no session): read-only unless allowed.
        browser.get(other.url)
        browser.switch_to.frame(browser.find_element("css selector", "iframe"))
        wait_for(browser, "document.querySelector('.pl-notebook') !== null")
        assert browser.execute_script("return document.querySelector('.live-run')") is None
        browser.switch_to.default_content()
        site.app.config["PANLEARN"]["LIVE_ANONYMOUS"] = True
        try:
            browser.get(other.url)
            browser.switch_to.frame(browser.find_element("css selector", "iframe"))
            wait_for(browser, "document.querySelector('.live-cell .cm-editor') !== null")
            assert "figsize=(7, 3)" in editor_text(browser, "nx02-03")
            # The lecturer changes the plot on stage (a line at the top), then runs it.
            editor = browser.find_element("css selector", "#cell-nx02-03 .cm-content")
            editor.click()
            editor.send_keys(Keys.CONTROL, Keys.HOME)
            editor.send_keys('plt.rcParams["axes.facecolor"] = "lightyellow"', Keys.ENTER)
            browser.find_element("css selector", "#cell-nx02-03 .live-run").click()
            wait_for(browser, "document.querySelector('#cell-nx02-03 .live-output img') "
                              "!== null", timeout=90)
            assert "attributes of the group" in output_of(browser, "nx02-03", "signal")
            browser.switch_to.default_content()
            browser.save_screenshot(str(ARTIFACTS / "live-embed.png"))
        finally:
            site.app.config["PANLEARN"]["LIVE_ANONYMOUS"] = False
    assert_clean(browser, "a live embed")
