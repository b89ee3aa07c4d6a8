"""The event machinery of one process: the fan-out and, on PostgreSQL, NOTIFY and LISTEN."""

from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_session_factory
from db.events.fanout import Hub
from db.events.listener import Listener, Publisher
from db.settings import Settings


class Events:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.hub = Hub(
            create_session_factory(engine),
            poll_interval=settings.events_poll_interval_seconds,
            queue_size=settings.events_queue_size,
        )
        self.publisher: Publisher | None = None
        self.listener: Listener | None = None
        if engine.dialect.name == "postgresql":
            self.publisher = Publisher(engine)
            self.hub.add_publisher(self.publisher.publish)
            self.listener = Listener(
                settings.events_listen_url or settings.database_url,
                engine,
                on_notify=lambda team_id: self.hub.wake([team_id]),
                on_reconnect=self.hub.wake_all,
                keepalive_interval=settings.events_keepalive_seconds,
                keepalive_timeout=min(5.0, settings.events_keepalive_seconds),
            )

    def start(self) -> None:
        if self.listener is not None:
            self.listener.start()

    async def close(self) -> None:
        await self.hub.close()
        if self.listener is not None:
            await self.listener.close()
        if self.publisher is not None:
            await self.publisher.close()
