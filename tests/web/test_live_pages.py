"""The live exercise page and live embeds, as HTML (issue 15): who gets them, what they carry."""

from __future__ import annotations

import json
import re

from sqlalchemy import update

from panlearn.extensions import db
from panlearn.models import CourseVersion
from tests.builders import make_user
from tests.live import NEXUS
from tests.web.conftest import ensure_psi, import_folder, lesson_ids, sign_in

_CONFIG = re.compile(r'<script type="application/json" id="live-config">(.*?)</script>', re.S)


def _config(html: str) -> dict | None:
    found = _CONFIG.search(html)
    return json.loads(found.group(1)) if found else None


def _nexus(app) -> dict[str, int]:
    ensure_psi(app)
    import_folder(app, NEXUS)
    ids = lesson_ids(app, "reading-nexus")
    return {"reading": ids[1], "exercise": ids[2]}


def test_a_signed_in_learner_gets_the_live_page_and_nothing_of_the_solution(app, client):
    lessons = _nexus(app)
    make_user(app, "alice")
    anonymous = client.get(f"/lessons/{lessons['exercise']}").get_data(as_text=True)
    assert _config(anonymous) is None and "live.js" not in anonymous

    sign_in(client, "alice")
    response = client.get(f"/lessons/{lessons['exercise']}")
    html = response.get_data(as_text=True)
    config = _config(html)
    assert config["runs"] == f"/api/exercises/{config['exercise']}/runs"
    assert config["draft"] == f"/api/exercises/{config['exercise']}/draft"
    assert config["submissions"] == f"/api/exercises/{config['exercise']}/submissions"
    assert config["timeout_s"] == 10.0 and config["editor"] is True
    # Answer cells and the author's plain code cells may be edited; checks and parameters not.
    assert {"peak-angle-solution", "d-spacing-solution", "nx03-03"} <= set(config["editable"])
    assert not {"peak-angle", "d-spacing", "nx03-02"} & set(config["editable"])
    assert config["checks"] == {"peak-angle": "peak-angle", "d-spacing": "d-spacing"}
    # The student version only: no solution, no hidden test, no outputs.
    text = json.dumps(config)
    assert "BEGIN HIDDEN TESTS" not in text and "np.argmax(counts)" not in text
    assert "raise NotImplementedError()" in text
    assert all(not c.get("outputs") for c in config["notebook"]["cells"])
    # The page's own script may add CodeMirror's <style>: by the nonce in its CSP, only.
    csp = response.headers["Content-Security-Policy"]
    assert f"style-src 'self' 'nonce-{config['style_nonce']}'" in csp
    assert "/static/vendor/bundle/codemirror.js" in html
    # Without JavaScript it is still the reading page with the download and the upload form.
    assert "form class=\"upload\"" in html and "Download the exercise notebook" in html
    # A reading lesson is not live (only exercises are, and embeds that ask).
    reading = client.get(f"/lessons/{lessons['reading']}")
    assert _config(reading.get_data(as_text=True)) is None
    assert "nonce-" not in reading.headers["Content-Security-Policy"]


def test_a_live_embed_needs_a_viewer_who_may_run_and_a_code_cell(app, client):
    lessons = _nexus(app)
    url = f"/embed/lessons/{lessons['reading']}?cell=nx02-03&live=1"
    assert _config(client.get(url).get_data(as_text=True)) is None  # anonymous: read only
    app.config["PANLEARN"]["LIVE_ANONYMOUS"] = True
    config = _config(client.get(url).get_data(as_text=True))
    assert config["runs"] == f"/api/lessons/{lessons['reading']}/runs"
    assert [c["id"] for c in config["notebook"]["cells"]] == ["nx02-03"]
    assert "draft" not in config and "submissions" not in config
    # A markdown cell, a cell's outputs only, or no `live`: a plain embed.
    for plain in (f"/embed/lessons/{lessons['reading']}?cell=nx02-01&live=1",
                  f"/embed/lessons/{lessons['reading']}?cell=nx02-03&part=output&live=1",
                  f"/embed/lessons/{lessons['reading']}?cell=nx02-03"):
        assert _config(client.get(plain).get_data(as_text=True)) is None, plain


def test_open_in_jupyterhub_for_courses_imported_from_git(app, client):
    lessons = _nexus(app)
    make_user(app, "alice")
    sign_in(client, "alice")
    page = f"/lessons/{lessons['exercise']}"
    assert "Open in JupyterHub" not in client.get(page).get_data(as_text=True)  # no hub
    app.config["PANLEARN"]["JUPYTERHUB_URL"] = "https://hub.example.org/"
    # A course imported from a folder: nothing for a hub to clone.
    assert "Open in JupyterHub" not in client.get(page).get_data(as_text=True)
    with app.app_context():
        db.session.execute(update(CourseVersion).values(
            source_uri="git:https://github.com/example/pan-courses.git", source_ref="a" * 40))
        db.session.commit()
    html = client.get(page).get_data(as_text=True)
    link = re.search(r'href="([^"]+)"[^>]*>Open in JupyterHub', html).group(1)
    assert link == ("https://hub.example.org/hub/user-redirect/git-pull?repo=https%3A%2F%2F"
                    "github.com%2Fexample%2Fpan-courses.git&amp;urlpath=lab%2Ftree%2F"
                    "pan-courses")
