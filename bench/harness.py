#!/usr/bin/env python3
"""The load harness behind bench/run.sh (standard library only; run.sh prepares everything).

For each server -- Tessera, and the peers (the brief's FastAPI + python-jose backend, Better Auth
1.7.25), on SQLite, and with --pg-url on PostgreSQL too -- it starts a fresh instance pinned to
one CPU (on PostgreSQL with a database of its own, created for it and dropped after it), times start-up to the first answer,
creates a user (and 10 tasks), then runs every scenario the server has with wrk pinned to the
other CPU: a warm-up, then N fixed-time runs, keeping the median of each column. It reads the
server's CPU time (utime + stime in /proc/PID/stat) around each run -- on a local PostgreSQL also
its database's, the backends serving that database -- and its RSS after it, prints
one table, the ratios against issue 7's targets, and writes both (and raw JSON) to the output
directory. Every process it starts, it stops by PID.

Exit status: 0 when every scenario got the answers it expects (2xx, or 401 for the bad token)
and no socket errors; 1 otherwise. Speed is reported, never asserted.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
WRK_SCRIPT = BENCH_DIR / "wrk" / "scenario.lua"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

PASSWORD = "correct horse battery staple"
EMAIL = "bench@example.com"
TASKS = 10
# The storm's sign-ins all come from one address (X-Forwarded-For, loopback being a trusted
# proxy), and a legitimate user signs in from another one now and then while it rages: how many
# of the storm's sign-ins are shed (503) and how long the other address waits.
STORM_ADDR = "198.51.100.1"
# ...signing in as these accounts in turn: Tessera lets one address hold at most 10 unfinished
# password checks per account (the failed-attempt limit is reserved before the hash), so 16
# clients on one account would mostly get 429s instead of costing hashes.
STORM_EMAILS = [f"storm-{i}@example.com" for i in range(8)]
PROBE_ADDR = "203.0.113.50"
PROBE_INTERVAL_S = 0.2

# Scenario ids, in the order they run and print.
SCENARIOS = [
    ("ok", "floor: GET /api/auth/ok (unauthenticated)"),
    ("me", "GET /api/me (bearer JWT)"),
    ("tasks", f"GET /api/{{user_id}}/tasks ({TASKS} tasks)"),
    ("bad-token", "GET /api/{user_id}/tasks, bad token (all 401)"),
    ("get-session", "GET /api/auth/get-session (cookie)"),
    ("token", "GET /api/auth/token (cookie)"),
    ("sign-in", "POST /api/auth/sign-in/email, right password, c=4"),
    ("tasks-paced", "GET tasks, paced (storm baseline)"),
    ("tasks-storm", "GET tasks, paced, while 16 clients sign in"),
    ("sign-in-flood", "POST sign-in, c=4, while GET /api/auth/ok floods (c=32)"),
]
# What a scenario's background wrk does, for the tables.
BACKGROUND = {"tasks-storm": "sign-ins", "sign-in-flood": "flood GETs"}
SCENARIO_TITLES = dict(SCENARIOS)
# On PostgreSQL (--pg-url), what issue 16 item 7 compares: the auth endpoints against Better Auth's
# `pg` adapter, the tasks read against the FastAPI peer on asyncpg; Tessera's floor beside them.
PG_TESSERA_SCENARIOS = ["ok", "get-session", "token", "sign-in", "tasks"]
PG_CACHED_SCENARIOS = ["get-session", "token", "tasks"]


def log(msg):
    print(f"--> {msg}", flush=True)


# ------------------------------------------------------------------------------------------------
# /proc


def cpu_ticks(pid):
    """(utime, stime) of a process (all threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]), int(fields[12])  # fields 14 and 15 of stat(5)


def cpu_busy(cpu):
    """(busy, steal) jiffies of one CPU since boot, from /proc/stat (busy: everything but idle,
    iowait and steal)."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                v = [int(x) for x in line.split()[1:]]
                user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
                return user + nice + system + irq + softirq, steal
    return 0, 0


def rss_kib(pid):
    """(VmRSS, VmHWM) in KiB."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


# ------------------------------------------------------------------------------------------------
# HTTP helpers (setup only; the load is wrk's)


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("content-type", "application/json")
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return resp.status, resp.getheaders(), parsed


def expect(status, want, what, body):
    if status != want:
        raise RuntimeError(f"{what}: HTTP {status} (wanted {want}): {str(body)[:300]}")


def session_cookie(headers):
    """`name=value` of the session cookie Set-Cookie carries."""
    for name, value in headers:
        if name.lower() == "set-cookie":
            pair = value.split(";", 1)[0]
            if pair.split("=", 1)[0].endswith("session_token") and "=" in pair:
                return pair
    raise RuntimeError("no session cookie in the sign-up answer")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_token(secret, claims):
    """What the brief's frontend hands the FastAPI backend: an HS256 JWT signed with the shared
    secret (the header python-jose writes)."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    sig = b64url(hmac.new(secret.encode(), signing_input, hashlib.sha256).digest())
    return f"{header}.{payload}.{sig}"


def tamper(token):
    """The same token with one character in the middle of its signature changed: well formed,
    right length, wrong signature (the end of a base64url signature may only carry padding bits,
    so that is not the character changed)."""
    head, sig = token.rsplit(".", 1)
    i = len(sig) // 2
    sig = sig[:i] + ("A" if sig[i] != "A" else "B") + sig[i + 1 :]
    return f"{head}.{sig}"


# ------------------------------------------------------------------------------------------------
# Servers


class Server:
    """One server under test: how to start it, which scenarios it has, how to set it up."""

    def __init__(self, name, label, kind, cmd, env, ready_path, scenarios, cwd=None, database=None):
        self.name = name
        self.label = label
        self.kind = kind  # tessera | fastapi | better-auth
        self.cmd = cmd
        self.env = env
        self.ready_path = ready_path
        self.scenarios = scenarios
        self.cwd = cwd
        # (base URL, environment variable): on PostgreSQL, each start gets a fresh database on
        # the server the base URL names, its URL in that variable, dropped again by stop().
        self.database = database
        self.dbname = None
        self.proc = None
        self.port = None
        self.dir = None
        self.startup_ms = None
        self.ctx = {}

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def backend(self):
        return "postgres" if self.database else "sqlite"

    def start(self, server_cpu, workdir):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.name}.", dir=workdir))
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "REDIS_URL", "BETTER_AUTH_SECRETS", "NODE_ENV", "RUST_LOG")
        }
        env.update(self.env)
        env.update(
            {
                "BETTER_AUTH_URL": self.base,
                "TESSERA_DATA_DIR": str(self.dir),
            }
        )
        if self.database:
            base, var = self.database
            self.dbname = f"bench_{self.name.replace('-', '_')}_{os.getpid()}_{secrets.token_hex(4)}"
            psql(base, f'CREATE DATABASE "{self.dbname}"')
            env[var] = database_url(base, self.dbname)
        cmd = [c.replace("{port}", str(self.port)) for c in self.cmd]
        self.log = open(self.dir / "server.log", "wb")
        t0 = time.monotonic()
        # taskset execs the server, so the PID is the server's own.
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(server_cpu)] + cmd,
            cwd=self.cwd or self.dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = t0 + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up:\n{self.tail()}")
            if ready(self.port, self.ready_path):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer {self.ready_path} within 60 s:\n{self.tail()}")
            time.sleep(0.002)
        self.startup_ms = (time.monotonic() - t0) * 1000
        log(f"{self.label}: ready in {self.startup_ms:.0f} ms (pid {self.proc.pid}, port {self.port})")

    def tail(self, n=30):
        try:
            return "\n".join((self.dir / "server.log").read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.log.close()
            self.proc = None
        if self.dbname:
            # FORCE: a backend a killed server left behind must not keep the database alive.
            psql(self.database[0], f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
            self.dbname = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


def psql(base, sql):
    """Runs one statement through psql on the database `base` names; its output, tab-separated."""
    out = subprocess.run(
        ["psql", "-X", "-q", "-t", "-A", "-F", "\t", "-v", "ON_ERROR_STOP=1", base, "-c", sql],
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "PGCONNECT_TIMEOUT": "5"},
    )
    if out.returncode != 0:
        raise RuntimeError(f"psql {sql!r}: {out.stderr.decode(errors='replace').strip()[:300]}")
    return out.stdout.decode()


def database_url(base, dbname):
    """`base` (a postgres:// URL) naming the database `dbname` instead."""
    return urllib.parse.urlsplit(base)._replace(path=f"/{dbname}").geturl()


def database_ticks(srv):
    """{backend pid: utime + stime ticks} of the PostgreSQL backends serving the server's own
    database, when that PostgreSQL runs on this machine (its backends are then in /proc); None
    otherwise. Backends that exit between two readings are missed, which the pools here (kept
    open for the whole run) make rare."""
    if not srv.dbname:
        return None
    base = srv.database[0]
    if urllib.parse.urlsplit(base).hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    ticks = {}
    for line in psql(base, f"SELECT pid FROM pg_stat_activity WHERE datname = '{srv.dbname}'").split():
        try:
            ticks[int(line)] = sum(cpu_ticks(int(line)))
        except (OSError, ValueError, IndexError):
            continue  # gone already, or not ours to read
    return ticks


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ready(port, path):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", path)
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def setup_auth_user(srv):
    """Sign up on Tessera or Better Auth: the session cookie and the user id."""
    status, headers, body = request(
        srv.port,
        "POST",
        "/api/auth/sign-up/email",
        {"name": "Bench User", "email": EMAIL, "password": PASSWORD},
        {"origin": srv.base},
    )
    expect(status, 200, f"{srv.name} sign-up", body)
    srv.ctx["user_id"] = body["user"]["id"]
    srv.ctx["cookie"] = session_cookie(headers)
    for email in STORM_EMAILS:
        # A variant with a tiny hashing-queue bound may shed a sign-up (503): wait as told, retry.
        for _ in range(10):
            status, headers, body = request(
                srv.port,
                "POST",
                "/api/auth/sign-up/email",
                {"name": "Storm User", "email": email, "password": PASSWORD},
                {"origin": srv.base},
            )
            if status != 503:
                break
            retry_after = {k.lower(): v for k, v in headers}.get("retry-after", "1")
            time.sleep(float(retry_after))
        expect(status, 200, f"{srv.name} sign-up {email}", body)


def fresh_jwt(srv):
    """A bearer token for the resource API: minted by the server itself, or (FastAPI) signed with
    the shared secret the way the brief's Better Auth would."""
    if srv.kind == "fastapi":
        now = int(time.time())
        return hs256_token(
            srv.env["BETTER_AUTH_SECRET"],
            {"sub": srv.ctx["user_id"], "email": EMAIL, "name": "Bench User", "iat": now, "exp": now + 900},
        )
    status, _, body = request(srv.port, "GET", "/api/auth/token", headers={"cookie": srv.ctx["cookie"]})
    expect(status, 200, f"{srv.name} /api/auth/token", body)
    return body["token"]


def setup(srv):
    if srv.kind in ("tessera", "better-auth"):
        setup_auth_user(srv)
    else:
        srv.ctx["user_id"] = "bench-user-" + secrets.token_hex(8)
    if srv.kind in ("tessera", "fastapi"):
        token = fresh_jwt(srv)
        for i in range(TASKS):
            status, _, body = request(
                srv.port,
                "POST",
                f"/api/{srv.ctx['user_id']}/tasks",
                {"title": f"Task {i + 1}", "description": "Something to do, written down so it is not forgotten."},
                {"authorization": f"Bearer {token}"},
            )
            expect(status, 201, f"{srv.name} create task", body)
        status, _, body = request(
            srv.port, "GET", f"/api/{srv.ctx['user_id']}/tasks", headers={"authorization": f"Bearer {token}"}
        )
        expect(status, 200, f"{srv.name} list tasks", body)
        if len(body) != TASKS:
            raise RuntimeError(f"{srv.name}: listed {len(body)} tasks, created {TASKS}")


def requests_for(srv, scenario):
    """(method, path, headers, body, expected) of one scenario on one server; None if n/a."""
    uid = srv.ctx.get("user_id")
    if scenario == "ok":
        return ("GET", srv.ready_path, {}, None, "2xx")
    if scenario in ("me", "tasks", "bad-token", "tasks-paced", "tasks-storm"):
        token = fresh_jwt(srv)
        if scenario == "me":
            return ("GET", "/api/me", {"Authorization": f"Bearer {token}"}, None, "2xx")
        if scenario == "bad-token":
            return ("GET", f"/api/{uid}/tasks", {"Authorization": f"Bearer {tamper(token)}"}, None, "401")
        return ("GET", f"/api/{uid}/tasks", {"Authorization": f"Bearer {token}"}, None, "2xx")
    if scenario in ("get-session", "token"):
        path = "/api/auth/get-session" if scenario == "get-session" else "/api/auth/token"
        return ("GET", path, {"Cookie": srv.ctx["cookie"]}, None, "2xx")
    if scenario in ("sign-in", "sign-in-flood"):
        return sign_in_request(srv)
    raise ValueError(scenario)


def sign_in_request(srv, client=None, expected="2xx", emails=(EMAIL,)):
    """A sign-in; with several `emails`, wrk signs in as each in turn (a list of bodies)."""
    bodies = [json.dumps({"email": email, "password": PASSWORD}) for email in emails]
    body = bodies[0] if len(bodies) == 1 else bodies
    headers = {"Content-Type": "application/json", "Origin": srv.base}
    if client is not None:
        headers["X-Forwarded-For"] = client
    return ("POST", "/api/auth/sign-in/email", headers, body, expected)


def storm_sign_in_request(srv):
    """The storm's sign-ins: one address, flat out; a 503 (shed: the hashing queue is full) is a
    right answer, counted apart."""
    return sign_in_request(srv, STORM_ADDR, "2xx|503", STORM_EMAILS)


class SignInProbe:
    """A legitimate user signing in from another address every PROBE_INTERVAL_S while the storm
    runs, on a thread of its own: each sign-in's status and latency."""

    def __init__(self, srv):
        self.req = sign_in_request(srv, PROBE_ADDR)
        self.port = srv.port
        self.stop_flag = threading.Event()
        self.samples = []  # (status, ms)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        method, path, headers, body, _ = self.req
        while not self.stop_flag.is_set():
            t0 = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request(method, path, body=body.encode(), headers=headers)
                status = conn.getresponse().status
                conn.close()
            except OSError:
                status = 0
            self.samples.append((status, (time.monotonic() - t0) * 1000))
            self.stop_flag.wait(PROBE_INTERVAL_S)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_flag.set()
        self.thread.join()

    def result(self):
        ok = sorted(ms for status, ms in self.samples if 200 <= status < 300)
        return {
            "requests": len(self.samples),
            "ok": len(ok),
            "shed": sum(1 for status, _ in self.samples if status == 503),
            "other": sum(1 for status, _ in self.samples if status != 503 and not 200 <= status < 300),
            "p50_ms": statistics.median(ok) if ok else None,
            "max_ms": ok[-1] if ok else None,
        }


def check_once(srv, req):
    """One request with the scenario's exact headers, before the load: fails fast and loudly."""
    method, path, headers, body, expected = req
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request(method, path, body=body.encode() if body else None, headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    good = resp.status == 401 if expected == "401" else 200 <= resp.status < 300
    if not good:
        raise RuntimeError(f"{srv.name} {method} {path}: HTTP {resp.status}, expected {expected}: {raw[:300]!r}")
    if path.endswith("get-session") and raw.strip() == b"null":
        raise RuntimeError(f"{srv.name} get-session answered null: the cookie is not accepted")


# ------------------------------------------------------------------------------------------------
# wrk


def wrk_cmd(args, srv, req, seconds, connections, out, delay_ms=None):
    method, path, headers, body, _ = req
    env = dict(os.environ)
    env.update(
        {
            "WRK_METHOD": method,
            "WRK_BODY": body if isinstance(body, str) else "",
            "WRK_BODIES": "\n".join(body) if isinstance(body, list) else "",
            "WRK_HEADERS": "\n".join(f"{k}: {v}" for k, v in headers.items()),
            "WRK_OUT": str(out),
        }
    )
    env.pop("WRK_DELAY_MS", None)
    if delay_ms:
        env["WRK_DELAY_MS"] = str(delay_ms)
    env.pop("WRK_COUNT_STATUS", None)
    if req[4] == "2xx|503":
        env["WRK_COUNT_STATUS"] = "503"
    cmd = [
        "taskset",
        "-c",
        str(args.load_cpu),
        args.wrk,
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_SCRIPT),
        srv.base + path,
    ]
    return cmd, env


def run_wrk(args, srv, req, seconds, connections, delay_ms=None, background=None, probe=False):
    """Runs wrk (and, for the storm, a second wrk in the background and a SignInProbe) and
    measures the server around it. Returns a result dict for the foreground wrk (plus
    `background` and `probe` results)."""
    out = Path(tempfile.mkstemp(prefix="wrk.", suffix=".json", dir=args.workdir)[1])
    cmd, env = wrk_cmd(args, srv, req, seconds, connections, out, delay_ms)
    bg = None
    if background is not None:
        bg_req, bg_conns = background
        bg_out = Path(tempfile.mkstemp(prefix="wrk-bg.", suffix=".json", dir=args.workdir)[1])
        bg_cmd, bg_env = wrk_cmd(args, srv, bg_req, seconds, bg_conns, bg_out)
    db0 = database_ticks(srv)
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    ticks0 = cpu_ticks(srv.proc.pid)
    busy0 = cpu_busy(args.server_cpu)
    load_busy0 = cpu_busy(args.load_cpu)
    t0 = time.monotonic()
    if background is not None:
        bg = subprocess.Popen(bg_cmd, env=bg_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sign_in_probe = SignInProbe(srv) if probe else None
    if sign_in_probe is not None:
        sign_in_probe.start()
    fg = subprocess.run(cmd, env=env, capture_output=True, check=False)
    if sign_in_probe is not None:
        sign_in_probe.stop()
    if bg is not None:
        bg.wait()
    wall = time.monotonic() - t0
    ticks1 = cpu_ticks(srv.proc.pid)
    busy1 = cpu_busy(args.server_cpu)
    load_busy1 = cpu_busy(args.load_cpu)
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    db1 = database_ticks(srv)
    if fg.returncode != 0:
        raise RuntimeError(f"wrk failed ({fg.returncode}): {fg.stderr.decode(errors='replace')[:500]}")
    result = parse_wrk(out, req[4])
    out.unlink()
    user_s = (ticks1[0] - ticks0[0]) / CLK_TCK
    sys_s = (ticks1[1] - ticks0[1]) / CLK_TCK
    server_cpu_s = user_s + sys_s
    load_cpu_s = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    total_requests = result["requests"]
    if bg is not None:
        if bg.returncode != 0:
            raise RuntimeError(f"background wrk failed: {bg.stderr.read().decode(errors='replace')[:500]}")
        result["background"] = parse_wrk(bg_out, bg_req[4])
        bg_out.unlink()
        total_requests += result["background"]["requests"]
    if sign_in_probe is not None:
        result["probe"] = sign_in_probe.result()
        total_requests += result["probe"]["requests"]
    rss, hwm = rss_kib(srv.proc.pid)
    # A backend that appeared during the run counts from zero: its whole life was in the run.
    db_cpu_s = None if db0 is None or db1 is None else sum(t - db0.get(pid, 0) for pid, t in db1.items()) / CLK_TCK
    foreign_cpu_pct = max(0.0, 100 * ((busy1[0] - busy0[0]) / CLK_TCK - server_cpu_s) / wall)
    foreign_load_cpu_pct = max(0.0, 100 * ((load_busy1[0] - load_busy0[0]) / CLK_TCK - load_cpu_s) / wall)
    result.update(
        {
            "server_cpu_ms_per_req": server_cpu_s * 1000 / total_requests if total_requests else None,
            "server_user_ms_per_req": user_s * 1000 / total_requests if total_requests else None,
            "server_sys_ms_per_req": sys_s * 1000 / total_requests if total_requests else None,
            "server_cpu_pct": 100 * server_cpu_s / wall,
            # Work on the server's CPU that was not the server's: other processes (noise).
            "foreign_cpu_pct": foreign_cpu_pct,
            "steal_pct": 100 * (busy1[1] - busy0[1]) / CLK_TCK / wall,
            # The same on wrk's CPU: a starved load generator makes cheap scenarios look slow.
            "foreign_load_cpu_pct": foreign_load_cpu_pct,
            # The server's PostgreSQL backends (not pinned: they run on either CPU, so they show
            # in the two columns above too, and the noise guard leaves them out).
            "db_cpu_ms_per_req": db_cpu_s * 1000 / total_requests if db_cpu_s is not None and total_requests else None,
            "db_cpu_pct": None if db_cpu_s is None else 100 * db_cpu_s / wall,
            # What the noise guard judges: other processes on either pinned CPU, less the database.
            "others_pct": max(foreign_cpu_pct, foreign_load_cpu_pct)
            if db_cpu_s is None
            else max(0.0, foreign_cpu_pct + foreign_load_cpu_pct - 100 * db_cpu_s / wall),
            "load_cpu_pct": 100 * load_cpu_s / wall,
            "rss_mib": rss / 1024,
            "hwm_mib": hwm / 1024,
        }
    )
    return result


def parse_wrk(path, expected):
    data = json.loads(Path(path).read_text())
    seconds = data["duration_us"] / 1e6
    errors = data["errors"]
    socket_errors = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    # wrk counts every status >= 400 as a "status error"; the storm's 503s are counted apart.
    shed = data.get("counted_status", 0) if expected == "2xx|503" else 0
    if expected == "401":
        bad_status = data["requests"] - errors["status"]
    else:
        bad_status = errors["status"] - shed
    return {
        "requests": data["requests"],
        "shed": shed,
        "rps": data["requests"] / seconds if seconds else 0.0,
        # Requests answered as asked (the storm's: signed in, not shed).
        "served_rps": (data["requests"] - shed) / seconds if seconds else 0.0,
        "p50_ms": data["latency_us"]["p50"] / 1000,
        "p99_ms": data["latency_us"]["p99"] / 1000,
        "max_ms": data["latency_us"]["max"] / 1000,
        "socket_errors": socket_errors,
        "unexpected_status": bad_status,
        "ok": data["requests"] > 0 and socket_errors == 0 and bad_status == 0,
    }


def median_result(runs):
    out = {}
    for key in (
        "rps",
        "p50_ms",
        "p99_ms",
        "max_ms",
        "server_cpu_ms_per_req",
        "server_user_ms_per_req",
        "server_sys_ms_per_req",
        "server_cpu_pct",
        "load_cpu_pct",
        "foreign_cpu_pct",
        "steal_pct",
        "foreign_load_cpu_pct",
        "db_cpu_ms_per_req",
        "db_cpu_pct",
    ):
        values = [r[key] for r in runs if r.get(key) is not None]
        out[key] = statistics.median(values) if values else None
    out["rss_mib"] = runs[-1]["rss_mib"]
    out["hwm_mib"] = runs[-1]["hwm_mib"]
    out["requests"] = sum(r["requests"] for r in runs)
    out["socket_errors"] = sum(r["socket_errors"] for r in runs)
    out["unexpected_status"] = sum(r["unexpected_status"] for r in runs)
    out["noisy_runs"] = sum(1 for r in runs if r.get("noisy"))
    out["ok"] = all(r["ok"] for r in runs) and all(r.get("background", {}).get("ok", True) for r in runs)
    if any("background" in r for r in runs):
        bgs = [r["background"] for r in runs]
        out["background"] = {
            "rps": statistics.median(b["rps"] for b in bgs),
            "served_rps": statistics.median(b.get("served_rps", b["rps"]) for b in bgs),
            "p99_ms": statistics.median(b["p99_ms"] for b in bgs),
            "requests": sum(b["requests"] for b in bgs),
            "socket_errors": sum(b["socket_errors"] for b in bgs),
            "unexpected_status": sum(b["unexpected_status"] for b in bgs),
            "shed": sum(b.get("shed", 0) for b in bgs),
        }
    if any("probe" in r for r in runs):
        probes = [r["probe"] for r in runs if "probe" in r]
        p50s = [p["p50_ms"] for p in probes if p["p50_ms"] is not None]
        maxes = [p["max_ms"] for p in probes if p["max_ms"] is not None]
        out["probe"] = {
            "requests": sum(p["requests"] for p in probes),
            "ok": sum(p["ok"] for p in probes),
            "shed": sum(p["shed"] for p in probes),
            "other": sum(p["other"] for p in probes),
            "p50_ms": statistics.median(p50s) if p50s else None,
            "max_ms": max(maxes) if maxes else None,
        }
    out["runs"] = runs
    return out


# ------------------------------------------------------------------------------------------------
# The run


def scenario_plan(args, scenario):
    """(connections, delay_ms, background) of a scenario."""
    if scenario in ("sign-in", "sign-in-flood"):
        return args.sign_in_connections, None, None
    if scenario in ("tasks-paced", "tasks-storm"):
        return args.paced_connections, args.paced_delay_ms, None
    return args.connections, None, None


def bench_server(args, srv, results):
    log(f"{srv.label}: starting")
    srv.start(args.server_cpu, args.workdir)
    entry = results.setdefault(
        srv.name, {"label": srv.label, "kind": srv.kind, "backend": srv.backend, "scenarios": {}}
    )
    entry["startup_ms"] = srv.startup_ms
    try:
        setup(srv)
        rss, hwm = rss_kib(srv.proc.pid)
        entry["rss_after_setup_mib"] = rss / 1024
        for scenario in srv.scenarios:
            if args.only and scenario not in args.only:
                continue
            req = requests_for(srv, scenario)
            check_once(srv, req)
            conns, delay, _ = scenario_plan(args, scenario)
            background = None
            probe = False
            if scenario == "tasks-storm":
                background = (storm_sign_in_request(srv), args.storm_clients)
                probe = srv.kind == "tessera"
            elif scenario == "sign-in-flood":
                background = (requests_for(srv, "ok"), args.connections)
            if args.warmup > 0:
                run_wrk(args, srv, req, args.warmup, conns, delay, background, probe)
            runs = []
            for _ in range(args.runs):
                for attempt in range(args.noise_retries + 1):
                    run = run_wrk(args, srv, req, args.duration, conns, delay, background, probe)
                    if args.smoke and scenario == "sign-in-flood" and run["requests"] == 0:
                        # Under a flood, hashing may finish no sign-in within a one-second
                        # smoke run; right answers and no socket error still hold.
                        run["ok"] = run["socket_errors"] == 0 and run["unexpected_status"] == 0
                    if not srv.alive():
                        raise RuntimeError(f"{srv.name} died during {scenario}:\n{srv.tail()}")
                    others = run["others_pct"]
                    run["noisy"] = others > args.noise_limit
                    if not run["noisy"] or attempt == args.noise_retries:
                        break
                    # Another process took the server's or wrk's CPU: this run says little.
                    log(
                        f"{srv.label} {scenario}: other processes used {others:.0f}% of a pinned CPU; "
                        f"waiting {args.noise_wait} s and running it again"
                    )
                    time.sleep(args.noise_wait)
                runs.append(run)
            res = median_result(runs)
            entry["scenarios"][scenario] = res
            status = "ok" if res["ok"] else "UNEXPECTED ANSWERS"
            extra = ""
            if "background" in res:
                extra = f"; {BACKGROUND[scenario]} during it {res['background']['rps']:.1f}/s"
                if scenario == "tasks-storm":
                    extra += (
                        f" ({res['background']['served_rps']:.1f}/s signed in, {res['background']['shed']} shed: 503)"
                    )
            if "probe" in res:
                extra += f"; {probe_summary(res['probe'])}"
            if res.get("db_cpu_ms_per_req") is not None:
                extra += f"; PostgreSQL {fmt_cpu(res['db_cpu_ms_per_req'])} ms CPU/req"
            log(
                f"{srv.label} {scenario}: {res['rps']:.0f} req/s, p50 {res['p50_ms']:.2f} ms, "
                f"p99 {res['p99_ms']:.2f} ms, {fmt_cpu(res['server_cpu_ms_per_req'])} ms CPU/req "
                f"(user {fmt_cpu(res['server_user_ms_per_req'])}, sys {fmt_cpu(res['server_sys_ms_per_req'])}), "
                f"server CPU {res['server_cpu_pct']:.0f}% (others on its CPU {res['foreign_cpu_pct']:.0f}%), "
                f"wrk CPU {res['load_cpu_pct']:.0f}% (others {res['foreign_load_cpu_pct']:.0f}%), "
                f"RSS {res['rss_mib']:.1f} MiB{extra} [{status}]"
            )
        settle(srv.proc.pid)
        # Then 2 s more, as BENCHMARKS.md says: memory a server frees once idle (Tessera's
        # hashing threads drop their Argon2 buffers after 1 s without a job) counts as freed.
        time.sleep(2.0)
        rss, hwm = rss_kib(srv.proc.pid)
        entry["rss_end_mib"] = rss / 1024
        entry["hwm_end_mib"] = hwm / 1024
    finally:
        srv.stop()


def settle(pid, limit=10.0):
    """Waits until the server has stopped working (requests wrk left in flight, e.g. sign-ins
    still hashing): no CPU tick for 0.5 s, or `limit` seconds."""
    deadline = time.monotonic() + limit
    last = sum(cpu_ticks(pid))
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = sum(cpu_ticks(pid))
        if now == last:
            return
        last = now


def probe_summary(probe):
    """The SignInProbe's line: the legitimate sign-in's latency during the storm."""
    latency = "no sign-in answered 200"
    if probe["p50_ms"] is not None:
        latency = f"p50 {probe['p50_ms']:.0f} ms, max {probe['max_ms']:.0f} ms"
    refused = f", {probe['shed']} shed" if probe["shed"] else ""
    refused += f", {probe['other']} other answers" if probe["other"] else ""
    return f"another address's sign-ins {latency} ({probe['ok']} of {probe['requests']} ok{refused})"


def fmt_cpu(v):
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def fmt_num(v, digits=0):
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def servers(args):
    secret = secrets.token_hex(32)
    tessera_env = {
        "BETTER_AUTH_SECRET": secret,
        "TESSERA_ENV": "production",
        "TESSERA_RATE_LIMIT": "off",
        # No shutdown drain: nothing balances these servers, and each stop would wait it out.
        "TESSERA_SHUTDOWN_DRAIN": "0",
        "TESSERA_JWT_ALG": "EdDSA",
        # wrk and the probe connect from loopback: believe their X-Forwarded-For (the storm's
        # sign-ins come from one address, the probe's from another).
        "TESSERA_TRUSTED_PROXIES": "127.0.0.1",
    }
    tessera_scenarios = [
        "ok",
        "me",
        "tasks",
        "bad-token",
        "get-session",
        "token",
        "sign-in",
        "tasks-paced",
        "tasks-storm",
        "sign-in-flood",
    ]

    def tessera(name, label, env, scenarios, database=None):
        cmd = [args.tessera, "serve", "--addr", "127.0.0.1:{port}"]
        return Server(name, label, "tessera", cmd, env, "/api/auth/ok", scenarios, database=database)

    def fastapi(name, label, env, database=None):
        cmd = [
            str(Path(args.venv) / "bin" / "uvicorn"),
            "--app-dir",
            str(BENCH_DIR / "peers" / "fastapi"),
            "app:app",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--workers",
            "1",
        ]
        env = {"BETTER_AUTH_SECRET": secret, **env}
        scenarios = ["tasks"] if database else ["ok", "me", "tasks", "bad-token"]
        return Server(name, label, "fastapi", cmd, env, "/api/health", scenarios, database=database)

    def better_auth(name, label, env, database=None):
        cmd = [
            "node",
            str(BENCH_DIR.parent / "interop" / "better-auth-server.mjs"),
            "serve",
            "--addr",
            "127.0.0.1:{port}",
        ]
        # No rate limit, as TESSERA_RATE_LIMIT=off is for Tessera: wrk measures the endpoints,
        # not the limiter.
        env = {"BETTER_AUTH_SECRET": secret, "BETTER_AUTH_TELEMETRY": "0", "TESSERA_RATE_LIMIT": "off", **env}
        scenarios = ["get-session", "token", "sign-in"] if database else ["ok", "get-session", "token", "sign-in"]
        return Server(name, label, "better-auth", cmd, env, "/api/auth/ok", scenarios, database=database)

    out = [tessera("tessera", "Tessera", dict(tessera_env), tessera_scenarios)]
    for variant in args.tessera_variant:
        # NAME:ENV=VALUE[,ENV=VALUE][@SCENARIO+SCENARIO]: scenarios (default: the floor and the
        # guarded ones) again with other settings.
        extra, _, picked = variant.partition("@")
        name, _, assignments = extra.partition(":")
        env = dict(tessera_env)
        for pair in filter(None, assignments.split(",")):
            k, _, v = pair.partition("=")
            env[k] = v
        scenarios = picked.split("+") if picked else ["ok", "me", "tasks", "bad-token"]
        out.append(tessera(f"tessera-{name}", f"Tessera ({name})", env, scenarios))
    if args.floor:
        out.append(
            Server(
                "floor",
                "HTTP floor (bare axum, not Tessera)",
                "floor",
                [args.floor, "127.0.0.1:{port}"],
                {},
                "/api/auth/ok",
                ["ok"],
            )
        )
    if "fastapi" in args.peers:
        out.append(fastapi("fastapi", "FastAPI + python-jose", {}))
    if "better-auth" in args.peers:
        # SQLite in the server's own directory (its working directory).
        out.append(better_auth("better-auth", "Better Auth 1.7.25", {"DATABASE_URL": "sqlite:better-auth.db"}))
    if args.pg_url:
        # Tessera as shipped on PostgreSQL: no session and no task-list cache (the defaults there:
        # the multi-instance setting, where another instance may end a session), said explicitly;
        # then with both caches on, what one instance (or several sharing Redis) may choose.
        pg_env = {**tessera_env, "TESSERA_SESSION_CACHE_TTL": "0", "TESSERA_TASKS_CACHE_TTL": "0"}
        out.append(
            tessera(
                "tessera-pg",
                "Tessera (PostgreSQL, session cache off)",
                pg_env,
                PG_TESSERA_SCENARIOS,
                (args.pg_url, "DATABASE_URL"),
            )
        )
        cached_env = {**tessera_env, "TESSERA_SESSION_CACHE_TTL": "5", "TESSERA_TASKS_CACHE_TTL": "1"}
        out.append(
            tessera(
                "tessera-pg-caches",
                "Tessera (PostgreSQL, caches on)",
                cached_env,
                PG_CACHED_SCENARIOS,
                (args.pg_url, "DATABASE_URL"),
            )
        )
        if "fastapi" in args.peers:
            out.append(
                fastapi("fastapi-pg", "FastAPI + python-jose (PostgreSQL, asyncpg)", {}, (args.pg_url, "DATABASE_URL"))
            )
        if "better-auth" in args.peers:
            out.append(
                better_auth("better-auth-pg", "Better Auth 1.7.25 (PostgreSQL, pg)", {}, (args.pg_url, "DATABASE_URL"))
            )
    return out


# ------------------------------------------------------------------------------------------------
# Report


def table(results):
    """One row per server and scenario (the servers on PostgreSQL in a table of their own, with
    their database's CPU), then start-up and memory."""
    lines = []
    for backend in ("sqlite", "postgres"):
        entries = [e for e in results.values() if e.get("backend", "sqlite") == backend]
        if entries:
            lines += scenario_rows(entries, backend == "postgres") + [""]
    lines.append("| server | start-up to ready ms | RSS after setup MiB | RSS after all scenarios MiB | peak RSS MiB |")
    lines.append("| --- | ---: | ---: | ---: | ---: |")
    for entry in results.values():
        lines.append(
            f"| {entry['label']} | {entry.get('startup_ms', 0):.0f} | {entry.get('rss_after_setup_mib', 0):.1f} | "
            f"{entry.get('rss_end_mib', 0):.1f} | {entry.get('hwm_end_mib', 0):.1f} |"
        )
    return "\n".join(lines)


def scenario_rows(entries, db_column):
    db_head, db_rule = (" PostgreSQL CPU ms/req |", " ---: |") if db_column else ("", "")
    lines = [
        f"| server | scenario | req/s | p50 ms | p99 ms | server CPU ms/req |{db_head} server CPU % | wrk CPU % | others on server / wrk CPU % | RSS MiB | answers |",
        f"| --- | --- | ---: | ---: | ---: | ---: |{db_rule} ---: | ---: | ---: | ---: | --- |",
    ]
    for entry in entries:
        for scenario, title in SCENARIOS:
            res = entry["scenarios"].get(scenario)
            if res is None:
                continue
            answers = (
                "ok"
                if res["ok"]
                else f"BAD ({res['socket_errors']} socket errors, {res['unexpected_status']} unexpected statuses)"
            )
            if scenario == "bad-token" and res["ok"]:
                answers = "all 401"
            if "background" in res:
                answers += f"; {BACKGROUND[scenario]} {fmt_num(res['background']['rps'])}/s, p99 {res['background']['p99_ms']:.2f} ms"
                if scenario == "tasks-storm":
                    bg = res["background"]
                    answers += f" ({fmt_num(bg['served_rps'])}/s signed in, {fmt_num(bg['shed'])} shed: 503)"
            if "probe" in res:
                answers += f"; {probe_summary(res['probe'])}"
            if res.get("noisy_runs"):
                answers += f"; {res['noisy_runs']} of {len(res['runs'])} runs noisy"
            db = f" {fmt_cpu(res.get('db_cpu_ms_per_req'))} |" if db_column else ""
            lines.append(
                f"| {entry['label']} | {title} | {fmt_num(res['rps'])} | {res['p50_ms']:.2f} | {res['p99_ms']:.2f} | "
                f"{fmt_cpu(res['server_cpu_ms_per_req'])} |{db} {res['server_cpu_pct']:.0f} | {res['load_cpu_pct']:.0f} | "
                f"{res['foreign_cpu_pct']:.0f} / {res['foreign_load_cpu_pct']:.0f} | "
                f"{res['rss_mib']:.1f} | {answers} |"
            )
    return lines


def targets(results):
    """Issue 7's targets as ratios within this run; rows whose inputs are missing say so."""

    def get(server, scenario, key="rps"):
        res = results.get(server, {}).get("scenarios", {}).get(scenario)
        return None if res is None else res.get(key)

    rows = []

    def ratio_row(what, ours, theirs, goal, cpu_pair=None):
        if ours is None or theirs is None or theirs == 0:
            rows.append((what, "n/a (not measured in this run)", f"≥ {goal:g}×", "n/a"))
            return
        r = ours / theirs
        detail = f"{r:.1f}× ({fmt_num(ours)} vs {fmt_num(theirs)} req/s"
        if cpu_pair and None not in cpu_pair and cpu_pair[0]:
            detail += f"; CPU per request {cpu_pair[1] / cpu_pair[0]:.1f}× less"
        detail += ")"
        rows.append((what, detail, f"≥ {goal:g}×", "met" if r >= goal else "MISSED"))

    def vs(scenario, peer, goal, what):
        ratio_row(
            what,
            get("tessera", scenario),
            get(peer, scenario),
            goal,
            (get("tessera", scenario, "server_cpu_ms_per_req"), get(peer, scenario, "server_cpu_ms_per_req")),
        )

    vs("me", "fastapi", 20, "GET /api/me vs FastAPI")
    me, floor = get("tessera", "me"), get("tessera", "ok")
    if me is not None and floor:
        r = me / floor
        me_cpu, floor_cpu = get("tessera", "me", "server_cpu_ms_per_req"), get("tessera", "ok", "server_cpu_ms_per_req")
        cpu = f"; CPU per request {fmt_cpu(me_cpu)} vs {fmt_cpu(floor_cpu)} ms" if me_cpu and floor_cpu else ""
        rows.append(
            (
                "GET /api/me vs Tessera's own floor",
                f"{100 * r:.0f} % ({fmt_num(me)} vs {fmt_num(floor)} req/s{cpu})",
                "≥ 70 %",
                "met" if r >= 0.7 else "MISSED",
            )
        )
    else:
        rows.append(("GET /api/me vs Tessera's own floor", "n/a", "≥ 70 %", "n/a"))
    vs("tasks", "fastapi", 40, "GET /api/{user_id}/tasks vs FastAPI")
    vs("bad-token", "fastapi", 20, "bad-token rejection vs FastAPI")
    vs("get-session", "better-auth", 100, "get-session vs Better Auth")
    vs("token", "better-auth", 50, "/token vs Better Auth")
    vs("sign-in", "better-auth", 3, "sign-in (Argon2id m=19 MiB t=2) vs Better Auth (scrypt)")
    idle, storm = get("tessera", "tasks-paced", "p99_ms"), get("tessera", "tasks-storm", "p99_ms")
    if idle is not None and storm is not None:
        met = storm <= 5 * idle and storm <= 20
        rows.append(
            (
                "GET p99 during the sign-in storm",
                f"{storm:.2f} ms = {storm / idle:.1f}× idle {idle:.2f} ms",
                "≤ 5× idle and ≤ 20 ms",
                "met" if met else "MISSED",
            )
        )
    else:
        rows.append(("GET p99 during the sign-in storm", "n/a", "≤ 5× idle and ≤ 20 ms", "n/a"))
    for name, entry in results.items():
        paced, storm = entry["scenarios"].get("tasks-paced"), entry["scenarios"].get("tasks-storm")
        if name != "tessera" and paced is not None and storm is not None and paced["p99_ms"]:
            rows.append(
                (
                    f"{entry['label']}: GET p99 during the sign-in storm",
                    f"{storm['p99_ms']:.2f} ms = {storm['p99_ms'] / paced['p99_ms']:.1f}× idle {paced['p99_ms']:.2f} ms",
                    "≤ 5× idle and ≤ 20 ms (a variant: info)",
                    "info",
                )
            )
        flood = entry["scenarios"].get("sign-in-flood")
        if flood is not None and "background" in flood:
            rows.append(
                (
                    f"{entry['label']}: sign-ins while GETs flood its CPU",
                    f"{flood['rps']:.1f}/s, p50 {flood['p50_ms']:.0f} ms (GETs {fmt_num(flood['background']['rps'])}/s, p99 {flood['background']['p99_ms']:.2f} ms)",
                    "no target (the storm's trade-off)",
                    "info",
                )
            )
    t = results.get("tessera", {})
    if "rss_end_mib" in t:
        rows.append(
            (
                "Tessera RSS after all scenarios (SQLite)",
                f"{t['rss_end_mib']:.1f} MiB (peak {t['hwm_end_mib']:.1f})",
                "≤ 30 MiB",
                "met" if t["rss_end_mib"] <= 30 else "MISSED",
            )
        )
    if "startup_ms" in t:
        rows.append(
            (
                "Tessera start-up to ready (fresh database)",
                f"{t['startup_ms']:.0f} ms",
                "≤ 200 ms",
                "met" if t["startup_ms"] <= 200 else "MISSED",
            )
        )
    lines = ["| target | measured | goal | |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


# Issue 16 item 7's targets on PostgreSQL: (what, scenario, peer, ratio).
PG_TARGETS = [
    ("get-session vs Better Auth", "get-session", "better-auth-pg", 50),
    ("/token vs Better Auth", "token", "better-auth-pg", 50),
    ("sign-in vs Better Auth", "sign-in", "better-auth-pg", 3),
    ("tasks read vs FastAPI", "tasks", "fastapi-pg", 20),
]


def pg_targets(results):
    """Issue 16 item 7's ratio targets on PostgreSQL, judged twice: on req/s, and on server CPU per
    request (what a noisy machine moves least); the ratio with each side's PostgreSQL CPU added
    is shown beside them. Once for Tessera as shipped there, once with its caches on (info)."""
    lines = [
        "| target | Tessera | req/s | server CPU per request | with PostgreSQL's CPU | goal | on req/s | on CPU per request |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def verdict(ratio, goal):
        return "n/a" if ratio is None else "met" if ratio >= goal else "MISSED"

    for name in ("tessera-pg", "tessera-pg-caches"):
        entry = results.get(name)
        if entry is None:
            continue
        for what, scenario, peer, goal in PG_TARGETS:
            ours = entry["scenarios"].get(scenario)
            theirs = results.get(peer, {}).get("scenarios", {}).get(scenario)
            if name != "tessera-pg" and (ours is None or theirs is None):
                continue  # the variant's rows are info: only what was measured
            if ours is None or theirs is None:
                lines.append(
                    f"| {what} | {entry['label']} | n/a (not measured in this run) | | | ≥ {goal:g}× | n/a | n/a |"
                )
                continue
            rps = ours["rps"] / theirs["rps"] if theirs["rps"] else None
            ours_cpu, theirs_cpu = ours["server_cpu_ms_per_req"], theirs["server_cpu_ms_per_req"]
            cpu = theirs_cpu / ours_cpu if ours_cpu and theirs_cpu else None
            with_db = "-"
            if None not in (ours_cpu, theirs_cpu, ours.get("db_cpu_ms_per_req"), theirs.get("db_cpu_ms_per_req")):
                ours_all = ours_cpu + ours["db_cpu_ms_per_req"]
                theirs_all = theirs_cpu + theirs["db_cpu_ms_per_req"]
                with_db = f"{theirs_all / ours_all:.1f}× ({fmt_cpu(ours_all)} vs {fmt_cpu(theirs_all)} ms)"
            rps_cell = "-" if rps is None else f"{rps:.1f}× ({fmt_num(ours['rps'])} vs {fmt_num(theirs['rps'])})"
            cpu_cell = "-" if cpu is None else f"{cpu:.1f}× ({fmt_cpu(ours_cpu)} vs {fmt_cpu(theirs_cpu)} ms)"
            if name == "tessera-pg":
                judged = (verdict(rps, goal), verdict(cpu, goal))
            else:
                judged = ("info", "info")
            lines.append(
                f"| {what} | {entry['label']} | {rps_cell} | {cpu_cell} | {with_db} | ≥ {goal:g}× | {judged[0]} | {judged[1]} |"
            )
    return "\n".join(lines) if len(lines) > 2 else ""


def floor_table(results):
    """What each ratio target asks of Tessera in server CPU per request, beside what Tessera
    spends and what a bare axum server (no application code at all) spends per request here."""
    floor = results.get("floor", {}).get("scenarios", {}).get("ok", {}).get("server_cpu_ms_per_req")
    if not floor:
        return ""

    def cpu(server, scenario):
        return results.get(server, {}).get("scenarios", {}).get(scenario, {}).get("server_cpu_ms_per_req")

    def us(ms):
        return f"{ms * 1000:.1f} µs"

    lines = [
        "| target | the peer's CPU per request | the target allows Tessera | Tessera spends | a bare axum server spends |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for what, scenario, peer, goal in [
        ("GET /api/me ≥ 20× FastAPI", "me", "fastapi", 20),
        ("tasks ≥ 40× FastAPI", "tasks", "fastapi", 40),
        ("bad token ≥ 20× FastAPI", "bad-token", "fastapi", 20),
        ("get-session ≥ 100× Better Auth", "get-session", "better-auth", 100),
        ("/token ≥ 50× Better Auth", "token", "better-auth", 50),
    ]:
        theirs, ours = cpu(peer, scenario), cpu("tessera", scenario)
        if theirs is None or ours is None:
            continue
        lines.append(f"| {what} | {us(theirs)} | ≤ {us(theirs / goal)} | {us(ours)} | {us(floor)} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def variants_table(results):
    """Tessera variants beside the default, for the guarded scenarios."""
    names = [n for n in results if n.startswith("tessera-") and results[n]["backend"] == "sqlite"]
    if not names or "tessera" not in results:
        return ""
    lines = ["| scenario | " + " | ".join([results["tessera"]["label"]] + [results[n]["label"] for n in names]) + " |"]
    lines.append("| --- |" + " ---: |" * (1 + len(names)))
    for scenario in ("ok", "me", "tasks", "bad-token"):
        cells = []
        for n in ["tessera"] + names:
            res = results.get(n, {}).get("scenarios", {}).get(scenario)
            cells.append(
                "-" if res is None else f"{fmt_num(res['rps'])} req/s, {fmt_cpu(res['server_cpu_ms_per_req'])} ms CPU"
            )
        lines.append(f"| {SCENARIO_TITLES[scenario]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def command_output(cmd, cwd=None):
    try:
        out = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30, check=False)
        return out.stdout.decode(errors="replace").strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def machine_info(args):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem_kib = int(line.split()[1])
    repo = BENCH_DIR.parent
    rev = command_output(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=repo)
    lines = [
        f"- machine: {cpu}, {os.cpu_count()} CPUs, {mem_kib / 1048576:.0f} GiB RAM, Linux {os.uname().release}",
        f"- Tessera: {rev} (`{args.tessera}`), {command_output(['rustc', '--version'])}",
        f"- load generator: {command_output([args.wrk, '--version'])}",
    ]
    if "fastapi" in args.peers:
        py = str(Path(args.venv) / "bin" / "python")
        versions = command_output(
            [
                py,
                "-c",
                "import sys, fastapi, uvicorn, jose, starlette, pydantic; print(f'Python {sys.version.split()[0]}, "
                "FastAPI {fastapi.__version__}, Starlette {starlette.__version__}, pydantic {pydantic.VERSION}, "
                "uvicorn {uvicorn.__version__} (uvloop + httptools, 1 worker), python-jose {jose.__version__}')",
            ]
        )
        lines.append(f"- FastAPI peer: {versions}, stdlib sqlite3")
        if args.pg_url:
            asyncpg = command_output([py, "-c", "import asyncpg; print(asyncpg.__version__)"])
            lines.append(f"- FastAPI peer on PostgreSQL: asyncpg {asyncpg} (a pool of at most 10 connections)")
    if "better-auth" in args.peers:
        pkg_dir = BENCH_DIR.parent / "interop" / "node_modules"

        def version(name):
            try:
                return json.loads((pkg_dir / name / "package.json").read_text())["version"]
            except (OSError, ValueError, KeyError):
                return "?"

        lines.append(
            f"- Better Auth peer: better-auth {version('better-auth')}, better-sqlite3 {version('better-sqlite3')}, "
            f"pg {version('pg')} (a Pool of at most 5 connections), Node {command_output(['node', '--version'])}"
        )
    if args.pg_url:
        try:
            pg = psql(args.pg_url, "SELECT version()").strip()
        except (RuntimeError, OSError, subprocess.SubprocessError):
            pg = "?"
        lines.append(
            f"- PostgreSQL: {pg}, on {urllib.parse.urlsplit(args.pg_url).hostname} (not pinned; each server a fresh "
            "database)"
        )
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tessera", required=True, help="the tessera binary")
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    p.add_argument("--peers", default="", help="comma-separated: fastapi,better-auth")
    p.add_argument("--floor", default="", help="the http_floor example binary: the bare-axum reference row")
    p.add_argument("--venv", default=str(BENCH_DIR / ".venv"))
    p.add_argument(
        "--pg-url",
        default="",
        help="a PostgreSQL to also run on (postgres://…; each server gets a database of its own there)",
    )
    p.add_argument("--duration", type=int, default=10, help="seconds per run")
    p.add_argument("--runs", type=int, default=3, help="runs per scenario (the median is kept)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up seconds per scenario (0: none)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--sign-in-connections", type=int, default=4)
    p.add_argument("--storm-clients", type=int, default=16)
    p.add_argument("--paced-connections", type=int, default=8)
    p.add_argument("--paced-delay-ms", type=int, default=10)
    p.add_argument("--server-cpu", type=int, default=1)
    p.add_argument("--load-cpu", type=int, default=0)
    p.add_argument(
        "--noise-limit",
        type=float,
        default=10.0,
        help="a run during which other processes used more than this %% of the server's or wrk's CPU is run again",
    )
    p.add_argument("--noise-retries", type=int, default=3, help="how many times (0: never)")
    p.add_argument("--noise-wait", type=float, default=10.0, help="seconds to wait before running it again")
    p.add_argument("--only", default="", help="comma-separated scenario ids")
    p.add_argument("--servers", default="", help="comma-separated server names (default: all)")
    p.add_argument(
        "--tessera-variant",
        action="append",
        default=[],
        metavar="NAME:ENV=VALUE,...",
        help="also run the guarded scenarios on Tessera with these settings",
    )
    p.add_argument("--out", required=True, help="directory for results.json and results.md")
    p.add_argument("--title", default="")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="short runs that check answers only (a sign-in under the flood may not finish)",
    )
    args = p.parse_args()
    args.peers = [x for x in args.peers.split(",") if x]
    args.only = [x for x in args.only.split(",") if x]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    args.workdir = tempfile.mkdtemp(prefix="tessera-bench.")
    # SIGTERM (e.g. from scripts/test.sh stopping) unwinds like Ctrl-C, so servers get stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    results = {}
    failures = []
    chosen = [s for s in servers(args) if not args.servers or s.name in args.servers.split(",")]
    started = datetime.datetime.now(datetime.UTC)
    try:
        for srv in chosen:
            try:
                bench_server(args, srv, results)
            except Exception as err:  # report, go on with the next server
                failures.append(f"{srv.label}: {err}")
                log(f"{srv.label}: FAILED: {err}")
    finally:
        for srv in chosen:
            srv.stop()
        shutil.rmtree(args.workdir, ignore_errors=True)

    for name, entry in results.items():
        for scenario, res in entry["scenarios"].items():
            if not res["ok"]:
                failures.append(
                    f"{entry['label']} {scenario}: {res['socket_errors']} socket errors, {res['unexpected_status']} unexpected statuses"
                )
        missing = [
            s
            for s in next(x for x in chosen if x.name == name).scenarios
            if s not in entry["scenarios"] and (not args.only or s in args.only)
        ]
        if missing:
            failures.append(f"{entry['label']}: scenarios not run: {', '.join(missing)}")

    loadavg = Path("/proc/loadavg").read_text().split()[:3]
    header = (f"{args.title}\n\n" if args.title else "") + (
        f"Run {started:%Y-%m-%d %H:%M} UTC; server on CPU {args.server_cpu}, wrk -t1 on CPU {args.load_cpu}; "
        f"{args.warmup} s warm-up, then {args.runs} × {args.duration} s per scenario (median of each column); "
        f"c={args.connections} (sign-in c={args.sign_in_connections}; paced GET c={args.paced_connections} with "
        f"{args.paced_delay_ms} ms between a connection's requests; storm: {args.storm_clients} sign-in clients). "
        f"Load average at the end: {' '.join(loadavg)}."
    )
    report = "\n\n".join(
        x
        for x in [
            header,
            machine_info(args),
            table(results),
            variants_table(results),
            targets(results) if "tessera" in results else "",
            pg_targets(results),
            floor_table(results),
        ]
        if x
    )
    if failures:
        report += "\n\nProblems:\n" + "\n".join(f"- {f}" for f in failures)
    (out / "results.md").write_text(report + "\n")
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(report)
    print(f"\n(written to {out}/results.md and results.json)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
