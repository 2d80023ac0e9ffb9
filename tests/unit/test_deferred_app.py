"""A `flask` command's app is assembled at its first use, once, whatever enters it first."""

from __future__ import annotations

import threading
import time

import click
import pytest
from flask import current_app

from panlearn.deferred_app import DeferredApp


def _deferred(assembly_calls: list[str], *, fail_first: bool = False,
              command: click.Context | None = None) -> DeferredApp:
    """An app whose assembly (slow, as the real one is) adds a route and a command's data.

    ``command`` is the `flask` command loading it, still running (by default, one
    that has ended: its unassembled app context is no longer current).
    """
    app = DeferredApp(__name__)

    @app.cli.command("hello")
    def hello() -> None:
        click.echo(f"hello from {current_app.config['ASSEMBLED']}")

    def assembly() -> None:
        assembly_calls.append(threading.current_thread().name)
        time.sleep(0.2)  # long enough for other threads to arrive meanwhile
        if fail_first and len(assembly_calls) == 1:
            raise RuntimeError("the database is unreachable")
        app.add_url_rule("/ping", "ping", lambda: "pong")
        with app.app_context():  # the assembly enters the app itself (reentrant)
            app.config["ASSEMBLED"] = "the assembled app"

    if command is not None:
        app.assemble_later(assembly, command)
        return app
    with click.Context(click.Command("flask")) as ended:
        app.assemble_later(assembly, ended)
    return app


def test_threads_entering_at_once_all_wait_for_the_one_assembly():
    calls: list[str] = []
    app = _deferred(calls)
    seen: list[str | None] = []

    def enter() -> None:
        with app.app_context():
            seen.append(app.config.get("ASSEMBLED"))

    threads = [threading.Thread(target=enter, name=f"t{n}") for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert seen == ["the assembled app"] * 4


def test_a_first_request_assembles_it_before_the_route_is_matched():
    calls: list[str] = []
    app = _deferred(calls)
    response = app.test_client().get("/ping")
    assert response.status_code == 200 and response.text == "pong"
    assert len(calls) == 1


def test_a_request_while_the_loading_command_runs_in_the_same_thread_is_served_assembled():
    """`flask run --without-threads`: the unassembled context stays current in the server's
    thread, and a request reuses the app context it finds current."""
    calls: list[str] = []
    with click.Context(click.Command("run")) as command:
        app = _deferred(calls, command=command)
        assert current_app._get_current_object() is app  # the unassembled context
        response = app.test_client().get("/ping")
    assert response.status_code == 200 and response.text == "pong"
    assert len(calls) == 1


def test_listing_and_help_do_not_assemble_running_a_command_does():
    calls: list[str] = []
    app = _deferred(calls)
    runner = app.test_cli_runner()
    assert "hello" in runner.invoke(args=["--help"]).output
    assert "Usage" in runner.invoke(args=["hello", "--help"]).output
    assert calls == []
    result = runner.invoke(args=["hello"])
    assert result.output == "hello from the assembled app\n", result.output
    assert len(calls) == 1


def test_a_failed_assembly_is_not_run_again_on_a_half_built_app():
    calls: list[str] = []
    app = _deferred(calls, fail_first=True)
    with pytest.raises(RuntimeError, match="unreachable"):
        app.app_context()
    with pytest.raises(RuntimeError, match="could not be assembled") as later:
        app.test_client().get("/ping")
    assert "unreachable" in str(later.value.__cause__)
    assert len(calls) == 1
