"""Issue 13, item 3: nothing is shared between jobs, and no process outlives its job.

An author's check (import validation passes it) once left a background
process in the shared check runner, which read later jobs' folders (other
organisations' hidden checks, other students' answers) and forged their
results. Each job's checks now run in a process tree of their own.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import pytest
from nbformat import v4

from panlearn.grading.core.pipeline import grade_notebook
from tests.builders import code

pytestmark = pytest.mark.slow

# Double-forked and in a session of its own: a daemon no simple reaping finds.
DAEMON = '''
import os, sys, time, json
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        marker = sys.argv[1]
        deadline = time.time() + 40
        while time.time() < deadline:
            # Forge results for any later job it can find, wherever they live.
            for top in ("/tmp", "/run", "/proc"):
                for root, dirs, files in os.walk(top):
                    for name in files:
                        if name.endswith((".json", ".npy")) and "job" in root:
                            try:
                                open(os.path.join(root, name), "w").write("[]")
                            except OSError:
                                pass
                    if root.count("/") > 4:
                        dirs[:] = []
            time.sleep(0.05)
    os._exit(0)
'''


def daemon_exercise(marker: str):
    nb = v4.new_notebook()
    nb.cells = [
        code("answer = 42", grade_id="answer", solution=True, cell_id="answer"),
        code("import subprocess, sys\n"
             f"subprocess.Popen([sys.executable, '-c', {DAEMON!r}, {marker!r}])\n"
             "assert answer == 42", grade_id="check", points=1, cell_id="check"),
    ]
    return nb


def plain_exercise():
    nb = v4.new_notebook()
    nb.cells = [
        code("answer = 42", grade_id="answer", solution=True, cell_id="answer"),
        code("assert answer == 42, 'not the expected value'", grade_id="check", points=1,
             cell_id="check"),
    ]
    return nb


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_daemon_left_by_an_authors_check_dies_with_its_job(pool, abuse_settings):
    marker = f"panlearn-daemon-{secrets.token_hex(6)}"
    source = daemon_exercise(marker)
    outcome = grade_notebook(source, source, parameters={}, data_files=[],
                             settings=abuse_settings, pool=pool)
    assert outcome.score == 1
    # The next job, a wrong answer, is graded on its own: nothing forged it.
    wrong = plain_exercise()
    submission = plain_exercise()
    submission.cells[0].source = "answer = 41"
    for _ in range(3):
        later = grade_notebook(wrong, submission, parameters={}, data_files=[],
                               settings=abuse_settings, pool=pool)
        assert later.score == 0 and later.checks[0].ran
        assert later.checks[0].output == "not the expected value"
    deadline = time.monotonic() + 10  # sandboxes are killed off the critical path
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(marker) == []


def test_inside_a_sandbox_a_job_sees_only_itself(pool, abuse_settings):
    nb = v4.new_notebook()
    nb.cells = [
        code("import ctypes, os, socket\n"
             "libc = ctypes.CDLL(None, use_errno=True)\n"
             "seen = {\n"
             "    'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),\n"
             "    'uid': os.getuid(),\n"
             "    'host': socket.gethostname(),\n"
             "    'unshare': libc.unshare(0x10000000),\n"
             "    'mount': libc.mount(b'none', b'/tmp', b'tmpfs', 0, None),\n"
             "    'tmp': sorted(os.listdir('/tmp')),\n"
             "}", grade_id="look", solution=True, cell_id="look"),
        code("assert False, repr(seen)", grade_id="check", points=1, cell_id="check"),
    ]
    outcome = grade_notebook(nb, nb, parameters={}, data_files=[], settings=abuse_settings,
                             pool=pool)
    seen = eval(outcome.checks[0].output)  # the check's message: the dict it saw
    assert seen["uid"] != 0 and seen["host"] == "sandbox"
    assert seen["unshare"] == -1 and seen["mount"] == -1  # no new namespaces, no mounts
    assert max(seen["pids"]) < 50  # its own PID namespace: only its own few processes
    assert not [name for name in seen["tmp"] if name.startswith(("kernel-", "checks-"))]
    assert os.getpid() not in seen["pids"] or os.getpid() < 50
