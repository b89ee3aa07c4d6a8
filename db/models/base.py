"""What every table shares: the naming convention, ids, timestamps and the tenant column."""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# Stable constraint and index names keep Alembic autogenerate quiet and let
# migrations drop constraints by name on both dialects.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def str_enum(enum_cls: type, name: str) -> sa.Enum:
    """A VARCHAR + CHECK enum: identical on both dialects, no native type to drop."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.name) for m in enum_cls),  # type: ignore[attr-defined]
        validate_strings=True,
    )


class IdMixin(SQLModel):
    id: int | None = Field(default=None, primary_key=True)


class CreatedAtMixin(SQLModel):
    created_at: datetime = Field(default_factory=utcnow, nullable=False)


class TimestampsMixin(CreatedAtMixin):
    # onupdate covers ORM and Core UPDATEs alike, so no code path can forget it.
    updated_at: datetime = Field(
        default_factory=utcnow, nullable=False, sa_column_kwargs={"onupdate": utcnow}
    )


class TeamScopedMixin(SQLModel):
    # Each table indexes team_id itself, leading a composite index that also serves its list order.
    team_id: int = Field(foreign_key="team.id", ondelete="CASCADE", nullable=False)


def not_null(value: object) -> object:
    """For Update models: a field left out is unchanged, but null is no value for it."""
    if value is None:
        raise ValueError("cannot be null")
    return value


def as_utc(value: object) -> object:
    """Datetimes with an offset are stored as UTC; one without is taken to be UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value
