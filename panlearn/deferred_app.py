"""A Flask app assembled when first used, so that `flask --help` does not pay for it.

Every `flask` command builds the app first, `--help` included, and binding the
extensions (SQLAlchemy with its ORM, flask-smorest, Flask-Limiter, Flask-WTF),
the models and the views costs several times `import flask`. The app a `flask`
command loads therefore starts with its settings and its command list only; the
rest is assembled when it is first really used:

- a command of `app.cli` is invoked (listing the commands, or a group's
  `--help`, invokes none);
- an app context is pushed (Flask's own commands such as `shell` and
  `routes`, plugins' commands);
- a request arrives (`flask run`);
- its services are read (`wiring.services_of`).

Flask lists the commands inside an app context of the app, which must not
assemble it: so while the command that loaded it runs, the app's context is
pushed as it is, unassembled, and Flask finds it current and pushes no other.
Command groups that extensions add while the app is assembled (Flask-Migrate's
`db`, flask-smorest's `openapi`) are listed beforehand as `LazyGroup`s.
"""

from __future__ import annotations

import copy
import importlib
import threading
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup
from flask.ctx import AppContext, RequestContext


class DeferredApp(Flask):
    """A Flask app whose assembly can wait until it is first used (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cli = _AssemblingCommands(self)
        self._assembly: Callable[[], None] | None = None
        # Reentrant: the assembly itself pushes app contexts (to open the database).
        self._assembling = threading.RLock()
        self._running = False
        self._failure: BaseException | None = None

    def assemble_later(self, assembly: Callable[[], None], command: click.Context) -> None:
        """Run ``assembly`` at the first use, not now; ``command`` is the command loading the app.

        The app's own context stays current while ``command`` lasts (see the module).
        """
        self._assembly = assembly
        command.with_resource(super().app_context())

    def assemble(self) -> None:
        """Run the pending assembly, once; other threads wait until it is done.

        An assembly that failed half-way cannot be run again (extensions refuse
        to be bound twice), so every later use raises an error naming the first.
        """
        if self._assembly is None:  # assembled, or built whole
            return
        with self._assembling:
            if self._failure is not None:
                raise RuntimeError("the app could not be assembled") from self._failure
            if self._assembly is None or self._running:  # done meanwhile, or reentered
                return
            self._running = True
            try:
                self._assembly()
            except BaseException as error:
                self._failure = error
                raise
            finally:
                self._running = False
            self._assembly = None

    def app_context(self) -> AppContext:
        """A context of the assembled app."""
        self.assemble()
        return super().app_context()

    def request_context(self, environ: dict[str, Any]) -> RequestContext:
        """A request's context, of the assembled app.

        Assembled here, not when the request pushes its app context: a request
        reuses the app context it finds current (the unassembled one, in a
        single-threaded `flask run`), and an error here reaches the server's log.
        """
        self.assemble()
        return super().request_context(environ)


class _AssemblingCommands(AppGroup):
    """`app.cli` of a deferred app: a command taken from here assembles the app to run."""

    def __init__(self, app: DeferredApp) -> None:
        super().__init__()
        self._app = app

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, as it is except that invoking it first assembles the app."""
        command = super().get_command(ctx, cmd_name)
        if command is None:
            return None
        assembling = copy.copy(command)
        app = self._app

        def invoke(command_ctx: click.Context) -> Any:
            app.assemble()
            return command.invoke(command_ctx)

        assembling.invoke = invoke  # type: ignore[method-assign]
        return assembling


class LazyGroup(AppGroup):
    """A command group of a library, imported when the group is used, not when it is listed.

    ``target`` names the library's group as ``"module:attribute"``. Its own
    options, callback and commands run as they are; invoking goes through this
    group, so the app's command list still assembles a deferred app first.
    """

    def __init__(self, name: str, target: str, **attrs: Any) -> None:
        super().__init__(name, **attrs)
        self._target = target

    def _group(self) -> click.Group:
        module, attribute = self._target.split(":")
        group: click.Group = getattr(importlib.import_module(module), attribute)
        return group

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        """The library's group parses its own options; the context runs through this group."""
        context = self._group().make_context(info_name, args, parent=parent, **extra)
        context.command = self
        return context

    def invoke(self, ctx: click.Context) -> Any:
        """The library's own callback and commands."""
        return self._group().invoke(ctx)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The library's command names."""
        return self._group().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """One of the library's commands."""
        return self._group().get_command(ctx, cmd_name)
