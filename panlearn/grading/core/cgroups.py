"""A cgroup per submission: memory and process count over all of its processes.

rlimits hold per process: three children of 1.2 GB each stay under a 2 GB
RLIMIT_AS and still hold 3.6 GB together. A cgroup counts every process of a
sandbox (and the tmpfs pages it writes), so its limits hold for the whole
submission, and killing it leaves nothing behind.

Two layouts are supported:

- **cgroup v1** (separate ``memory``, ``pids`` and ``cpuacct`` hierarchies, as
  on hosts whose ``/sys/fs/cgroup/memory`` is writable by root): found
  automatically under the grader's own cgroup of each hierarchy.
- **cgroup v2**: a delegated subtree named by ``PANLEARN_GRADING_CGROUP`` (e.g.
  a systemd service with ``Delegate=yes``), whose ``cgroup.controllers`` offer
  ``memory`` and ``pids``; see docs/OPERATIONS.md.

`CgroupRoot.detect` says which one it found, or why none can be used.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

_MOUNTS = Path("/sys/fs/cgroup")


class CgroupUnavailable(Exception):
    """No cgroup this grader may create children in."""


def _own_path(controller: str) -> str | None:
    """The cgroup path of the calling process in a v1 hierarchy (``None`` when it has none)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            return path
    return None


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _keyed(path: Path) -> dict[str, int]:
    """A ``key value`` file (memory.events, memory.oom_control) as a dict."""
    out: dict[str, int] = {}
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if value.strip().lstrip("-").isdigit():
                out[key] = int(value)
    except OSError:
        pass
    return out


@dataclass
class JobCgroup:
    """One submission's cgroup (a directory per hierarchy)."""

    version: int
    #: memory, pids (and cpuacct when there is one) directories; one directory on v2.
    dirs: dict[str, Path]
    memory_bytes: int
    pids_max: int
    created_at: float = field(default_factory=time.monotonic)

    @property
    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes ``0`` into to join (one per hierarchy)."""
        return sorted({str(d / "cgroup.procs") for d in self.dirs.values()})

    def grant(self, uid: int) -> None:
        """Let ``uid`` move itself in (it owns only the join files, never the limits)."""
        for path in self.procs_files:
            os.chown(path, uid, -1)

    def join(self) -> None:
        """Move the calling process in; its children are born inside."""
        for path in self.procs_files:
            _write(Path(path), "0")

    def oom_kills(self) -> int:
        """How many processes the kernel killed for exceeding the memory limit."""
        if self.version == 2:
            return _keyed(self.dirs["memory"] / "memory.events").get("oom_kill", 0)
        control = _keyed(self.dirs["memory"] / "memory.oom_control")
        if "oom_kill" in control:
            return control["oom_kill"]
        return 1 if (_read_int(self.dirs["memory"] / "memory.failcnt") or 0) > 0 else 0

    def hit_pids_limit(self) -> bool:
        """Whether a fork failed because of the process-count limit."""
        return _keyed(self.dirs["pids"] / "pids.events").get("max", 0) > 0

    def memory_peak(self) -> int | None:
        """Most memory the submission held at once, in bytes (when the kernel reports it)."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        return _read_int(self.dirs["memory"] / name)

    def cpu_seconds(self) -> float | None:
        """CPU time all of the submission's processes used."""
        if self.version == 2:
            stat = _keyed(self.dirs["memory"] / "cpu.stat")
            return stat["usage_usec"] / 1e6 if "usage_usec" in stat else None
        if "cpuacct" not in self.dirs:
            return None
        value = _read_int(self.dirs["cpuacct"] / "cpuacct.usage")
        return None if value is None else value / 1e9

    def pids(self) -> set[int]:
        """Every process now in the cgroup."""
        found: set[int] = set()
        for path in self.procs_files:
            try:
                found |= {int(p) for p in Path(path).read_text().split()}
            except (OSError, ValueError):
                pass
        return found

    def kill(self, timeout: float = 5.0) -> bool:
        """SIGKILL every process in the cgroup, again until it is empty or ``timeout`` passed.

        True when empty; ``timeout=0`` signals once and does not wait.
        """
        if self.version == 2 and (self.dirs["memory"] / "cgroup.kill").exists():
            try:
                _write(self.dirs["memory"] / "cgroup.kill", "1")
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids()
            if not pids:
                return True
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)

    def remove(self) -> None:
        """Kill what is left and delete the directories (retrying while the kernel lets go)."""
        self.kill()
        for directory in sorted(set(self.dirs.values()), key=lambda p: -len(p.parts)):
            for _ in range(200):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
            else:
                log.warning("could not remove cgroup %s", directory)


class CgroupRoot:
    """Where this grader creates its submissions' cgroups."""

    def __init__(self, version: int, bases: dict[str, Path]) -> None:
        self.version = version
        self.bases = bases

    def describe(self) -> str:
        """Where the cgroups go, for the start-up log."""
        where = ", ".join(f"{name}: {path}" for name, path in sorted(self.bases.items()))
        return f"cgroup v{self.version} ({where})"

    @classmethod
    def detect(cls, configured: str = "auto", *, name: str = "panlearn-grading") -> CgroupRoot:
        """The cgroup root to use; raises `CgroupUnavailable` saying why there is none.

        ``configured`` is ``auto`` (a cgroup v1 memory and pids hierarchy this
        process may write to), ``off``, or the path of a delegated cgroup v2
        directory.
        """
        if configured == "off":
            raise CgroupUnavailable("cgroups are turned off (PANLEARN_GRADING_CGROUP=off)")
        if configured not in ("", "auto"):
            return cls._v2(Path(configured))
        v1 = {c: _MOUNTS / c for c in ("memory", "pids", "cpuacct")}
        if not (v1["memory"] / "cgroup.procs").exists() or not (v1["pids"] / "cgroup.procs"
                                                                  ).exists():
            raise CgroupUnavailable(
                "no cgroup v1 memory and pids hierarchies at /sys/fs/cgroup, and no delegated "
                "cgroup v2 directory configured (PANLEARN_GRADING_CGROUP)")
        bases: dict[str, Path] = {}
        token = secrets.token_hex(3)  # one root per launcher: closing one leaves the others
        for controller, mount in v1.items():
            own = _own_path(controller)
            if own is None or not (mount / "cgroup.procs").exists():
                if controller == "cpuacct":
                    continue
                raise CgroupUnavailable(f"this process is in no {controller} cgroup")
            base = mount / own.lstrip("/") / f"{name}-{os.getpid()}-{token}"
            try:
                base.mkdir(exist_ok=True)
            except OSError as error:
                if controller == "cpuacct":
                    continue
                raise CgroupUnavailable(
                    f"cannot create cgroups under {base.parent} ({error.strerror}): run the "
                    "grader as root or give it a delegated cgroup") from error
            bases[controller] = base
        return cls(1, bases)

    @classmethod
    def _v2(cls, path: Path) -> CgroupRoot:
        controllers = set()
        try:
            controllers = set((path / "cgroup.controllers").read_text().split())
        except OSError as error:
            raise CgroupUnavailable(f"{path} is not a cgroup v2 directory ({error})") from error
        missing = {"memory", "pids"} - controllers
        if missing:
            raise CgroupUnavailable(f"{path} does not offer the {', '.join(sorted(missing))} "
                                    "controller(s): delegate them (see docs/OPERATIONS.md)")
        try:
            _write(path / "cgroup.subtree_control", "+memory +pids" + (
                " +cpu" if "cpu" in controllers else ""))
        except OSError as error:
            raise CgroupUnavailable(
                f"cannot enable memory and pids for children of {path} ({error.strerror}); "
                "is a process still in it? (cgroup v2 allows processes only in leaves)"
            ) from error
        return cls(2, {"memory": path, "pids": path})

    def create(self, *, memory_bytes: int, pids_max: int) -> JobCgroup:
        """A fresh cgroup for one sandbox, with its limits set."""
        leaf = f"job-{secrets.token_hex(6)}"
        dirs = {controller: base / leaf for controller, base in self.bases.items()}
        for directory in set(dirs.values()):
            directory.mkdir()
        job = JobCgroup(self.version, dirs, memory_bytes, pids_max)
        try:
            if self.version == 2:
                _write(dirs["memory"] / "memory.max", str(memory_bytes))
                if (dirs["memory"] / "memory.swap.max").exists():
                    _write(dirs["memory"] / "memory.swap.max", "0")
                _write(dirs["pids"] / "pids.max", str(pids_max))
            else:
                _write(dirs["memory"] / "memory.limit_in_bytes", str(memory_bytes))
                swap = dirs["memory"] / "memory.memsw.limit_in_bytes"
                if swap.exists():
                    _write(swap, str(memory_bytes))
                _write(dirs["pids"] / "pids.max", str(pids_max))
        except OSError:
            job.remove()
            raise
        return job

    def leftovers(self) -> Iterator[Path]:
        """Job cgroups still present (for tests: none may outlive its job)."""
        for base in set(self.bases.values()):
            yield from (p for p in base.iterdir() if p.is_dir() and p.name.startswith("job-"))

    def close(self) -> None:
        """Remove the grader's own base directories (and any job left in them)."""
        for base in set(self.bases.values()):
            for leftover in (p for p in base.iterdir() if p.is_dir()):
                JobCgroup(self.version, {"x": leftover}, 0, 0).remove()
            if self.version == 1:
                try:
                    base.rmdir()
                except OSError:
                    pass
