"""Who makes a change: the one value every writing service takes."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    team_id: int
    # None when an operator makes the change with the command line, not a worker of the team.
    worker_id: int | None = None
