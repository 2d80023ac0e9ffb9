"""The Linux calls a sandbox is built from: namespaces, mounts, credentials, seccomp, limits.

Python 3.11 has no ``os.unshare``, ``mount`` or ``pivot_root``, so they are
called through ctypes here, each checked, each raising `OSError` with the
call named. Nothing here decides policy: `zygote` and `inside` say what to
isolate; this module only knows how.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
from collections.abc import Iterable

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                        ctypes.c_ulong]

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWCGROUP = 0x02000000
#: Every namespace a sandboxed job gets of its own.
JOB_NAMESPACES = (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
                  | CLONE_NEWUTS)

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38

CAP_SETGID = 6
CAP_SETUID = 7
_CAP_LAST = 63
_SYS_PIVOT_ROOT = 155  # x86_64 and aarch64 differ; see `pivot_root`


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    """Give the calling process new namespaces (unshare(2))."""
    _check(_libc.unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    """Mount a filesystem (mount(2))."""
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), f"mount {target}")


def umount(target: str, flags: int = MNT_DETACH) -> None:
    """umount2(2), detaching by default."""
    _check(_libc.umount2(_b(target), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    """Make ``new_root`` the root, the old one reachable at ``put_old`` (pivot_root(2))."""
    number = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine, _SYS_PIVOT_ROOT)
    _check(_libc.syscall(number, _b(new_root), _b(put_old)), "pivot_root")


def private_mounts() -> None:
    """Stop mount events propagating between this mount namespace and its parent."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)


def tmpfs(target: str, *, size_bytes: int, mode: int = 0o755, uid: int | None = None,
          flags: int = MS_NOSUID | MS_NODEV) -> None:
    """Mount a size-capped tmpfs at ``target`` (its pages count in the memory cgroup)."""
    options = f"size={max(4096, size_bytes)},mode={mode:o}"
    if uid is not None:
        options += f",uid={uid},gid={uid}"
    mount("tmpfs", target, "tmpfs", flags, options)


def bind(source: str, target: str, *, read_only: bool = True) -> None:
    """Bind ``source`` at ``target``, then make it read-only keeping the flags it must keep.

    A bind mount in a user namespace may not drop the "locked" flags of its
    source (nosuid, nodev, noexec), so the read-only remount repeats them.
    """
    mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        remount_read_only(target)


def remount_read_only(target: str) -> None:
    """Remount an existing mount read-only, keeping nosuid/nodev/noexec as they are."""
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY
    stat = os.statvfs(target)
    for flag, bit in ((MS_NOSUID, os.ST_NOSUID), (MS_NODEV, os.ST_NODEV),
                      (MS_NOEXEC, os.ST_NOEXEC)):
        if stat.f_flag & bit:
            flags |= flag
    mount(None, target, None, flags)


def set_dumpable(on: bool = True) -> None:
    """PR_SET_DUMPABLE: needed to write one's own uid_map after changing uid."""
    _check(_libc.prctl(PR_SET_DUMPABLE, int(on), 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


def set_no_new_privs() -> None:
    """PR_SET_NO_NEW_PRIVS: no exec can ever grant privileges again (setuid binaries, caps)."""
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def set_parent_death_signal(signum: int) -> None:
    """PR_SET_PDEATHSIG: receive ``signum`` when the parent dies."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def set_capabilities(caps: Iterable[int] = ()) -> None:
    """capset(2): keep exactly ``caps`` in the effective and permitted sets, none inheritable."""
    mask = 0
    for cap in caps:
        mask |= 1 << cap
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    data[0].effective = data[0].permitted = mask & 0xFFFFFFFF
    data[1].effective = data[1].permitted = mask >> 32
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def drop_bounding_set() -> None:
    """Empty the capability bounding set (needs CAP_SETPCAP, held in one's own namespace)."""
    for cap in range(_CAP_LAST + 1):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
            _check(-1, f"prctl(PR_CAPBSET_DROP, {cap})")


def become_zygote_user(uid: int) -> None:
    """As root: switch to ``uid`` keeping only CAP_SETUID and CAP_SETGID.

    Just enough to give each job a uid of its own; nothing else of root's
    power stays with the zygote.
    """
    drop = [c for c in range(_CAP_LAST + 1) if c not in (CAP_SETUID, CAP_SETGID)]
    for cap in drop:
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
            _check(-1, f"prctl(PR_CAPBSET_DROP, {cap})")
    _check(_libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    set_capabilities((CAP_SETUID, CAP_SETGID))
    _check(_libc.prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)")


def become_job_user(uid: int) -> None:
    """Switch to the job's own uid and keep no capability at all."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    set_capabilities(())


def map_user(inside: int, outside_uid: int, outside_gid: int) -> None:
    """Write the new user namespace's maps: ``inside`` is the caller's only identity."""
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{inside} {outside_uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{inside} {outside_gid} 1")


def set_limits(*, address_space: int | None, cpu_s: int, nproc: int, fsize: int,
               nofile: int) -> None:
    """Set the process's rlimits (its children inherit them)."""
    pairs = [
        (resource.RLIMIT_CPU, (cpu_s, cpu_s + 5)),
        (resource.RLIMIT_NPROC, (nproc, nproc)),
        (resource.RLIMIT_FSIZE, (fsize, fsize)),
        (resource.RLIMIT_NOFILE, (nofile, nofile)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    if address_space is not None:
        pairs.append((resource.RLIMIT_AS, (address_space, address_space)))
    for which, (soft, hard) in pairs:
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))


#: System calls a job never needs and an escape would: new namespaces, mounts,
#: tracing other processes, loading kernel code, keyrings, io_uring, bpf.
DENIED_SYSCALLS = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "ptrace",
    "process_vm_readv", "process_vm_writev", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module", "bpf", "perf_event_open", "add_key", "request_key",
    "keyctl", "userfaultfd", "open_by_handle_at", "name_to_handle_at", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "fsopen", "fsmount", "fsconfig", "move_mount",
    "open_tree", "mount_setattr", "swapon", "swapoff", "reboot", "syslog", "acct",
    "settimeofday", "clock_settime", "adjtimex", "lookup_dcookie", "quotactl", "vhangup",
    "personality",
)


def _seccomp_filter() -> object:
    """The deny-list filter: the calls above fail with EPERM; `clone` may make no namespace.

    ``clone3`` passes its flags in memory a filter cannot read, so it fails
    with ENOSYS and the C library falls back to ``clone``, which is checked.
    """
    import pyseccomp as seccomp

    flt = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            flt.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (RuntimeError, ValueError, OSError):
            continue  # not a call on this architecture
    for flag in (CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC,
                 CLONE_NEWUTS, CLONE_NEWCGROUP):
        flt.add_rule(seccomp.ERRNO(errno.EPERM), "clone",
                     seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    try:
        flt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    except (RuntimeError, ValueError, OSError):
        pass
    # ioctl(TIOCSTI) would push keystrokes into a terminal the job shares.
    flt.add_rule(seccomp.ERRNO(errno.EPERM), "ioctl", seccomp.Arg(1, seccomp.EQ, 0x5412))
    return flt


def install_seccomp() -> None:
    """Load the deny-list into this process, every thread (TSYNC); sets no_new_privs."""
    import pyseccomp as seccomp

    flt = _seccomp_filter()
    flt.set_attr(seccomp.Attr.CTL_TSYNC, 1)  # type: ignore[attr-defined]
    flt.load()  # type: ignore[attr-defined]


def seccomp_program() -> bytes:
    """The same deny-list as a compiled BPF program (bubblewrap's ``--seccomp FD``)."""
    import tempfile

    with tempfile.TemporaryFile() as f:
        _seccomp_filter().export_bpf(f)  # type: ignore[attr-defined]
        f.seek(0)
        return f.read()


def close_fds_except(keep: Iterable[int]) -> None:
    """Close every inherited descriptor above stderr except ``keep``."""
    keep = sorted({fd for fd in keep if fd > 2})
    low = 3
    for fd in keep:
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)
