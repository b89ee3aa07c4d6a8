"""ruff and mypy stay clean: the same checks a reviewer would run (started in the
background as soon as the tests are collected, tests/code_checks.py)."""

import pytest

from tests import code_checks


@pytest.mark.parametrize("name", list(code_checks.COMMANDS))
def test_clean(name: str) -> None:
    if not code_checks.installed(name):
        pytest.skip(f"{code_checks.COMMANDS[name][0]} is not installed (pip install -e '.[dev]')")
    code, output = code_checks.start(name).result()
    assert code == 0, output
