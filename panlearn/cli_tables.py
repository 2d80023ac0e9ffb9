"""Tables the CLI prints: as wide as the terminal, prose wraps, identifiers stay whole.

A table wider than the terminal is wrapped again by the terminal, mid-word and
mid-path (rich's Console used to be told 160 or 200 columns). Here the console
takes the terminal's width (`COLUMNS`, or 80 when the output is not a
terminal) and each column says what it holds: `text` columns wrap at spaces,
`key` columns (paths, pids, check ids, slugs) and `number` columns never wrap.
When the keys alone leave no room for the text, the rows are printed as records
instead (the first key as a heading, then one `name  value` line each, text
wrapped under its name), which fits any width without breaking a key.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from typing import Literal

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table
from rich.text import Text

Kind = Literal["key", "text", "number"]

#: Narrowest a text column may get in a table; below it, records are printed instead.
MIN_TEXT_WIDTH = 16
#: What rich's default box adds: a border and a space each side per column, one at the end.
_PER_COLUMN, _EDGE = 3, 1


def _plain(value: str) -> str:
    """The visible text of a cell that may hold rich markup (`[red]failed[/red]`)."""
    return Text.from_markup(value).plain


def fits(columns: Sequence[tuple[str, Kind]], rows: Sequence[Sequence[str]], width: int) -> bool:
    """Whether a table shows every key whole and leaves each text column its minimum."""
    needed = _EDGE
    for index, (name, kind) in enumerate(columns):
        if kind == "text":
            needed += MIN_TEXT_WIDTH
        else:
            needed += max([cell_len(name)] + [cell_len(_plain(row[index])) for row in rows])
        needed += _PER_COLUMN
    return needed <= width


def make_table(columns: Sequence[tuple[str, Kind]], *, title: str | None = None) -> Table:
    """A table whose `key`/`number` columns never wrap and `text` columns do."""
    return Table(*(
        Column(name, no_wrap=kind != "text", overflow="fold",
               justify="right" if kind == "number" else "left",
               min_width=MIN_TEXT_WIDTH if kind == "text" else None)
        for name, kind in columns), title=title)


def print_records(columns: Sequence[tuple[str, Kind]], rows: Sequence[Sequence[str]],
                  console: Console, *, title: str | None = None) -> None:
    """Each row as a block: its first value, then `name  value` lines, text wrapped."""
    if title:
        console.print(f"[bold]{escape(title)}[/bold]")
    label_width = max(cell_len(name) for name, _ in columns[1:]) if len(columns) > 1 else 0
    indent = " " * (2 + label_width + 2)
    for row in rows:
        console.print(Text.from_markup(row[0], style="bold"), soft_wrap=True)
        for (name, kind), value in zip(columns[1:], row[1:], strict=True):
            if not _plain(value):
                continue
            head = f"  {name.ljust(label_width)}  "
            if kind == "text":
                body = textwrap.fill(_plain(value), width=max(20, console.width - len(indent)),
                                     break_long_words=False, break_on_hyphens=False)
                console.print(Text(head) + Text(body.replace("\n", "\n" + indent)),
                              soft_wrap=True)
            else:
                console.print(Text(head) + Text.from_markup(value), soft_wrap=True)


def print_table(columns: Sequence[tuple[str, Kind]], rows: Iterable[Sequence[str]], *,
                title: str | None = None, console: Console | None = None) -> None:
    """Print rows under the given columns, fitted to the terminal's width.

    Values may hold rich markup (colours); escape text that is not meant as markup.
    """
    console = console or Console()
    rows = list(rows)
    if not fits(columns, rows, console.width):
        print_records(columns, rows, console, title=title)
        return
    table = make_table(columns, title=title)
    for row in rows:
        table.add_row(*row)
    console.print(table)
