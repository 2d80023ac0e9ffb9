"""Command lines that confine a kernel (or the check runner) with bubblewrap.

Each sandboxed process gets: its own pid, net, ipc, uts and cgroup
namespaces (no network at all: the kernel talks to us over ZeroMQ ``ipc``
sockets in its run folder); a read-only view of the system, the Python
environment and the dataset folders only; one writable folder (its run
folder, also its HOME and TMPDIR); a scrubbed environment; rlimits set by
``prlimit`` inside the namespaces; and, when we run as root, a uid of its own
(so RLIMIT_NPROC counts only its own processes and no root-owned file is
readable).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import SandboxUnavailableError
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
    if settings.sandbox != "bubblewrap":
        raise SandboxUnavailableError(
            f"unknown sandbox mode {settings.sandbox!r}: use 'bubblewrap' or 'none'"
        )
    path = shutil.which(settings.bwrap_path)
    if path is None:
        raise SandboxUnavailableError(
            f"bubblewrap ({settings.bwrap_path!r}) is not installed, so student code cannot be "
            "confined: install it (apt-get install bubblewrap) or, on a development machine "
            "only, set the grading sandbox to 'none' explicitly"
        )
    return path


def pick_uid(settings: GradingSettings) -> int | None:
    """A fresh unprivileged uid when running as root (None otherwise).

    One uid per sandbox makes RLIMIT_NPROC a per-submission cap: the kernel
    counts processes per real uid.
    """
    if os.geteuid() != 0:
        return None
    return settings.uid_base + secrets.randbelow(settings.uid_count)


def make_run_dir(settings: GradingSettings, uid: int | None, prefix: str) -> Path:
    """Create the private, writable folder of one sandbox (owned by its uid).

    A kernel's gets a copy of the grader's matplotlib font cache (see
    `font_cache`): without one, every kernel importing matplotlib rebuilds it.
    """
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.work_dir, 0o711)  # others may traverse, not list
    run_dir = settings.work_dir / f"{prefix}-{secrets.token_hex(8)}"
    run_dir.mkdir(mode=0o700)
    for sub in ("tmp", ".mpl", ".ipython"):
        (run_dir / sub).mkdir(mode=0o700)
    copies = []
    if prefix == "kernel":
        for cached in font_cache(settings):
            copies.append(run_dir / ".mpl" / cached.name)
            shutil.copyfile(cached, copies[-1])
    if uid is not None:
        for path in (run_dir, run_dir / "tmp", run_dir / ".mpl", run_dir / ".ipython", *copies):
            os.chown(path, uid, uid)
    return run_dir


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


def sandbox_env(settings: GradingSettings, run_dir: Path) -> dict[str, str]:
    """The complete environment of a sandboxed process: nothing is inherited."""
    venv_bin = str(Path(settings.python).parent)
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(run_dir),
        "TMPDIR": str(run_dir / "tmp"),
        "USER": "student",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(run_dir / ".mpl"),
        "IPYTHONDIR": str(run_dir / ".ipython"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        # One BLAS thread per submission, and few malloc arenas so that the
        # address-space limit measures what the student allocates.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
    }


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


def wrap_command(
    settings: GradingSettings,
    argv: Sequence[str],
    *,
    run_dir: Path,
    uid: int | None,
    read_only: Iterable[Path] = (),
) -> list[str]:
    """The full command line that runs ``argv`` confined (or merely limited in "none" mode)."""
    bwrap = resolve_bwrap(settings)
    inner = limits_argv(settings, uid) + list(argv)
    if bwrap is None:
        return inner
    cmd = [
        bwrap,
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--hostname",
        "sandbox",
    ]
    if os.geteuid() != 0:
        cmd.append("--unshare-user")
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
    binds += [("--ro-bind", Path(p).resolve()) for p in read_only]
    binds.append(("--bind", run_dir))
    binds = _without_nested(binds)

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
    if Path("/tmp") not in run_dir.parents:
        cmd += ["--symlink", str(run_dir / "tmp"), "/tmp"]
    cmd += ["--chdir", str(run_dir), "--clearenv"]
    for key, value in sandbox_env(settings, run_dir).items():
        cmd += ["--setenv", key, value]
    return cmd + inner


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
