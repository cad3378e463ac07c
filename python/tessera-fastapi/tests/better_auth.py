"""A real Better Auth 1.7.25 server for the tests (interop/better-auth-server.mjs, on its
memory adapter), and what a browser does against it: sign up with an ``Origin`` header, then
trade the session cookie for a JWT at ``/api/auth/token``.

It is started like ``TesseraServer``: a free 127.0.0.1 port, a fresh temporary directory for its
log, ``BETTER_AUTH_SECRET``/``BETTER_AUTH_URL``/``BETTER_AUTH_TRUSTED_ORIGINS`` and
``TESSERA_JWT_ALG`` in the environment, stopped by its PID. It needs ``npm ci`` in interop
(scripts/test.sh's clients stage runs it); without it the tests fail instead of skipping, so a
broken setup is never reported as a pass.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from http.cookies import SimpleCookie
from pathlib import Path

from helpers import REPO, free_port, http_call, start_server_process, stop_process

INTEROP_DIR = REPO / "interop"
SCRIPT = INTEROP_DIR / "better-auth-server.mjs"
# The frontend's origin: trusted by the server, sent on the sign-up the way a browser sends it.
FRONTEND_ORIGIN = "http://app.localhost:5173"
SESSION_COOKIE = "better-auth.session_token"


class BetterAuthServer:
    """One ``node better-auth-server.mjs serve`` process (memory adapter: its users die with it)."""

    def __init__(self, alg: str = "EdDSA") -> None:
        if not (INTEROP_DIR / "node_modules" / "better-auth").is_dir():
            raise RuntimeError(f"no node_modules in {INTEROP_DIR}: run `npm ci` there (scripts/test.sh clients does)")
        self.alg = alg
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.work_dir = tempfile.mkdtemp(prefix="tessera-fastapi-better-auth.")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> BetterAuthServer:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NODE_ENV")}
        env.update(
            BETTER_AUTH_SECRET=secrets.token_hex(32),
            BETTER_AUTH_URL=self.url,
            BETTER_AUTH_TRUSTED_ORIGINS=FRONTEND_ORIGIN,
            TESSERA_JWT_ALG=self.alg,
        )
        command = ["node", str(SCRIPT), "serve", "--addr", f"127.0.0.1:{self.port}"]
        self.process = start_server_process("Better Auth", command, env, Path(self.work_dir), self.url)
        return self

    def close(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
        shutil.rmtree(self.work_dir, ignore_errors=True)

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/api/auth/jwks"

    def sign_up_and_get_jwt(self) -> tuple[str, str, str]:
        """Signs a fresh user up (cookie session, as from a browser on the trusted origin) and
        returns their id, email and a JWT from ``/api/auth/token``."""
        suffix = secrets.token_hex(6)
        email = f"ba-{suffix}@example.com"
        result = http_call(
            "POST",
            f"{self.url}/api/auth/sign-up/email",
            body={"name": f"BA {suffix}", "email": email, "password": f"pw-{secrets.token_urlsafe(12)}"},
            headers={"origin": FRONTEND_ORIGIN},
        )
        assert result.status == 200, result
        user = result.json()["user"]
        cookie = SimpleCookie()
        for header in result.headers.get_all("set-cookie") or []:
            cookie.load(header)
        assert SESSION_COOKIE in cookie, "Better Auth set no session cookie"
        token = http_call(
            "GET",
            f"{self.url}/api/auth/token",
            headers={"cookie": f"{SESSION_COOKIE}={cookie[SESSION_COOKIE].value}", "origin": FRONTEND_ORIGIN},
        )
        assert token.status == 200, token
        return user["id"], user["email"], token.json()["token"]
