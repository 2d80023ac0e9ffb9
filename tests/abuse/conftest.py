"""The abuse suite: hostile notebooks against the real sandboxes, each sandbox in turn.

Every test here runs once per sandbox the grader can use (the zygote, and
bubblewrap as the fallback): both must hold every guarantee. A sandbox that
cannot start on this machine fails the test; there is no silent fallback.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from panlearn.grading.pipeline import GradingOutcome, grade_notebook
from panlearn.grading.pool import KernelPool
from panlearn.grading.settings import GradingSettings
from tests.unit.grading.nbbuild import answer_source, answered, student_version

SANDBOXES = ("zygote", "bubblewrap")


@pytest.fixture(scope="session", params=SANDBOXES)
def sandbox_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "bubblewrap" and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    return request.param


@pytest.fixture(scope="session")
def abuse_settings(sandbox_kind: str, shared_data_dir: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> GradingSettings:
    return GradingSettings(
        sandbox=sandbox_kind,  # type: ignore[arg-type]
        cell_timeout_s=3,
        total_timeout_s=20,
        memory_mb=1024,
        cpu_s=30,
        nproc=200,
        disk_mb=100,
        fsize_mb=50,
        data_dirs=(shared_data_dir / "nexus",),
        work_dir=tmp_path_factory.mktemp(f"abuse-{sandbox_kind}"),
        preload_modules=("numpy", "h5py"),
    )


@pytest.fixture(scope="session")
def pool(abuse_settings: GradingSettings, sandbox_kind: str) -> Iterator[KernelPool]:
    with KernelPool(abuse_settings, size=2) as kernel_pool:
        assert kernel_pool.sandbox_name == sandbox_kind
        yield kernel_pool


@pytest.fixture(scope="session")
def dmc_file(shared_data_dir: Path) -> Path:
    return shared_data_dir / "nexus" / "dmc01.h5"


def grade_answer(code: str, pool: KernelPool, settings: GradingSettings,
                 dmc_file: Path) -> GradingOutcome:
    """Grade the one-answer exercise (``answer = 42``) with ``code`` as the answer cell."""
    source = answer_source()
    submission = answered(student_version(source), {"answer": code})
    return grade_notebook(source, submission, parameters={"data_file": str(dmc_file)},
                          data_files=[dmc_file], settings=settings, pool=pool)


def printed(outcome: GradingOutcome) -> str:
    """Everything the executed notebook's cells printed."""
    return "".join(o.get("text", "") for c in outcome.executed_notebook.cells
                   for o in c.get("outputs", []))


def only_check(outcome: GradingOutcome):
    (result,) = outcome.checks
    return result


@pytest.fixture
def still_grades(pool, abuse_settings, dmc_file):
    """After each abuse, an honest submission still gets full marks from the same pool."""
    yield
    assert grade_answer("answer = 42", pool, abuse_settings, dmc_file).score == 1
