"""What runs inside a sandbox once it is isolated: a Jupyter kernel, or one job's checks.

Both sandboxes use it: the zygote's forked children call `run_kernel` or
`run_checks` after isolating themselves; bubblewrap starts
``python -I -m panlearn.grading.core.inside kernel|checks`` in its namespaces.
Kept light and free of the app: no Flask, no database, no secrets.

The check runner never sees student code: it receives, over its channel, the
check sources (hidden tests included), the dataset parameters, the author's
import statements and plain values (JSON, and ``.npy`` read with
``allow_pickle=False``): the student's answers, the trusted context and the
reference values. It runs each check once and sends back whether it raised.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import os
import signal
import struct
import sys
import types
from collections.abc import Iterable
from typing import Any, NoReturn

#: Where the kernel's ZeroMQ sockets and connection file live inside its sandbox.
KERNEL_DIR = "/run/kernel"
#: Where answers are written inside the sandbox: a tmpfs of their own, so a notebook
#: that fills its scratch space (/tmp) still hands its answers in.
ANSWERS_DIR = "/run/answers"
#: Where a job's data files appear inside the sandbox.
DATA_DIR = "/data"
#: Where the grader's matplotlib font cache appears (read-only) inside the sandbox.
FONT_CACHE_DIR = "/.panlearn-fonts"

_FRAME = struct.Struct(">Q")
#: Largest frame accepted on a channel (a job with its values, or results).
MAX_FRAME = 1 << 30


def send_frame(fd: int, payload: bytes) -> None:
    """Write one length-prefixed frame."""
    data = _FRAME.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def recv_frame(fd: int, limit: int = MAX_FRAME) -> bytes | None:
    """Read one frame; None at end of stream; `ValueError` when it is over ``limit``."""
    head = _read_exactly(fd, _FRAME.size)
    if head is None:
        return None
    (size,) = _FRAME.unpack(head)
    if size > limit:
        raise ValueError(f"frame of {size} bytes over the {limit} byte limit")
    body = _read_exactly(fd, size)
    if body is None:
        raise ValueError("channel closed inside a frame")
    return body


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            if remaining == size:
                return None
            raise ValueError("channel closed inside a frame")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


# -- the kernel ---------------------------------------------------------------

def kernel_app(connection: dict[str, Any], extract_module: str, extract_source: str,
               preload: Iterable[str] = (), directory: str = KERNEL_DIR) -> Any:
    """An initialised IPython kernel app listening on ``connection`` (ipc sockets).

    Called in a fresh process, before any event loop exists (ipykernel's loop
    does not survive a fork). The answer-extraction helper module is defined
    first, then the exercise's imports, then one silent ``pass`` so the first
    student cell does not pay IPython's one-time costs.
    """
    import importlib

    _seed_font_cache()
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "kernel.json")
    with open(path, "w") as f:
        json.dump(connection, f)
    module = types.ModuleType(extract_module)
    exec(extract_source, module.__dict__)  # noqa: S102 - the platform's own helper
    sys.modules[extract_module] = module
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: S112 - a preload is a speed-up, never a requirement
            continue
    sys.modules["debugpy"] = None  # type: ignore[assignment] - no debugger in a sandbox
    if sys.path and sys.path[0] == "":
        del sys.path[0]
    from ipykernel.kernelapp import IPKernelApp
    from traitlets.config import Config

    # Configured directly: parsing the same as command-line options costs ~10 ms a kernel.
    config = Config({"HistoryManager": {"enabled": False}, "IPKernelApp": {"quiet": True}})
    app = IPKernelApp.instance(connection_file=path, log_level=40, config=config)
    app.initialize([])
    app.shell.run_cell("pass", store_history=False, silent=True)
    return app


def run_kernel(connection: dict[str, Any], extract_module: str, extract_source: str,
               preload: Iterable[str] = (), directory: str = KERNEL_DIR) -> NoReturn:
    """Become an IPython kernel (see `kernel_app`); the process ends with it."""
    kernel_app(connection, extract_module, extract_source, preload, directory).start()
    os._exit(0)


def _seed_font_cache() -> None:
    """Copy the grader's matplotlib font cache into this job's config folder (once, cheap).

    Without it, a job importing matplotlib spends a second rebuilding it.
    """
    source, target = os.environ.get("MPL_FONT_CACHE_SEED"), os.environ.get("MPLCONFIGDIR")
    if not source or not target or not os.path.isdir(source):
        return
    os.makedirs(target, mode=0o700, exist_ok=True)
    for name in os.listdir(source):
        if name.startswith("fontlist-") and name.endswith(".json"):
            with open(os.path.join(source, name), "rb") as src, open(
                    os.path.join(target, name), "wb") as dst:
                dst.write(src.read())


# -- the checks ---------------------------------------------------------------

class CheckTimeout(BaseException):
    """A check ran past its time limit (raised from SIGALRM)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise CheckTimeout()


def _value(entry: dict[str, Any], blobs: list[bytes]) -> Any:
    import numpy as np

    if entry["kind"] == "json":
        value = entry["value"]
        return tuple(value) if entry.get("tuple") else value
    array = np.load(io.BytesIO(blobs[entry["blob"]]), allow_pickle=False)
    return array[()] if entry.get("scalar") else array


def run_checks_job(job: dict[str, Any], blobs: list[bytes]) -> list[dict[str, Any]]:
    """Run each check of ``job`` once, in order, in one namespace; results per check.

    Each check sees the author's imports, the parameters, its own answer and
    context values, and ``reference`` when it reads the reference solution.
    """
    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    ns.update(job["parameters"])
    for statement in job["imports"]:
        try:
            exec(statement, ns)  # noqa: S102 - the author's import statements
        except Exception:  # noqa: S112 - an import the checks do not need may fail
            continue
    signal.signal(signal.SIGALRM, _on_alarm)
    results: list[dict[str, Any]] = []
    for check in job["checks"]:
        for name, entry in check["values"].items():
            if entry["kind"] in ("json", "npy"):
                ns[name] = _value(entry, blobs)
            else:
                ns.pop(name, None)
        if check.get("reference") is not None:
            ns["reference"] = types.SimpleNamespace(**{
                name: _value(entry, blobs) for name, entry in check["reference"].items()})
        else:
            ns.pop("reference", None)
        buf = io.StringIO()
        result: dict[str, Any] = {"grade_id": check["grade_id"], "status": "passed",
                                  "ename": None, "evalue": None}
        signal.setitimer(signal.ITIMER_REAL, job["timeout"])
        try:
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                exec(compile(check["code"], "<check>", "exec"), ns)  # noqa: S102
        except CheckTimeout:
            result.update(status="failed", ename="TimeoutError",
                          evalue="the check ran out of time")
        except BaseException as exc:  # noqa: BLE001 - any failure of a check is its result
            result.update(status="failed", ename=type(exc).__name__, evalue=str(exc)[:2000])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        result["stdout"] = buf.getvalue()[-2000:]
        results.append(result)
    return results


def run_checks(read_fd: int, write_fd: int) -> NoReturn:
    """Serve one job from the channel: a JSON header frame, then its ``.npy`` blob frames."""
    code = 1
    try:
        header = recv_frame(read_fd)
        if header is not None:
            job = json.loads(header)
            blobs = [recv_frame(read_fd) or b"" for _ in range(int(job.get("blobs", 0)))]
            results = run_checks_job(job, blobs)
            send_frame(write_fd, json.dumps(results).encode())
            code = 0
    finally:
        os._exit(code)


def main(argv: list[str]) -> NoReturn:
    """Entry point inside bubblewrap: ``kernel <json>`` or ``checks`` (job on stdin)."""
    if argv[:1] == ["kernel"]:
        spec = json.loads(argv[1])
        run_kernel(spec["connection"], spec["extract_module"], spec["extract_source"],
                   spec.get("preload", ()), spec.get("directory", KERNEL_DIR))
    if argv[:1] == ["checks"]:
        import numpy  # noqa: F401 - answers arrive as arrays

        results = os.dup(1)  # a check that writes to fd 1 must not corrupt the results frame
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        run_checks(0, results)
    sys.stderr.write("usage: python -m panlearn.grading.core.inside kernel JSON | checks\n")
    os._exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
