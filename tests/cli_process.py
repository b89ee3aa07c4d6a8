"""`taskql ARGS` as a process of its own, without paying for Python's imports every time.

Starting the installed script costs about two seconds of imports on the test machine, and
the CLI tests run well over a hundred commands. So one parent (tests/cli_zygote.py) imports
the CLI once and forks a child per command; the child runs the installed console script
with the command's environment and working directory, and its exit code, stdout and
stderr are those of a real process. What only a freshly exec'd `taskql` shows (the README's
first command, `--help` of the installed script, `serve`) is run with subprocess as before.
"""

import atexit
import importlib.util
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

from tests.serve_process import TASKQL

_ZYGOTE = Path(__file__).with_name("cli_zygote.py")
# `python -m gql.cli` where no console script is installed: the module is then the script.
_SCRIPT = TASKQL[0] if len(TASKQL) == 1 else str(importlib.util.find_spec("gql.cli").origin)


class _Zygote:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def _started(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, str(_ZYGOTE)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                # Unbuffered: select() then sees every reply line that has arrived.
                bufsize=0,
                cwd=Path(__file__).resolve().parent.parent,
            )
        return self._process

    def run(
        self, args: list[str], env: Mapping[str, str], cwd: Path | None, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        with self._lock, tempfile.TemporaryDirectory(prefix="taskql-cli-") as scratch:
            process = self._started()
            assert process.stdin is not None and process.stdout is not None
            out, err = Path(scratch, "stdout"), Path(scratch, "stderr")
            request = {
                "args": args,
                "env": dict(env),
                "cwd": str(cwd or Path.cwd()),
                "script": _SCRIPT,
                "stdout": str(out),
                "stderr": str(err),
            }
            pending = memoryview(f"{json.dumps(request)}\n".encode())
            while pending:
                pending = pending[process.stdin.write(pending) or 0 :]
            pid = self._reply(process, 30)["pid"]
            try:
                code = self._reply(process, timeout)["returncode"]
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                self._reply(process, 30)
                raise
            return subprocess.CompletedProcess(
                ["taskql", *args], code, out.read_text(), err.read_text()
            )

    @staticmethod
    def _reply(process: subprocess.Popen[bytes], timeout: float) -> dict[str, int]:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        if not ready:
            raise subprocess.TimeoutExpired(["taskql"], timeout)
        line = process.stdout.readline()
        assert line, f"the CLI's fork parent exited ({process.poll()})"
        return dict(json.loads(line))

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()  # it exits once the command under way has ended
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


_zygote = _Zygote()
atexit.register(_zygote.close)


def run_taskql(
    args: list[str], env: Mapping[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`taskql ARGS` in a forked process with exactly env as its environment."""
    return _zygote.run(args, env, cwd, timeout)
