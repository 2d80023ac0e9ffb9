"""Bubblewrap command lines (the fallback sandbox) and the grader's matplotlib font cache.

Under bubblewrap each sandboxed process gets its own pid, net, ipc, uts and
cgroup namespaces (no network at all: the kernel talks to us over ZeroMQ
``ipc`` sockets on its own tmpfs, reached through ``/proc/<pid>/root``); a
read-only view of the system, the Python environment and the data folders
only; size-capped tmpfs as the only writable places; a scrubbed
environment; rlimits set by ``prlimit`` inside the namespaces; and, when we
run as root, a uid of its own. The launcher adds the submission's cgroup.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from .environment import job_env
from .errors import SandboxUnavailableError
from .inside import ANSWERS_DIR, FONT_CACHE_DIR
from .settings import GradingSettings

log = logging.getLogger(__name__)

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Only what the dynamic loader, matplotlib/fontconfig and TLS need; never
# /etc/shadow, /etc/passwd or anything holding secrets.
_ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/fonts",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/alternatives",
    "/etc/mime.types",
    "/etc/nsswitch.conf",
)


def resolve_bwrap(settings: GradingSettings) -> str | None:
    """Absolute path of bubblewrap, or None in ``sandbox="none"`` mode.

    Raises `SandboxUnavailableError` when bubblewrap is required but missing:
    grading never silently falls back to running student code unconfined.
    """
    if settings.sandbox == "none":
        return None
    path = shutil.which(settings.bwrap_path)
    if path is None:
        raise SandboxUnavailableError(
            f"bubblewrap ({settings.bwrap_path!r}) is not installed, so student code cannot be "
            "confined where the zygote sandbox cannot run: install it (apt-get install "
            "bubblewrap) or, on a development machine only, set the grading sandbox to 'none' "
            "explicitly"
        )
    return path


_font_cache_lock = threading.Lock()
_font_caches: dict[Path, tuple[Path, ...]] = {}


def font_cache(settings: GradingSettings) -> tuple[Path, ...]:
    """The files of a matplotlib font cache built by the grader itself (once per work dir).

    Built outside any sandbox, from no student input, so a kernel's copy is
    trusted; a kernel can only change its own copy. Empty when matplotlib is
    not installed or the build fails (kernels then build their own, slower).
    """
    folder = settings.work_dir / "mpl-font-cache"
    with _font_cache_lock:
        if folder in _font_caches:
            return _font_caches[folder]
        files = tuple(sorted(folder.glob("fontlist-*.json")))
        if not files:
            files = _build_font_cache(settings, folder)
        _font_caches[folder] = files
        return files


def font_cache_dir(settings: GradingSettings) -> Path | None:
    """The folder of the grader's matplotlib font cache, when it could be built."""
    files = font_cache(settings)
    return files[0].parent if files else None


def _build_font_cache(settings: GradingSettings, folder: Path) -> tuple[Path, ...]:
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".mpl-", dir=settings.work_dir))
    try:
        subprocess.run(  # noqa: S603 - our interpreter, a fixed import
            [settings.python, "-I", "-c", "import matplotlib.font_manager"],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(staging),
                 "MPLCONFIGDIR": str(staging), "MPLBACKEND": "Agg"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=True,
        )
        os.chmod(staging, 0o755)
        try:
            staging.rename(folder)  # atomic: another process may have won the race
        except OSError:
            pass
    except (OSError, subprocess.SubprocessError):
        log.warning("no matplotlib font cache for kernels (is matplotlib installed?)")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tuple(sorted(folder.glob("fontlist-*.json")))


def limits_argv(settings: GradingSettings, uid: int | None) -> list[str]:
    """``setpriv`` (drop to ``uid``) and ``prlimit`` in front of the confined program."""
    mb = 1024 * 1024
    argv: list[str] = []
    if uid is not None:
        argv += [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
        ]
    argv += [
        "prlimit",
        f"--as={settings.memory_mb * mb}",
        f"--cpu={settings.cpu_s}:{settings.cpu_s + 5}",
        f"--nproc={settings.nproc}",
        f"--fsize={settings.fsize_mb * mb}",
        f"--nofile={settings.nofile}",
        "--core=0",
        "--",
    ]
    return argv


def bwrap_command(
    settings: GradingSettings,
    argv: Sequence[str],
    *,
    uid: int | None,
    info_fd: int,
    seccomp_fd: int | None = None,
    read_only: Iterable[Path] = (),
) -> list[str]:
    """The bubblewrap command line that runs ``argv`` confined.

    Writable places are size-capped tmpfs only (``/tmp``, the job's home;
    ``/run/kernel`` for the kernel's sockets; ``/run/answers``), so a job's writes count in its
    memory cgroup and never reach the host's disk. The grader reaches them
    through ``/proc/<pid>/root`` (the pid bubblewrap writes to ``info_fd``).
    """
    bwrap = resolve_bwrap(settings)
    assert bwrap is not None
    cmd = [
        bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
        "--unshare-cgroup-try", "--die-with-parent", "--hostname", "sandbox",
        "--info-fd", str(info_fd),
    ]
    if os.geteuid() != 0:
        cmd.append("--unshare-user")
    if seccomp_fd is not None:  # the zygote's deny-list: no namespaces, mounts, ptrace
        cmd += ["--seccomp", str(seccomp_fd)]
    binds: list[tuple[str, Path]] = []
    for name in _SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            binds.append(("--ro-bind", path))
    binds += [("--ro-bind", Path(p)) for p in _ETC_FILES if os.path.exists(p)]
    python = Path(settings.python)
    for path in {python.parent.parent, python.resolve().parent.parent, Path(sys.base_prefix)}:
        binds.append(("--ro-bind", path))
    mpl = font_cache_dir(settings)
    binds += [("--ro-bind", Path(p).resolve()) for p in read_only]
    binds = _without_nested(binds)

    # The writable tmpfs first: binds below /tmp (a data file, the font cache) go on top.
    mb = 1024 * 1024
    cmd += ["--perms", "1777", "--size", str(settings.disk_mb * mb), "--tmpfs", "/tmp"]
    cmd += ["--perms", "1777", "--size", str(mb), "--tmpfs", "/run/kernel"]
    cmd += ["--perms", "1777", "--size", str(2 * settings.max_answer_bytes), "--tmpfs",
            ANSWERS_DIR]
    # bwrap creates missing parents of a mount point 0700 when run as root,
    # which the dropped uid could not traverse: create them 0755 first.
    covered = [p for kind, p in binds if kind == "--ro-bind" and str(p) in _SYSTEM_DIRS]
    parents: set[Path] = set()
    for _, path in binds:
        for parent in path.parents:
            if parent != Path("/") and not any(parent == c or c in parent.parents for c in covered):
                parents.add(parent)
    for parent in sorted(parents, key=lambda p: len(p.parts)):
        if all(parent != p for _, p in binds):
            cmd += ["--perms", "0755", "--dir", str(parent)]
    for kind, path in sorted(binds, key=lambda b: len(b[1].parts)):
        cmd += [kind, str(path), str(path)]
    cmd += ["--dev", "/dev", "--proc", "/proc"]
    env = job_env()
    if mpl is not None:
        cmd += ["--ro-bind", str(mpl), FONT_CACHE_DIR]
        env = job_env(font_cache=FONT_CACHE_DIR)
    cmd += ["--chdir", "/tmp", "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd + limits_argv(settings, uid) + list(argv)


def _without_nested(binds: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """Drop read-only binds already visible through a read-only parent bind."""
    ro = [p for kind, p in binds if kind == "--ro-bind"]
    out: list[tuple[str, Path]] = []
    seen: set[tuple[str, Path]] = set()
    for kind, path in binds:
        if (kind, path) in seen:
            continue
        seen.add((kind, path))
        if kind == "--ro-bind" and any(other in path.parents for other in ro):
            continue
        out.append((kind, path))
    return out
