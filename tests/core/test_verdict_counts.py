"""One rule for counts (``verdict.require_count``), and no hand-written copy of it left."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from pytest_modelguard.core.verdict import GateError, require_count

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_modelguard"


@pytest.mark.parametrize("value", [1, 7, 10**9])
def test_a_positive_integer_is_a_count(value):
    assert require_count("examples", value) == value


@pytest.mark.parametrize("value", [0, -1, True, False, 1.0, 2.5, "3", None, np.int64(3)])
def test_anything_else_is_an_error_that_names_the_keyword(value):
    with pytest.raises(GateError, match=r"^examples=.*: give a positive integer \(rows\)$"):
        require_count("examples", value, what="(rows)")


def test_a_lower_bound_is_stated():
    assert require_count("bins", 2, at_least=2) == 2
    assert require_count("examples", 0, at_least=0) == 0
    with pytest.raises(GateError, match=r"^bins=1: use an integer of at least 2$"):
        require_count("bins", 1, at_least=2)


def _hand_written_count_checks(tree: ast.AST) -> list[int]:
    """Lines of ``isinstance(x, bool) or not isinstance(x, int) or x < n`` and ``type(x) is
    not int or x < n``: the shapes ``require_count`` replaced (a bare int check is not one)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            text = ast.unparse(node)
            whole = text.count(", int)") == 1 and ", bool)" in text and "not isinstance(" in text
            exact = "type(" in text and "is not int" in text
            if (whole or exact) and " < " in text:
                lines.append(node.lineno)
    return lines


def test_no_module_checks_a_count_by_hand():
    found = {
        str(path.relative_to(PACKAGE)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "verdict.py"
        and (lines := _hand_written_count_checks(ast.parse(path.read_text())))
    }
    # shadow_models must also be even: its own rule, not a plain count
    assert found == {"checks/privacy/membership.py": found.get("checks/privacy/membership.py", [])}
    assert len(found.get("checks/privacy/membership.py", [])) <= 1


def test_the_guard_sees_the_old_shape():
    old = "if isinstance(n, bool) or not isinstance(n, int) or n < 1:\n    raise E\n"
    assert _hand_written_count_checks(ast.parse(old)) == [1]
    assert _hand_written_count_checks(ast.parse("if type(n) is not int or n < 1: pass")) == [1]
