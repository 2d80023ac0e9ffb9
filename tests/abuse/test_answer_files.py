"""Answer files a student's code made: a hostile file costs points, never the grader.

Issue 13, item 7: the answers of each check are read back from files that the student's
kernel wrote. A 100,000-deep JSON raised `RecursionError` and a `.npy` header declaring
8 TiB raised `MemoryError` in the grader; the submission ended `failed` ("the platform could
not grade") after three retries instead of `graded` with a message.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from panlearn.grading.core.answers import AnswerReadError, read_answers
from tests.abuse.conftest import notebook, submit, wait_done

LIMIT = 10_000_000


def _npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _answers(tmp_path: Path, files: dict[str, bytes], manifest: object) -> Path:
    folder = tmp_path / "answers" / "0"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def test_a_deeply_nested_json_answer_is_refused_with_a_message(tmp_path):
    deep = b"[" * 100_000 + b"]" * 100_000
    shallow_enough = json.dumps([[[[1.5]]]]).encode()
    too_deep_for_the_checks = b"[" * 200 + b"]" * 200  # parses, but no plain value nests so
    run = _answers(tmp_path, {"0.json": deep, "1.json": shallow_enough,
                              "2.json": too_deep_for_the_checks},
                   {"x": {"kind": "json", "file": "0.json"},
                    "y": {"kind": "json", "file": "1.json"},
                    "z": {"kind": "json", "file": "2.json"}})
    answers = read_answers(run, "answers/0", ("x", "y", "z"), LIMIT)
    assert answers["x"].kind == answers["z"].kind == "invalid"
    assert "nested more than" in answers["x"].detail
    assert "nested more than" in answers["z"].detail
    assert (answers["y"].kind, answers["y"].value) == ("json", [[[[1.5]]]])


def test_a_npy_header_that_lies_about_its_size_is_refused_with_a_message(tmp_path):
    huge = _npy_header((1 << 40,))  # 8 TiB of float64, and no data at all
    short = _npy_header((1000,)) + np.arange(10, dtype="<f8").tobytes()
    wide = _npy_header((2,), descr="|V1099511627776")  # two 1 TiB records
    good = io.BytesIO()
    np.save(good, np.arange(6, dtype=np.int32).reshape(2, 3), allow_pickle=False)
    run = _answers(tmp_path, {"0.npy": huge, "1.npy": short, "2.npy": wide,
                              "3.npy": good.getvalue()},
                   {name: {"kind": "npy", "file": f"{i}.npy"}
                    for i, name in enumerate(("huge", "short", "wide", "good"))})
    answers = read_answers(run, "answers/0", ("huge", "short", "wide", "good"), LIMIT)
    for name in ("huge", "short", "wide"):
        assert answers[name].kind == "invalid", answers[name]
        assert "declares" in answers[name].detail, answers[name]
    assert "8 TiB" in answers["huge"].detail
    assert answers["good"].kind == "npy"
    assert answers["good"].value.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_a_hostile_manifest_is_an_unreadable_answer_not_a_crash(tmp_path):
    folder = tmp_path / "answers" / "0"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_bytes(b"{\"x\": " + b"[" * 100_000 + b"]" * 100_000 + b"}")
    with pytest.raises(AnswerReadError, match="nested more than"):
        read_answers(tmp_path, "answers/0", ("x",), LIMIT)


#: Student code that replaces the platform's answer extraction in its own kernel, so the
#: files read back for each check are whatever it likes.
_HOSTILE_WRITER = '''
import json as _json, os as _os, sys as _sys

def _hostile(names, out, payload={payload}, suffix={suffix!r}):
    _os.makedirs(out, exist_ok=True)
    manifest = {{}}
    for i, name in enumerate(names):
        with open(_os.path.join(out, f"{{i}}{{suffix}}"), "wb") as f:
            f.write(payload)
        manifest[name] = {{"kind": suffix[1:], "file": f"{{i}}{{suffix}}"}}
    with open(_os.path.join(out, "manifest.json"), "w") as f:
        _json.dump(manifest, f)

_sys.modules["_panlearn_answers"].extract = _hostile
'''


@pytest.mark.slow
def test_hostile_answer_files_cost_the_points_and_the_submission_is_graded(
        grading_app, exercise_ids, tokens, local_workers):
    client = grading_app.test_client()
    local_workers(1)
    cases = {
        "nested more than": ('b"[" * 100_000 + b"]" * 100_000', ".json"),
        "declares": (repr(_npy_header((1 << 40,))), ".npy"),
    }
    urls = {}
    for expected, (payload, suffix) in cases.items():
        hostile = notebook(after=_HOSTILE_WRITER.format(payload=payload, suffix=suffix))
        urls[expected] = submit(client, exercise_ids[0], tokens["alice"],
                                hostile).headers["Location"]
    for expected, url in urls.items():
        body = wait_done(client, url, tokens["alice"], timeout=120)
        assert (body["state"], body["score"], body["attempts"]) == ("graded", 0, 1), body
        for check in body["checks"]:
            assert not check["passed"] and expected in check["message"], body
