"""Tables the CLI prints: as wide as the terminal, prose wraps, identifiers stay whole.

A table wider than the terminal is wrapped again by the terminal, mid-word and
mid-path (rich's Console was told 160 or 200 columns). Here the console takes
the terminal's width (`COLUMNS`, or 80 when the output is not a terminal) and
each column says what it holds: `text` columns wrap at spaces, `key` columns
(paths, pids, check ids, versions, numbers) never wrap, so rich narrows the
text columns first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from rich.console import Console
from rich.table import Column, Table

Kind = Literal["key", "text", "number"]


def make_table(columns: Sequence[tuple[str, Kind]], *, title: str | None = None) -> Table:
    """A table whose `key`/`number` columns never wrap and `text` columns do."""
    return Table(*(
        Column(name, no_wrap=kind != "text", overflow="fold",
               justify="right" if kind == "number" else "left",
               ratio=1 if kind == "text" else None)
        for name, kind in columns), title=title, expand=False)


def print_table(columns: Sequence[tuple[str, Kind]], rows: Iterable[Sequence[str]], *,
                title: str | None = None, console: Console | None = None) -> None:
    """Print rows under the given columns, fitted to the terminal's width."""
    table = make_table(columns, title=title)
    for row in rows:
        table.add_row(*row)
    (console or Console()).print(table)
