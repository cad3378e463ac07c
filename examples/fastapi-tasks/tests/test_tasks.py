"""The example's tasks API against a real Tessera and a real PostgreSQL: the brief's endpoints,
its 401/403 answers, and isolation that holds even with the app's user filter left out."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import db
import pytest
from db import Task
from helpers import bearer
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError


def test_a_user_creates_lists_changes_toggles_and_deletes_their_tasks(client, tessera):
    user = tessera.sign_up()
    auth = bearer(user.jwt())
    base = f"/api/{user.id}/tasks"
    created = client.post(base, json={"title": "  Write the report ", "description": "by Friday"}, headers=auth)
    assert created.status_code == 201, created.text
    task = created.json()
    assert (task["title"], task["user_id"], task["completed"]) == ("Write the report", user.id, False)
    assert [t["id"] for t in client.get(base, headers=auth).json()] == [task["id"]]
    changed = client.put(f"{base}/{task['id']}", json={"title": "Report", "description": None}, headers=auth)
    assert changed.status_code == 200 and changed.json()["title"] == "Report"
    toggled = client.patch(f"{base}/{task['id']}/complete", headers=auth)
    assert toggled.json()["completed"] is True
    assert client.get(f"{base}/{task['id']}", headers=auth).json()["completed"] is True
    assert client.delete(f"{base}/{task['id']}", headers=auth).status_code == 204
    assert client.get(f"{base}/{task['id']}", headers=auth).status_code == 404
    assert client.get(base, headers=auth).json() == []


def test_no_token_is_401_and_another_users_path_is_403(client, tessera):
    alice, bob = tessera.sign_up(), tessera.sign_up()
    response = client.get(f"/api/{alice.id}/tasks")
    assert response.status_code == 401 and response.json() == {"detail": "Missing authorization header"}
    response = client.get(f"/api/{alice.id}/tasks", headers=bearer(bob.jwt()))
    assert response.status_code == 403 and response.json() == {"detail": "Cannot access other user's data"}
    invalid = client.post(f"/api/{bob.id}/tasks", json={"title": ""}, headers=bearer(bob.jwt()))
    assert invalid.status_code == 422


def test_with_the_user_filter_left_out_row_level_security_still_isolates_users(client, tessera, monkeypatch):
    alice, bob = tessera.sign_up(), tessera.sign_up()
    alice_auth, bob_auth = bearer(alice.jwt()), bearer(bob.jwt())
    secret = client.post(f"/api/{alice.id}/tasks", json={"title": "Alice's secret"}, headers=alice_auth).json()
    client.post(f"/api/{bob.id}/tasks", json={"title": "Bob's own"}, headers=bob_auth)

    # The bug RLS is there for: every query loses its `WHERE user_id = …`.
    monkeypatch.setattr(db, "owned", lambda statement, user_id: statement)

    listed = client.get(f"/api/{bob.id}/tasks", headers=bob_auth).json()
    assert [t["title"] for t in listed] == ["Bob's own"]
    for method, suffix, body in [
        ("GET", "", None),
        ("PUT", "", {"title": "taken over"}),
        ("PATCH", "/complete", None),
        ("DELETE", "", None),
    ]:
        response = client.request(method, f"/api/{bob.id}/tasks/{secret['id']}{suffix}", json=body, headers=bob_auth)
        assert response.status_code == 404, (method, response.text)
    monkeypatch.undo()
    kept = client.get(f"/api/{alice.id}/tasks/{secret['id']}", headers=alice_auth).json()
    assert (kept["title"], kept["completed"]) == ("Alice's secret", False)


def test_the_database_refuses_rows_for_another_user_and_shows_nothing_without_an_identity(
    client, tessera, database_url
):
    alice, bob = tessera.sign_up(), tessera.sign_up()
    client.post(f"/api/{alice.id}/tasks", json={"title": "Alice's"}, headers=bearer(alice.jwt()))
    engine = db.app_engine(database_url)
    try:
        with engine.connect() as connection:  # outside as_user: no identity, no rows
            assert connection.execute(select(Task.id)).all() == []
        with db.as_user(engine, bob.id) as session:
            assert session.scalars(select(Task)).all() == []
        with pytest.raises(DBAPIError, match="row-level security"), db.as_user(engine, bob.id) as session:
            now = datetime.now(UTC)
            session.add(Task(id="forged", user_id=alice.id, title="planted", completed=False,
                             created_at=now, updated_at=now))
    finally:
        engine.dispose()


def test_a_signed_out_sessions_token_is_refused_by_the_example(client, tessera):
    user = tessera.sign_up()
    token = user.jwt()
    assert client.get(f"/api/{user.id}/tasks", headers=bearer(token)).status_code == 200
    user.sign_out()
    deadline = time.monotonic() + 1.0
    while client.get(f"/api/{user.id}/tasks", headers=bearer(token)).status_code != 401:
        assert time.monotonic() < deadline, "still accepted a second after sign-out"
        time.sleep(0.02)
