"""Spec loading, matching and small helpers, on notebooks built in memory (no kernels)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from panlearn.grading.core.answers import AnswerReadError, _read_inside
from panlearn.grading.core.checks import student_frames
from panlearn.grading.core.errors import (
    ExerciseSpecError,
    InvalidParametersError,
    SandboxUnavailableError,
    SubmissionRejectedError,
)
from panlearn.grading.core.matching import CHECK_MARK, prepare_submission
from panlearn.grading.core.pipeline import validate_parameters
from panlearn.grading.core.sandbox import bwrap_command, resolve_bwrap
from panlearn.grading.core.settings import GradingSettings
from panlearn.grading.core.spec import ExerciseSpec, load_exercise_spec, strip_hidden_tests
from panlearn.notebooks.student import make_student_version
from tests.builders import dmc_source

SETTINGS = GradingSettings()


def test_spec_lists_checks_points_names_and_tamper_proofing():
    spec = load_exercise_spec(dmc_source())
    assert [(c.grade_id, c.points, c.free_names, c.tamper_proof) for c in spec.checks] == [
        ("check_peak", 2, ("two_theta_max",), True),
        ("check_d", 3, ("d_spacing",), True),
        ("check_bragg", 1, ("bragg_d",), False),
    ]
    assert spec.parameter_names == ("data_file",) and spec.max_score == 6
    assert "HIDDEN" not in spec.check("check_peak").visible_source
    assert ExerciseSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda nb: nb.cells[6].metadata["nbgrader"].update(grade_id="check_peak"),
            "already used by cell 4",
        ),
        (
            lambda nb: nb.cells[4].metadata["nbgrader"].update(points=-1),
            "cell 4 ('check_peak'): points",
        ),
        (lambda nb: nb.cells[1].metadata.pop("tags"), "no cell is tagged 'parameters'"),
        (
            lambda nb: nb.cells[4].update(source="assert (("),
            "cell 4 ('check_peak'): does not parse",
        ),
    ],
)
def test_invalid_exercise_errors_name_the_cell(mutate, message):
    nb = dmc_source()
    mutate(nb)
    with pytest.raises(ExerciseSpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_exercise_spec(nb)


def test_strip_hidden_tests_keeps_visible_lines():
    src = "a = 1\n### BEGIN HIDDEN TESTS\nassert secret\n### END HIDDEN TESTS\nb = 2\n"
    assert strip_hidden_tests(src) == "a = 1\nb = 2\n"


def test_edited_and_deleted_checks_are_restored_with_hidden_tests():
    source = dmc_source()
    spec = load_exercise_spec(source)
    submitted = make_student_version(source)
    submitted.cells[4].source = "pass"
    submitted.cells[4].outputs = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    del submitted.cells[6]
    nb = prepare_submission(spec, source, submitted, SETTINGS)
    checks = [c for c in nb.cells if c.metadata.get(CHECK_MARK)]
    assert [c.metadata[CHECK_MARK] for c in checks] == ["check_peak", "check_d", "check_bragg"]
    assert all("HIDDEN" in c.source for c in checks[:2])
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert [c.id for c in nb.cells].index("check_d") == [c.id for c in nb.cells].index(
        "dspacing"
    ) + 1


def test_foreign_broken_or_bloated_notebooks_are_rejected():
    source = dmc_source()
    spec = load_exercise_spec(source)
    foreign = copy.deepcopy(make_student_version(source))
    for cell in foreign.cells:
        cell.metadata.pop("nbgrader", None)
        cell.id = "x" + cell.id
    with pytest.raises(SubmissionRejectedError, match="does not belong"):
        prepare_submission(spec, source, foreign, SETTINGS)
    with pytest.raises(SubmissionRejectedError, match="not a valid Jupyter notebook"):
        prepare_submission(spec, source, "not json", SETTINGS)
    bloated = make_student_version(source)
    bloated.cells[2].outputs = [{"output_type": "stream", "name": "stdout", "text": "x" * 3000}]
    with pytest.raises(SubmissionRejectedError, match="byte limit"):
        prepare_submission(spec, source, bloated, GradingSettings(max_output_bytes=1000))


def test_parameters_must_be_declared_identifiers_with_json_values():
    spec = load_exercise_spec(dmc_source())
    assert validate_parameters(spec, {"data_file": "/data/x.h5"}) == {"data_file": "/data/x.h5"}
    with pytest.raises(InvalidParametersError, match="not assigned"):
        validate_parameters(spec, {"__import__('os').system('id') or x": 1})
    with pytest.raises(InvalidParametersError, match="plain JSON"):
        validate_parameters(spec, {"data_file": object()})


def test_answers_are_never_read_through_symlinks(tmp_path: Path):
    (tmp_path / "answers").mkdir()
    os.symlink("/etc/passwd", tmp_path / "answers" / "manifest.json")
    with pytest.raises(AnswerReadError, match="symlink"):
        _read_inside(tmp_path, "answers/manifest.json", 1000)
    os.symlink("/etc", tmp_path / "linked")
    with pytest.raises((AnswerReadError, OSError)):
        _read_inside(tmp_path, "linked/passwd", 1000)


def test_tracebacks_keep_student_frames_only():
    tb = [
        "\x1b[0;31mAssertionError\x1b[0m",
        "Cell In[7], line 2\n      1 secret_hidden_check = 1\n----> 2 assert f(2) == 4\n",
        "Cell In[3], line 2, in f(x)\n      1 def f(x):\n----> 2     return x / 0\n",
        "File /venv/lib/numpy/core.py:10\n    internals\n",
    ]
    text = student_frames(tb, exclude_counts={7})
    assert "return x / 0" in text and "secret_hidden_check" not in text and "internals" not in text


def test_missing_bubblewrap_refuses_unless_none_is_explicit():
    with pytest.raises(SandboxUnavailableError, match="not installed"):
        resolve_bwrap(GradingSettings(bwrap_path="/nonexistent/bwrap"))
    assert resolve_bwrap(GradingSettings(sandbox="none", bwrap_path="/nonexistent/bwrap")) is None


def test_sandbox_command_isolates_network_env_and_files():
    if resolve_bwrap(SETTINGS) is None:  # pragma: no cover
        pytest.skip("no bwrap")
    cmd = bwrap_command(SETTINGS, ["python"], uid=2_100_000_001, info_fd=3, read_only=[])
    assert {"--unshare-net", "--unshare-pid", "--clearenv", "--die-with-parent"} <= set(cmd)
    assert "--reuid=2100000001" in cmd and any(a.startswith("--nproc=") for a in cmd)
    assert not any("PANLEARN" in a for a in cmd)
    bound = {cmd[i + 1] for i, arg in enumerate(cmd) if arg in {"--bind", "--ro-bind"}}
    repo = str(Path(__file__).resolve().parents[3])
    assert "/etc/shadow" not in bound and "/etc" not in bound and repo not in bound
    assert "--bind" not in cmd  # nothing of the host is writable: only size-capped tmpfs
    tmpfs = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--tmpfs"]
    assert tmpfs == ["/tmp", "/run/kernel", "/run/answers"]
    assert cmd[cmd.index("--tmpfs") - 1] == str(SETTINGS.disk_mb * 1024 * 1024)
