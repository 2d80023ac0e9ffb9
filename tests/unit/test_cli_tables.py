"""CLI tables fit the terminal: text wraps, paths and ids stay whole."""

from __future__ import annotations

import io

from rich.console import Console

from panlearn.cli_tables import print_table

PATH = "/srv/panlearn/data-cache/e8/d8882304d08a.hdf"
MESSAGE = ("AssertionError: d_spacing should hold positive lengths in ångström; a negative value "
           "usually means np.sin was given degrees: convert with np.radians first")


def render(width: int) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None)
    print_table([("check", "key"), ("points", "number"), ("file", "key"), ("message", "text")],
                [("check-d-spacing", "0/2", PATH, MESSAGE)], console=console)
    return out.getvalue().splitlines()


def test_80_columns_keep_the_path_whole_and_wrap_the_message():
    lines = render(80)
    assert max(len(line) for line in lines) <= 80, lines
    assert any(PATH in line for line in lines), lines  # the path on one line, whole
    assert lines[0].strip() == "check-d-spacing"  # too narrow for a table: one record
    words = " ".join(line.strip() for line in lines)
    assert "convert with np.radians first" in words
    assert sum(bool(line.strip()) for line in lines) > 4  # the message wrapped


def test_a_wide_terminal_gets_a_table_as_wide_as_it_needs():
    lines = render(200)
    assert lines[0].startswith("┏") and 120 < max(len(line) for line in lines) <= 200
    assert any(PATH in line for line in lines)
