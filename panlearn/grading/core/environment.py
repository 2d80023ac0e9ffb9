"""The environment every sandboxed process gets: its own, nothing inherited from the grader.

Every launcher (and the bubblewrap command line) starts jobs with `job_env`, so
no secret of the grader's environment can reach student code.
"""

from __future__ import annotations

import sys
from pathlib import Path


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
