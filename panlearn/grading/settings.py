"""Named limits and switches of the grading core.

Every limit a deployment may want to tune lives here, with a default that is
safe on a small machine; the app maps ``PANLEARN_GRADING_*`` variables onto
these fields (see :meth:`GradingSettings.from_mapping`).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

SandboxMode = Literal["bubblewrap", "none"]

#: Imported by every pooled kernel before it is handed out. Kept light on purpose:
#: numpy and h5py cost ~0.1 s of CPU per kernel, the whole scientific stack
#: (scipy.optimize, matplotlib.pyplot) ~1 s, and every submission needs a fresh
#: kernel, so that second for libraries most exercises do not use would halve
#: throughput. What an exercise does import is preloaded on top, in the kernels
#: the pool starts to replace those its submissions took (`KernelPool.acquire_kernel`).
DEFAULT_PRELOAD = ("numpy", "h5py")

#: The full scientific stack, for deployments that prefer it preloaded everywhere.
SCIENTIFIC_PRELOAD = ("numpy", "scipy", "scipy.optimize", "h5py", "matplotlib", "matplotlib.pyplot")


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
    cell_timeout_s: float = 30.0
    #: Wall-clock limit for the whole run (student notebook + checks); a watchdog kills the sandbox.
    total_timeout_s: float = 120.0
    #: Address-space limit (RLIMIT_AS) of each sandboxed process.
    memory_mb: int = 2048
    #: CPU-seconds limit (RLIMIT_CPU) of each sandboxed process.
    cpu_s: int = 120
    #: Maximum number of processes/threads (RLIMIT_NPROC) per sandbox.
    nproc: int = 2000
    #: Largest file a sandbox may write (RLIMIT_FSIZE).
    fsize_mb: int = 100
    #: Maximum open file descriptors (RLIMIT_NOFILE) per sandboxed process.
    nofile: int = 256
    #: Cap on outputs: a submission carrying more is rejected; a run producing more is truncated.
    max_output_bytes: int = 2_000_000
    #: Largest answer value (JSON or .npy) taken out of the student's kernel.
    max_answer_bytes: int = 50_000_000
    #: "bubblewrap" (default) or "none" (no isolation: development only, must be explicit).
    sandbox: SandboxMode = "bubblewrap"
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

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], prefix: str = "") -> GradingSettings:
        """Build settings from a mapping such as ``os.environ`` or a Flask config.

        Keys are the field names upper-cased after ``prefix`` (e.g.
        ``PANLEARN_GRADING_CELL_TIMEOUT_S``); unknown keys are ignored and
        values are converted to the field's type.
        """
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            key = prefix + f.name.upper()
            if key not in values:
                continue
            raw = values[key]
            default = getattr(cls(), f.name)
            if isinstance(default, bool):
                kwargs[f.name] = str(raw).lower() in {"1", "true", "yes", "on"}
            elif isinstance(default, int):
                kwargs[f.name] = int(raw)
            elif isinstance(default, float):
                kwargs[f.name] = float(raw)
            elif isinstance(default, Path):
                kwargs[f.name] = Path(raw)
            elif isinstance(default, tuple):
                sep = os.pathsep if f.name == "data_dirs" else ","
                items = raw if isinstance(raw, list | tuple) else str(raw).split(sep)
                items = [str(i).strip() for i in items if str(i).strip()]
                kwargs[f.name] = (
                    tuple(Path(i) for i in items) if f.name == "data_dirs" else tuple(items)
                )
            else:
                kwargs[f.name] = raw
        return cls(**kwargs)
