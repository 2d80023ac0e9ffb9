"""The CLI's tables in a terminal of a given width (COLUMNS), through the real commands."""

from __future__ import annotations


def test_the_import_command_prints_what_fits_the_terminal(runner, tmp_path, monkeypatch):
    from tests.builders import make_org, write_course

    slug = "a-course-with-a-rather-long-slug-for-the-table"
    make_org(runner.app, "psi")
    write_course(tmp_path / "src", slug)
    for columns, table in (("100", True), ("60", False)):
        monkeypatch.setenv("COLUMNS", columns)
        result = runner.invoke(args=["courses", "import", str(tmp_path / "src")])
        assert result.exit_code == 0, result.output
        # The table fits; the per-exercise report lines above it are never cut (one a line).
        lines = [line for line in result.output.splitlines()
                 if line.strip() and ".ipynb:" not in line]
        assert max(len(line) for line in lines) <= int(columns), result.output
        assert any(slug in line for line in lines)
        assert any("┃" in line for line in lines) == table, result.output
