"""Fixtures: a throwaway PostgreSQL database per test run (in TEST_DATABASE_URL's cluster), a real
``tessera`` server (the tessera-fastapi tests' helpers), and the example app over both."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "python" / "tessera-fastapi" / "tests"))
from app import create_app  # noqa: E402
from helpers import TesseraServer  # noqa: E402 - found through the path set just above
from tessera_fastapi import TesseraAuth  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A new database ``fastapi_tasks_<random>``, dropped at the end; its SQLAlchemy URL."""
    admin_url = os.environ.get("TEST_DATABASE_URL", DEFAULT_DATABASE_URL)
    name = f"fastapi_tasks_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin_url)
    yield urlunsplit(("postgresql+psycopg", parts.netloc, f"/{name}", parts.query, ""))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def tessera() -> Iterator[TesseraServer]:
    server = TesseraServer("EdDSA").start()
    yield server
    server.close()


@pytest.fixture
def client(database_url: str, tessera: TesseraServer) -> Iterator[TestClient]:
    auth = TesseraAuth(jwks_url=tessera.jwks_url, revocations_url=tessera.revocations_url)
    with TestClient(create_app(database_url, auth)) as client:
        yield client
