"""Reading and validating a course folder (`course.yml` + notebooks).

`load_course_folder` returns a `CourseSource` or raises `CourseFolderError` with
every problem found, each naming the file, the field and what is wrong.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError

from panlearn.authoring.manifest import (
    SLUG_RE,
    CourseSource,
    LessonSource,
    ManifestSchema,
    ModuleSource,
    Problem,
    flatten_messages,
)
from panlearn.datasets.errors import DatasetSpecError
from panlearn.datasets.registry import Registry
from panlearn.datasets.resolve import validate_dataset_specs
from panlearn.errors import InvalidInputError
from panlearn.grading.errors import ExerciseSpecError
from panlearn.grading.spec import load_exercise_spec
from panlearn.notebooks.canonical import canonical_json, notebook_sha256, read_notebook_bytes
from panlearn.quizzes.blocks import read_questions

MANIFEST = "course.yml"


class CourseFolderError(InvalidInputError):
    """A course folder (or several) has problems; all of them are in `problems`."""

    title = "Invalid course"
    slug = "invalid-course"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        summary = f"{len(problems)} problem(s) in the course source: " + "; ".join(
            str(p) for p in problems[:5]
        )
        super().__init__(summary, errors={"problems": [p.as_dict() for p in problems]})


def find_course_folders(path: Path) -> list[Path]:
    """A course folder itself, or the course folders directly inside `path`."""
    if (path / MANIFEST).is_file():
        return [path]
    if not path.is_dir():
        raise CourseFolderError([Problem(str(path), "no such folder")])
    folders = sorted(child for child in path.iterdir() if (child / MANIFEST).is_file())
    if not folders:
        raise CourseFolderError([Problem(str(path), f"no {MANIFEST} here or in any subfolder")])
    return folders


def load_course_folders(
    path: Path,
    *,
    registry: Registry | None = None,
    on_folder: Callable[[Path, int], None] | None = None,
) -> list[CourseSource]:
    """Load every course under `path`, reporting the problems of all of them at once.

    `on_folder(folder, total)` is called before each folder (for progress bars).
    """
    sources: list[CourseSource] = []
    problems: list[Problem] = []
    seen: dict[str, Path] = {}
    folders = find_course_folders(path)
    for folder in folders:
        if on_folder is not None:
            on_folder(folder, len(folders))
        try:
            source = load_course_folder(folder, registry=registry)
        except CourseFolderError as error:
            problems.extend(error.problems)
            continue
        if source.slug in seen:
            problems.append(Problem(str(folder / MANIFEST), f"duplicate course slug "
                                    f"{source.slug!r} (also {seen[source.slug]})", field="slug"))
            continue
        seen[source.slug] = folder
        sources.append(source)
    if problems:
        raise CourseFolderError(problems)
    return sources


def load_course_folder(folder: Path, *, registry: Registry | None = None) -> CourseSource:
    """Validate one course folder and parse its notebooks.

    With a dataset `registry`, every exercise's dataset references are checked
    too, so a typo fails at import rather than at the first submission.
    """
    manifest_path = folder / MANIFEST
    display = str(manifest_path)
    problems: list[Problem] = []
    try:
        raw_bytes = manifest_path.read_bytes()
        raw = yaml.safe_load(raw_bytes.decode("utf-8"))
    except FileNotFoundError:
        raise CourseFolderError([Problem(display, "missing course manifest")]) from None
    except UnicodeDecodeError:
        raise CourseFolderError([Problem(display, "not UTF-8 text")]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        reason = getattr(error, "problem", None) or str(error)
        line = mark.line + 1 if mark is not None else None
        raise CourseFolderError([Problem(display, f"YAML syntax error: {reason}",
                                         line=line)]) from None
    if not isinstance(raw, dict):
        raise CourseFolderError([Problem(display, "must be a mapping of fields")])
    try:
        manifest: dict[str, Any] = ManifestSchema().load(raw)
    except ValidationError as error:
        problems.extend(Problem(display, message, field=name)
                        for name, message in flatten_messages(error.messages))
        # Keep checking what did validate (the notebooks), so all problems come at once.
        manifest = error.valid_data if isinstance(error.valid_data, dict) else {}
    slug = manifest.get("slug") or folder.resolve().name
    if not SLUG_RE.match(slug):
        problems.append(Problem(display, f"folder name {slug!r} is not a valid slug; set `slug`",
                                field="slug"))
    modules = _load_modules(folder, manifest.get("modules", []), problems, registry)
    if problems:
        raise CourseFolderError(problems)
    return CourseSource(slug=slug, source_hash=_source_hash(raw_bytes, modules),
                        manifest=manifest, modules=modules, origin_uri=str(folder.resolve()))


def _load_modules(folder: Path, entries: list[dict[str, Any]], problems: list[Problem],
                  registry: Registry | None) -> list[ModuleSource]:
    modules: list[ModuleSource] = []
    lesson_slugs: dict[str, str] = {}
    question_ids: dict[str, str] = {}
    root = folder.resolve()
    for m, entry in enumerate(entries):
        lessons: list[LessonSource] = []
        for n, lesson_entry in enumerate(entry["lessons"]):
            where = f"modules[{m}].lessons[{n}]"
            lesson = _load_lesson(root, lesson_entry, where, problems, registry)
            if lesson is None:
                continue
            if lesson.slug in lesson_slugs:
                problems.append(Problem(str(folder / MANIFEST), f"duplicate lesson slug "
                                        f"{lesson.slug!r} (also {lesson_slugs[lesson.slug]})",
                                        field=f"{where}.slug"))
                continue
            lesson_slugs[lesson.slug] = where
            for question in lesson.questions:
                # Ids are unique in the course: analytics and Moodle exports name them alone.
                if question.id in question_ids:
                    problems.append(Problem(
                        str(root.name + "/" + lesson.source_path),
                        f"duplicate question id {question.id!r} in the course "
                        f"(also in {question_ids[question.id]})", field=f"quiz[{question.id}].id"))
                else:
                    question_ids[question.id] = lesson.source_path
            lessons.append(lesson)
        modules.append(ModuleSource(title=entry["title"], summary=entry["summary"],
                                    lessons=lessons))
    return modules


def _load_lesson(root: Path, entry: dict[str, Any], where: str, problems: list[Problem],
                 registry: Registry | None) -> LessonSource | None:
    relative = entry["notebook"]
    path = (root / relative).resolve()
    manifest = str(root / MANIFEST)
    if not path.is_relative_to(root):
        problems.append(Problem(manifest, f"{relative!r} points outside the course folder",
                                field=f"{where}.notebook"))
        return None
    if not path.is_file():
        problems.append(Problem(manifest, f"notebook {relative!r} not found",
                                field=f"{where}.notebook"))
        return None
    if path.suffix != ".ipynb":
        problems.append(Problem(manifest, f"{relative!r} is not a .ipynb notebook",
                                field=f"{where}.notebook"))
        return None
    try:
        notebook = read_notebook_bytes(path.read_bytes())
    except InvalidInputError as error:
        problems.append(Problem(str(path.relative_to(root.parent)), error.detail))
        return None
    checks, datasets, nb_problems = _exercise_parts(notebook)
    display = str(path.relative_to(root.parent))
    problems.extend(Problem(display, message, field=name) for name, message in nb_problems)
    located, quiz_problems = read_questions(notebook)
    problems.extend(Problem(display, message, field=name)
                    for name, messages in quiz_problems.items() for message in messages)
    if registry is not None and datasets:
        try:
            validate_dataset_specs(datasets, registry=registry)
        except DatasetSpecError as error:
            problems.extend(Problem(display, message, field=f"metadata.panlearn.{name}")
                            for name, messages in (error.errors or {}).items()
                            for message in messages)
    if checks and not nb_problems:
        # Without running anything: a check that reads the reference solution's values
        # wrongly (e.g. it would have to run in the student's kernel) is refused even when
        # import validation is off. Other spec problems are reported by validation.
        try:
            load_exercise_spec(notebook)
        except ExerciseSpecError as error:
            if (error.errors or {}).get("reference"):
                problems.append(Problem(display, error.detail))
    kind = entry.get("kind") or ("exercise" if checks else "reading")
    if kind == "exercise" and not checks:
        problems.append(Problem(display, "an exercise needs at least one check cell "
                                "(metadata.nbgrader.grade = true)"))
    slug = entry.get("slug") or _slugify(path.stem)
    title = entry.get("title") or _first_heading(notebook) or path.stem
    return LessonSource(slug=slug, title=title, kind=kind, source_path=relative,
                        notebook=notebook, notebook_bytes=canonical_json(notebook),
                        notebook_hash=notebook_sha256(notebook), checks=checks,
                        datasets=datasets, questions=[item.question for item in located])


def _exercise_parts(notebook: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                            list[tuple[str, str]]]:
    """Check cells and dataset references, with the problems of each."""
    checks: list[dict[str, Any]] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, cell in enumerate(notebook.cells):
        meta = cell.get("metadata", {}).get("nbgrader") or {}
        if not meta.get("grade"):
            continue
        grade_id = meta.get("grade_id")
        name = f"cells[{index}].metadata.nbgrader"
        if not grade_id:
            problems.append((name, "a check cell needs a grade_id"))
            continue
        if grade_id in seen:
            problems.append((name, f"duplicate grade_id {grade_id!r}"))
        seen.add(grade_id)
        points = meta.get("points")
        if not isinstance(points, int | float) or isinstance(points, bool) or points <= 0:
            problems.append((name, f"check {grade_id!r} needs positive points, got {points!r}"))
            continue
        checks.append({"grade_id": grade_id, "points": float(points),
                       "cell_id": cell.get("id")})
    datasets = (notebook.metadata.get("panlearn") or {}).get("datasets") or []
    if not isinstance(datasets, list):
        problems.append(("metadata.panlearn.datasets", "must be a list"))
        datasets = []
    return checks, list(datasets), problems


def _first_heading(notebook: Any) -> str | None:
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip() or None
    return None


def _slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "lesson"


def _source_hash(manifest_bytes: bytes, modules: list[ModuleSource]) -> str:
    """A hash over the manifest and every notebook: same folder, same hash."""
    digest = hashlib.sha256(manifest_bytes)
    for module in modules:
        for lesson in module.lessons:
            digest.update(lesson.source_path.encode() + b"\0" + lesson.notebook_hash.encode())
    return digest.hexdigest()
