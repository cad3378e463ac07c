"""Benchmark peer: the product brief's FastAPI backend, on SQLite or PostgreSQL.

`verify_token` is the brief's middleware as written (python-jose, HS256, BETTER_AUTH_SECRET, no
audience argument). The tasks endpoints are the same as Tessera's tasks API
(crates/tessera-tasks): list, create, read, replace, toggle, delete under /api/{user_id}/tasks,
plus `GET /api/me` (the `verify_token` output) and an unauthenticated `GET /api/health` floor.

Storage, by DATABASE_URL:
- unset: one SQLite file (TESSERA_DATA_DIR/tasks.db, WAL) through the standard library's sqlite3,
  called synchronously on the event loop exactly like the brief's `get_tasks_from_db(user_id)`;
  one connection, since uvicorn runs one worker with one event loop;
- `postgres://…`: an asyncpg pool (at most 10 connections, as many as a typical async SQLAlchemy
  setup keeps), the same queries awaited. The table is Tessera's, without its row-level security
  (the brief's backend filters by `user_id` in the query, which is cheaper for the database).

    uvicorn --app-dir bench/peers/fastapi app:app --host 127.0.0.1 --port PORT --workers 1
"""

import os
import sqlite3
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import Depends, FastAPI, Header, HTTPException
from jose import JWTError, jwt
from pydantic import BaseModel, Field

SECRET_KEY = os.getenv("BETTER_AUTH_SECRET")
ALGORITHM = "HS256"


async def verify_token(authorization: str = Header(None)) -> dict:
    """Verify JWT token and extract user info."""
    if not authorization:
        raise HTTPException(
            status_code=401,
            detail="Missing authorization header"
        )

    try:
        # Extract token from "Bearer "
        scheme, token = authorization.split()
        if scheme.lower() != "bearer":
            raise HTTPException(
                status_code=401,
                detail="Invalid authentication scheme"
            )

        # Verify and decode token
        payload = jwt.decode(
            token,
            SECRET_KEY,
            algorithms=[ALGORITHM]
        )

        return {
            "user_id": payload.get("sub"),
            "email": payload.get("email")
        }

    except (JWTError, ValueError):
        raise HTTPException(
            status_code=401,
            detail="Invalid or expired token"
        ) from None


# --------------------------------------------------------------------------------------------
# Storage: the same table as Tessera's tasks API (crates/tessera-tasks/migrations/*).

COLUMNS = "id, user_id, title, description, completed, created_at, updated_at"


def now() -> datetime:
    return datetime.now(UTC)


def iso(stamp: datetime) -> str:
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SqliteTasks:
    """Blocking sqlite3 calls inside coroutines: they run on the event loop, as the brief's do."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            """CREATE TABLE IF NOT EXISTS task (
                id text NOT NULL PRIMARY KEY,
                user_id text NOT NULL,
                title text NOT NULL,
                description text,
                completed boolean NOT NULL DEFAULT 0,
                created_at text NOT NULL,
                updated_at text NOT NULL
            )"""
        )
        self.db.execute("CREATE INDEX IF NOT EXISTS task_user_id_created_at_idx ON task (user_id, created_at)")

    async def close(self) -> None:
        self.db.close()

    @staticmethod
    def task(row: sqlite3.Row) -> dict:
        task = dict(row)
        task["completed"] = bool(task["completed"])
        return task

    async def list(self, user_id: str) -> list:
        rows = self.db.execute(
            f"SELECT {COLUMNS} FROM task WHERE user_id = ? ORDER BY created_at DESC", (user_id,)
        ).fetchall()
        return [self.task(row) for row in rows]

    async def get(self, user_id: str, task_id: str) -> dict | None:
        row = self.db.execute(
            f"SELECT {COLUMNS} FROM task WHERE user_id = ? AND id = ?", (user_id, task_id)
        ).fetchone()
        return None if row is None else self.task(row)

    async def insert(self, user_id: str, task_id: str, title: str, description: str | None) -> None:
        stamp = iso(now())
        self.db.execute(
            f"INSERT INTO task ({COLUMNS}) VALUES (?, ?, ?, ?, 0, ?, ?)",
            (task_id, user_id, title, description, stamp, stamp),
        )

    async def replace(self, user_id: str, task_id: str, title: str, description: str | None, completed: bool):
        self.db.execute(
            "UPDATE task SET title = ?, description = ?, completed = ?, updated_at = ?"
            " WHERE user_id = ? AND id = ?",
            (title, description, completed, iso(now()), user_id, task_id),
        )

    async def toggle(self, user_id: str, task_id: str) -> None:
        self.db.execute(
            "UPDATE task SET completed = NOT completed, updated_at = ? WHERE user_id = ? AND id = ?",
            (iso(now()), user_id, task_id),
        )

    async def delete(self, user_id: str, task_id: str) -> None:
        self.db.execute("DELETE FROM task WHERE user_id = ? AND id = ?", (user_id, task_id))


class PostgresTasks:
    """The same queries through an asyncpg pool, awaited."""

    @classmethod
    async def open(cls, url: str) -> "PostgresTasks":
        import asyncpg  # only the PostgreSQL peer needs it

        self = cls()
        self.pool = await asyncpg.create_pool(url, min_size=1, max_size=10)
        await self.pool.execute(
            """CREATE TABLE IF NOT EXISTS task (
                id text NOT NULL PRIMARY KEY,
                user_id text NOT NULL,
                title text NOT NULL,
                description text,
                completed boolean NOT NULL DEFAULT false,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL
            );
            CREATE INDEX IF NOT EXISTS task_user_id_created_at_idx ON task (user_id, created_at DESC)"""
        )
        return self

    async def close(self) -> None:
        await self.pool.close()

    @staticmethod
    def task(row) -> dict:
        task = dict(row)
        task["created_at"] = iso(task["created_at"])
        task["updated_at"] = iso(task["updated_at"])
        return task

    async def list(self, user_id: str) -> list:
        rows = await self.pool.fetch(
            f"SELECT {COLUMNS} FROM task WHERE user_id = $1 ORDER BY created_at DESC", user_id
        )
        return [self.task(row) for row in rows]

    async def get(self, user_id: str, task_id: str) -> dict | None:
        row = await self.pool.fetchrow(f"SELECT {COLUMNS} FROM task WHERE user_id = $1 AND id = $2", user_id, task_id)
        return None if row is None else self.task(row)

    async def insert(self, user_id: str, task_id: str, title: str, description: str | None) -> None:
        stamp = now()
        await self.pool.execute(
            f"INSERT INTO task ({COLUMNS}) VALUES ($1, $2, $3, $4, false, $5, $5)",
            task_id,
            user_id,
            title,
            description,
            stamp,
        )

    async def replace(self, user_id: str, task_id: str, title: str, description: str | None, completed: bool):
        await self.pool.execute(
            "UPDATE task SET title = $1, description = $2, completed = $3, updated_at = $4"
            " WHERE user_id = $5 AND id = $6",
            title,
            description,
            completed,
            now(),
            user_id,
            task_id,
        )

    async def toggle(self, user_id: str, task_id: str) -> None:
        await self.pool.execute(
            "UPDATE task SET completed = NOT completed, updated_at = $1 WHERE user_id = $2 AND id = $3",
            now(),
            user_id,
            task_id,
        )

    async def delete(self, user_id: str, task_id: str) -> None:
        await self.pool.execute("DELETE FROM task WHERE user_id = $1 AND id = $2", user_id, task_id)


class Store:
    """The storage the lifespan opened: SqliteTasks or PostgresTasks."""

    tasks = None


@asynccontextmanager
async def lifespan(_app):
    url = os.getenv("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        Store.tasks = await PostgresTasks.open(url)
    else:
        Store.tasks = SqliteTasks(Path(os.getenv("TESSERA_DATA_DIR", ".")) / "tasks.db")
    yield
    await Store.tasks.close()


app = FastAPI(lifespan=lifespan)


async def get_tasks_from_db(user_id: str) -> list:
    return await Store.tasks.list(user_id)


async def get_task_from_db(user_id: str, task_id: str) -> dict:
    task = await Store.tasks.get(user_id, task_id)
    if task is None:
        raise HTTPException(status_code=404, detail="Task not found")
    return task


def check_owner(auth_data: dict, user_id: str) -> None:
    # Verify user_id matches token
    if auth_data["user_id"] != user_id:
        raise HTTPException(
            status_code=403,
            detail="Cannot access other user's data"
        )


class NewTask(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)


class TaskChange(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    completed: bool | None = None


# --------------------------------------------------------------------------------------------
# Routes


@app.get("/api/health")
async def health():
    return {"ok": True}


@app.get("/api/me")
async def me(auth_data: dict = Depends(verify_token)):
    return auth_data


@app.get("/api/{user_id}/tasks")
async def get_tasks(
    user_id: str,
    auth_data: dict = Depends(verify_token)
):
    check_owner(auth_data, user_id)

    # Return only this user's tasks
    tasks = await get_tasks_from_db(user_id)
    return tasks


@app.post("/api/{user_id}/tasks", status_code=201)
async def create_task(user_id: str, body: NewTask, auth_data: dict = Depends(verify_token)):
    check_owner(auth_data, user_id)
    task_id = str(uuid.uuid4())
    await Store.tasks.insert(user_id, task_id, body.title.strip(), body.description)
    return await get_task_from_db(user_id, task_id)


@app.get("/api/{user_id}/tasks/{task_id}")
async def get_task(user_id: str, task_id: str, auth_data: dict = Depends(verify_token)):
    check_owner(auth_data, user_id)
    return await get_task_from_db(user_id, task_id)


@app.put("/api/{user_id}/tasks/{task_id}")
async def update_task(
    user_id: str, task_id: str, body: TaskChange, auth_data: dict = Depends(verify_token)
):
    check_owner(auth_data, user_id)
    current = await get_task_from_db(user_id, task_id)
    completed = current["completed"] if body.completed is None else body.completed
    await Store.tasks.replace(user_id, task_id, body.title.strip(), body.description, completed)
    return await get_task_from_db(user_id, task_id)


@app.patch("/api/{user_id}/tasks/{task_id}/complete")
async def toggle_task(user_id: str, task_id: str, auth_data: dict = Depends(verify_token)):
    check_owner(auth_data, user_id)
    await get_task_from_db(user_id, task_id)
    await Store.tasks.toggle(user_id, task_id)
    return await get_task_from_db(user_id, task_id)


@app.delete("/api/{user_id}/tasks/{task_id}", status_code=204)
async def delete_task(user_id: str, task_id: str, auth_data: dict = Depends(verify_token)):
    check_owner(auth_data, user_id)
    await get_task_from_db(user_id, task_id)
    await Store.tasks.delete(user_id, task_id)
