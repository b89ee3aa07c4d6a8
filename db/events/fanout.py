"""The per-process fan-out: one reader per team with subscribers, bounded queues per subscriber.

The reader reads the team's new outbox entries once and offers each to every subscriber's
queue without ever waiting for one: a subscriber that does not keep up (a client that stops
reading blocks its sender) fills its queue and is ended, with the position it had reached,
instead of holding up the others or growing the server's memory.
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.events import outbox
from db.events.outbox import OutboxEntry

log = logging.getLogger("taskql.events")


class Overflowed(Exception):
    """The subscriber fell more than its queue behind; `cursor` is the last entry it took."""

    def __init__(self, cursor: int) -> None:
        super().__init__(f"fell behind after {cursor}")
        self.cursor = cursor


class Subscriber:
    """One subscription's place in its team's stream and the entries waiting for it."""

    def __init__(self, feed: "TeamFeed", capacity: int) -> None:
        self.feed = feed
        self._capacity = capacity
        self._waiting: deque[OutboxEntry] = deque()
        self._ready = asyncio.Event()
        # The last entry put in the queue, and the last one taken out of it; unknown
        # (and nothing offered) until the reader knows where the stream stands.
        self.queued: int | None = None
        self.delivered = 0
        self.overflowed = False

    @property
    def room(self) -> int:
        return self._capacity - len(self._waiting)

    def offer(self, entry: OutboxEntry) -> None:
        """From the reader: never waits. Entries the subscriber has, or has not reached yet
        (it is still catching up by itself), are not its to take."""
        if self.overflowed or self.queued is None or entry.seq != self.queued + 1:
            return
        if len(self._waiting) >= self._capacity:
            self.overflowed = True
            self._waiting.clear()
            self.feed.subscribers.discard(self)
        else:
            self._waiting.append(entry)
            self.queued = entry.seq
        self._ready.set()

    async def next(self) -> OutboxEntry:
        assert self.queued is not None, "next() before the subscription started"
        while True:
            if self.overflowed:
                raise Overflowed(self.delivered)
            if self._waiting:
                entry = self._waiting.popleft()
                self.delivered = entry.seq
                self.feed.space.set()
                return entry
            if self.queued < self.feed.position:
                # Behind the reader (resuming from an old cursor): read the gap directly.
                await self._catch_up()
                continue
            self._ready.clear()
            await self._ready.wait()

    async def _catch_up(self) -> None:
        assert self.queued is not None
        position = self.feed.position
        rows = await self.feed.read(self.queued, self._capacity)
        for entry in rows:
            if entry.seq == self.queued + 1:
                self._waiting.append(entry)
                self.queued = entry.seq
        if not rows:
            # Entries the reader has seen are gone (the team was deleted): nothing to wait for.
            self.queued = max(self.queued, position)


class TeamFeed:
    """The one reader of a team's outbox in this process."""

    def __init__(self, hub: "Hub", team_id: int) -> None:
        self.hub = hub
        self.team_id = team_id
        self.subscribers: set[Subscriber] = set()
        self.position = 0
        self.wake = asyncio.Event()
        # Set whenever a subscriber takes an entry out of its queue.
        self.space = asyncio.Event()
        self.started = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def read(self, after: int, limit: int) -> list[OutboxEntry]:
        # A short session per read: an idle subscription holds no connection.
        async with self.hub.session_factory() as session:
            return await outbox.read(session, self.team_id, after, limit)

    async def run(self) -> None:
        try:
            await self._start()
            while self.subscribers:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.hub.poll_interval)
                self.wake.clear()
                try:
                    await self._drain()
                except Exception:  # the database may be away: retry on the next poll
                    log.warning("reading the events of team %s failed", self.team_id, exc_info=True)
        finally:
            self.hub.feed_ended(self)

    async def _start(self) -> None:
        while True:
            try:
                async with self.hub.session_factory() as session:
                    self.position = await outbox.head(session, self.team_id)
                break
            except Exception:
                log.warning("reading the event head of team %s failed", self.team_id, exc_info=True)
                await asyncio.sleep(self.hub.poll_interval)
        self.started.set()

    def _room(self) -> int:
        """How far to read ahead: as far as the roomiest subscriber keeping up can take.

        Reading further would end subscribers that do keep up, just not within one read;
        a stuck one fills up while the others take their entries, and is ended.
        """
        live = [s.room for s in self.subscribers if s.queued == self.position]
        return min(self.hub.batch_size, max(live)) if live else self.hub.batch_size

    async def _drain(self) -> None:
        while self.subscribers:
            limit = self._room()
            if limit == 0:
                self.space.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.space.wait(), self.hub.poll_interval)
                continue
            rows = await self.read(self.position, limit)
            for entry in rows:
                self.position = entry.seq
                for subscriber in list(self.subscribers):
                    subscriber.offer(entry)
            if len(rows) < limit:
                return


class Hub:
    """Every team feed of this process, and the wake-ups that make them read."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        poll_interval: float,
        queue_size: int,
        batch_size: int = 500,
    ) -> None:
        self.session_factory = session_factory
        self.poll_interval = poll_interval
        self.queue_size = queue_size
        self.batch_size = batch_size
        self._feeds: dict[int, TeamFeed] = {}
        self._publishers: list[Callable[[frozenset[int]], None]] = []
        self._closing = False
        self._unlisten = outbox.on_commit(self.committed)

    def add_publisher(self, publish: Callable[[frozenset[int]], None]) -> None:
        """Also tell other processes about this process's commits (PostgreSQL NOTIFY)."""
        self._publishers.append(publish)

    def committed(self, team_ids: frozenset[int]) -> None:
        self.wake(team_ids)
        for publish in self._publishers:
            publish(team_ids)

    def wake(self, team_ids: Iterable[int]) -> None:
        for team_id in team_ids:
            feed = self._feeds.get(team_id)
            if feed is not None:
                feed.wake.set()

    def wake_all(self) -> None:
        """After the listener was away: a notification may have been missed."""
        self.wake(list(self._feeds))

    @property
    def subscriber_count(self) -> int:
        return sum(len(feed.subscribers) for feed in self._feeds.values())

    @asynccontextmanager
    async def subscribe(self, team_id: int, after: int | None) -> AsyncIterator[Subscriber]:
        """A place in the team's stream right after `after`, or from now when it is None."""
        feed = self._feeds.get(team_id)
        if feed is None:
            feed = self._feeds[team_id] = TeamFeed(self, team_id)
        subscriber = Subscriber(feed, self.queue_size)
        feed.subscribers.add(subscriber)
        if feed.task is None:
            feed.task = asyncio.create_task(feed.run(), name=f"taskql-events-{team_id}")
        try:
            await subscriber.feed.started.wait()
            start = subscriber.feed.position if after is None else after
            subscriber.queued = subscriber.delivered = start
            yield subscriber
        finally:
            subscriber.feed.subscribers.discard(subscriber)
            subscriber.feed.wake.set()  # a reader left without subscribers ends

    def feed_ended(self, feed: TeamFeed) -> None:
        if self._feeds.get(feed.team_id) is feed:
            del self._feeds[feed.team_id]
        # A subscriber that joined while the reader was stopping gets a reader of its own.
        if feed.subscribers and not self._closing:
            successor = self._feeds[feed.team_id] = TeamFeed(self, feed.team_id)
            successor.subscribers = feed.subscribers
            for subscriber in successor.subscribers:
                subscriber.feed = successor
            successor.task = asyncio.create_task(successor.run())

    async def close(self) -> None:
        self._closing = True
        self._unlisten()
        tasks = [feed.task for feed in self._feeds.values() if feed.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._feeds.clear()
