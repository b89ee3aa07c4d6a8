"""The parent that tests/cli_process.py forks `taskql` commands from (run as a script).

It imports the CLI once, then for each request line on stdin forks a child that becomes
the command: its own environment, working directory, stdin from /dev/null, stdout and
stderr into the files named, and the installed console script run as `__main__`, so that
exit codes, tracebacks and atexit handlers are the interpreter's own. Replies go to the
stdout it was started with: the child's pid, then its exit code.

The parent starts no thread and no event loop, so a forked child is as clean as a new one.
"""

import gc
import json
import os
import runpy
import sys

import gql.cli  # noqa: F401 (the import a forked child no longer pays for)


def _become(request: dict[str, object], replies: int) -> None:
    """In the child: set up the process as `taskql ARGS` would start, then run it."""
    os.close(replies)
    os.chdir(str(request["cwd"]))
    os.environ.clear()
    os.environ.update(request["env"])  # type: ignore[arg-type]
    for fd, path, flags in (
        (0, os.devnull, os.O_RDONLY),
        (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        opened = os.open(str(path), flags, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    script = str(request["script"])
    sys.argv = [script, *request["args"]]  # type: ignore[misc]
    sys.path[0] = os.path.dirname(script)
    # SystemExit, or any exception, ends the child through the interpreter, as in `taskql`.
    runpy.run_path(script, run_name="__main__")


def main() -> None:
    requests = os.fdopen(os.dup(0), "r")
    replies = os.dup(1)
    for line in requests:
        request = json.loads(line)
        # The imported modules move out of the collector's reach: a child that collects
        # (at exit above all) would otherwise touch, and so copy, every page of them,
        # which takes longer than the command itself.
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            requests.close()
            _become(request, replies)
            return  # the script returned without sys.exit: exit 0, as the interpreter would
        os.write(replies, f"{json.dumps({'pid': pid})}\n".encode())
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        os.write(replies, f"{json.dumps({'returncode': code})}\n".encode())


if __name__ == "__main__":
    main()
