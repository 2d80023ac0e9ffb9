"""Hostile submissions: each is graded with a clear message while the pool carries on."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest

from tests.abuse.conftest import grade_answer, printed
from tests.abuse.conftest import only_check as check

pytestmark = pytest.mark.slow


def test_infinite_loop_is_graded_as_timeout_and_pool_survives(
    pool, abuse_settings, dmc_file, still_grades
):
    outcome = grade_answer("while True:\n    pass\nanswer = 42", pool, abuse_settings, dmc_file)
    assert outcome.score == 0
    assert "ran longer than 3 s" in check(outcome).output


def test_loop_that_ignores_interrupts_hits_the_total_timeout(
    abuse_settings, dmc_file, pool, still_grades
):
    settings = dataclasses.replace(abuse_settings, **{"total_timeout_s": 6})
    code = (
        "while True:\n    try:\n        while True:\n            pass\n"
        "    except KeyboardInterrupt:\n        pass"
    )
    outcome = grade_answer(code, pool, settings, dmc_file)
    assert outcome.score == 0 and not check(outcome).ran
    assert "6 s time limit" in check(outcome).output


def test_allocating_8_gb_against_1_gb_fails_with_memory_error(
    pool, abuse_settings, dmc_file, still_grades
):
    outcome = grade_answer(
        "x = bytearray(8 * 1024**3)\nanswer = 42", pool, abuse_settings, dmc_file
    )
    assert outcome.score == 0
    assert "MemoryError" in check(outcome).output


def test_fork_loop_is_capped_by_the_submissions_process_limit(
    pool, abuse_settings, dmc_file, still_grades
):
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
    # The pool's sandboxes allow 200 processes (threads count) for the whole submission.
    settings = dataclasses.replace(abuse_settings, cell_timeout_s=30, total_timeout_s=40)
    outcome = grade_answer(code, pool, settings, dmc_file)
    forks = int(printed(outcome).split("forks ")[1].split()[0])
    assert 150 < forks < 200
    assert outcome.score == 1


def test_no_network_even_to_a_local_listener(pool, abuse_settings, dmc_file, still_grades):
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
        outcome = grade_answer(code, pool, abuse_settings, dmc_file)
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert "refused" in printed(outcome) and "CONNECTED" not in printed(outcome)


def test_no_secrets_files_or_environment(
    pool, abuse_settings, dmc_file, monkeypatch, tmp_path, still_grades
):
    monkeypatch.setenv("PANLEARN_SECRET_KEY", "fake-secret-for-test")
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "panlearn.sqlite").write_text("secret rows")
    repo = Path(__file__).resolve().parents[2]
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
    outcome = grade_answer(code, pool, abuse_settings, dmc_file)
    shown = printed(outcome).split("visible: ")[1].splitlines()[0]
    seen, _, listing = shown.partition("] ")
    assert seen == "["  # no file read, no variable
    assert set(eval(listing)) <= {".venv", "panlearn"}  # never courses/, instance/ or tests/
    assert outcome.score == 1


def test_writing_past_the_file_size_limit_fails_cleanly(
    pool, abuse_settings, dmc_file, still_grades
):
    code = (
        "import os\n"
        "chunk = b'0' * (10 * 1024**2)\n"
        "with open(os.path.join(os.environ['TMPDIR'], 'big'), 'wb') as f:\n"
        "    for _ in range(200):\n"
        "        f.write(chunk)\n"
        "answer = 42"
    )
    outcome = grade_answer(code, pool, abuse_settings, dmc_file)
    assert outcome.score == 0
    assert "File too large" in check(outcome).output


def test_killing_its_parent_changes_nothing(pool, abuse_settings, dmc_file, still_grades):
    code = (
        "import os, signal\n"
        "for pid in (os.getppid(), 1):\n"
        "    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError as exc:\n"
        "        print('kill', pid, type(exc).__name__)\n"
        "answer = 42"
    )
    outcome = grade_answer(code, pool, abuse_settings, dmc_file)
    assert outcome.score == 1


def test_sys_exit_before_the_checks_scores_zero_with_a_message(
    pool, abuse_settings, dmc_file, still_grades
):
    outcome = grade_answer("import sys\nsys.exit(0)\nanswer = 42", pool, abuse_settings, dmc_file)
    assert outcome.score == 0 and "SystemExit" in check(outcome).output
    outcome = grade_answer("import os\nos._exit(0)\nanswer = 42", pool, abuse_settings, dmc_file)
    result = check(outcome)
    assert outcome.score == 0 and not result.ran
    assert "did not run" in result.output and "kernel stopped" in result.output


def test_monkeypatching_numpy_and_builtins_changes_nothing(
    pool, abuse_settings, dmc_file, still_grades
):
    code = (
        "import numpy as np, builtins\n"
        "np.isclose = lambda *a, **k: True\n"
        "builtins.all = builtins.any = lambda *a: True\n"
        "builtins.abs = lambda x: 0\n"
        "answer = 41"
    )
    outcome = grade_answer(code, pool, abuse_settings, dmc_file)
    assert outcome.score == 0
    assert check(outcome).output == "answer is not the expected value"
    assert check(outcome).tamper_proof
    # Breaking the kernel's own builtins only breaks the student's run.
    code = "import builtins\nbuiltins.isinstance = lambda *a: True\nanswer = 41"
    settings = dataclasses.replace(abuse_settings, **{"total_timeout_s": 5})
    assert grade_answer(code, pool, settings, dmc_file).score == 0


def test_a_function_object_as_answer_is_refused(pool, abuse_settings, dmc_file, still_grades):
    code = "class Liar(int):\n    def __eq__(self, other):\n        return True\nanswer = Liar(1)"
    outcome = grade_answer(code, pool, abuse_settings, dmc_file)
    assert outcome.score == 0 and "not plain data" in check(outcome).output
