"""A real ``tessera`` process for the tests, the plain-HTTP calls a frontend would make to it, and a
loopback proxy that counts the requests a verifier makes to the auth server.

The server is started the way scripts/test.sh's interop stage starts one: a free 127.0.0.1
port, a fresh data directory, ``BETTER_AUTH_SECRET`` and ``TESSERA_JWT_ALG`` in the environment,
``TESSERA_ENV=development``; it is up once ``GET /api/auth/ok`` answers.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

START_DEADLINE_SECONDS = 30
REPO = Path(__file__).resolve().parents[3]


def tessera_binary() -> str:
    """``TESSERA_BIN``, else the repository's debug build (``cargo build -p tessera``)."""
    path = os.environ.get("TESSERA_BIN") or str(REPO / "target" / "debug" / "tessera")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"no tessera binary at {path}: run `cargo build -p tessera` or set TESSERA_BIN")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server_process(
    name: str, command: list[str], env: dict[str, str], work_dir: Path, url: str
) -> subprocess.Popen[bytes]:
    """Starts a server (tessera or Better Auth: the same command line) in ``work_dir``, its output
    in ``work_dir/server.log``, and waits until ``GET {url}/api/auth/ok`` answers 200; a server
    that exits or stays silent for ``START_DEADLINE_SECONDS`` fails with its log's tail."""
    log_path = work_dir / "server.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, env=env, cwd=work_dir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log_tail(log_path)}")
        try:
            if http_call("GET", f"{url}/api/auth/ok", timeout=2).status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.1)
    stop_process(process)
    raise RuntimeError(f"{name} did not answer within {START_DEADLINE_SECONDS} s:\n{log_tail(log_path)}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s; returns once the process is gone."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def log_tail(path: Path) -> str:
    """The last 4,000 characters of a server log, or nothing when there is none."""
    return path.read_text(errors="replace")[-4000:] if path.exists() else ""


class TesseraServer:
    """One ``tessera serve`` process with its own data directory; ``stop``/``start`` keep both."""

    def __init__(self, alg: str = "EdDSA", **settings: str) -> None:
        self.alg = alg
        self.secret = secrets.token_hex(32)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = tempfile.mkdtemp(prefix="tessera-fastapi-test.")
        self.settings = settings
        self.process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "BETTER_AUTH_SECRETS")}
        env.update(
            BETTER_AUTH_SECRET=self.secret,
            BETTER_AUTH_URL=self.url,
            TESSERA_DATA_DIR=self.data_dir,
            TESSERA_JWT_ALG=self.alg,
            TESSERA_ENV="development",
            **self.settings,
        )
        return env

    def start(self) -> TesseraServer:
        command = [tessera_binary(), "serve", "--addr", f"127.0.0.1:{self.port}"]
        self.process = start_server_process("tessera", command, self.env(), Path(self.data_dir), self.url)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_tail(self) -> str:
        return log_tail(Path(self.data_dir) / "server.log")

    def rotate_keys(self) -> str:
        """``tessera keys rotate`` with the server's own settings; returns its output."""
        done = subprocess.run(
            [tessera_binary(), "keys", "rotate"],
            env=self.env(),
            cwd=self.data_dir,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/api/auth/jwks"

    @property
    def revocations_url(self) -> str:
        return f"{self.url}/api/auth/revocations"

    # --- what a frontend does -----------------------------------------------------------------

    def sign_up(self) -> User:
        suffix = secrets.token_hex(6)
        email = f"py-{suffix}@example.com"
        result = http_call(
            "POST",
            f"{self.url}/api/auth/sign-up/email",
            body={"name": f"Py {suffix}", "email": email, "password": f"pw-{secrets.token_urlsafe(12)}"},
        )
        assert result.status == 200, result
        data = result.json()
        return User(self, data["user"]["id"], email, data["token"])


class User:
    """A signed-up user and their session (its raw token, sent as the bearer plugin expects)."""

    def __init__(self, server: TesseraServer, user_id: str, email: str, session_token: str) -> None:
        self.server = server
        self.id = user_id
        self.email = email
        self.session_token = session_token

    def jwt(self) -> str:
        """``GET /api/auth/token`` with the session."""
        result = http_call("GET", f"{self.server.url}/api/auth/token", headers=self._session())
        assert result.status == 200, result
        return result.json()["token"]

    def sign_out(self) -> None:
        result = http_call("POST", f"{self.server.url}/api/auth/sign-out", body={}, headers=self._session())
        assert result.status == 200, result

    def _session(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.session_token}"}


class HttpResult:
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"HTTP {self.status}: {self.body[:300]!r}"


def http_call(
    method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 15
) -> HttpResult:
    """One request; non-2xx statuses are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"accept": "application/json", **(headers or {})}
    if body is not None:
        all_headers["content-type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpResult(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return HttpResult(error.code, error.headers, error.read())


class CountingProxy:
    """A loopback reverse proxy for GETs that counts requests by path: the verifier under test
    talks to it, so the test sees exactly how often the auth server was asked."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.counts: Counter[str] = Counter()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
                proxy.counts[self.path.split("?")[0]] += 1
                try:
                    conn = http.client.HTTPConnection(proxy.upstream, timeout=5)
                    conn.request("GET", self.path, headers={"accept": "application/json"})
                    answer = conn.getresponse()
                    status, body = answer.status, answer.read()
                    headers = [(k, v) for k, v in answer.getheaders() if k.lower() in ("content-type", "cache-control")]
                    conn.close()
                except OSError:
                    status, body, headers = 502, b"{}", [("content-type", "application/json")]
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base signature
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class JsonServer:
    """Serves one JSON document at every path on loopback (a key set of the test's own making)."""

    def __init__(self, document: Any) -> None:
        body = json.dumps(document).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base signature
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


class ManualClock:
    """Unix seconds that move only when told: cooldowns and expiry without sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
