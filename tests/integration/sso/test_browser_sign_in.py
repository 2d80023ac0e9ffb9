"""Signing in through the provider's own page, in real headless Chromium (all on 127.0.0.1).

The sign-in page's button takes Chromium to the provider; the person signs
in on the provider's page; Chromium comes back signed in, as an author from
the directory's group. Signing out from the page header goes on to the
provider's end-session page, which the page's CSP `form-action` must allow
(browsers check a form's redirects against it). Screenshots of the sign-in
and account pages at 1280 and 375 px go to test-artifacts/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.builders import make_org
from tests.web.browser import (
    ARTIFACTS,
    CHROMEDRIVER,
    CHROMIUM,
    assert_clean,
    drain_logs,
    wait_for,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the system Chromium at "
                       "/usr/bin/chromium (Debian packages chromium and chromium-driver)"),
]


@pytest.fixture
def chromium() -> Iterator[Any]:
    """Headless Chromium that resolves no host but 127.0.0.1, logging console and network."""
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


def screenshots(driver: Any, name: str) -> None:
    """The current page, whole, at 1280 and at 375 px wide (a phone)."""
    for width in (1280, 375):
        metrics = {"width": width, "height": 900, "deviceScaleFactor": 1,
                   "mobile": width < 600}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {**metrics, "height": int(height)})
        driver.save_screenshot(str(ARTIFACTS / f"{name}-{width}.png"))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def provider_page_loaded(driver: Any, provider: Any) -> None:
    """The provider's page is the provider's: its only outside request is its CDN style sheet,
    which cannot leave the machine (no host resolves but 127.0.0.1)."""
    _, urls = drain_logs(driver)
    outside = {urlsplit(url).hostname for url in urls
               if urlsplit(url).scheme in {"http", "https"}
               and urlsplit(url).hostname != "127.0.0.1"}
    assert outside <= {"cdn.jsdelivr.net"}, outside
    assert driver.current_url.startswith(provider.issuer)


def test_signing_in_through_the_providers_page_in_chromium(app, site, provider, chromium):
    from selenium.webdriver.common.by import By

    make_org(app, "psi", "Paul Scherrer Institute")
    provider.set_user("rosalind", {"name": "Rosalind Franklin", "preferred_username": "rosalind",
                                   "email": "rosalind@psi.ch", "email_verified": True,
                                   "groups": ["psi-training-authors"]})
    chromium.get(f"{site.url}/login?next=/search")
    button = chromium.find_element(By.LINK_TEXT, "Sign in with Test ID")
    assert chromium.find_element(By.NAME, "password")  # the local form is kept
    screenshots(chromium, "sign-in")
    assert_clean(chromium, "the sign-in page")

    button.click()
    wait_for(chromium, "document.querySelector('input[name=sub]') !== null")
    provider_page_loaded(chromium, provider)
    chromium.find_element(By.NAME, "sub").send_keys("rosalind")
    chromium.find_element(By.XPATH, "//button[normalize-space()='Authorize']").click()
    wait_for(chromium, f"location.href === {site.url + '/search'!r}")
    assert "Signed in as rosalind" in chromium.find_element(By.TAG_NAME, "header").text
    # Chromium asks the provider for its /favicon.ico, which the test provider does not
    # serve; whether that 404 is logged before or after the provider's page was checked
    # is a race, and it is the provider's, not ours.
    provider_favicon = f"{provider.issuer}/favicon.ico"
    assert_clean(chromium, "the page after signing in", allow=(provider_favicon,))

    chromium.find_element(By.LINK_TEXT, "Account").click()
    wait_for(chromium, "document.querySelector('h1').textContent === 'Your account'")
    facts = chromium.find_element(By.CSS_SELECTOR, "dl").text
    assert "author of Paul Scherrer Institute" in facts and "rosalind@psi.ch" in facts
    chromium.find_element(By.ID, "name").send_keys("beamtime notebook")
    chromium.find_element(By.XPATH, "//button[normalize-space()='Create token']").click()
    wait_for(chromium, "document.querySelector('#new-token') !== null")
    assert chromium.find_element(By.ID, "new-token").get_attribute("value").startswith("pl_")
    screenshots(chromium, "account")
    assert_clean(chromium, "the account page", allow=(provider_favicon,))

    # Sign out from the header: on to the provider's end-session page, then back here.
    chromium.find_element(By.XPATH, "//header//button[normalize-space()='Sign out']").click()
    wait_for(chromium, f"location.href.startsWith({provider.issuer + '/oauth2/end_session'!r})")
    errors, _ = drain_logs(chromium)
    assert not [error for error in errors if "Content Security Policy" in error], errors
    chromium.find_element(By.XPATH, "//button[normalize-space()='End session']").click()
    wait_for(chromium, f"location.href.startsWith({site.url + '/logout'!r})")
    assert "You are not signed in" in chromium.find_element(By.TAG_NAME, "main").text
