"""Issue 13, item 4 (and the core of item 5): limits hold for the whole submission.

rlimits hold per process: three children of 1.2 GB held 3.6 GiB in a "2 GiB"
sandbox, and 12 files of 100 MB reached the host's disk. A cell that ignores
SIGINT held a worker for the whole run's limit. Now memory and processes are
counted over every process of the submission (its cgroup), writes go to a
size-capped tmpfs, and a cell that ignores the interrupt is killed.
"""

from __future__ import annotations

import dataclasses
import secrets
import time

import pytest

from tests.abuse.conftest import grade_answer, only_check, printed

pytestmark = pytest.mark.slow


def test_four_children_of_300_mb_are_stopped_by_the_submissions_memory_limit(
    pool, abuse_settings, dmc_file, still_grades
):
    # Each child stays under the per-process address-space limit; together they do not.
    code = (
        "import os, time\n"
        "children = []\n"
        "for _ in range(4):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        block = bytearray(300 * 1024**2)\n"
        "        for i in range(0, len(block), 4096):\n"
        "            block[i] = 1\n"
        "        time.sleep(30)\n"
        "        os._exit(0)\n"
        "    children.append(pid)\n"
        "time.sleep(8)\n"
        "answer = 42"
    )
    settings = dataclasses.replace(abuse_settings, cell_timeout_s=15)
    outcome = grade_answer(code, pool, settings, dmc_file)
    text = only_check(outcome).output + " ".join(outcome.notes)
    assert outcome.score == 0 and not only_check(outcome).ran
    assert "more than the 1,024 MB memory limit" in text
    assert outcome.sandbox["memory_peak_mb"] <= 1024


def test_what_a_submission_writes_is_capped_in_total_not_per_file(
    pool, abuse_settings, dmc_file, still_grades
):
    code = (
        "import os\n"
        "chunk = b'0' * (10 * 1024**2)\n"
        "written = 0\n"
        "try:\n"
        "    for n in range(30):\n"
        "        with open(os.path.join(os.environ['TMPDIR'], f'f{n}'), 'wb') as f:\n"
        "            f.write(chunk)\n"
        "        written += len(chunk)\n"
        "except OSError as exc:\n"
        "    print('stopped', written // 1024**2, exc.strerror)\n"
        "answer = 42"
    )
    outcome = grade_answer(code, pool, abuse_settings, dmc_file)
    shown = printed(outcome)
    stopped_at = int(shown.split("stopped ")[1].split()[0])
    assert stopped_at < abuse_settings.disk_mb  # 30 × 10 MB never fit in 100 MB
    assert "No space left on device" in shown
    assert outcome.score == 1  # the student's own outcome: they caught the error


def test_a_cell_that_ignores_the_interrupt_is_killed_at_the_cell_limit(
    pool, abuse_settings, dmc_file, still_grades
):
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "time.sleep(60)\n"
        "answer = 42"
    )
    settings = dataclasses.replace(abuse_settings, total_timeout_s=60)
    started = time.monotonic()
    outcome = grade_answer(code, pool, settings, dmc_file)
    elapsed = time.monotonic() - started
    assert outcome.score == 0 and not only_check(outcome).ran
    assert "ignored the interrupt" in " ".join(outcome.notes)
    # Killed after the 3 s cell limit and the grace, far from the whole run's 60 s.
    assert elapsed < 20


def test_no_process_outlives_its_job(pool, abuse_settings, dmc_file):
    from tests.abuse.test_job_isolation import processes_with

    marker = f"panlearn-outlive-{secrets.token_hex(6)}"
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', {marker!r}],\n"
        "                 start_new_session=True)\n"
        "answer = 42"
    )
    assert grade_answer(code, pool, abuse_settings, dmc_file).score == 1
    deadline = time.monotonic() + 10  # sandboxes are killed off the critical path
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(marker) == []
