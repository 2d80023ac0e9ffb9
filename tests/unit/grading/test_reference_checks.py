"""Checks that compare with the reference solution (`reference.<name>`), and file choices."""

from __future__ import annotations

import collections

import nbformat
import numpy as np
import pytest
from nbformat import v4

from panlearn.datasets.errors import DatasetSpecError
from panlearn.datasets.registry import Registry
from panlearn.datasets.resolve import (
    all_assignments,
    assign_choices,
    assigned_files,
    dataset_credits,
    datasets_key,
    validate_dataset_choices,
    validate_dataset_specs,
    with_assigned_files,
)
from panlearn.grading.core.answers import Answer, decode_answers, encode_answers
from panlearn.grading.core.errors import ExerciseSpecError
from panlearn.grading.core.spec import ExerciseSpec, load_exercise_spec
from tests.builders import code
from tests.conftest import REPO_ROOT

CHOICES = [{"parameter": "data_file", "choices": [
    {"dataset": "psi-sinq-dmc-gasb-2005", "file": "dmc01.h5"},
    {"dataset": "ipns-lrmecs-mgb2-3701", "file": "lrcs3701.nx5"},
]}]


def notebook(*checks: str, solution: str = "total = 1.0\nshape = (2,)",
             check_meta: dict | None = None) -> nbformat.NotebookNode:
    nb = v4.new_notebook()
    nb.metadata["panlearn"] = {"datasets": CHOICES}
    nb.cells = [
        code("data_file = 'dmc01.h5'", tags=["parameters"], cell_id="params"),
        code("import numpy as np", cell_id="imports"),
        code(f"### BEGIN SOLUTION\n{solution}\n### END SOLUTION", grade_id="answer",
             solution=True, cell_id="answer"),
    ]
    for i, source in enumerate(checks):
        cell = code(source, grade_id=f"check{i}", points=1, cell_id=f"check{i}")
        cell.metadata.setdefault("panlearn", {}).update(check_meta or {})
        nb.cells.append(cell)
    return nb


def test_a_check_records_the_reference_names_it_reads_and_reference_is_no_student_name():
    spec = load_exercise_spec(notebook(
        "assert abs(total - reference.total) < 1e-6",
        "assert tuple(shape) == tuple(reference.shape), 'wrong shape'\n"
        "assert reference.total > 0",
        "assert total > 0",
    ))
    first, second, third = spec.checks
    assert first.reference_names == ("total",) and first.free_names == ("total",)
    assert second.reference_names == ("shape", "total") and second.free_names == ("shape",)
    assert third.reference_names == () and "reference" not in third.free_names
    assert spec.reference_names == ("shape", "total")
    assert all(check.tamper_proof for check in spec.checks)
    # Stored specs keep what each check reads from the reference.
    assert ExerciseSpec.from_dict(spec.to_dict()) == spec


def test_a_reference_name_must_be_assigned_by_a_cell_above_the_check():
    with pytest.raises(ExerciseSpecError, match=r"reference\.peak: no cell above"):
        load_exercise_spec(notebook("assert total == reference.peak"))


def test_reference_may_only_be_used_as_reference_dot_name():
    with pytest.raises(ExerciseSpecError, match=r"reference\.<name>"):
        load_exercise_spec(notebook("values = vars(reference)\nassert total == values['total']"))


def test_a_reference_check_forced_into_the_students_kernel_is_refused():
    with pytest.raises(ExerciseSpecError, match="student's kernel"):
        load_exercise_spec(notebook("assert total == reference.total",
                                    check_meta={"in_kernel": True}))
    # Calling a function the student defines also needs their kernel: refused too.
    with pytest.raises(ExerciseSpecError, match="calls 'compute'"):
        load_exercise_spec(notebook("assert compute() == reference.total",
                                    solution="total = 1.0\ndef compute():\n    return total"))
    # And validation may not move such a check later either.
    spec = load_exercise_spec(notebook("assert total == reference.total"))
    with pytest.raises(ExerciseSpecError, match="would have to run in the student's kernel"):
        spec.with_checks_in_kernel(["check0"])


def test_a_notebook_variable_named_reference_clashes_with_the_platforms():
    with pytest.raises(ExerciseSpecError, match="assigns 'reference' itself"):
        load_exercise_spec(notebook("assert total == reference.total",
                                    solution="total = 1.0\nreference = 2"))


def test_answers_round_trip_as_plain_data_without_pickles():
    answers = {"check": {"total": Answer("json", 2.5), "shape": Answer("json", (148, 750)),
                         "array": Answer("npy", np.arange(6.0).reshape(2, 3)),
                         "scalar": Answer("npy", np.float32(1.5))}}
    data = encode_answers(answers)
    assert b"pickle" not in data
    back = decode_answers(data)["check"]
    assert back["total"].value == 2.5 and back["shape"].value == (148, 750)
    assert np.array_equal(back["array"].value, np.arange(6.0).reshape(2, 3))
    assert back["scalar"].value == np.float32(1.5) and np.ndim(back["scalar"].value) == 0


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load(REPO_ROOT / "content" / "datasets.yml")


def test_choices_are_validated_against_the_registry_with_an_error_per_field(registry):
    entries = validate_dataset_choices(CHOICES, registry=registry)
    assert [item.name for _, _, item in entries[0].choices] == ["dmc01.h5", "lrcs3701.nx5"]
    bad = [{"parameter": "data_file", "choices": [
        {"dataset": "psi-sinq-dmc-gasb-2005", "file": "dmc02.h5"},
        {"dataset": "no-such-dataset", "file": "x.h5"},
        {"dataset": "psi-sinq-dmc-gasb-2005"},
    ]}, {"parameter": "other", "choices": []}]
    with pytest.raises(DatasetSpecError) as caught:
        validate_dataset_choices(bad, registry=registry)
    errors = caught.value.errors
    assert "has no file 'dmc02.h5'" in errors["datasets[0].choices[0].file"][0]
    assert "unknown dataset 'no-such-dataset'" in errors["datasets[0].choices[1].dataset"][0]
    assert errors["datasets[0].choices[2].file"] == ["required, a non-empty string"]
    assert "non-empty list" in errors["datasets[1].choices"][0]


def test_the_single_file_form_stays_valid_and_means_one_choice(registry):
    single = [{"parameter": "data_file", "dataset": "psi-sinq-dmc-gasb-2005",
               "file": "dmc01.h5"}]
    [(spec, _, item)] = validate_dataset_specs(single, registry=registry)
    assert (spec.parameter, item.name) == ("data_file", "dmc01.h5")
    assert all_assignments(single) == [{"data_file": 0}]
    assert assign_choices(single, exercise_key="c/e", user_id=7) == {"data_file": 0}
    # With choices, an assignment picks the file; without one, the first choice.
    [(_, _, second)] = validate_dataset_specs(CHOICES, registry=registry,
                                              assignment={"data_file": 1})
    assert second.name == "lrcs3701.nx5"
    assert all_assignments(CHOICES) == [{"data_file": 0}, {"data_file": 1}]


def test_assignment_is_stable_per_user_and_spreads_evenly_over_the_choices():
    picks = [assign_choices(CHOICES, exercise_key="reading-nexus/own-file", user_id=user)
             for user in range(1, 401)]
    again = [assign_choices(CHOICES, exercise_key="reading-nexus/own-file", user_id=user)
             for user in range(1, 401)]
    assert picks == again
    counts = collections.Counter(pick["data_file"] for pick in picks)
    assert set(counts) == {0, 1} and min(counts.values()) >= 160, counts
    # Another exercise shuffles students differently; anonymous viewers get the first file.
    other = [assign_choices(CHOICES, exercise_key="other/exercise", user_id=user)
             for user in range(1, 401)]
    assert other != picks
    assert assign_choices(CHOICES, exercise_key="x", user_id=None) == {"data_file": 0}
    assert assigned_files(CHOICES, {"data_file": 1}) == {"data_file": "lrcs3701.nx5"}


def test_pages_credit_the_viewers_file_or_every_choice(registry):
    mine = dataset_credits(CHOICES, registry=registry, assignment={"data_file": 1})
    assert [f.file for f in mine[0].files] == ["lrcs3701.nx5"] and mine[0].choices == 2
    everyone = dataset_credits(CHOICES, registry=registry, assignment=None)
    assert [f.file for f in everyone[0].files] == ["dmc01.h5", "lrcs3701.nx5"]


def test_a_downloaded_parameters_cell_names_the_assigned_file():
    source = 'data_file = "dmc01.h5"  # the platform fills in the path of your file\nn = 3\n'
    assert with_assigned_files(source, {"data_file": "lrcs3701.nx5"}) == (
        "data_file = 'lrcs3701.nx5'  # the platform fills in the path of your file\nn = 3\n")


def test_the_cache_key_depends_on_the_files_not_their_order():
    assert datasets_key({"a": "1", "b": "2"}) == datasets_key({"b": "2", "a": "1"})
    assert datasets_key({"a": "1"}) != datasets_key({"a": "2"})
