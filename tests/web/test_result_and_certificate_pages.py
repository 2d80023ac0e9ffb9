"""The result page, the notebook as it ran, and a certificate's own page (test client)."""

from __future__ import annotations

import re

import pytest

from panlearn.extensions import db
from panlearn.models import Submission, SubmissionState
from tests.builders import make_user, token_for
from tests.web import tour as site
from tests.web.conftest import csrf_token, sign_in


@pytest.fixture
def tour(app) -> site.Tour:
    built = site.populate(app)
    site.record_graded_run(app, built)
    site.certify(app, built)
    return built


def test_the_result_lists_each_check_with_icon_word_points_and_the_whole_message(client,
                                                                                 tour):
    sign_in(client, site.STUDENT)
    page = client.get(tour.pages["result"]).get_data(as_text=True)
    assert "3</strong> of 5 points" in page
    rows = re.findall(r'<tr class="check-(\w+)">\s*<th scope="row">([^<]+)</th>', page)
    assert rows == [("passed", "check-peaks"), ("failed", "check-d-spacing"),
                    ("passed", "check-q")]
    assert page.count('aria-hidden="true"') >= 3 and ">Failed</span>" in page
    assert "convert with np.radians first" in page
    assert "refresh" not in page and "submission.js" not in page  # graded: no polling
    assert f'href="/submissions/{tour.submission}/notebook"' in page


def test_a_waiting_result_polls_every_second_with_a_fallback_for_no_javascript(app, client,
                                                                              tour):
    sign_in(client, site.STUDENT)
    with app.app_context():
        submission = db.session.get(Submission, tour.submission)
        submission.state = SubmissionState.QUEUED
        db.session.commit()
    page = client.get(tour.pages["result"]).get_data(as_text=True)
    assert re.search(r'<noscript><meta http-equiv="refresh" content="[12]"></noscript>', page)
    assert f'data-poll-url="/api/submissions/{tour.submission}"' in page
    assert "/static/js/submission.js" in page and "Waiting for a grader" in page
    # The API the script polls answers the session cookie, with a Retry-After of 1 s or more.
    api = client.get(f"/api/submissions/{tour.submission}")
    assert api.status_code == 200 and int(api.headers["Retry-After"]) >= 1


def test_the_notebook_as_it_ran_is_a_styled_page_with_maths(client, tour):
    sign_in(client, site.STUDENT)
    page = client.get(tour.pages["notebook-as-it-ran"]).get_data(as_text=True)
    assert '<header class="site-header">' in page and 'class="breadcrumb"' in page
    assert "Your notebook as it ran" in page and 'class="pl-notebook' in page
    assert "katex" in page and "/static/js/maths.js" in page
    code = re.sub(r"<[^>]+>", "", page)  # the highlighted source as text
    assert "d_spacing = wavelength / (2 * np.sin(peak_two_theta / 2))" in code
    assert "BEGIN HIDDEN" not in page


def test_others_cannot_open_the_notebook_as_it_ran(app, client, tour):
    assert client.get(tour.pages["notebook-as-it-ran"]).status_code == 303  # sign in first
    make_user(app, "other")
    sign_in(client, "other")
    assert client.get(tour.pages["notebook-as-it-ran"]).status_code == 404


def test_anyone_with_the_address_reads_and_checks_a_certificate(client, tour):
    page = client.get(tour.pages["credential"]).get_data(as_text=True)
    assert "Reading PaN data: NeXus and HDF5" in page and "version 1.0.0" in page
    assert "Paul Scherrer Institute (PSI)" in page and "Verified" in page
    assert "has not revoked it" in page
    assert site.STUDENT not in page  # the learner is named only by a hash to strangers
    assert "/api/organisations/psi/keys" in page and "verify.py" in page
    assert f"/api/credentials/{tour.credential}/verify" in page
    yes = client.get(tour.pages["credential"], query_string={"holder": site.STUDENT})
    assert "is the holder of this certificate" in yes.get_data(as_text=True)
    no = client.get(tour.pages["credential"], query_string={"holder": "mallory"})
    assert "is not the holder" in no.get_data(as_text=True)
    assert client.get("/credentials/no-such-id").status_code == 404


def test_the_holder_sees_their_name_and_the_download_and_the_course_page_links_here(
        app, client, tour):
    sign_in(client, site.STUDENT)
    page = client.get(tour.pages["credential"]).get_data(as_text=True)
    assert f"<strong>{site.STUDENT}</strong> (panlearn username)" in page
    assert f'href="/api/credentials/{tour.credential}" download' in page
    course = client.get("/courses/reading-nexus").get_data(as_text=True)
    client.post("/courses/reading-nexus/enrol", data={"csrf_token": csrf_token(course)})
    course = client.get("/courses/reading-nexus").get_data(as_text=True)
    assert f'href="/credentials/{tour.credential}"' in course


def test_a_revoked_certificate_says_so(client, tour):
    author = token_for(client, site.AUTHOR)
    client.post(f"/api/credentials/{tour.credential}/revoke", json={"reason": "issued in error"},
                headers=author)
    page = client.get(tour.pages["credential"]).get_data(as_text=True)
    assert "Revoked" in page and "issued in error" in page and "Do not accept it" in page
    assert "Verified" not in page
