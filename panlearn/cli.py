"""`flask --app app <group> <command>`: setup, courses, users, organisations.

Commands are thin: they parse options, call the same services as the API and
print what happened. Errors a user can cause are printed plainly (no traceback)
and give exit status 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from panlearn.authoring.cli import courses_cli, import_folder
from panlearn.authoring.cli import user_errors as _user_errors
from panlearn.cli_output import console, escape
from panlearn.roles import Role
from panlearn.wiring import services

if TYPE_CHECKING:
    from panlearn.datasets.settings import DatasetsContext

# Commands import what they use when they run: every `flask` command (and `--help`) builds
# the app, and nbformat, the grading pipeline, whoosh or alembic would cost each of them.
users_cli = AppGroup("users", help="Manage accounts.")
orgs_cli = AppGroup("orgs", help="Manage publishing organisations.")
datasets_cli = AppGroup("datasets", help="Find, fetch and verify open PaN datasets.")
search_cli = AppGroup("search", help="Maintain the search index.")


@courses_cli.command("export-quiz")
@click.argument("course")
@click.option("--format", "fmt", type=click.Choice(["moodle-xml"]), default="moodle-xml",
              show_default=True, help="The question-bank format.")
@click.option("--version", "version_number", type=int, help="A version number (default: the "
              "newest).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@_user_errors
def export_quiz_command(course: str, fmt: str, version_number: int | None,
                        output: Path | None) -> None:
    """Write a course's quiz questions as a Moodle XML question bank."""
    from panlearn.extensions import db
    from panlearn.quizzes.moodle import export_moodle_xml
    from panlearn.quizzes.service import course_questions

    questions = course_questions(db.session, course, version_number)
    content, warnings = export_moodle_xml(questions)
    for warning in warnings:
        console().print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    if output is None:
        sys.stdout.buffer.write(content)
    else:
        output.write_bytes(content)
        console().print(f"{len(questions) - _left_out(warnings)} question(s) written to {output}")


def _left_out(warnings: list[str]) -> int:
    return sum(": left out:" in warning for warning in warnings)


@courses_cli.command("import-quiz")
@click.argument("bank", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--into", "target", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The notebook to add the questions to (created if missing).")
@_user_errors
def import_quiz_command(bank: Path, target: Path) -> None:
    """Turn a Moodle XML question bank into ```quiz cells of a notebook."""
    import nbformat

    from panlearn.notebooks.canonical import read_notebook_bytes
    from panlearn.quizzes.blocks import append_questions
    from panlearn.quizzes.moodle import import_moodle_xml

    imported = import_moodle_xml(bank.read_bytes())
    for warning in imported.warnings:
        console().print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    if target.exists():
        notebook = read_notebook_bytes(target.read_bytes())
    else:
        title = imported.categories[0].rsplit("/", 1)[-1] if imported.categories else bank.stem
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {title}")])
    ids = append_questions(notebook, imported.questions)
    nbformat.write(notebook, str(target))
    console().print(f"{len(ids)} question(s) added to {target}: {', '.join(ids) or 'none'}",
                  highlight=False)


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.STUDENT.value,
              show_default=True)
@click.option("--org", "organisation", help="Slug of the user's organisation.")
@click.option("--email", help="The person's e-mail address (identity providers trusted for "
              "it may then link to this account).")
@click.password_option("--password", help="Prompted for when not given.")
@_user_errors
def create_user_command(username: str, role: str, organisation: str | None,
                        email: str | None, password: str) -> None:
    """Create an account."""
    from panlearn.accounts.service import create_user
    from panlearn.extensions import db

    user = create_user(db.session, username, password, role=role, organisation_slug=organisation,
                       email=email)
    click.echo(f"created {user.role.value} {user.username}"
               + (f" of {organisation}" if organisation else ""))


@orgs_cli.command("load")
@click.argument("path", type=click.Path(exists=True, path_type=Path), required=False)
@_user_errors
def load_orgs_command(path: Path | None) -> None:
    """Create or update organisations from a YAML file (default content/organisations.yml)."""
    from panlearn.extensions import db
    from panlearn.organisations import load_organisations_file, sync_organisations

    path = path or Path(services().settings["CONTENT_DIR"]) / "organisations.yml"
    entries = load_organisations_file(path)
    changed = sync_organisations(db.session, entries)
    click.echo(f"{len(entries)} organisations, {changed} field(s) changed")


@click.command("setup")
@with_appcontext
@_user_errors
def setup_command() -> None:
    """Create or upgrade the database, load organisations, import and publish shipped courses."""
    from flask_migrate import upgrade

    from panlearn.extensions import db
    from panlearn.organisations import load_organisations_file, sync_organisations

    settings = services().settings
    upgrade(directory=services().migrations_dir, revision="heads")
    entries = load_organisations_file(Path(settings["CONTENT_DIR"]) / "organisations.yml")
    sync_organisations(db.session, entries)
    import_folder(Path(settings["COURSES_DIR"]), publish=True)


def _datasets() -> DatasetsContext:
    return services().datasets


@datasets_cli.command("search")
@click.argument("query", required=False)
@click.option("--technique", help="PaNET id or technique name.")
@click.option("--facility")
@click.option("--limit", default=20, show_default=True)
@_user_errors
def datasets_search_command(query: str | None, technique: str | None, facility: str | None,
                            limit: int) -> None:
    """Search open datasets through the PaNOSC federated search API."""
    from panlearn.cli_tables import print_table
    from panlearn.datasets.service import search_datasets

    result = search_datasets(client=_datasets().client, q=query, technique=technique,
                             facility=facility, limit=limit)
    print_table(
        [("score", "number"), ("pid", "key"), ("title", "text"), ("instrument", "text"),
         ("techniques", "text")],
        [("" if item.score is None else f"{item.score:.3f}", item.pid, item.title or "",
          item.instrument.name if item.instrument else "",
          ", ".join(t.name or t.pid or "" for t in item.techniques)) for item in result.items],
        title="stale cached answer (upstream unreachable)" if result.stale else None)


@datasets_cli.command("show")
@click.argument("pid")
@_user_errors
def datasets_show_command(pid: str) -> None:
    """Show one dataset by its PaNOSC pid."""
    from panlearn.datasets.service import get_dataset

    fetched = get_dataset(pid, client=_datasets().client)
    dataset = fetched.value
    click.echo(f"{dataset.pid}: {dataset.title}" + ("  [stale]" if fetched.stale else ""))
    if dataset.instrument:
        click.echo(f"instrument: {dataset.instrument.name} ({dataset.instrument.facility})")
    for technique in dataset.techniques:
        click.echo(f"technique: {technique.name} {technique.pid or ''}")
    for parameter in dataset.parameters:
        click.echo(f"parameter: {parameter.name} = {parameter.value} {parameter.unit or ''}")
    for file in dataset.files:
        click.echo(f"file: {file.name} {file.size or ''}")


@datasets_cli.command("fetch")
@click.argument("ref")
@click.option("--file", "file_name", help="One file of the dataset (default: all).")
@_user_errors
def datasets_fetch_command(ref: str, file_name: str | None) -> None:
    """Fetch a registered dataset's files into the verified cache (by name, pid or DOI)."""
    from rich.progress import Progress

    from panlearn.datasets.service import fetch_dataset_file, list_dataset_files

    context = _datasets()
    listing = list_dataset_files(ref, registry=context.registry)
    names = [file_name] if file_name else [f.name for f in listing.files]
    with Progress(console=console()) as progress:
        for name in names:
            task = progress.add_task(name, total=None)

            def advance(done: int, total: int | None, task: Any = task) -> None:
                progress.update(task, completed=done, total=total)

            fetched = fetch_dataset_file(ref, name, registry=context.registry,
                                         cache=context.file_cache, progress=advance)
            progress.update(task, completed=fetched.size, total=fetched.size)
            # The path on a line of its own: a terminal then wraps it, if at all, only once.
            click.echo(f"{fetched.file}  sha256 {fetched.sha256}")
            click.echo(f"  {fetched.path}")


@datasets_cli.command("verify")
@click.option("--remove-bad", is_flag=True, help="Delete files whose checksum no longer matches.")
@_user_errors
def datasets_verify_command(remove_bad: bool) -> None:
    """Re-check the sha256 of every cached data file."""
    from panlearn.datasets.service import verify_cache

    report = verify_cache(cache=_datasets().file_cache, remove_bad=remove_bad)
    if report.ok:
        click.echo(f"{report.checked} file(s) checked, all intact")
        return
    for bad in report.bad:
        click.echo(f"BAD {bad}")
    click.echo(f"{report.checked} file(s) checked, {len(report.bad)} corrupt")
    sys.exit(1)


@search_cli.command("rebuild")
@_user_errors
def search_rebuild_command() -> None:
    """Rebuild the search index from the database (same result as incremental updates)."""
    from rich.progress import Progress
    from sqlalchemy import select

    from panlearn.extensions import db
    from panlearn.models import Course
    from panlearn.search.sync import course_documents

    context = services().search
    courses = list(db.session.scalars(select(Course).order_by(Course.slug)))
    documents = []
    with Progress(console=console()) as progress:
        reading = progress.add_task("Reading courses", total=len(courses))
        for course in courses:
            documents.extend(course_documents(course))
            progress.advance(reading)
        writing = progress.add_task("Indexing", total=len(documents))
        count = context.index.rebuild(
            documents, progress=lambda done, total: progress.update(writing, completed=done))
    click.echo(f"indexed {count} documents from {len(courses)} courses")


@click.command("grade")
@click.argument("exercise")
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
@_user_errors
def grade_command(exercise: str, notebook: Path) -> None:
    """Grade NOTEBOOK against EXERCISE (an exercise id, or the path of a source notebook).

    Runs the same pipeline as the platform, here, and prints the per-check table.
    """
    from panlearn.cli_tables import print_table
    from panlearn.datasets.resolve import papermill_parameters, resolve_exercise_datasets
    from panlearn.errors import InvalidInputError, NotFoundError
    from panlearn.extensions import db
    from panlearn.grading.core.pipeline import compute_reference_answers, grade_notebook
    from panlearn.grading.submissions import exercise_spec, source_notebook
    from panlearn.models import Exercise
    from panlearn.notebooks.canonical import read_notebook_bytes

    grading, context = services().grading, _datasets()
    if Path(exercise).is_file():
        source = read_notebook_bytes(Path(exercise).read_bytes())
        datasets = (source.metadata.get("panlearn") or {}).get("datasets") or []
        spec = None
    else:
        if not exercise.isdigit():
            raise InvalidInputError(f"{exercise!r} is neither an exercise id nor a notebook file.")
        record = db.session.get(Exercise, int(exercise))
        if record is None:
            raise NotFoundError(f"No exercise {exercise}.")
        source, datasets = source_notebook(record), record.datasets
        spec = exercise_spec(record, source)
    resolved = resolve_exercise_datasets(datasets, registry=context.registry,
                                         cache=context.file_cache)
    parameters, files = papermill_parameters(resolved), [item.path for item in resolved]
    # Checks that read `reference.<name>`: the reference solution's values on the same files.
    outcome = grade_notebook(source, notebook.read_bytes(), parameters=parameters,
                             data_files=files, settings=grading, spec=spec,
                             reference=lambda: compute_reference_answers(
                                 source, parameters=parameters, data_files=files,
                                 settings=grading, spec=spec))
    print_table(
        [("check", "key"), ("result", "key"), ("points", "number"), ("message", "text")],
        [(escape(check.grade_id),
          "[green]✓ passed[/green]" if check.status == "passed"
          else f"[red]✗ {escape(check.status)}[/red]",
          f"{check.score:g}/{check.max_score:g}",
          "" if check.status == "passed" else escape(check.output))
         for check in outcome.checks])
    for note in outcome.notes:
        click.echo(f"note: {note}")
    click.echo(f"score {outcome.score:g}/{outcome.max_score:g} "
               f"in {outcome.timings.get('total', 0):.2f} s")


@click.command("worker")
@with_appcontext
def worker_command() -> None:
    """Run a grading worker: on Celery when PANLEARN_BROKER_URL is set, else a local one."""
    settings = services().settings
    if settings["BROKER_URL"]:
        from panlearn.grading.tasks import configure

        concurrency = max(1, settings["GRADING_WORKERS"])
        configure(settings["BROKER_URL"]).worker_main(argv=[
            "worker", "--loglevel=INFO", f"--concurrency={concurrency}", "--pool=prefork",
            "--beat", "--queues=panlearn-grading",
            f"--schedule={Path(settings['INSTANCE_DIR']) / 'celerybeat-schedule'}",
        ])
    else:
        click.echo("grading submissions from the database (Ctrl-C to stop)")
        from panlearn.grading.runtime import worker_loop

        worker_loop(current_app._get_current_object())  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    """Register the command groups."""
    for group in (courses_cli, users_cli, orgs_cli, datasets_cli, search_cli):
        app.cli.add_command(group)
    app.cli.add_command(setup_command)
    app.cli.add_command(grade_command)
    app.cli.add_command(worker_command)
    from panlearn.lti.cli import lti_cli
    from panlearn.sso.cli import sso_cli

    app.cli.add_command(lti_cli)
    app.cli.add_command(sso_cli)
