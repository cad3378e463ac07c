"""The brief's FastAPI tasks backend, done with tessera-fastapi: JWTs verified in process (EdDSA
through the auth server's JWKS, or HS256 with the shared secret), instant sign-out through the
revocation feed, the brief's 401/403 answers, and PostgreSQL through SQLAlchemy with every query
filtered by the user and row-level security underneath (db.py).

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/tasks \\
    TESSERA_URL=http://127.0.0.1:3000 uvicorn app:app_from_env --factory --port 8000

``TESSERA_URL`` is the auth server (its JWKS and revocation feed are used); with
``BETTER_AUTH_SECRET`` set instead, HS256 tokens are verified with that secret.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import db
from db import Task
from fastapi import Depends, FastAPI, HTTPException, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine, delete, select
from tessera_fastapi import TesseraAuth, TesseraUser


class NewTask(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)


class TaskChange(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    completed: bool | None = None


def auth_from_env() -> TesseraAuth:
    """``TESSERA_URL`` (key pairs and the revocation feed) or ``BETTER_AUTH_SECRET`` (HS256)."""
    if url := os.environ.get("TESSERA_URL"):
        url = url.rstrip("/")
        return TesseraAuth(jwks_url=f"{url}/api/auth/jwks", revocations_url=f"{url}/api/auth/revocations")
    return TesseraAuth(secret=os.environ["BETTER_AUTH_SECRET"])


def create_app(database_url: str, auth: TesseraAuth) -> FastAPI:
    """The app over ``database_url`` (``postgresql+psycopg://…``), guarded by ``auth``."""
    engine: Engine = db.app_engine(database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db.create_schema(database_url)
        async with auth:
            yield
        engine.dispose()

    app = FastAPI(title="Tasks (tessera-fastapi example)", lifespan=lifespan)
    owner = Depends(auth.require_path_user)

    def find(session, user_id: str, task_id: str) -> Task:
        task = session.scalars(db.owned(select(Task).where(Task.id == task_id), user_id)).one_or_none()
        if task is None:
            raise HTTPException(status_code=404, detail="Task not found")
        return task

    @app.get("/api/me")
    def me(user: TesseraUser = Depends(auth.current_user)) -> dict[str, str | None]:
        return {"user_id": user.user_id, "email": user.email}

    @app.get("/api/{user_id}/tasks")
    def list_tasks(user_id: str, user: TesseraUser = owner) -> list[dict[str, object]]:
        with db.as_user(engine, user.user_id) as session:
            query = db.owned(select(Task), user_id).order_by(Task.created_at.desc(), Task.id)
            return [task.to_json() for task in session.scalars(query)]

    @app.post("/api/{user_id}/tasks", status_code=201)
    def create_task(user_id: str, body: NewTask, user: TesseraUser = owner) -> dict[str, object]:
        now = datetime.now(UTC)
        task = Task(
            id=str(uuid.uuid4()),
            user_id=user_id,
            title=body.title.strip(),
            description=body.description,
            completed=False,
            created_at=now,
            updated_at=now,
        )
        with db.as_user(engine, user.user_id) as session:
            session.add(task)
        return task.to_json()

    @app.get("/api/{user_id}/tasks/{task_id}")
    def get_task(user_id: str, task_id: str, user: TesseraUser = owner) -> dict[str, object]:
        with db.as_user(engine, user.user_id) as session:
            return find(session, user_id, task_id).to_json()

    @app.put("/api/{user_id}/tasks/{task_id}")
    def update_task(user_id: str, task_id: str, body: TaskChange, user: TesseraUser = owner) -> dict[str, object]:
        with db.as_user(engine, user.user_id) as session:
            task = find(session, user_id, task_id)
            task.title, task.description = body.title.strip(), body.description
            if body.completed is not None:
                task.completed = body.completed
            task.updated_at = datetime.now(UTC)
        return task.to_json()

    @app.patch("/api/{user_id}/tasks/{task_id}/complete")
    def toggle_task(user_id: str, task_id: str, user: TesseraUser = owner) -> dict[str, object]:
        with db.as_user(engine, user.user_id) as session:
            task = find(session, user_id, task_id)
            task.completed = not task.completed
            task.updated_at = datetime.now(UTC)
        return task.to_json()

    @app.delete("/api/{user_id}/tasks/{task_id}", status_code=204)
    def delete_task(user_id: str, task_id: str, user: TesseraUser = owner) -> Response:
        with db.as_user(engine, user.user_id) as session:
            gone = session.execute(db.owned(delete(Task).where(Task.id == task_id), user_id)).rowcount
        if not gone:
            raise HTTPException(status_code=404, detail="Task not found")
        return Response(status_code=204)

    return app


def app_from_env() -> FastAPI:
    """For ``uvicorn app:app_from_env --factory``: settings from the environment."""
    return create_app(os.environ["DATABASE_URL"], auth_from_env())
