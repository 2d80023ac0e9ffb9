"""Screenshots of every page type at 1280 and 375 px, so anyone can look at what changed.

Run `scripts/screenshots` (this module): it builds a throwaway site in a temporary
folder (the shipped courses, a student with a graded submission and a
certificate: see `tests/web/tour.py`), serves it on 127.0.0.1, and saves full-page
PNGs from headless Chromium to `test-artifacts/screenshots/<page>-<width>.png`,
plus the interactions the pages are for: a refused upload, the per-cell embed
control, embeds and a framed lesson page inside another origin's page, the
second slide, the certificate as printed (a PDF too), and the live exercise page after
"Run all" and "Check my work" (real grading workers; not with --no-grade). With axe-core
installed (`scripts/bootstrap --test`) it also writes every page's accessibility
findings, best practices included, to `axe.txt`.

    scripts/screenshots [--out DIR] [--widths 1280,375] [--only lesson,result] [--no-grade]
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from panlearn import create_app
from panlearn.wiring import replace_services, services_of
from tests.builders import PASSWORD
from tests.conftest import REPO_ROOT
from tests.web import browser as chrome
from tests.web import tour as site

DEFAULT_OUT = chrome.ARTIFACTS / "screenshots"


def make_app(folder: Path) -> Any:
    """The platform on a fresh SQLite database and instance folder under `folder`."""
    from flask_migrate import upgrade

    from panlearn import create_app

    shared = Path(os.environ.get("PANLEARN_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data")
    app = create_app({
        "INSTANCE_DIR": str(folder / "instance"),
        "DATABASE_URL": f"sqlite:///{folder / 'site.sqlite3'}",
        "CONTENT_DIR": str(REPO_ROOT / "content"),
        "GRADING_WORKERS": 0, "GRADING_VALIDATE": False, "GRADING_KERNELS": 1,
        "DATA_DIRS": [str(shared / "nexus")] if (shared / "nexus").is_dir() else [],
        "LOG_LEVEL": "WARNING",
    })
    with app.app_context():
        upgrade(directory=str(REPO_ROOT / "migrations"), revision="heads")
    return app


def settle(driver: Any) -> None:
    """Wait until the page has loaded, its fonts and maths are in, and transitions are over."""
    chrome.wait_for(driver, "document.readyState === 'complete'", timeout=20)
    driver.execute_async_script("const done = arguments[0]; document.fonts.ready.then(done)")
    if driver.execute_script("return !!document.querySelector('script[src*=\"katex\"]')"):
        try:
            chrome.wait_for(driver, "document.querySelector('.katex') !== null", timeout=5)
        except Exception:  # noqa: BLE001 - a page without maths has no .katex
            pass
    time.sleep(0.3)


def sign_in(driver: Any, base: str, username: str) -> None:
    """Sign in through the form, as a person would."""
    driver.get(f"{base}/login")
    driver.find_element("id", "username").send_keys(username)
    driver.find_element("id", "password").send_keys(PASSWORD)
    driver.find_element("css selector", "main form button[type=submit]").click()
    chrome.wait_for(driver, "!location.pathname.startsWith('/login')")


class Shooter:
    """Saves screenshots and collects axe findings."""

    def __init__(self, driver: Any, out: Path, widths: list[int], only: set[str] | None) -> None:
        self.driver, self.out, self.widths, self.only = driver, out, widths, only
        self.saved: list[Path] = []
        self.axe: list[str] = []

    def wanted(self, name: str) -> bool:
        return not self.only or name in self.only

    def page(self, name: str, url: str) -> None:
        """Full-page screenshots of one address at every width."""
        if not self.wanted(name):
            return
        for width in self.widths:
            chrome.set_width(self.driver, width)
            self.driver.get(url)
            settle(self.driver)
            self.saved.append(chrome.full_page_screenshot(
                self.driver, self.out / f"{name}-{width}.png", width))
            overflow = chrome.horizontal_overflow(self.driver)
            if overflow > 0:
                print(f"  ! {name} at {width} px scrolls sideways by {overflow} px")
        self.check_axe(name)

    def viewport(self, name: str) -> None:
        """What the browser shows right now (after an interaction), at the current width."""
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        path = self.out / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        self.saved.append(path)

    def check_axe(self, name: str) -> None:
        if not chrome.axe_available():
            return
        violations = chrome.run_axe(self.driver, [*chrome.AXE_TAGS, "best-practice"])
        for violation in violations:
            targets = "; ".join(str(node["target"]) for node in violation["nodes"][:4])
            self.axe.append(f"{name}: {violation['impact']} {violation['id']}: "
                            f"{violation['help']} [{targets}]")


def interactions(shooter: Shooter, base: str, tour: site.Tour) -> None:
    """Screenshots of what people do on the pages, at the first width and at 375 px."""
    driver = shooter.driver
    reading = tour.lessons["reading"]
    if shooter.wanted("upload-error"):
        for width in shooter.widths:
            chrome.set_width(driver, width)
            driver.get(f"{base}/lessons/{tour.lessons['exercise']}")
            settle(driver)
            bad = Path(tempfile.mkstemp(suffix=".ipynb")[1])
            bad.write_text("this is not a notebook")
            driver.find_element("id", "notebook").send_keys(str(bad))
            driver.find_element("css selector", "form.upload button[type=submit]").click()
            settle(driver)
            shooter.viewport(f"upload-error-{width}")
            bad.unlink()
    if shooter.wanted("embed-control"):
        for width in shooter.widths:
            chrome.set_width(driver, width)
            driver.get(f"{base}/lessons/{reading}")
            settle(driver)
            button = driver.find_element("css selector", "#cell-pd02-07 .cell-tools > button")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
            button.click()
            time.sleep(0.3)
            shooter.viewport(f"embed-control-{width}")
    if shooter.wanted("framed"):
        frames = (
            f"<h1>A lecture with embedded lessons</h1>"
            f"<h2>The lesson page itself (refuses framing)</h2><iframe src='{base}/lessons/"
            f"{reading}' width='600' height='260' title='page'></iframe>"
            f"<h2>One figure, 900 × 520</h2><iframe src='{base}/embed/lessons/{reading}"
            f"?cell=pd02-07&part=output' width='900' height='520' title='figure' "
            f"style='border:1px solid #ccc'></iframe>"
            f"<h2>An unknown cell</h2><iframe src='{base}/embed/lessons/{reading}?cell="
            f"nope' width='600' height='220' title='unknown'></iframe>")
        with chrome.Server(chrome.static_page(frames)) as other:
            chrome.set_width(driver, 1280)
            driver.get(other.url)
            time.sleep(1.5)
            shooter.saved.append(chrome.full_page_screenshot(
                driver, shooter.out / "framed-1280.png", 1280))
    if shooter.wanted("slides-2"):
        chrome.set_width(driver, 1280, 720)
        driver.get(f"{base}{tour.pages['slides']}")
        chrome.wait_for(driver, "window.Reveal && Reveal.isReady()", timeout=20)
        driver.execute_script("Reveal.next()")
        time.sleep(1)
        shooter.viewport("slides-2-1280")
        driver.execute_script("Reveal.slide(3)")
        time.sleep(1)
        shooter.viewport("slides-4-1280")
    if "credential" in tour.pages and shooter.wanted("credential-print"):
        chrome.set_width(driver, 1280)
        driver.get(f"{base}{tour.pages['credential']}")
        settle(driver)
        pdf = driver.execute_cdp_cmd("Page.printToPDF", {
            "paperWidth": 8.27, "paperHeight": 11.69, "preferCSSPageSize": True,
            "printBackground": True})
        path = shooter.out / "credential-print.pdf"
        path.write_bytes(base64.b64decode(pdf["data"]))
        shooter.saved.append(path)
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        shooter.saved.append(chrome.full_page_screenshot(
            driver, shooter.out / "credential-print-794.png", 794))
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def live_exercise(shooter: Shooter, base: str, tour: site.Tour, app: Any) -> None:
    """The live exercise page after "Run all" and "Check my work", cells run by a real worker.

    The tour's wrong answers typed into the editors, so the page shows outputs, a
    failed check beside its cell and the score at the top.
    """
    from selenium.webdriver.common.keys import Keys

    from panlearn.grading.runtime import LocalDispatcher

    if not shooter.wanted("live-exercise"):
        return
    driver = shooter.driver
    app.config["PANLEARN"].update({"GRADING_WORKERS": 1, "GRADING_KERNELS": 1})
    dispatcher = LocalDispatcher(services_of(app).settings, app_factory=create_app)
    replace_services(app, dispatcher=dispatcher)
    dispatcher.start()
    try:
        for width in shooter.widths:
            chrome.set_width(driver, width)
            driver.get(f"{base}/lessons/{tour.lessons['exercise']}")
            settle(driver)
            chrome.wait_for(driver, "document.querySelectorAll('.live-cell .cm-editor').length",
                            timeout=20)
            for cell, code in site.WRONG_ANSWERS.items():
                editor = driver.find_element("css selector", f"#cell-{cell} .cm-content")
                driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", editor)
                editor.click()
                editor.send_keys(Keys.CONTROL, "a")
                editor.send_keys(code)
            driver.find_element("css selector", "[data-live=run-all]").click()
            chrome.wait_for(driver, "document.querySelector('#cell-qvalues .live-status')"
                                    ".textContent !== 'Waiting…' && document.querySelector("
                                    "'#cell-qvalues .live-status').textContent !== 'Running "
                                    "every cell…'", timeout=120, poll=0.2)
            driver.find_element("css selector", "[data-live=check]").click()
            chrome.wait_for(driver, "document.querySelectorAll('.live-check').length === 3",
                            timeout=120, poll=0.2)
            settle(driver)
            shooter.saved.append(chrome.full_page_screenshot(
                driver, shooter.out / f"live-exercise-{width}.png", width))
        shooter.check_axe("live-exercise")
    finally:
        dispatcher.stop()
        app.config["PANLEARN"]["GRADING_WORKERS"] = 0


def main(argv: list[str] | None = None) -> int:
    """Build the site, take the screenshots, print where they are."""
    parser = argparse.ArgumentParser(prog="scripts/screenshots",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--widths", default="1280,375")
    parser.add_argument("--only", help="comma-separated page names (see the file names)")
    parser.add_argument("--no-grade", action="store_true",
                        help="record the graded run instead of grading in the sandbox")
    args = parser.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",")]
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    only = set(args.only.split(",")) if args.only else None
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="panlearn-shots-") as folder:
        app = make_app(Path(folder))
        print("building the site: shipped courses, a student, a result, a certificate…")
        tour = site.populate(app)
        if args.no_grade or shutil.which("bwrap") is None:
            site.record_graded_run(app, tour)
        else:
            print("grading a submission in the sandbox…")
            site.grade_for_real(app, tour)
            with app.app_context():
                from panlearn.extensions import db
                from panlearn.models import Submission, SubmissionState

                graded = db.session.get(Submission, tour.submission).state == (
                    SubmissionState.GRADED)
            if not graded:
                print("  ! the sandboxed grading failed (no data files? set "
                      "PANLEARN_SHARED_DATA); showing a recorded result instead")
                site.record_graded_run(app, tour)
        site.certify(app, tour)
        with chrome.Server(app) as server, chrome.chromium() as driver:
            shooter = Shooter(driver, args.out, widths, only)
            anonymous = {"catalogue", "course", "lesson", "slides", "embed", "embed-figure",
                         "search", "search-technique", "sign-in", "not-found", "credential"}
            for name in sorted(anonymous & set(tour.pages)):
                shooter.page(name, server.url + tour.pages[name])
            sign_in(driver, server.url, site.STUDENT)
            for name in ("exercise", "result", "notebook-as-it-ran"):
                shooter.page(name if name != "exercise" else "exercise-signed-in",
                             server.url + tour.pages[name])
            shooter.page("course-signed-in", server.url + tour.pages["course"])
            shooter.page("credential-holder", server.url + tour.pages["credential"])
            interactions(shooter, server.url, tour)
            if not args.no_grade and shutil.which("bwrap") is not None:
                live_exercise(shooter, server.url, tour, app)
    if chrome.axe_available():
        (args.out / "axe.txt").write_text("".join(line + "\n" for line in shooter.axe))
        print(f"{len(shooter.axe)} axe-core findings (best practices included) in "
              f"{args.out / 'axe.txt'}")
    print(f"{len(shooter.saved)} files in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
