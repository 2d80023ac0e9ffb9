"""Where commands print: one console on standard error, made when first used.

rich costs about a third of `import flask`, and every `flask` command, `--help`
included, imports the command modules; so they print through `console()` and
`escape()` here, which import rich only when a command has something to say.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@functools.cache
def console() -> Console:
    """The commands' console: standard error, lines never cut (a problem, one a line)."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def escape(text: str) -> str:
    """``text`` with rich's markup escaped, to print it as it is."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)
