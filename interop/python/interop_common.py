"""Shared helpers for the Python interop verifiers: plain-HTTP calls to a running Tessera
(standard library only) and a tiny step runner that prints one line per step and a closing
"N passed, 0 failed" line (read by CI)."""

from __future__ import annotations

import json
import os
import secrets
import sys
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

TIMEOUT_SECONDS = 15


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{os.path.basename(sys.argv[0])}: environment variable {name} is not set")
    return value


class HttpResult:
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self) -> str:
        return f"HTTP {self.status}: {self.body[:500]!r}"


def http(method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None) -> HttpResult:
    """One HTTP request; non-2xx statuses are returned, not raised."""
    data = None
    all_headers = {"accept": "application/json", **(headers or {})}
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        all_headers["content-type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return HttpResult(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return HttpResult(error.code, error.headers, error.read())


def new_credentials() -> tuple[str, str, str]:
    """A random (name, email, password) for a fresh user."""
    suffix = secrets.token_hex(6)
    return f"Interop {suffix}", f"interop-{suffix}@example.com", f"pw-{secrets.token_urlsafe(12)}"


def sign_up(base_url: str, name: str, email: str, password: str) -> tuple[str, dict[str, Any]]:
    """POST /api/auth/sign-up/email; returns (raw session token, user)."""
    result = http(
        "POST",
        f"{base_url}/api/auth/sign-up/email",
        body={"name": name, "email": email, "password": password},
    )
    assert result.status == 200, f"sign-up failed: {result!r}"
    data = result.json()
    assert isinstance(data.get("token"), str) and data["token"], f"no session token in {data!r}"
    assert data["user"]["email"] == email, f"unexpected user {data['user']!r}"
    return data["token"], data["user"]


def get_jwt(base_url: str, session_token: str) -> str:
    """GET /api/auth/token authenticated by the bearer plugin with the raw session token."""
    result = http("GET", f"{base_url}/api/auth/token", headers={"authorization": f"Bearer {session_token}"})
    assert result.status == 200, f"/api/auth/token failed: {result!r}"
    token = result.json().get("token")
    assert isinstance(token, str) and token.count(".") == 2, f"not a JWT: {token!r}"
    return token


class Steps:
    """Runs steps in order, stopping at the first failure."""

    def __init__(self) -> None:
        self.passed = 0

    def run(self, description: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except BaseException:  # noqa: BLE001 - any failure, assertion or not, fails the step
            print(f"not ok {self.passed + 1} - {description}", flush=True)
            traceback.print_exc()
            print(f"{self.passed} passed, 1 failed", flush=True)
            sys.exit(1)
        self.passed += 1
        print(f"ok {self.passed} - {description}", flush=True)

    def finish(self) -> None:
        print(f"{self.passed} passed, 0 failed", flush=True)
