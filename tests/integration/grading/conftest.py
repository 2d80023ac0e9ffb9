"""Real sandboxed kernels for grading tests: one warm pool per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from panlearn.grading.core.pool import KernelPool
from panlearn.grading.core.settings import GradingSettings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def grading_settings(
    shared_data_dir: Path, tmp_path_factory: pytest.TempPathFactory, bubblewrap: str
) -> GradingSettings:
    return GradingSettings(
        cell_timeout_s=3,
        total_timeout_s=20,
        memory_mb=1024,
        cpu_s=30,
        fsize_mb=100,
        data_dirs=(shared_data_dir / "nexus",),
        work_dir=tmp_path_factory.mktemp("grading-runs"),
        # The DMC exercise needs numpy and h5py only: a lighter preload keeps the suite fast.
        preload_modules=("numpy", "h5py"),
    )


@pytest.fixture(scope="session")
def pool(grading_settings: GradingSettings) -> Iterator[KernelPool]:
    with KernelPool(grading_settings, size=2) as kernel_pool:
        yield kernel_pool


@pytest.fixture(scope="session")
def dmc_file(shared_data_dir: Path) -> Path:
    return shared_data_dir / "nexus" / "dmc01.h5"
