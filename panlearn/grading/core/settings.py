"""Named limits and switches of the grading core, and their one mapping from the settings.

Every limit a deployment may want to tune lives here. Those a deployment sets
(``PANLEARN_GRADING_*``, ``PANLEARN_SANDBOX``) take their defaults from their
one declaration in `panlearn.config`; `grading_settings` maps the resolved
settings onto these fields (plain Python: the app, the CLI and the workers
call it alike).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from panlearn.config import default

SandboxMode = Literal["auto", "zygote", "bubblewrap", "none"]

#: What every sandbox's environment imports, on top of what its exercise imports. Kept
#: light: a fork's cost grows with what the zygote has mapped (measured: ~5 ms per fork
#: with numpy and h5py, ~13 ms with scipy and matplotlib.pyplot too; a job forks three
#: times), so an exercise that imports scipy gets a zygote of its own that has it, and
#: the others do not pay for it. Under bubblewrap every kernel imports it afresh.



def module_names(text: str) -> tuple[str, ...]:
    """The modules of a comma-separated list (``PANLEARN_GRADING_PRELOAD``)."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


DEFAULT_PRELOAD = module_names(default("GRADING_PRELOAD"))


def _default_work_dir() -> Path:
    # Outside the repo and the instance folder on purpose: sandboxes bind only
    # their own sub-folder of it, never its parent.
    return Path(tempfile.gettempdir()) / "panlearn-grading"


@dataclass(frozen=True)
class GradingSettings:
    """Limits and switches for one grading worker.

    All sizes are in MB and all durations in seconds so that environment
    variables stay readable.
    """

    #: Per-cell time limit in the student's kernel (papermill/nbclient ``timeout``).
    cell_timeout_s: float = default("GRADING_CELL_TIMEOUT_S")
    #: Wall-clock limit for the whole run (student notebook + checks); a watchdog kills the sandbox.
    total_timeout_s: float = default("GRADING_TIMEOUT_S")
    #: Memory limit of a whole submission (its cgroup, all processes together; also the
    #: per-process address space on top of what the zygote itself maps).
    memory_mb: int = default("GRADING_MEMORY_MB")
    #: CPU-seconds limit (RLIMIT_CPU) of each sandboxed process.
    cpu_s: int = default("GRADING_CPU_S")
    #: Maximum number of processes/threads of a submission (its pids cgroup; RLIMIT_NPROC).
    nproc: int = default("GRADING_NPROC")
    #: Largest file a sandbox may write (RLIMIT_FSIZE).
    fsize_mb: int = default("GRADING_FSIZE_MB")
    #: Everything a submission may write, all files together (its size-capped tmpfs).
    disk_mb: int = default("GRADING_DISK_MB")
    #: Maximum open file descriptors (RLIMIT_NOFILE) per sandboxed process.
    nofile: int = 256
    #: Cap on outputs: a submission carrying more is rejected; a run producing more is truncated.
    max_output_bytes: int = 2_000_000
    #: Largest answer value (JSON or .npy) taken out of the student's kernel.
    max_answer_bytes: int = 50_000_000
    #: "auto" (the zygote where it runs, else bubblewrap), "zygote", "bubblewrap", or "none"
    #: (no isolation: development only, must be explicit).
    sandbox: SandboxMode = default("SANDBOX")
    #: "auto" (cgroup v1 under the grader's own cgroup), "off", or a delegated cgroup v2 folder.
    cgroup: str = default("GRADING_CGROUP")
    #: Most zygotes (exercise environments) a worker keeps warm.
    zygotes: int = default("GRADING_ZYGOTES")
    #: Path or name of the bubblewrap binary.
    bwrap_path: str = "bwrap"
    #: Python interpreter that runs kernels (its environment needs ipykernel, numpy, ...).
    python: str = sys.executable
    #: Modules imported in each pooled kernel before it is handed out (plus those learned).
    preload_modules: tuple[str, ...] = DEFAULT_PRELOAD
    #: Folders bound read-only into every sandbox (e.g. the dataset file cache).
    data_dirs: tuple[Path, ...] = ()
    #: Parent folder of the per-kernel run folders (IPC sockets, answers, temp files).
    work_dir: Path = field(default_factory=_default_work_dir)
    #: Time allowed for a kernel to start and preload.
    start_timeout_s: float = 60.0
    #: First uid of the range sandboxes run as when the server is root (one uid per sandbox).
    uid_base: int = 2_100_000_000
    #: Size of that uid range.
    uid_count: int = 100_000


def grading_settings(values: Mapping[str, Any]) -> GradingSettings:
    """Map the resolved settings (`config.load_settings`) onto the grading core's limits."""
    return GradingSettings(
        sandbox=values["SANDBOX"],
        cell_timeout_s=values["GRADING_CELL_TIMEOUT_S"],
        total_timeout_s=values["GRADING_TIMEOUT_S"],
        memory_mb=values["GRADING_MEMORY_MB"],
        cpu_s=values["GRADING_CPU_S"],
        fsize_mb=values["GRADING_FSIZE_MB"],
        disk_mb=values["GRADING_DISK_MB"],
        nproc=values["GRADING_NPROC"],
        cgroup=values["GRADING_CGROUP"],
        zygotes=values["GRADING_ZYGOTES"],
        preload_modules=module_names(values["GRADING_PRELOAD"]),
        max_output_bytes=min(values["MAX_UPLOAD_MB"] * 1024 * 1024, 10_000_000),
        # Dataset files are served from the verified cache, bound read-only.
        data_dirs=(Path(values["DATA_CACHE_DIR"]).resolve(),),
    )
