"""Which names a check reads from the student's notebook: evaluation order matters."""

from __future__ import annotations

import ast
import builtins

import pytest

from panlearn.grading.core.names import free_names


def free(code: str) -> set[str]:
    return free_names(code, ast.parse(code)) - set(dir(builtins))


@pytest.mark.parametrize(("code", "expected"), [
    ("assert answer > 0", {"answer"}),
    ("x = x + 1", {"x"}),
    ("x += 1", {"x"}),
    ("for _c in checks:\n    assert _c > 0", {"checks"}),
    ("with h5py.File(path) as f:\n    expected = f['a'][()]\nassert answer == expected",
     {"h5py", "path", "answer"}),
    ("total = 0\nfor v in values:\n    y = v * 2\n    total += y\nassert total == answer",
     {"values", "answer"}),
    ("try:\n    v = compute()\nexcept ValueError as err:\n    msg = str(err)\n", {"compute"}),
    ("def helper(a=default):\n    return a + other\nassert helper() == answer",
     {"default", "other", "answer"}),
    ("ok = [i for i in range(n) if i < limit]", {"n", "limit"}),
    ("if (m := measured) > 0:\n    assert m == answer", {"measured", "answer"}),
    ("import numpy as np\nassert np.isclose(answer, 1)", {"answer"}),
])
def test_free_names_follow_evaluation_order(code, expected):
    assert free(code) == expected
