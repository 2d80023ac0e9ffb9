"""The shipped courses, their exercises and a warm sandboxed kernel pool to grade them."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from panlearn.authoring.folder import load_course_folders
from panlearn.config import load_settings
from panlearn.datasets.resolve import papermill_parameters, resolve_exercise_datasets
from panlearn.datasets.settings import DatasetsConfig, DatasetsContext
from panlearn.grading.core.settings import GradingSettings
from tests.conftest import REPO_ROOT, SANDBOXES, _shared_data_dir
from tests.integration.courses.mistakes import Mistake

COURSES = REPO_ROOT / "courses"


@dataclass(frozen=True)
class ShippedLesson:
    """A lesson of a shipped course, as its folder declares it."""

    course: str
    path: Path
    kind: str
    datasets: tuple[dict[str, Any], ...]

    @property
    def id(self) -> str:
        return f"{self.course}/{self.path.name}"

    def notebook(self) -> Any:
        return nbformat.read(str(self.path), as_version=4)


def shipped_sources() -> list[Any]:
    """Every course folder under courses/, validated."""
    return load_course_folders(COURSES)


def shipped_lessons(kind: str | None = None) -> list[ShippedLesson]:
    """Lessons of all shipped courses (collected at import time, for parametrisation)."""
    lessons = []
    for source in shipped_sources():
        folder = COURSES / source.slug
        for module in source.modules:
            for lesson in module.lessons:
                if kind is None or lesson.kind == kind:
                    lessons.append(ShippedLesson(source.slug, folder / lesson.source_path,
                                                 lesson.kind, tuple(lesson.datasets)))
    return lessons


def declared_mistakes() -> list[tuple[str, Mistake]]:
    """(course slug, mistake) from every mistakes_<course>.py module in this folder."""
    import tests.integration.courses as package

    found: list[tuple[str, Mistake]] = []
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("mistakes_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        course = info.name.removeprefix("mistakes_").replace("_", "-")
        found.extend((course, mistake) for mistake in getattr(module, "MISTAKES", []))
    return found


@pytest.fixture(scope="session")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> DatasetsContext:
    """The registry of content/datasets.yml and a verified file cache fed from the shared data."""
    instance = tmp_path_factory.mktemp("courses-instance")
    return DatasetsContext(DatasetsConfig.from_settings(load_settings({}, {
        "INSTANCE_DIR": str(instance),
        "CONTENT_DIR": str(REPO_ROOT / "content"),
        "DATA_DIRS": [str(_shared_data_dir() / "nexus"), str(_shared_data_dir() / "panosc")],
    })))


@pytest.fixture(scope="session", params=SANDBOXES)
def course_grading_settings(request: pytest.FixtureRequest, datasets: DatasetsContext,
                            tmp_path_factory: pytest.TempPathFactory,
                            bubblewrap: str) -> GradingSettings:
    """Grading on each sandbox in turn: every shipped exercise must pass on both."""
    cache = datasets.config.data_cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    return GradingSettings(
        sandbox=request.param,
        cell_timeout_s=20,
        total_timeout_s=60,
        memory_mb=2048,
        cpu_s=60,
        data_dirs=(cache.resolve(),),
        work_dir=tmp_path_factory.mktemp("course-grading"),
    )


@pytest.fixture(scope="module")
def course_pool(course_grading_settings: GradingSettings) -> Iterator[Any]:
    from panlearn.grading.core.pool import KernelPool

    with KernelPool(course_grading_settings, size=2) as pool:
        assert pool.sandbox_name == course_grading_settings.sandbox  # no silent fallback
        yield pool


@pytest.fixture(scope="session")
def resolve_parameters(datasets: DatasetsContext):
    """lesson → (papermill parameters, data files), resolved through the registry and cache."""
    def resolve(lesson: ShippedLesson) -> tuple[dict[str, str], list[Path]]:
        resolved = resolve_exercise_datasets(list(lesson.datasets), registry=datasets.registry,
                                             cache=datasets.file_cache)
        return papermill_parameters(resolved), [item.path for item in resolved]

    return resolve
