"""`flask --app app courses validate / import / execute`: the authoring commands.

`validate` and `import` run the same checks (`service.validate_courses` and
`service.import_courses`), so validation says "ok" exactly when an import
would succeed; both print every problem at once, with its file, cell or line
and field. Reference solutions are graded in this process, with each
exercise's result printed as it comes.
"""

from __future__ import annotations

import functools
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from flask.cli import AppGroup

from panlearn.cli_output import console
from panlearn.errors import PanlearnError
from panlearn.wiring import services

if TYPE_CHECKING:
    from panlearn.authoring.checks import Grading
    from panlearn.authoring.manifest import CourseSource, Problem
    from panlearn.authoring.report import ImportReport
    from panlearn.datasets.registry import Registry
    from panlearn.datasets.settings import DatasetsContext

# The commands import the authoring services when they run: those bring the grading
# pipeline (papermill, numpy), which `flask --help` and `flask courses --help` need not load.

courses_cli = AppGroup("courses", help="Validate, import and execute course folders.")


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print domain errors plainly and exit 1, instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PanlearnError as error:
            from panlearn.authoring.folder import CourseFolderError

            if isinstance(error, CourseFolderError):
                print_problems(error.problems)
                sys.exit(1)
            console().print(f"[red]{error.title}:[/red] {error.detail}", highlight=False)
            if error.errors:
                for name, messages in error.errors.items():
                    console().print(f"  {name}: {messages}", markup=False)
            sys.exit(1)
        except Exception as error:
            if not _missing_table(error):
                raise
            console().print("[red]The database has no tables yet:[/red] run `flask --app app "
                          "setup` (or `flask --app app db upgrade`) first.", highlight=False)
            sys.exit(1)

    return wrapper


def _missing_table(error: Exception) -> bool:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    if not isinstance(error, (OperationalError, ProgrammingError)):
        return False
    text = str(error).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def _datasets() -> DatasetsContext:
    return services().datasets


def _registry() -> Registry:
    return _datasets().registry


def _printing_report() -> ImportReport:
    """A report that prints each exercise's grading when it ends."""
    from panlearn.authoring.report import ImportReport

    printed: set[int] = set()

    def show(report: ImportReport) -> None:
        for index, entry in enumerate(report.exercises):
            if entry.done and index not in printed:
                printed.add(index)
                took = f" ({entry.seconds:g} s)" if entry.seconds is not None else ""
                console().print(f"  {entry.state:<8} {entry.file}{took}"
                              + (f": {entry.message}" if entry.state != "failed" else ""),
                              markup=False, highlight=False)

    return ImportReport(listener=show)


def _grading(*, offline_ok: bool) -> Grading:
    from panlearn.authoring.checks import Grading, data_at_hand
    from panlearn.authoring.reference_grading import in_process_checker

    wired = services()
    if not wired.settings["GRADING_VALIDATE"]:
        return Grading(None)
    console().print("Grading the reference solution (full marks) and the blank student version "
                  "(0) of each exercise…")
    checker = in_process_checker(wired.grading, wired.datasets)
    return Grading(checker, regrade=offline_ok,
                   data_at_hand=data_at_hand(_datasets()) if offline_ok else None)


def print_problems(problems: list[Problem]) -> None:
    """Every problem, one a line, never cut."""
    console().print(f"[red]{len(problems)} problem(s):[/red]")
    for problem in problems:
        console().print(f"  {problem}", markup=False, highlight=False)


@courses_cli.command("validate")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--names", is_flag=True, help="Also list, for each check, the names it takes "
              "from the student (answers) and from the reference run (context).")
@user_errors
def validate_command(path: Path, names: bool) -> None:
    """Check a course folder (or a folder of them) as an import would, importing nothing.

    Lists every problem at once; grades each exercise whose data is on this
    machine (PANLEARN_DATA_DIRS or the data cache). Exit status 1 on any problem.
    """
    from panlearn.authoring.service import validate_courses
    from panlearn.authoring.sources import read_folder
    from panlearn.extensions import db

    sources, problems = read_folder(path, _registry())
    report = validate_courses(db.session, sources, problems=problems,
                              grading=_grading(offline_ok=True), report=_printing_report())
    _summary(sources, report)
    if names:
        _print_check_names(sources)
    if report.problems:
        print_problems(report.problems)
        sys.exit(1)


def _print_check_names(sources: list[CourseSource]) -> None:
    """What each check reads from the student and what from the reference run.

    An author reads this to see that a check recomputing its expected value
    from data takes that data from the reference run, not from the student.
    """
    from panlearn.grading.core.errors import ExerciseSpecError
    from panlearn.grading.core.spec import load_exercise_spec

    for source in sources:
        for module in source.modules:
            for lesson in module.lessons:
                if lesson.kind != "exercise":
                    continue
                try:
                    lines = load_exercise_spec(lesson.notebook).describe_names()
                except ExerciseSpecError:
                    continue  # listed with the problems
                console().print(f"{source.slug}/{lesson.source_path}", markup=False,
                              highlight=False)
                for line in lines:
                    console().print(f"  {line}", markup=False, highlight=False)


def _summary(sources: list[CourseSource], report: ImportReport) -> None:
    for source in sources:
        prefix = f"{source.display}/" if source.display else ""
        if not any(problem.file.startswith(prefix) for problem in report.problems):
            lessons = sum(len(m.lessons) for m in source.modules)
            click.echo(f"ok  {source.slug}: {len(source.modules)} modules, {lessons} lessons")


@courses_cli.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path), required=False)
@click.option("--publish", is_flag=True, help="Publish the imported version.")
@click.option("--git", "git_repo", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Import from this local git repository (a course, or a folder of them).")
@click.option("--ref", default="HEAD", show_default=True, help="With --git: the commit, "
              "branch or tag to import.")
@user_errors
def import_command(path: Path | None, publish: bool, git_repo: Path | None, ref: str) -> None:
    """Import a course folder or a folder of them (idempotent), or a git repository at a ref."""
    from panlearn.authoring.sources import SourceLimits, read_folder, read_git

    if git_repo is not None:
        settings = services().settings
        with tempfile.TemporaryDirectory(prefix="panlearn-git-") as tmp:
            read = read_git(git_repo, ref, Path(tmp), limits=SourceLimits.from_settings(settings),
                            registry=_registry())
            if read[0]:
                click.echo(f"{git_repo} at {read[0][0].origin_ref}")
            import_sources(*read, publish=publish)
        return
    if path is None:
        raise click.UsageError("Give a PATH, or --git REPO [--ref REF].")
    import_sources(*read_folder(path, _registry()), publish=publish)


def import_sources(sources: list[CourseSource], problems: list[Problem], *,
                   publish: bool) -> None:
    """Import what was read (all or nothing) and print the outcome of each course."""
    from panlearn.authoring.service import import_courses
    from panlearn.cli_tables import print_table
    from panlearn.extensions import db

    results = import_courses(
        db.session, sources, publish=publish, problems=problems,
        after_commit=services().course_hooks,
        validate_exercise=_grading(offline_ok=False).validate_exercise,
        report=_printing_report())
    print_table([("course", "key"), ("version", "number"), ("outcome", "text"),
                 ("status", "key")],
                [(result.slug, str(result.version), result.outcome, result.status)
                 for result in results])


def import_folder(path: Path, *, publish: bool) -> None:
    """`flask setup`'s import of the shipped courses."""
    from panlearn.authoring.sources import read_folder

    import_sources(*read_folder(path, _registry()), publish=publish)


@courses_cli.command("execute")
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to save the executed notebook (default: in place).")
@click.option("--timeout", default=600, show_default=True, help="Seconds a cell may run.")
@user_errors
def execute_command(notebook: Path, output: Path | None, timeout: int) -> None:
    """Run a reading lesson on its real data and save it executed, parameters cell restored.

    The notebook's `metadata.panlearn.datasets` name its data; the files come
    from the verified cache (or PANLEARN_DATA_DIRS, or a download). While the
    notebook runs, its `parameters` cell holds each file's path; the saved
    notebook shows the bare file names again, with contiguous execution counts.
    """
    from panlearn.authoring.execute import execute_lesson

    executed = execute_lesson(notebook, data=_datasets(), timeout_s=timeout,
                              output=output or notebook)
    click.echo(f"executed {executed.cells} code cells in {executed.seconds:.1f} s; "
               f"saved {output or notebook}")

