"""Benchmark peer: the product brief's FastAPI backend, on SQLite.

`verify_token` is the brief's middleware as written (python-jose, HS256, BETTER_AUTH_SECRET, no
audience argument). The tasks endpoints are the same as Tessera's tasks API
(crates/tessera-tasks): list, create, read, replace, toggle, delete under /api/{user_id}/tasks,
plus `GET /api/me` (the `verify_token` output) and an unauthenticated `GET /api/health` floor.
Storage is one SQLite file (TESSERA_DATA_DIR/tasks.db, WAL) through the standard library's
sqlite3, called synchronously from the async handlers exactly like the brief's
`get_tasks_from_db(user_id)`; one connection, since uvicorn runs one worker with one event loop.

    uvicorn --app-dir bench/peers/fastapi app:app --host 127.0.0.1 --port PORT --workers 1
"""

import os
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

from fastapi import Depends, FastAPI, Header, HTTPException
from jose import JWTError, jwt
from pydantic import BaseModel, Field

app = FastAPI()

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
# Storage: the same table as Tessera's tasks API (crates/tessera-tasks/migrations/sqlite).

DB_PATH = Path(os.getenv("TESSERA_DATA_DIR", ".")) / "tasks.db"
db = sqlite3.connect(DB_PATH, check_same_thread=False, isolation_level=None)
db.row_factory = sqlite3.Row
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=NORMAL")
db.execute(
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
db.execute("CREATE INDEX IF NOT EXISTS task_user_id_created_at_idx ON task (user_id, created_at)")

COLUMNS = "id, user_id, title, description, completed, created_at, updated_at"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def row_to_task(row: sqlite3.Row) -> dict:
    task = dict(row)
    task["completed"] = bool(task["completed"])
    return task


def get_tasks_from_db(user_id: str) -> list:
    rows = db.execute(
        f"SELECT {COLUMNS} FROM task WHERE user_id = ? ORDER BY created_at DESC", (user_id,)
    ).fetchall()
    return [row_to_task(row) for row in rows]


def get_task_from_db(user_id: str, task_id: str) -> dict:
    row = db.execute(
        f"SELECT {COLUMNS} FROM task WHERE user_id = ? AND id = ?", (user_id, task_id)
    ).fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail="Task not found")
    return row_to_task(row)


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
    tasks = get_tasks_from_db(user_id)
    return tasks


@app.post("/api/{user_id}/tasks", status_code=201)
async def create_task(user_id: str, body: NewTask, auth_data: dict = Depends(verify_token)):
    check_owner(auth_data, user_id)
    stamp = now()
    task_id = str(uuid.uuid4())
    db.execute(
        f"INSERT INTO task ({COLUMNS}) VALUES (?, ?, ?, ?, 0, ?, ?)",
        (task_id, user_id, body.title.strip(), body.description, stamp, stamp),
    )
    return get_task_from_db(user_id, task_id)


@app.get("/api/{user_id}/tasks/{task_id}")
async def get_task(user_id: str, task_id: str, auth_data: dict = Depends(verify_token)):
    check_owner(auth_data, user_id)
    return get_task_from_db(user_id, task_id)


@app.put("/api/{user_id}/tasks/{task_id}")
async def update_task(
    user_id: str, task_id: str, body: TaskChange, auth_data: dict = Depends(verify_token)
):
    check_owner(auth_data, user_id)
    current = get_task_from_db(user_id, task_id)
    completed = current["completed"] if body.completed is None else body.completed
    db.execute(
        "UPDATE task SET title = ?, description = ?, completed = ?, updated_at = ?"
        " WHERE user_id = ? AND id = ?",
        (body.title.strip(), body.description, completed, now(), user_id, task_id),
    )
    return get_task_from_db(user_id, task_id)


@app.patch("/api/{user_id}/tasks/{task_id}/complete")
async def toggle_task(user_id: str, task_id: str, auth_data: dict = Depends(verify_token)):
    check_owner(auth_data, user_id)
    get_task_from_db(user_id, task_id)
    db.execute(
        "UPDATE task SET completed = NOT completed, updated_at = ? WHERE user_id = ? AND id = ?",
        (now(), user_id, task_id),
    )
    return get_task_from_db(user_id, task_id)


@app.delete("/api/{user_id}/tasks/{task_id}", status_code=204)
async def delete_task(user_id: str, task_id: str, auth_data: dict = Depends(verify_token)):
    check_owner(auth_data, user_id)
    get_task_from_db(user_id, task_id)
    db.execute("DELETE FROM task WHERE user_id = ? AND id = ?", (user_id, task_id))
