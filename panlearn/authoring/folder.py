"""Reading and validating a course folder (`course.yml` + notebooks), without running anything.

`read_course_folders` returns the courses it could read and every problem it
found, each naming the file, the cell or field and what is wrong;
`load_course_folders` raises `CourseFolderError` with them instead. These are
the checks that need neither the database nor a kernel: the manifest, the
notebooks and their nbgrader cells, dataset references, the `parameters`
cell, solution and hidden-test markers, reading lessons saved executed. The
rest (organisation and rights, grading the reference solution) is in
`authoring.checks`.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Callable, Mapping
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
from panlearn.grading.core import nbgrader
from panlearn.grading.core.errors import ExerciseSpecError
from panlearn.grading.core.spec import is_parameters_cell, load_exercise_spec
from panlearn.notebooks.canonical import canonical_json, notebook_sha256, read_notebook_bytes
from panlearn.notebooks.student import make_student_version
from panlearn.quizzes.blocks import read_questions

MANIFEST = "course.yml"
#: Column sizes of what a lesson stores (models.Lesson, models.Course).
MAX_SLUG = 100
MAX_TITLE = 200
MAX_SOURCE_PATH = 300
#: How `notebooks.student` names a cell in its marker errors: "(cell #4)".
_CELL_POSITION = re.compile(r"\(cell #(\d+)\)")


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
    """Load every course under `path`; raises `CourseFolderError` with every problem at once.

    `on_folder(folder, total)` is called before each folder (for progress bars).
    """
    sources, problems = read_course_folders(path, registry=registry, on_folder=on_folder)
    if problems:
        raise CourseFolderError(problems)
    return sources


def read_course_folders(
    path: Path,
    *,
    registry: Registry | None = None,
    on_folder: Callable[[Path, int], None] | None = None,
    anonymous: Path | None = None,
) -> tuple[list[CourseSource], list[Problem]]:
    """Every course under `path` that could be read, and every problem found.

    A course with problems is still returned when its notebooks could be read
    (holding the lessons that loaded), so that validation can go on to grade
    its exercises and report everything at once; an import refuses it.
    `anonymous` is a folder whose name means nothing (an archive unpacked into
    a temporary folder): its course must name its `slug`.
    """
    sources: list[CourseSource] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    folders = find_course_folders(path)
    for folder in folders:
        if on_folder is not None:
            on_folder(folder, len(folders))
        source, found = read_course_folder(
            folder, registry=registry,
            anonymous=anonymous is not None and folder.resolve() == anonymous.resolve())
        problems.extend(found)
        if source is None:
            continue
        if source.slug in seen:
            problems.append(Problem(_shown(source.display, MANIFEST), f"duplicate course slug "
                                    f"{source.slug!r} (also {seen[source.slug]})", field="slug"))
            continue
        seen[source.slug] = source.display or MANIFEST
        sources.append(source)
    return sources, problems


def load_course_folder(folder: Path, *, registry: Registry | None = None) -> CourseSource:
    """Validate one course folder and parse its notebooks (raises on any problem)."""
    source, problems = read_course_folder(folder, registry=registry)
    if problems or source is None:
        raise CourseFolderError(problems)
    return source


def _shown(display: str, relative: str) -> str:
    return f"{display}/{relative}" if display else relative


def read_course_folder(
    folder: Path,
    *,
    registry: Registry | None = None,
    anonymous: bool = False,
) -> tuple[CourseSource | None, list[Problem]]:
    """Validate one course folder and parse its notebooks; the source and every problem.

    Files are named relative to the folder's parent (`powder-diffraction/course.yml`),
    or to the folder itself when it is `anonymous`. With a dataset `registry`,
    dataset references are checked too. The source is None when the manifest
    could not be read.
    """
    display = "" if anonymous else folder.resolve().name
    manifest_file = _shown(display, MANIFEST)
    problems: list[Problem] = []
    try:
        raw_bytes = (folder / MANIFEST).read_bytes()
        raw = yaml.safe_load(raw_bytes.decode("utf-8-sig"))
    except FileNotFoundError:
        return None, [Problem(manifest_file, "missing course manifest")]
    except UnicodeDecodeError:
        return None, [Problem(manifest_file, "not UTF-8 text")]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        reason = getattr(error, "problem", None) or str(error)
        line = mark.line + 1 if mark is not None else None
        return None, [Problem(manifest_file, f"YAML syntax error: {reason}", line=line)]
    if not isinstance(raw, dict):
        return None, [Problem(manifest_file, "must be a mapping of fields")]
    try:
        manifest: dict[str, Any] = ManifestSchema().load(raw)
    except ValidationError as error:
        problems.extend(Problem(manifest_file, message, field=name)
                        for name, message in flatten_messages(error.messages))
        # Keep checking what did validate (the notebooks), so all problems come at once.
        manifest = error.valid_data if isinstance(error.valid_data, dict) else {}
    if anonymous and not manifest.get("slug"):
        problems.append(Problem(manifest_file, "course.yml is at the top of the archive, so "
                                "the course's slug cannot come from its folder name: set `slug`, "
                                "or zip the course folder itself", field="slug"))
    slug = manifest.get("slug") or folder.resolve().name
    if not SLUG_RE.match(slug) or len(slug) > MAX_SLUG:
        problems.append(Problem(manifest_file, f"folder name {slug[:60]!r} is not a valid slug "
                                f"(lowercase words and hyphens, at most {MAX_SLUG} characters); "
                                "set `slug`", field="slug"))
    modules = _load_modules(folder, display, manifest.get("modules", []), problems, registry)
    source = CourseSource(slug=slug, source_hash=identity_hash(slug, manifest, modules),
                          manifest=manifest, modules=modules, origin_uri=str(folder.resolve()),
                          legacy_hash=_legacy_hash(raw_bytes, modules), display=display)
    return source, problems


def _load_modules(folder: Path, display: str, entries: list[dict[str, Any]],
                  problems: list[Problem], registry: Registry | None) -> list[ModuleSource]:
    modules: list[ModuleSource] = []
    lesson_slugs: dict[str, str] = {}
    question_ids: dict[str, str] = {}
    root = folder.resolve()
    for m, entry in enumerate(entries):
        lessons: list[LessonSource] = []
        for n, lesson_entry in enumerate(entry["lessons"]):
            where = f"modules[{m}].lessons[{n}]"
            lesson = _load_lesson(root, display, lesson_entry, where, problems, registry)
            if lesson is None:
                continue
            if lesson.slug in lesson_slugs:
                problems.append(Problem(_shown(display, MANIFEST), f"duplicate lesson slug "
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


def _load_lesson(root: Path, display: str, entry: dict[str, Any], where: str,
                 problems: list[Problem], registry: Registry | None) -> LessonSource | None:
    relative = entry["notebook"]
    path = (root / relative).resolve()
    manifest = _shown(display, MANIFEST)
    field = f"{where}.notebook"
    if not path.is_relative_to(root):
        problems.append(Problem(manifest, f"{relative!r} points outside the course folder",
                                field=field))
        return None
    if len(relative) > MAX_SOURCE_PATH:
        problems.append(Problem(manifest, f"the path {relative[:40]!r}… is longer than "
                                f"{MAX_SOURCE_PATH} characters", field=field))
        return None
    try:
        found = path.is_file()
    except OSError:  # e.g. a name too long for the file system
        found = False
    if not found:
        problems.append(Problem(manifest, f"notebook {relative!r} not found", field=field))
        return None
    if path.suffix != ".ipynb":
        problems.append(Problem(manifest, f"{relative!r} is not a .ipynb notebook", field=field))
        return None
    shown = _shown(display, path.relative_to(root).as_posix())
    try:
        notebook = read_notebook_bytes(path.read_bytes())
    except InvalidInputError as error:
        problems.append(Problem(shown, error.detail))
        return None
    before = len(problems)
    checks, datasets, nb_problems = _exercise_parts(notebook)
    problems.extend(Problem(shown, message, field=name) for name, message in nb_problems)
    located, quiz_problems = read_questions(notebook)
    problems.extend(Problem(shown, message, field=name)
                    for name, messages in quiz_problems.items() for message in messages)
    if registry is not None and datasets:
        try:
            validate_dataset_specs(datasets, registry=registry)
        except DatasetSpecError as error:
            problems.extend(Problem(shown, message, field=f"metadata.panlearn.{name}")
                            for name, messages in (error.errors or {}).items()
                            for message in messages)
    problems.extend(_parameters_problems(notebook, datasets, shown))
    problems.extend(_student_version_problems(notebook, shown))
    kind = entry.get("kind") or ("exercise" if checks else "reading")
    if kind == "exercise" and not checks:
        problems.append(Problem(shown, "an exercise needs at least one check cell "
                                "(metadata.nbgrader.grade = true)"))
    if kind == "exercise" and len(problems) == before:
        # Without running anything: what grading relies on (grade ids, points, how each
        # check reads the reference solution). The rest is proved by grading it.
        try:
            load_exercise_spec(notebook)
        except ExerciseSpecError as error:
            problems.append(Problem(shown, error.detail, cell=_cell_of(error)))
    if kind == "reading":
        problems.extend(_execution_problems(notebook, shown))
    slug = entry.get("slug") or _slugify(path.stem)
    title = entry.get("title") or _first_heading(notebook) or path.stem
    return LessonSource(slug=slug, title=_clip(title, MAX_TITLE), kind=kind,
                        source_path=relative, notebook=notebook,
                        notebook_bytes=canonical_json(notebook),
                        notebook_hash=notebook_sha256(notebook), checks=checks,
                        datasets=datasets, questions=[item.question for item in located])


def _cell_of(error: InvalidInputError) -> int | None:
    index = (error.errors or {}).get("cell")
    return index + 1 if isinstance(index, int) else None


def _parameters_problems(notebook: Any, datasets: list[dict[str, Any]],
                         shown: str) -> list[Problem]:
    """A notebook that names datasets needs a `parameters` cell assigning each parameter."""
    # A parameter that is no identifier is the registry check's problem (datasets[n].parameter).
    wanted = [entry["parameter"] for entry in datasets if isinstance(entry, dict)
              and isinstance(entry.get("parameter"), str) and entry["parameter"].isidentifier()]
    if not wanted:
        return []
    tagged = [(index, cell) for index, cell in enumerate(notebook.cells)
              if is_parameters_cell(cell)]
    if not tagged:
        return [Problem(shown, "the notebook names datasets but no cell is tagged "
                        "'parameters' to receive their file paths (in Jupyter: View → Cell "
                        "Toolbar → Tags)", field="metadata.panlearn.datasets")]
    if len(tagged) > 1:
        return [Problem(shown, "more than one cell is tagged 'parameters'",
                        cell=tagged[1][0] + 1)]
    index, cell = tagged[0]
    if cell.cell_type != "code":
        return [Problem(shown, "the cell tagged 'parameters' must be a code cell",
                        cell=index + 1)]
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as error:
        return [Problem(shown, f"the parameters cell does not parse: {error.msg}",
                        cell=index + 1)]
    assigned = {target.id for node in tree.body if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)}
    return [Problem(shown, f"the parameters cell does not assign {name!r}, which "
                    "metadata.panlearn.datasets names (write e.g. "
                    f"{name} = \"file.h5\")", cell=index + 1)
            for name in wanted if name not in assigned]


def _student_version_problems(notebook: Any, shown: str) -> list[Problem]:
    """Solution and hidden-test markers must pair up, or no student version can be made."""
    try:
        make_student_version(notebook)
    except InvalidInputError as error:
        position = _CELL_POSITION.search(error.detail)
        return [Problem(shown, error.detail, cell=int(position.group(1)) if position else None)]
    return []


def _execution_problems(notebook: Any, shown: str) -> list[Problem]:
    """A reading lesson is shown as saved: every code cell must have run (the figures)."""
    code = [(index, cell) for index, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" and cell.source.strip() and not is_parameters_cell(cell)]
    missing = [index for index, cell in code if cell.get("execution_count") is None]
    if not missing:
        return []
    return [Problem(shown, f"the reading lesson is not saved executed: {len(missing)} of "
                    f"{len(code)} code cells have not run, so learners would see no outputs "
                    "or figures; run it on its data and save it (flask --app app courses "
                    "execute PATH; see AUTHORING.md, section 3)", cell=missing[0] + 1)]


def _exercise_parts(notebook: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                            list[tuple[str, str]]]:
    """Check cells (nbgrader's contract, `grading.core.nbgrader`) and dataset references.

    Region-marker problems are left to `_student_version_problems`, which
    sees every cell, not only graded ones.
    """
    contract = nbgrader.read_contract(notebook)
    problems = [(field, message) for field, message in contract.problems
                if "BEGIN" not in message and "END" not in message and "Nested" not in message]
    checks = [{"grade_id": check.grade_id, "points": check.points, "cell_id": check.cell_id}
              for check in contract.checks]
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


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:MAX_SLUG].strip("-")
    return slug or "lesson"


def identity_hash(slug: str, manifest: Mapping[str, Any], modules: list[ModuleSource]) -> str:
    """The identity of a course's content: one hash whichever way it arrives.

    Computed from what the course *says*, not from how its files are written:
    the manifest as parsed (so YAML comments, key order, line endings and a
    byte-order mark do not count) and each lesson as imported (its path, slug,
    title, kind and the canonical hash of its notebook). A folder, a zip of it
    and a git checkout of it (even one that rewrote line endings) give the same
    hash, so importing the same content by any path changes nothing.
    """
    organisation = manifest.get("organisation")
    content = {
        "slug": slug,
        # Matched whatever its case, so hashed whatever its case.
        "manifest": {**manifest, "organisation": organisation.casefold()
                     if isinstance(organisation, str) else organisation},
        "lessons": [[position, lesson.source_path, lesson.slug, lesson.title, lesson.kind,
                     lesson.notebook_hash]
                    for position, module in enumerate(modules) for lesson in module.lessons],
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _legacy_hash(manifest_bytes: bytes, modules: list[ModuleSource]) -> str:
    """The source hash of versions imported before `identity_hash` (manifest bytes)."""
    digest = hashlib.sha256(manifest_bytes)
    for module in modules:
        for lesson in module.lessons:
            digest.update(lesson.source_path.encode() + b"\0" + lesson.notebook_hash.encode())
    return digest.hexdigest()
