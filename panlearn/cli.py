"""`flask --app app <group> <command>`: setup, courses, users, organisations.

Commands are thin: they parse options, call the same services as the API and
print what happened. Errors a user can cause are printed plainly (no traceback)
and give exit status 1.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from flask_migrate import upgrade
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from panlearn.accounts.service import create_user
from panlearn.authoring.folder import CourseFolderError, load_course_folders
from panlearn.authoring.manifest import CourseSource
from panlearn.authoring.service import import_courses
from panlearn.errors import PanlearnError
from panlearn.extensions import db
from panlearn.models import Role
from panlearn.organisations import load_organisations_file, sync_organisations

console = Console(stderr=True)
courses_cli = AppGroup("courses", help="Import and validate course folders.")
users_cli = AppGroup("users", help="Manage accounts.")
orgs_cli = AppGroup("orgs", help="Manage publishing organisations.")


def _user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print domain errors plainly and exit 1, instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CourseFolderError as error:
            console.print(f"[red]{len(error.problems)} problem(s):[/red]")
            for problem in error.problems:
                console.print(f"  {problem}", markup=False, highlight=False)
            sys.exit(1)
        except PanlearnError as error:
            console.print(f"[red]{error.title}:[/red] {error.detail}", highlight=False)
            if error.errors:
                for name, messages in error.errors.items():
                    console.print(f"  {name}: {messages}", markup=False)
            sys.exit(1)

    return wrapper


def _load_with_progress(path: Path) -> list[CourseSource]:
    """Validate every course folder under `path`, with a progress bar."""
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Validating courses", total=None)

        def advance(folder: Path, total: int) -> None:
            progress.update(task, total=total, description=f"Validating {folder.name}")
            progress.advance(task)

        return load_course_folders(path, on_folder=advance)


@courses_cli.command("validate")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@_user_errors
def validate_command(path: Path) -> None:
    """Check a course folder (or a folder of them) without importing."""
    sources = _load_with_progress(path)
    for source in sources:
        lessons = sum(len(m.lessons) for m in source.modules)
        click.echo(f"ok  {source.slug}: {len(source.modules)} modules, {lessons} lessons")


@courses_cli.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--publish", is_flag=True, help="Publish the imported version.")
@_user_errors
def import_command(path: Path, publish: bool) -> None:
    """Import a course folder or a folder of them (idempotent)."""
    _import(path, publish)


def _import(path: Path, publish: bool) -> None:
    sources = _load_with_progress(path)
    results = import_courses(db.session, sources, publish=publish,
                             after_commit=current_app.extensions.get("panlearn_course_hooks", []))
    table = Table("course", "version", "outcome", "status")
    for result in results:
        table.add_row(result.slug, str(result.version), result.outcome, result.status)
    Console().print(table)


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.STUDENT.value,
              show_default=True)
@click.option("--org", "organisation", help="Slug of the user's organisation.")
@click.password_option("--password", help="Prompted for when not given.")
@_user_errors
def create_user_command(username: str, role: str, organisation: str | None,
                        password: str) -> None:
    """Create an account."""
    user = create_user(db.session, username, password, role=role, organisation_slug=organisation)
    click.echo(f"created {user.role.value} {user.username}"
               + (f" of {organisation}" if organisation else ""))


@orgs_cli.command("load")
@click.argument("path", type=click.Path(exists=True, path_type=Path), required=False)
@_user_errors
def load_orgs_command(path: Path | None) -> None:
    """Create or update organisations from a YAML file (default content/organisations.yml)."""
    path = path or Path(current_app.config["PANLEARN"]["CONTENT_DIR"]) / "organisations.yml"
    entries = load_organisations_file(path)
    changed = sync_organisations(db.session, entries)
    click.echo(f"{len(entries)} organisations, {changed} field(s) changed")


@click.command("setup")
@with_appcontext
@_user_errors
def setup_command() -> None:
    """Create or upgrade the database, load organisations, import and publish shipped courses."""
    settings = current_app.config["PANLEARN"]
    upgrade(directory=current_app.extensions["migrate"].directory)
    entries = load_organisations_file(Path(settings["CONTENT_DIR"]) / "organisations.yml")
    sync_organisations(db.session, entries)
    _import(Path(settings["COURSES_DIR"]), publish=True)


def init_app(app: Flask) -> None:
    """Register the command groups."""
    for group in (courses_cli, users_cli, orgs_cli):
        app.cli.add_command(group)
    app.cli.add_command(setup_command)
