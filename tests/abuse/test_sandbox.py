"""Hostile submissions: each is graded with a clear message while the pool carries on."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from panlearn.grading.pipeline import GradingOutcome, grade_notebook
from panlearn.grading.pool import KernelPool
from panlearn.grading.settings import GradingSettings
from tests.unit.grading.nbbuild import answer_source, answered, student_version

pytestmark = pytest.mark.slow


def grade_answer(
    code: str, pool: KernelPool | None, settings: GradingSettings, dmc_file: Path
) -> GradingOutcome:
    source = answer_source()
    submission = answered(student_version(source), {"answer": code})
    return grade_notebook(
        source,
        submission,
        parameters={"data_file": str(dmc_file)},
        data_files=[dmc_file],
        settings=settings,
        pool=pool,
    )


def printed(outcome: GradingOutcome) -> str:
    return "".join(
        o.get("text", "") for c in outcome.executed_notebook.cells for o in c.get("outputs", [])
    )


def check(outcome: GradingOutcome):
    (result,) = outcome.checks
    return result


@pytest.fixture
def still_grades(pool, grading_settings, dmc_file):
    """After each abuse, an honest submission still gets full marks from the same pool."""
    yield
    assert grade_answer("answer = 42", pool, grading_settings, dmc_file).score == 1


def test_infinite_loop_is_graded_as_timeout_and_pool_survives(
    pool, grading_settings, dmc_file, still_grades
):
    outcome = grade_answer("while True:\n    pass\nanswer = 42", pool, grading_settings, dmc_file)
    assert outcome.score == 0
    assert "ran longer than 3 s" in check(outcome).output


def test_loop_that_ignores_interrupts_hits_the_total_timeout(
    grading_settings, dmc_file, pool, still_grades
):
    settings = GradingSettings(**{**grading_settings.__dict__, "total_timeout_s": 6})
    code = (
        "while True:\n    try:\n        while True:\n            pass\n"
        "    except KeyboardInterrupt:\n        pass"
    )
    outcome = grade_answer(code, pool, settings, dmc_file)
    assert outcome.score == 0 and not check(outcome).ran
    assert "6 s time limit" in check(outcome).output


def test_allocating_8_gb_against_1_gb_fails_with_memory_error(
    pool, grading_settings, dmc_file, still_grades
):
    outcome = grade_answer(
        "x = bytearray(8 * 1024**3)\nanswer = 42", pool, grading_settings, dmc_file
    )
    assert outcome.score == 0
    assert "MemoryError" in check(outcome).output


def test_fork_loop_is_capped_at_2000_processes(pool, grading_settings, dmc_file, still_grades):
    code = (
        "import os, time\n"
        "n = 0\n"
        "try:\n"
        "    while n < 5000:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "            os._exit(0)\n"
        "        n += 1\n"
        "except OSError as exc:\n"
        "    print('forks', n, type(exc).__name__)\n"
        "answer = 42"
    )
    # Forking a kernel 2,000 times takes a few seconds on 2 cores.
    settings = GradingSettings(
        **{**grading_settings.__dict__, "cell_timeout_s": 30, "total_timeout_s": 40}
    )
    outcome = grade_answer(code, pool, settings, dmc_file)
    forks = int(printed(outcome).split("forks ")[1].split()[0])
    assert 1500 < forks < 2000
    assert outcome.score == 1


def test_no_network_even_to_a_local_listener(pool, grading_settings, dmc_file, still_grades):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        code = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "    print('CONNECTED')\n"
            "except OSError as exc:\n"
            "    print('refused', type(exc).__name__)\n"
            "answer = 42"
        )
        outcome = grade_answer(code, pool, grading_settings, dmc_file)
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert "refused" in printed(outcome) and "CONNECTED" not in printed(outcome)


def test_no_secrets_files_or_environment(
    pool, grading_settings, dmc_file, monkeypatch, tmp_path, still_grades
):
    monkeypatch.setenv("PANLEARN_SECRET_KEY", "fake-secret-for-test")
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "panlearn.sqlite").write_text("secret rows")
    repo = Path(__file__).resolve().parents[3]
    code = (
        "import os\n"
        "seen = []\n"
        f"paths = ['/etc/shadow', {str(instance / 'panlearn.sqlite')!r}]\n"
        f"paths.append({str(repo / 'pyproject.toml')!r})\n"
        "for path in paths:\n"
        "    try:\n"
        "        open(path).read()\n"
        "        seen.append(path)\n"
        "    except OSError:\n"
        "        pass\n"
        "seen += [k for k in os.environ if k.startswith('PANLEARN') or 'SECRET' in k]\n"
        f"repo = {str(repo)!r}\n"
        "print('visible:', seen, sorted(os.listdir(repo)) if os.path.isdir(repo) else [])\n"
        "answer = 42"
    )
    outcome = grade_answer(code, pool, grading_settings, dmc_file)
    assert "visible: [] ['.venv']" in printed(outcome) or "visible: [] []" in printed(outcome)
    assert outcome.score == 1


def test_writing_past_the_file_size_limit_fails_cleanly(
    pool, grading_settings, dmc_file, still_grades
):
    code = (
        "import os\n"
        "chunk = b'0' * (10 * 1024**2)\n"
        "with open(os.path.join(os.environ['TMPDIR'], 'big'), 'wb') as f:\n"
        "    for _ in range(200):\n"
        "        f.write(chunk)\n"
        "answer = 42"
    )
    outcome = grade_answer(code, pool, grading_settings, dmc_file)
    assert outcome.score == 0
    assert "File too large" in check(outcome).output


def test_killing_its_parent_changes_nothing(pool, grading_settings, dmc_file, still_grades):
    code = (
        "import os, signal\n"
        "for pid in (os.getppid(), 1):\n"
        "    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError as exc:\n"
        "        print('kill', pid, type(exc).__name__)\n"
        "answer = 42"
    )
    outcome = grade_answer(code, pool, grading_settings, dmc_file)
    assert outcome.score == 1


def test_sys_exit_before_the_checks_scores_zero_with_a_message(
    pool, grading_settings, dmc_file, still_grades
):
    outcome = grade_answer("import sys\nsys.exit(0)\nanswer = 42", pool, grading_settings, dmc_file)
    assert outcome.score == 0 and "SystemExit" in check(outcome).output
    outcome = grade_answer("import os\nos._exit(0)\nanswer = 42", pool, grading_settings, dmc_file)
    result = check(outcome)
    assert outcome.score == 0 and not result.ran
    assert "did not run" in result.output and "kernel stopped" in result.output


def test_monkeypatching_numpy_and_builtins_changes_nothing(
    pool, grading_settings, dmc_file, still_grades
):
    code = (
        "import numpy as np, builtins\n"
        "np.isclose = lambda *a, **k: True\n"
        "builtins.all = builtins.any = lambda *a: True\n"
        "builtins.abs = lambda x: 0\n"
        "answer = 41"
    )
    outcome = grade_answer(code, pool, grading_settings, dmc_file)
    assert outcome.score == 0
    assert check(outcome).output == "answer is not the expected value"
    assert check(outcome).tamper_proof
    # Breaking the kernel's own builtins only breaks the student's run.
    code = "import builtins\nbuiltins.isinstance = lambda *a: True\nanswer = 41"
    settings = GradingSettings(**{**grading_settings.__dict__, "total_timeout_s": 5})
    assert grade_answer(code, pool, settings, dmc_file).score == 0


def test_a_function_object_as_answer_is_refused(pool, grading_settings, dmc_file, still_grades):
    code = "class Liar(int):\n    def __eq__(self, other):\n        return True\nanswer = Liar(1)"
    outcome = grade_answer(code, pool, grading_settings, dmc_file)
    assert outcome.score == 0 and "not plain data" in check(outcome).output
