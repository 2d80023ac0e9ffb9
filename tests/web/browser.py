"""Headless Chromium for the page tests and `scripts/screenshots`: all on 127.0.0.1.

Shared by the browser tests and the screenshot tool so that both look at the
pages the same way: a werkzeug server in a thread, a Chromium that resolves no
host but 127.0.0.1 and logs its console and network, full-page screenshots at a
given CSS width, and axe-core (npm, installed for tests only by
`scripts/bootstrap --test`, injected through the DevTools protocol: the
platform never serves it).
"""

from __future__ import annotations

import base64
import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from werkzeug.serving import make_server

from tests.conftest import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = REPO_ROOT / "test-artifacts"

#: Test-only npm packages (axe-core): `python -m panlearn.web.assets install --test`.
TEST_ASSETS = REPO_ROOT / "tests" / "web" / "vendor"
AXE_SCRIPT = TEST_ASSETS / "node_modules" / "axe-core" / "axe.min.js"
#: The WCAG 2.1 A and AA rules; best practices are reported by the screenshot tool only.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: Tallest full-page screenshot, in CSS pixels (a long lesson is cut there).
MAX_SHOT_HEIGHT = 8000


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


def static_page(body_html: str, title: str = "Talk") -> Any:
    """A WSGI app serving one HTML page (another origin, e.g. a lecturer's slides)."""
    body = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"<link rel='icon' href='data:,'></head><body>{body_html}</body></html>")

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body.encode()]

    return app


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """Headless Chromium that can only reach 127.0.0.1, logging console and network."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not CHROMEDRIVER.exists() and shutil.which("chromedriver") is None:
        raise RuntimeError("chromedriver missing: install the Debian package chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--hide-scrollbars", f"--window-size={width},{height}",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def set_width(driver: Any, width: int, height: int = 900) -> None:
    """Emulate a viewport `width` CSS pixels wide (a phone below 500 px)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500})


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


def assert_clean(driver: Any, what: str, allow: tuple[str, ...] = ()) -> list[str]:
    """No console error and no request to anything but 127.0.0.1 since the last check.

    `allow` lists substrings of console errors that the page provokes on purpose
    (an expected 404 of an unknown embed cell).
    """
    errors, urls = drain_logs(driver)
    errors = [error for error in errors if not any(part in error for part in allow)]
    assert errors == [], f"console errors on {what}: {errors}"
    outside = [url for url in urls
               if urlsplit(url).scheme in {"http", "https", "ws", "wss"}
               and urlsplit(url).hostname != "127.0.0.1"]
    assert outside == [], f"{what} requested {outside}"
    assert urls, f"no request logged for {what}"
    return urls


def wait_for(driver: Any, script: str, timeout: float = 10, poll: float = 0.05) -> Any:
    """Wait until a JavaScript expression is truthy, and return its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=poll).until(
        lambda d: d.execute_script(f"return {script}"))


def horizontal_overflow(driver: Any) -> int:
    """How many CSS pixels the page is wider than its viewport (0: no sideways scrolling)."""
    return int(driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def full_page_screenshot(driver: Any, path: Path, width: int) -> Path:
    """Save the whole page (up to MAX_SHOT_HEIGHT px) at `width` CSS pixels as a PNG."""
    set_width(driver, width)
    height = int(driver.execute_script(
        "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)"))
    height = max(200, min(height, MAX_SHOT_HEIGHT))
    # The whole page in the viewport: frames below the fold are rendered too.
    set_width(driver, width, height)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def axe_available() -> bool:
    """Whether axe-core is installed for the tests."""
    return AXE_SCRIPT.is_file()


def run_axe(driver: Any, tags: list[str] | None = None) -> list[dict[str, Any]]:
    """axe-core's violations on the current page (every impact), for the WCAG `tags`.

    The script is evaluated through the DevTools protocol, so the page's
    Content-Security-Policy (script-src 'self') does not apply to it and the
    platform never has to serve it.
    """
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_cdp_cmd("Runtime.evaluate", {"expression": AXE_SCRIPT.read_text()})
    driver.set_script_timeout(60)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: "
        "['violations']}).then(r => done(JSON.stringify(r.violations)),"
        " e => done(JSON.stringify({error: String(e)})));", tags or AXE_TAGS)
    violations = json.loads(result)
    if isinstance(violations, dict):
        raise RuntimeError(f"axe-core failed: {violations['error']}")
    return violations


def serious(violations: list[dict[str, Any]]) -> list[str]:
    """The serious and critical violations, one readable line each."""
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            + "; ".join(" ".join(node["target"]) if isinstance(node["target"], list)
                        else str(node["target"]) for node in v["nodes"][:5])
            for v in violations if v.get("impact") in {"serious", "critical"}]
