"""Task statistics."""

import strawberry

from db.models.enums import TaskStatus
from db.services.stats import TaskStats


@strawberry.type
class StatusCount:
    status: TaskStatus
    count: int


@strawberry.type(
    name="TaskStats", description="Counts of tasks; byStatus lists every status, zeros included."
)
class TaskStatsObject:
    total: int
    by_status: list[StatusCount]
    average_progress: float | None = strawberry.field(
        description="Mean progressPercent; null when there are no tasks."
    )


def stats_object(stats: TaskStats) -> TaskStatsObject:
    return TaskStatsObject(
        total=stats.total,
        by_status=[StatusCount(status=s, count=n) for s, n in stats.by_status.items()],
        average_progress=stats.average_progress,
    )
