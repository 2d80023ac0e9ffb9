"""In-memory exercise notebooks for grading tests (the DMC powder-diffraction exercise)."""

from __future__ import annotations

import copy
import re

import nbformat
from nbformat import NotebookNode, v4

DMC_FILE = "nexus/dmc01.h5"


def code(
    source: str,
    *,
    grade_id: str | None = None,
    solution: bool = False,
    points: float | None = None,
    tags: list[str] | None = None,
    cell_id: str | None = None,
) -> NotebookNode:
    cell = v4.new_code_cell(source)
    if cell_id:
        cell.id = cell_id
    if grade_id:
        cell.metadata["nbgrader"] = {
            "grade": points is not None,
            "solution": solution,
            "grade_id": grade_id,
            "locked": not solution,
            **({"points": points} if points is not None else {}),
            "schema_version": 3,
        }
    if tags:
        cell.metadata["tags"] = tags
    return cell


def dmc_source(data_file: str = "dmc01.h5") -> NotebookNode:
    """Author's notebook: strongest peak 2θ, its d-spacing (42.7°, 3.525 Å), a function check."""
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["panlearn"] = {
        "datasets": [{"pid": "dmc01", "file": "dmc01.h5", "parameter": "data_file"}]
    }
    nb.cells = [
        v4.new_markdown_cell("# Powder diffraction at DMC\nFind the strongest Bragg peak."),
        code(f"data_file = {data_file!r}", tags=["parameters"], cell_id="params"),
        code("import numpy as np\nimport h5py", cell_id="imports"),
        code(
            "### BEGIN SOLUTION\n"
            "with h5py.File(data_file, 'r') as f:\n"
            "    two_theta = f['/entry1/data1/two_theta'][()]\n"
            "    counts = f['/entry1/data1/counts'][()]\n"
            "    wavelength = float(f['/entry1/data1/lambda'][0])\n"
            "two_theta_max = float(two_theta[np.argmax(counts)])\n"
            "### END SOLUTION",
            grade_id="peak",
            solution=True,
            cell_id="peak",
        ),
        code(
            "assert isinstance(two_theta_max, float), 'two_theta_max: a float, in degrees'\n"
            "### BEGIN HIDDEN TESTS\n"
            "assert abs(two_theta_max - 42.7) < 0.2, 'this is not the strongest peak'\n"
            "### END HIDDEN TESTS",
            grade_id="check_peak",
            points=2,
            cell_id="check_peak",
        ),
        code(
            "### BEGIN SOLUTION\n"
            "d_spacing = wavelength / (2 * np.sin(np.radians(two_theta_max / 2)))\n"
            "### END SOLUTION",
            grade_id="dspacing",
            solution=True,
            cell_id="dspacing",
        ),
        code(
            "assert d_spacing > 0, 'd must be positive'\n"
            "### BEGIN HIDDEN TESTS\n"
            "assert np.isclose(d_spacing, 3.525, atol=0.01), 'd is off: is it in ångström (Å)?'\n"
            "### END HIDDEN TESTS",
            grade_id="check_d",
            points=3,
            cell_id="check_d",
        ),
        code(
            "def bragg_d(wavelength, two_theta_deg):\n"
            "    ### BEGIN SOLUTION\n"
            "    return wavelength / (2 * np.sin(np.radians(two_theta_deg) / 2))\n"
            "    ### END SOLUTION",
            grade_id="bragg",
            solution=True,
            cell_id="bragg",
        ),
        code(
            "assert np.isclose(bragg_d(2.0, 60.0), 2.0), 'bragg_d(2.0, 60.0) should be 2.0 Å'",
            grade_id="check_bragg",
            points=1,
            cell_id="check_bragg",
        ),
    ]
    nbformat.validate(nb)
    return nb


_SOLUTION = re.compile(
    r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.M | re.S
)
_HIDDEN = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS\n.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.M | re.S
)


def student_version(source: NotebookNode) -> NotebookNode:
    """nbgrader's release step, in miniature: stub solutions, drop hidden tests."""
    nb = copy.deepcopy(source)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.source = _SOLUTION.sub(
            lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError()",
            cell.source,
        )
        cell.source = _HIDDEN.sub("", cell.source).rstrip("\n")
    return nb


def answered(student: NotebookNode, answers: dict[str, str]) -> NotebookNode:
    """A student's submission: replace answer cells (by grade_id) with their code."""
    nb = copy.deepcopy(student)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


def solved(source: NotebookNode) -> dict[str, str]:
    """The reference answers, as a student would type them."""
    out = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            out[meta["grade_id"]] = re.sub(
                r"^[ \t]*### (BEGIN|END) SOLUTION\n?", "", cell.source, flags=re.M
            )
    return out


def answer_source() -> NotebookNode:
    """A one-answer exercise (answer = 42) used by the abuse tests."""
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        code("data_file = 'dmc01.h5'", tags=["parameters"], cell_id="params"),
        code("import numpy as np", cell_id="imports"),
        code(
            "### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION",
            grade_id="answer",
            solution=True,
            cell_id="answer",
        ),
        code(
            "assert isinstance(answer, int), 'answer should be an integer'\n"
            "### BEGIN HIDDEN TESTS\n"
            "assert np.isclose(answer, 42.0), 'answer is not the expected value'\n"
            "### END HIDDEN TESTS",
            grade_id="check_answer",
            points=1,
            cell_id="check_answer",
        ),
    ]
    nbformat.validate(nb)
    return nb
