"""Launchers make sandboxes: forked from a warm zygote, started by bubblewrap, or unconfined.

- `ZygoteLauncher` (``PANLEARN_SANDBOX=zygote``): one zygote per exercise
  environment (what it preloads) forks each sandbox and the child isolates
  itself (`zygote`): about 30 ms of CPU instead of a Python start and the
  scientific stack's imports.
- `BubblewrapLauncher` (``bubblewrap``): the fallback where unprivileged
  namespaces are not allowed: bubblewrap starts a fresh interpreter per
  sandbox.
- `UnconfinedLauncher` (``none``): no isolation at all, for local authoring only.

``auto`` (the default) takes the zygote where a probe sandbox starts, else
bubblewrap, and says which at start. Every launcher puts each sandbox in a
cgroup of its own when it can create one (`cgroups`), so memory and process
limits hold for the whole submission, and reports which limits it cannot
enforce.
"""

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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import panlearn

from . import inside, linux, sandbox
from .answers import EXTRACT_MODULE, EXTRACT_MODULE_SOURCE
from .cgroups import CgroupRoot, CgroupUnavailable, JobCgroup
from .errors import KernelStartError, SandboxUnavailableError
from .inside import KERNEL_DIR, recv_frame
from .sandboxes import CheckSandbox, KernelSandbox, Sandbox, new_connection
from .settings import GradingSettings

log = logging.getLogger(__name__)

_MB = 1024 * 1024
#: Where the package lives: sandboxes import `panlearn.grading.core.inside` from it (read-only).
PACKAGE_DIR = Path(panlearn.__file__).resolve().parent
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_DIRS = ("/etc/fonts", "/etc/ssl", "/etc/ca-certificates", "/etc/alternatives",
             "/etc/ld.so.conf.d")
_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/mime.types",
              "/etc/nsswitch.conf")


def job_env(home: str = "/tmp", font_cache: str | None = None) -> dict[str, str]:
    """The whole environment of a job: nothing of the grader's is inherited.

    ``font_cache`` is where the job sees the grader's matplotlib font cache
    (read-only): the kernel copies it into its own writable config folder.
    """
    venv_bin = str(Path(sys.executable).parent)
    extra = {"MPL_FONT_CACHE_SEED": font_cache} if font_cache is not None else {}
    return {**extra,
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home,
        "USER": "student", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/.mpl", "IPYTHONDIR": f"{home}/.ipython",
        "PYTHONDONTWRITEBYTECODE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        # One BLAS thread per submission, and few malloc arenas so that the
        # address-space limit measures what the student allocates.
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
    }


class Launcher:
    """What every launcher offers the pool."""

    name = "launcher"

    def __init__(self, settings: GradingSettings) -> None:
        self.settings = settings
        self.data_dirs = tuple(Path(p).resolve() for p in settings.data_dirs)
        self.cgroups: CgroupRoot | None = None
        self.weak_limits: list[str] = []
        if settings.cgroup != "off" or settings.sandbox != "none":
            try:
                self.cgroups = CgroupRoot.detect(settings.cgroup)
            except CgroupUnavailable as error:
                self.weak_limits.append(
                    f"memory and process count per submission (only per process): {error}")
        if os.geteuid() != 0:
            self.weak_limits.append("a uid per submission (the grader is not root)")

    # -- interface --------------------------------------------------------------
    def start_kernel(self, preload: tuple[str, ...], files: Mapping[str, Path] | None = None
                     ) -> KernelSandbox:
        """A kernel sandbox being started (call `wait_ready`), reading ``files`` at /data."""
        raise NotImplementedError

    def start_checks(self, preload: tuple[str, ...], files: Mapping[str, Path] | None = None
                     ) -> CheckSandbox:
        """A sandbox waiting for one job's checks, reading ``files`` like the kernel."""
        raise NotImplementedError

    def late_mounts(self) -> bool:
        """Whether kernels started ahead of demand can be given their data files later."""
        return False

    def checks_in_kernel_sandbox(self) -> bool:
        """Whether a submission's checks run in its kernel's sandbox once the kernel is done."""
        return False

    def data_location(self, path: Path) -> tuple[int, str] | None:
        """(data folder index, path inside it) of a file under a configured data folder."""
        resolved = Path(path).resolve()
        for index, folder in enumerate(self.data_dirs):
            if folder in resolved.parents:
                return index, resolved.relative_to(folder).as_posix()
        return None

    def covers(self, paths: Iterable[Path]) -> bool:
        """Whether a kernel started ahead of demand can read every one of ``paths``."""
        return all(self.data_location(p) is not None for p in paths)

    def describe(self) -> str:
        """One line for the start-up log: the sandbox, where cgroups go, what is weak."""
        cg = self.cgroups.describe() if self.cgroups else "no cgroup"
        return f"{self.name} sandbox, {cg}"

    def close(self) -> None:
        """Stop anything the launcher keeps running."""
        if self.cgroups is not None:
            self.cgroups.close()

    # -- helpers ------------------------------------------------------------------
    def _cgroup(self) -> JobCgroup | None:
        if self.cgroups is None:
            return None
        return self.cgroups.create(memory_bytes=self.settings.memory_mb * _MB,
                                   pids_max=self.settings.nproc)

    def _job_uid(self) -> int | None:
        if os.geteuid() != 0 or self.settings.sandbox == "none":
            return None
        return self.settings.uid_base + secrets.randbelow(self.settings.uid_count)

    def _limits(self, address_space: int | None) -> dict[str, Any]:
        s = self.settings
        return {"tmp_bytes": s.disk_mb * _MB, "answers_bytes": 2 * s.max_answer_bytes,
                "address_space": address_space, "cpu_s": s.cpu_s,
                "nproc": s.nproc, "fsize": s.fsize_mb * _MB, "nofile": s.nofile}

    def _kernel_spec(self, connection: dict[str, Any], preload: Iterable[str]) -> dict[str, Any]:
        return {"connection": connection, "extract_module": EXTRACT_MODULE,
                "extract_source": EXTRACT_MODULE_SOURCE, "preload": list(preload)}


# -- the zygote ---------------------------------------------------------------------

def root_plan(settings: GradingSettings, root: Path) -> dict[str, Any]:
    """What the zygote's staged root holds, read-only (see `zygote.stage_root`)."""
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
    files = [p for p in _ETC_FILES if os.path.exists(p)]
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
        config = {"preload": list(preload), "plan": root_plan(settings, self.root),
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
        address_space = zygote.vm_size + self.settings.memory_mb * _MB
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


# -- bubblewrap and unconfined ------------------------------------------------------

class BubblewrapLauncher(Launcher):
    """A fresh interpreter per sandbox, confined by bubblewrap (the fallback)."""

    name = "bubblewrap"

    def __init__(self, settings: GradingSettings) -> None:
        super().__init__(settings)
        self.bwrap = sandbox.resolve_bwrap(settings)
        sandbox.font_cache(settings)  # built once, before any sandbox starts
        #: The zygote's seccomp deny-list, compiled once, loaded by bubblewrap per sandbox.
        self.seccomp = linux.seccomp_program()

    def covers(self, paths: Iterable[Path]) -> bool:
        """Kernels started ahead of demand see the whole data folders, read-only."""
        return super().covers(paths)

    def _popen(self, argv: list[str], *, files: Iterable[Path], cgroup: JobCgroup | None,
               uid: int | None, stdin: Any = subprocess.DEVNULL, stdout: Any = subprocess.DEVNULL
               ) -> tuple[subprocess.Popen[bytes], int, int]:
        info_r, info_w = os.pipe()
        death_r, death_w = os.pipe()
        seccomp = os.memfd_create("panlearn-seccomp", os.MFD_CLOEXEC)
        os.write(seccomp, self.seccomp)
        os.lseek(seccomp, 0, os.SEEK_SET)
        cmd = sandbox.bwrap_command(self.settings, argv, uid=uid, info_fd=info_w,
                                    seccomp_fd=seccomp,
                                    read_only=(*self.data_dirs, *files, PACKAGE_DIR))

        def join_cgroup() -> None:
            if cgroup is not None:
                cgroup.join()

        try:
            popen = subprocess.Popen(  # noqa: S603 - argv built from settings, no shell
                cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                start_new_session=True, pass_fds=(info_w, death_w, seccomp),
                preexec_fn=join_cgroup if cgroup else None)
        finally:
            for fd in (info_w, death_w, seccomp):
                os.close(fd)
        assert popen.stderr is not None
        pid = _child_pid(info_r, self.settings.start_timeout_s)
        os.close(info_r)
        if pid is None:
            try:
                os.killpg(popen.pid, 9)
            except ProcessLookupError:
                pass
            if cgroup is not None:
                cgroup.kill()
            popen.wait()
            os.set_blocking(popen.stderr.fileno(), False)
            why = (popen.stderr.read(4000) or b"").decode("utf-8", "replace").strip()
            popen.stderr.close()
            os.close(death_r)
            raise KernelStartError(f"bubblewrap did not start the sandbox (status "
                                   f"{popen.returncode}): {why or 'no answer'}")
        # Nothing of the job may write to the grader's logs or disk: its stderr goes nowhere.
        popen.stderr.close()
        return popen, pid, death_r

    def start_kernel(self, preload: tuple[str, ...], files: Mapping[str, Path] | None = None
                     ) -> KernelSandbox:
        """Start ``python -m panlearn.grading.core.inside kernel`` in bubblewrap."""
        connection = new_connection(f"{KERNEL_DIR}/ipc")
        spec = {**self._kernel_spec(connection, preload)}
        cgroup = self._cgroup()
        argv = [self.settings.python, "-I", "-m", "panlearn.grading.core.inside", "kernel",
                json.dumps(spec)]
        paths = {name: Path(p).resolve() for name, p in (files or {}).items()}
        try:
            popen, pid, death = self._popen(argv, files=paths.values(), cgroup=cgroup,
                                            uid=self._job_uid())
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise
        return KernelSandbox(connection=connection, preload=tuple(preload),
                             data_paths={name: str(p) for name, p in paths.items()},
                             launcher=self.name, root_pid=pid, death_fd=death, cgroup=cgroup,
                             popen=popen, memory_mb=self.settings.memory_mb,
                             pids_max=self.settings.nproc)

    def start_checks(self, preload: tuple[str, ...], files: Mapping[str, Path] | None = None
                     ) -> CheckSandbox:
        """Start a check runner in bubblewrap; it reads its job on stdin."""
        cgroup = self._cgroup()
        argv = [self.settings.python, "-I", "-m", "panlearn.grading.core.inside", "checks"]
        paths = {name: Path(p).resolve() for name, p in (files or {}).items()}
        try:
            popen, pid, death = self._popen(argv, files=paths.values(), cgroup=cgroup,
                                            uid=self._job_uid(),
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise
        assert popen.stdin is not None and popen.stdout is not None
        return CheckSandbox(write_fd=os.dup(popen.stdin.fileno()),
                            read_fd=os.dup(popen.stdout.fileno()), launcher=self.name,
                            data_paths={name: str(p) for name, p in paths.items()},
                            root_pid=pid, death_fd=death, cgroup=cgroup, popen=popen,
                            memory_mb=self.settings.memory_mb, pids_max=self.settings.nproc,
                            preload=tuple(preload))


def _child_pid(info_fd: int, timeout: float) -> int | None:
    """The sandbox's pid from bubblewrap's ``--info-fd`` JSON.

    bubblewrap writes the JSON in several pieces and dies of SIGPIPE if the
    reader goes away before the last one (leaving its half-made sandbox
    waiting for ever), so the whole document is read before the fd closes.
    """
    data = b""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([info_fd], [], [], remaining)
        chunk = os.read(info_fd, 4096) if ready else b""
        data += chunk
        try:
            return int(json.loads(data)["child-pid"])
        except (ValueError, KeyError, TypeError):
            if not chunk:
                return None
    return None


class UnconfinedLauncher(Launcher):
    """No isolation (``PANLEARN_SANDBOX=none``): kernels run as plain processes."""

    name = "none (unconfined)"

    def covers(self, paths: Iterable[Path]) -> bool:
        """Unconfined kernels read any path."""
        return True

    def _start(self, argv: list[str], run_dir: Path, **popen: Any
               ) -> tuple[subprocess.Popen[bytes], int]:
        death_r, death_w = os.pipe()
        try:
            popen.setdefault("env", job_env(str(run_dir)))
            process = subprocess.Popen(  # noqa: S603 - argv built from settings, no shell
                argv, cwd=run_dir, stderr=subprocess.DEVNULL, start_new_session=True,
                pass_fds=(death_w,), **popen)
        finally:
            os.close(death_w)
        return process, death_r

    def start_kernel(self, preload: tuple[str, ...], files: Mapping[str, Path] | None = None
                     ) -> KernelSandbox:
        """Start a kernel as a plain process with a run folder of its own."""
        run_dir = self.settings.work_dir / f"kernel-{secrets.token_hex(8)}"
        run_dir.mkdir(parents=True, mode=0o700)
        connection = new_connection(str(run_dir / "ipc"))
        spec = {**self._kernel_spec(connection, preload), "directory": str(run_dir)}
        fonts = sandbox.font_cache_dir(self.settings)
        popen, death = self._start([self.settings.python, "-m", "panlearn.grading.core.inside",
                                    "kernel", json.dumps(spec)], run_dir,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   env=job_env(str(run_dir), str(fonts) if fonts else None))
        return KernelSandbox(connection=connection, preload=tuple(preload),
                             answers_dir=str(run_dir / "answers"),
                             data_paths={name: str(Path(p).resolve())
                                         for name, p in (files or {}).items()},
                             launcher=self.name, root_pid=None, death_fd=death, cgroup=None,
                             popen=popen, run_dir=run_dir)

    def start_checks(self, preload: tuple[str, ...], files: Mapping[str, Path] | None = None
                     ) -> CheckSandbox:
        """Start a check runner as a plain process."""
        run_dir = self.settings.work_dir / f"checks-{secrets.token_hex(8)}"
        run_dir.mkdir(parents=True, mode=0o700)
        popen, death = self._start([self.settings.python, "-m", "panlearn.grading.core.inside",
                                    "checks"], run_dir, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE)
        assert popen.stdin is not None and popen.stdout is not None
        return CheckSandbox(write_fd=os.dup(popen.stdin.fileno()),
                            read_fd=os.dup(popen.stdout.fileno()), launcher=self.name,
                            data_paths={name: str(Path(p).resolve())
                                        for name, p in (files or {}).items()},
                            root_pid=None, death_fd=death, cgroup=None, popen=popen,
                            run_dir=run_dir, preload=tuple(preload))


def make_launcher(settings: GradingSettings) -> Launcher:
    """The launcher ``settings.sandbox`` asks for; ``auto`` probes the zygote first.

    Logs which sandbox grading uses and every limit it cannot enforce; raises
    `SandboxUnavailableError` when the one asked for cannot run here.
    """
    mode = settings.sandbox
    if mode not in ("auto", "zygote", "bubblewrap", "none"):
        raise SandboxUnavailableError(
            f"unknown sandbox {mode!r}: use 'auto', 'zygote', 'bubblewrap' or 'none'")
    launcher: Launcher
    if mode in ("auto", "zygote"):
        zygotes = ZygoteLauncher(settings)
        try:
            try:
                zygotes.probe()
            except (SandboxUnavailableError, KernelStartError, OSError) as first:
                # Once more before settling for the slower sandbox for the worker's life.
                log.warning("grading: the zygote probe failed (%s); trying once more", first)
                zygotes.probe()
            launcher = zygotes
        except (SandboxUnavailableError, KernelStartError, OSError) as error:
            zygotes.close()
            if mode == "zygote":
                raise SandboxUnavailableError(
                    f"the zygote sandbox cannot run here: {error}") from error
            log.warning("grading: the zygote sandbox cannot run here (%s); using bubblewrap",
                        error)
            launcher = BubblewrapLauncher(settings)
    elif mode == "bubblewrap":
        launcher = BubblewrapLauncher(settings)
    else:
        launcher = UnconfinedLauncher(settings)
        launcher.weak_limits.insert(0, "isolation (PANLEARN_SANDBOX=none)")
    log.info("grading: %s", launcher.describe())
    for weak in launcher.weak_limits:
        log.warning("grading: cannot enforce %s", weak)
    return launcher


__all__ = ["BubblewrapLauncher", "Launcher", "UnconfinedLauncher",
           "ZygoteLauncher", "make_launcher"]
