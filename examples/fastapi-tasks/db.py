"""Storage: the ``task`` table through SQLAlchemy on PostgreSQL, with row-level security underneath.

Two layers keep users apart. Every query the app writes filters by the user (``owned``); and the
database refuses the rest anyway: each pooled connection runs as ``fastapi_tasks_app`` (not the
table owner, not a superuser, so the policy applies), and ``as_user`` opens each transaction with
the caller's id in the transaction-local setting ``tasks.user_id``, which the policy matches
rows against. A query that forgot the filter still sees only the caller's rows; one run outside
``as_user`` sees none at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Boolean, DateTime, Delete, Engine, Select, Text, Update, create_engine, event, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

APP_ROLE = "fastapi_tasks_app"
SCHEMA = Path(__file__).with_name("schema.sql").read_text()


class Base(DeclarativeBase):
    pass


class Task(Base):
    """One task; ``user_id`` is the Tessera user (the token's ``sub``) who owns it."""

    __tablename__ = "task"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "title": self.title,
            "description": self.description,
            "completed": self.completed,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


S = TypeVar("S", Select, Update, Delete)


def owned(statement: S, user_id: str) -> S:
    """``statement`` limited to ``user_id``'s rows: the filter every query carries."""
    return statement.where(Task.user_id == user_id)


def create_schema(database_url: str) -> None:
    """Creates the table, policy and role (idempotent), as the connecting (owner) role."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection, connection.connection.dbapi_connection.cursor() as cursor:
            # Without parameters, so the driver leaves the `%I` of format() in the DO block alone.
            cursor.execute(SCHEMA)
    finally:
        engine.dispose()


def app_engine(database_url: str) -> Engine:
    """The engine the app queries through: every connection drops to ``fastapi_tasks_app`` first."""
    engine = create_engine(database_url, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def drop_privileges(dbapi_connection, _record) -> None:
        # Session-wide and before any query: a superuser login would bypass every policy.
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET ROLE {APP_ROLE}")
        dbapi_connection.commit()

    return engine


@contextmanager
def as_user(engine: Engine, user_id: str) -> Iterator[Session]:
    """A session whose one transaction row-level security confines to ``user_id``; commits on exit."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        # Transaction-local (`true`): the id ends with the transaction, never reaching the
        # connection's next user. Bound, never interpolated.
        session.execute(text("SELECT set_config('tasks.user_id', :user_id, true)"), {"user_id": user_id})
        yield session
