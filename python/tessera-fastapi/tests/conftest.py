"""Fixtures: real ``tessera`` servers (one per algorithm for the module, or a fresh one per test)
and a small FastAPI app protected by the package under test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from helpers import TesseraServer
from tessera_fastapi import TesseraAuth, TesseraUser


@pytest.fixture(scope="session", params=["EdDSA", "ES256", "RS256"])
def key_pair_server(request: pytest.FixtureRequest) -> Iterator[TesseraServer]:
    """A server minting with each key-pair algorithm in turn."""
    server = TesseraServer(request.param).start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def eddsa_server() -> Iterator[TesseraServer]:
    server = TesseraServer("EdDSA").start()
    yield server
    server.close()


@pytest.fixture
def new_server() -> Iterator[Callable[..., TesseraServer]]:
    """Starts servers of the test's own (stopped at its end): for tests that stop or rotate them."""
    servers: list[TesseraServer] = []

    def start(alg: str = "EdDSA", **settings: str) -> TesseraServer:
        server = TesseraServer(alg, **settings).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def protected_app(auth: TesseraAuth) -> FastAPI:
    """``/api/me`` for any valid token, ``/api/{user_id}/tasks`` for its owner only."""
    app = FastAPI(lifespan=auth.lifespan)

    @app.get("/api/me")
    async def me(user: TesseraUser = Depends(auth.current_user)) -> dict[str, str | None]:
        return {"user_id": user.user_id, "email": user.email, "session_id": user.session_id}

    @app.get("/api/{user_id}/tasks")
    async def tasks(user_id: str, user: TesseraUser = Depends(auth.require_path_user)) -> list[str]:
        return [user_id]

    @app.get("/api/no-user-in-path")
    async def miswired(user: TesseraUser = Depends(auth.require_path_user)) -> list[str]:
        return []

    return app


@pytest.fixture
def client_for() -> Iterator[Callable[[TesseraAuth], TestClient]]:
    """A running TestClient (lifespan entered) over ``protected_app(auth)``."""
    clients: list[TestClient] = []

    def make(auth: TesseraAuth) -> TestClient:
        client = TestClient(protected_app(auth), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
