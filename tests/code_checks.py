"""ruff and mypy for tests/test_code_quality.py, started as soon as the tests are collected.

mypy alone takes some twenty seconds, nearly all of it on one core; the suite seldom keeps
both busy. So the checks run beside the other tests, and each test waits for its own.
"""

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COMMANDS = {
    "ruff-check": ["ruff", "check", "."],
    "ruff-format": ["ruff", "format", "--check", "."],
    "mypy": ["mypy"],
}
_TEST_FILE = "test_code_quality.py"


@dataclass
class Check:
    process: subprocess.Popen[bytes]
    output: Path

    def result(self) -> tuple[int, str]:
        """The exit code and the output (stdout and stderr) once the check is done."""
        code = self.process.wait()
        return code, self.output.read_text(errors="replace")


_started: dict[str, Check] = {}


def installed(name: str) -> bool:
    return (BIN / COMMANDS[name][0]).exists()


def start(name: str) -> Check:
    """The check, started now unless it is already running."""
    if name not in _started:
        command = COMMANDS[name]
        output = Path(tempfile.mkstemp(prefix=f"taskql-{name}-", suffix=".log")[1])
        with output.open("wb") as out:
            process = subprocess.Popen(
                [str(BIN / command[0]), *command[1:]],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        _started[name] = Check(process, output)
    return _started[name]


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the checks whose tests are selected, before the first test runs."""
    for item in session.items:
        if item.path.name == _TEST_FILE and hasattr(item, "callspec"):
            name = item.callspec.id
            if name in COMMANDS and installed(name):
                start(name)


def pytest_unconfigure(config: pytest.Config) -> None:
    for check in _started.values():
        if check.process.poll() is None:
            check.process.kill()
            check.process.wait()
        check.output.unlink(missing_ok=True)
