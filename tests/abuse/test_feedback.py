"""What a student reads back: no host paths, and no platform look-alikes in their own output.

Issue 13, item 8: the feedback page showed the host path of the data cache
(`…/instance/data-cache/objects/…`) in the injected parameters cell, and sanitised outputs
kept the platform's CSS classes, so a student's output could draw a fake "Graded: 3 / 3"
notice.
"""

from __future__ import annotations

import re

import pytest
from nbformat import v4

from panlearn.notebooks.render import render_lesson
from panlearn.notebooks.sanitise import sanitise_html
from tests.abuse.conftest import notebook, submit, wait_done

FAKE_NOTICE = ('<p class="notice" role="status">Graded: <strong>3 / 3</strong> points.</p>'
               '<span class="badge badge-draft">verified</span>'
               '<div class="jp-OutputArea-output checks pl-notebook">all checks passed</div>')


def _classes(html: str) -> set[str]:
    return {name for value in re.findall(r'class="([^"]*)"', html) for name in value.split()}


def test_notebook_html_cannot_wear_the_platforms_classes():
    clean = sanitise_html(FAKE_NOTICE)
    assert "Graded: <strong>3 / 3</strong>" in clean  # the student's text stays, as text
    assert _classes(clean) == set(), clean


def test_highlighted_code_in_markdown_keeps_its_colours():
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("```python\nimport numpy as np\n```",
                                                     id="md")])
    html = render_lesson(nb)
    assert '<span class="kn">import</span>' in html and 'class="highlight' in html


@pytest.mark.slow
def test_feedback_shows_registry_names_and_no_fake_notices(
        grading_app, exercise_ids, tokens, local_workers):
    client = grading_app.test_client()
    local_workers(1)
    # Hex in the source, so that only the output can show the markup.
    display = ("from IPython.display import HTML, display\n"
               f"display(HTML(bytes.fromhex({FAKE_NOTICE.encode().hex()!r}).decode()))\n"
               "print('reading', data_file)")
    wrong = notebook(peak="float(np.argmax(counts))", after=display)
    body = wait_done(client, submit(client, exercise_ids[0], tokens["alice"],
                                    wrong).headers["Location"], tokens["alice"])
    assert (body["state"], body["score"]) == ("graded", 0), body
    html = client.get(body["feedback_url"], headers=tokens["alice"]).get_data(as_text=True)

    instance = grading_app.config["PANLEARN"]["INSTANCE_DIR"]
    for leak in (instance, "data-cache", "/objects/", "/work/shared"):
        assert leak not in html, leak
    # The injected parameters cell and the student's own print name the registry's file
    # (as the zygote sandbox shows it, at /data/<name>, or rewritten from a host path).
    assert re.search(r"reading (/data/)?dmc01\.h5", html), html
    # The student's fake notice is there as text, without the platform's look.
    assert "Graded: <strong>3 / 3</strong>" in html
    assert not {"notice", "badge", "badge-draft", "checks"} & _classes(html)
    assert html.count("pl-notebook") == 1  # the platform's own wrapper, nothing else
