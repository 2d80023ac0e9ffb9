"""Sandboxes forked from a warm zygote, one zygote per exercise environment (what it preloads)."""

from __future__ import annotations

import json
import logging
import os
import secrets
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import inside, sandbox
from ..cgroups import JobCgroup
from ..environment import job_env
from ..errors import KernelStartError, SandboxUnavailableError
from ..inside import KERNEL_DIR, recv_frame
from ..sandboxes import CheckSandbox, KernelSandbox, Sandbox, new_connection
from ..settings import GradingSettings
from .base import MB, Launcher

log = logging.getLogger(__name__)


_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


_ETC_DIRS = ("/etc/fonts", "/etc/ssl", "/etc/ca-certificates", "/etc/alternatives",
             "/etc/ld.so.conf.d")


_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/mime.types",
              "/etc/nsswitch.conf")


#: Folders each sandbox mounts a fresh tmpfs over (`zygote._isolate`): what lies under them
#: on the host is not in the sandbox.
SCRATCH_DIRS = ("/tmp", "/run")


def root_plan(settings: GradingSettings, root: Path) -> dict[str, Any]:
    """What the zygote's staged root holds, read-only (see `zygote.stage_root`).

    Raises `SandboxUnavailableError` when the interpreter's environment lies
    under a folder each sandbox replaces: its children could not import from it.
    """
    dirs: list[str] = []
    symlinks: list[list[str]] = []
    for name in _SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():
            symlinks.append([name, os.readlink(path)])
        elif path.is_dir():
            dirs.append(name)
    python = Path(settings.python)
    # Not the panlearn package: the zygote imported what its children run.
    for path in (python.parent.parent, python.resolve().parent.parent, Path(sys.base_prefix),
                 Path(sys.prefix), *map(Path, _ETC_DIRS)):
        if path.is_dir():
            dirs.append(str(path.resolve()))
    dirs = _outermost(dirs)
    for path in dirs:
        scratch = next((s for s in SCRATCH_DIRS if Path(s) == Path(path)
                        or Path(s) in Path(path).parents), None)
        if scratch is not None:
            raise SandboxUnavailableError(
                f"the interpreter's environment {path} is under {scratch}, which every "
                "sandbox replaces with a scratch space of its own: install panlearn's "
                f"environment elsewhere, or set PANLEARN_SANDBOX=bubblewrap")
    files = [p for p in _ETC_FILES if os.path.exists(p)]
    # The zygote binds each data folder once, at its start: one not made yet (a fresh
    # instance before its first download) is made now, so files fetched later are seen.
    for folder in settings.data_dirs:
        Path(folder).mkdir(parents=True, exist_ok=True)
    return {"root": str(root), "dirs": dirs, "symlinks": symlinks, "files": files,
            "data_dirs": [str(Path(p).resolve()) for p in settings.data_dirs],
            "fonts": str(mpl) if (mpl := sandbox.font_cache_dir(settings)) else None}


def _outermost(paths: list[str]) -> list[str]:
    """Drop paths inside another listed path (bound once, through their parent)."""
    unique = sorted(set(paths), key=lambda p: len(Path(p).parts))
    kept: list[str] = []
    for path in unique:
        if not any(Path(k) == Path(path) or Path(k) in Path(path).parents for k in kept):
            kept.append(path)
    return kept


class Zygote:
    """One zygote process: an exercise environment's imports, loaded once, forked per job."""

    def __init__(self, settings: GradingSettings, preload: tuple[str, ...]) -> None:
        self.settings = settings
        self.preload = preload
        self.lock = threading.Lock()
        # The staged root's path must be reachable by every job's uid: /tmp is, whatever
        # the work folder's parents are.
        base = Path("/tmp") if os.stat("/tmp").st_mode & 0o1777 == 0o1777 else settings.work_dir
        self.root = base / f"panlearn-zygote-{secrets.token_hex(6)}"
        plan = root_plan(settings, self.root)  # refuses before anything is started
        self.root.mkdir(mode=0o755, parents=True)
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        self.log = settings.work_dir / f"{self.root.name}.log"
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control = ours
        with open(self.log, "wb") as log_file:
            self.popen = subprocess.Popen(  # noqa: S603 - our interpreter, our module
                [settings.python, "-I", "-m", "panlearn.grading.core.zygote"],
                stdin=theirs, stdout=subprocess.DEVNULL, stderr=log_file,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, start_new_session=True)
        theirs.close()
        env = job_env()
        mpl = sandbox.font_cache_dir(settings)
        if mpl is not None:  # the zygote imports matplotlib with the grader's font cache
            env["MPLCONFIGDIR"] = str(mpl)
        config = {"preload": list(preload), "plan": plan,
                  "zygote_env": env,
                  "zygote_uid": settings.uid_base - 1 if os.geteuid() == 0 else None}
        ours.send(json.dumps(config).encode())
        ready, _, _ = select.select([ours], [], [], settings.start_timeout_s)
        message = ours.recv(1 << 20) if ready else b""
        info = json.loads(message) if message else {}
        if not info.get("ready"):
            tail = self.log_tail()  # before close() removes the log
            self.close()
            raise SandboxUnavailableError(f"the zygote did not start: {tail or 'no output'}")
        self.pid = int(info["pid"])
        self.info = info
        self.vm_size = _vm_size(self.pid)
        self.last_used = time.monotonic()

    def fork(self, request: dict[str, Any], fds: list[int]) -> int:
        """Ask for a sandbox; the pid of the forked child (which isolates itself)."""
        with self.lock:
            socket.send_fds(self.control, [json.dumps(request).encode()], fds)
            ready, _, _ = select.select([self.control], [], [], 10.0)
            reply = json.loads(self.control.recv(1 << 16) or b"{}") if ready else {}
        self.last_used = time.monotonic()
        if "forked" not in reply:
            raise KernelStartError(f"the zygote did not fork: {reply.get('error') or 'no answer'}"
                                   f" {self.log_tail()}")
        return int(reply["forked"])

    def is_alive(self) -> bool:
        """Whether the zygote process still runs."""
        return self.popen.poll() is None

    def log_tail(self, limit: int = 1500) -> str:
        """The end of the zygote's stderr (for platform error reports)."""
        try:
            return self.log.read_bytes()[-limit:].decode("utf-8", "replace")
        except OSError:
            return ""

    def close(self) -> None:
        """End the zygote (closing its control socket ends its loop) and its staged root."""
        self.control.close()
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        shutil.rmtree(self.root, ignore_errors=True)
        self.log.unlink(missing_ok=True)


def _vm_size(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


#: Most modules one zygote imports (an environment's zygote grows up to this).
MAX_ZYGOTE_MODULES = 48


def environment_of(preload: Iterable[str]) -> tuple[str, ...]:
    """The environment a preload list belongs to: its third-party top-level packages.

    Standard-library modules import fast and never make an environment of their
    own; ``scipy.optimize`` and ``scipy.signal`` are both ``scipy``.
    """
    tops = {name.split(".", 1)[0] for name in preload}
    return tuple(sorted(top for top in tops if top not in sys.stdlib_module_names))


class ZygoteLauncher(Launcher):
    """Sandboxes forked from a warm zygote per exercise environment."""

    name = "zygote"

    def __init__(self, settings: GradingSettings) -> None:
        super().__init__(settings)
        self._zygotes: OrderedDict[tuple[str, ...], Zygote] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = False

    def warm(self, preloads: Sequence[tuple[str, ...]]) -> int:
        """Start the zygotes of these preloads' environments now, not at their first submission.

        Each environment starts once, importing what all its preloads ask (so it does
        not grow, and replace itself, as they arrive); only the ``settings.zygotes``
        environments asked first, the first of them started last so that it is the
        most recently used.
        """
        environments: dict[tuple[str, ...], dict[str, None]] = {}
        for preload in preloads:
            environments.setdefault(environment_of(preload), {}).update(dict.fromkeys(preload))
        chosen = list(environments.values())[:max(self.settings.zygotes, 1)]
        for modules in reversed(chosen):
            self.zygote(tuple(modules)[:MAX_ZYGOTE_MODULES])
        return len(chosen)

    def zygote(self, preload: tuple[str, ...]) -> Zygote:
        """The zygote of ``preload``'s environment, started on first use; the least used go first.

        An environment is the third-party packages an exercise imports (see
        `environment_of`), so exercises using different parts of scipy share a
        zygote. When an exercise wants a module its environment's zygote has
        not imported, a zygote importing both replaces it: each environment
        converges on one zygote that has what all its exercises import.
        Sandboxes already forked live on in their own namespaces.
        """
        key = environment_of(preload)
        wanted = tuple(dict.fromkeys(preload))
        with self._lock:
            if self._closed:
                raise SandboxUnavailableError("the sandbox launcher is closed")
            found = self._zygotes.get(key)
            if found is not None and found.is_alive():
                self._zygotes.move_to_end(key)
                if set(wanted) <= set(found.preload) or len(found.preload) >= MAX_ZYGOTE_MODULES:
                    return found
                wanted = tuple(dict.fromkeys((*found.preload, *wanted)))
            elif found is not None:
                del self._zygotes[key]
                found.close()
        zygote = Zygote(self.settings, wanted[:MAX_ZYGOTE_MODULES])
        retired: list[Zygote] = []
        with self._lock:
            current = self._zygotes.get(key)
            if self._closed:
                retired.append(zygote)
            elif current is not None and current.is_alive() and set(zygote.preload) <= set(
                    current.preload):  # another thread started one as good meanwhile
                retired.append(zygote)
                zygote = current
            else:
                if current is not None:
                    retired.append(current)
                self._zygotes[key] = zygote
                self._zygotes.move_to_end(key)
            while len(self._zygotes) > self.settings.zygotes:
                retired.append(self._zygotes.popitem(last=False)[1])
        for old in retired:
            old.close()
        return zygote

    def zygotes(self) -> list[Zygote]:
        """The running zygotes (for measurements)."""
        with self._lock:
            return list(self._zygotes.values())

    def late_mounts(self) -> bool:
        """Kernels forked ahead of demand get their data files bound when they are taken."""
        return True

    def checks_in_kernel_sandbox(self) -> bool:
        """The sandbox's PID 1 ends the kernel and forks the checks clean (no second sandbox)."""
        return True

    def _fork(self, kind: str, preload: tuple[str, ...], files: Mapping[str, Path] | None,
              extra: dict[str, Any]) -> tuple[int, int, int, JobCgroup | None, Zygote]:
        zygote = self.zygote(preload)
        cgroup = self._cgroup()
        uid = self._job_uid()
        if cgroup is not None and os.geteuid() == 0:
            cgroup.grant(self.settings.uid_base - 1)
        address_space = zygote.vm_size + self.settings.memory_mb * MB
        entries, file_fds = self._file_entries(files or {})
        request = {"kind": kind, "uid": uid, "cgroup": cgroup.procs_files if cgroup else [],
                   "files": entries, "limits": self._limits(address_space),
                   "env": job_env(font_cache=inside.FONT_CACHE_DIR), **extra}
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        death_r, death_w = os.pipe()
        try:
            zygote.fork(request, [theirs.fileno(), death_w, *file_fds])
        except BaseException:
            ours.close()
            os.close(death_r)
            if cgroup is not None:
                cgroup.remove()
            raise
        finally:
            theirs.close()
            for fd in (death_w, *file_fds):
                os.close(fd)
        channel = ours.detach()
        ready, _, _ = select.select([channel], [], [], self.settings.start_timeout_s)
        try:
            reply = json.loads(recv_frame(channel, 1 << 16) or b"{}") if ready else {}
        except (OSError, ValueError):
            reply = {}
        if "pid" not in reply:
            os.close(channel)
            os.close(death_r)
            if cgroup is not None:
                cgroup.remove()
            raise KernelStartError("the sandbox did not start: "
                                   + str(reply.get("error") or "no answer from it"))
        return int(reply["pid"]), channel, death_r, cgroup, zygote

    def _file_entries(self, files: Mapping[str, Path]) -> tuple[list[dict[str, Any]], list[int]]:
        """How each file reaches the sandbox: from a staged data folder, or an open descriptor."""
        entries: list[dict[str, Any]] = []
        fds: list[int] = []
        for name, path in files.items():
            location = self.data_location(path)
            if location is not None:
                entries.append({"name": name, "dir": location[0], "rel": location[1]})
            else:
                entries.append({"name": name, "fd": len(fds)})
                fds.append(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
        return entries, fds

    def start_kernel(self, preload: tuple[str, ...], files: Mapping[str, Path] | None = None
                     ) -> KernelSandbox:
        """Fork a kernel sandbox from the environment's zygote."""
        connection = new_connection(f"{KERNEL_DIR}/ipc")
        pid, channel, death, cgroup, zygote = self._fork(
            "kernel", tuple(preload), files, {"kernel": self._kernel_spec(connection, ())})
        return KernelSandbox(connection=connection, preload=zygote.preload, channel=channel,
                             data_paths={name: f"{inside.DATA_DIR}/{name}" for name in files or {}},
                             launcher=self.name, root_pid=pid, death_fd=death, cgroup=cgroup,
                             memory_mb=self.settings.memory_mb, pids_max=self.settings.nproc)

    def start_checks(self, preload: tuple[str, ...], files: Mapping[str, Path] | None = None
                     ) -> CheckSandbox:
        """Fork a check sandbox that waits for its job on its channel."""
        pid, channel, death, cgroup, zygote = self._fork("checks", tuple(preload), files, {})
        return CheckSandbox(write_fd=channel, read_fd=channel, launcher=self.name, root_pid=pid,
                            data_paths={name: f"{inside.DATA_DIR}/{name}" for name in files or {}},
                            death_fd=death, cgroup=cgroup, memory_mb=self.settings.memory_mb,
                            pids_max=self.settings.nproc, preload=zygote.preload)

    def probe(self) -> dict[str, Any]:
        """Start one sandbox end to end (isolation, an IPython kernel app): what it saw."""
        connection = new_connection(f"{KERNEL_DIR}/ipc")
        pid, channel, death, cgroup, _ = self._fork(
            "probe", tuple(self.settings.preload_modules), None,
            {"kernel": self._kernel_spec(connection, ())})
        try:
            ready, _, _ = select.select([channel], [], [], self.settings.start_timeout_s)
            frame = recv_frame(channel, 1 << 20) if ready else None
            if frame is None:
                raise SandboxUnavailableError("the probe sandbox did not answer")
            return json.loads(frame)
        finally:
            Sandbox(launcher=self.name, root_pid=pid, death_fd=death, cgroup=cgroup).kill()
            os.close(channel)

    def close(self) -> None:
        """End every zygote, then remove the cgroup bases."""
        with self._lock:
            self._closed = True
            zygotes = list(self._zygotes.values())
            self._zygotes.clear()
        for zygote in zygotes:
            zygote.close()
        super().close()
