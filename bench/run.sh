#!/usr/bin/env bash
# Tessera's benchmarks, one command (BENCHMARKS.md has the numbers and how to read them).
#
#   bench/run.sh              full run: micro-benchmarks, then the load harness against Tessera
#                             (release build) and the peers (FastAPI + python-jose, Better Auth
#                             1.7.25): 3 s warm-up, median of 3 × 10 s runs per scenario
#   bench/run.sh --pg         the PostgreSQL run instead (issue 16 item 7): get-session, /token,
#                             sign-in and the tasks read on Tessera (as shipped there, session cache
#                             off; and with its caches on), Better Auth 1.7.25 on its `pg` adapter
#                             and the FastAPI peer on asyncpg; no micro-benchmarks
#   bench/run.sh --smoke      each scenario once for 1 s against a debug build, no warm-up, peers
#                             skipped; checks that the harness works and every scenario gets the
#                             answers it expects (scripts/test.sh bench runs this). Never judges speed.
#                             When a PostgreSQL answers, Tessera's PostgreSQL scenarios run too.
#
# Options:
#   --peers / --no-peers      run the peers or not (default: yes for a full run, no for --smoke)
#   --release / --debug       which tessera build to measure (default: release; --smoke: debug)
#   --no-micro                skip the micro-benchmarks (cargo bench, or cargo test for --smoke)
#   --no-load                 skip the load harness
#   -- ARGS...                passed to bench/harness.py (e.g. -- --only me,tasks --runs 1)
#
# The server is pinned to CPU 1 and wrk (-t1) to CPU 0 with taskset; everything binds to
# 127.0.0.1; every process started is stopped by PID. Installs what is missing: wrk (Debian),
# a venv in bench/.venv (bench/peers/fastapi/requirements.txt), npm ci in interop/ (the Better
# Auth peer is interop/better-auth-server.mjs, the one the compat tests run).
# Results go to bench/results/<UTC time>-<mode>/results.{md,json}.
#
# PostgreSQL: the server BENCH_DATABASE_URL names, else TEST_DATABASE_URL's, else
# postgres://postgres@127.0.0.1:5432/postgres; each server gets a fresh database there, dropped
# after it. If none answers, --pg starts a throwaway cluster (as scripts/test.sh does) and stops
# it at exit; --smoke leaves PostgreSQL out.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
SCRIPT_NAME=bench/run.sh
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
BENCH=$ROOT/bench
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=$BENCH/.venv
FASTAPI_DIR=$BENCH/peers/fastapi

MODE=full
PEERS=""
PROFILE=""
MICRO=1
LOAD=1
HARNESS_ARGS=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --smoke) MODE=smoke ;;
    --pg) MODE=pg ;;
    --peers) PEERS=1 ;;
    --no-peers) PEERS=0 ;;
    --release) PROFILE=release ;;
    --debug) PROFILE=debug ;;
    --no-micro) MICRO=0 ;;
    --no-load) LOAD=0 ;;
    --)
      shift
      HARNESS_ARGS=("$@")
      break
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "bench/run.sh: unknown option $1 (see --help)" >&2
      exit 2
      ;;
  esac
  shift
done
if [[ -z $PEERS ]]; then [[ $MODE == smoke ]] && PEERS=0 || PEERS=1; fi
if [[ -z $PROFILE ]]; then [[ $MODE == smoke ]] && PROFILE=debug || PROFILE=release; fi
# The micro-benchmarks touch no database: the PostgreSQL run leaves them to the full run.
if [[ $MODE == pg ]]; then MICRO=0; fi

# ------------------------------------------------------------------------------------------------
# Tools

ensure_cargo
pkgs=()
have python3 || pkgs+=(python3)
if [[ $LOAD -eq 1 ]]; then
  have wrk || pkgs+=(wrk)
  have taskset || pkgs+=(util-linux)
fi
have cc || pkgs+=(gcc libc6-dev)
if [[ $LOAD -eq 1 && $MODE == pg ]]; then
  have psql || pkgs+=(postgresql-client)
fi
if [[ $LOAD -eq 1 && $PEERS -eq 1 ]]; then
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || pkgs+=(python3-venv)
fi
if [[ ${#pkgs[@]} -gt 0 ]]; then apt_install "${pkgs[@]}"; fi

CPUS=$(nproc)
if [[ $CPUS -lt 2 ]]; then
  note "warning: only $CPUS CPU; server and load generator share it (numbers mean little)"
  HARNESS_ARGS=(--server-cpu 0 --load-cpu 0 "${HARNESS_ARGS[@]}")
fi

# ------------------------------------------------------------------------------------------------
# Micro-benchmarks (divan). A full run measures; a smoke run runs each benchmark once, unoptimised.

if [[ $MICRO -eq 1 ]]; then
  if [[ $MODE != smoke ]]; then
    note "micro-benchmarks: cargo bench -p tessera-jwt -p tessera-auth (pinned to CPU $((CPUS > 1 ? 1 : 0)))"
    cargo bench -p tessera-jwt -p tessera-auth --bench jwt --bench auth --no-run
    taskset -c $((CPUS > 1 ? 1 : 0)) cargo bench -p tessera-jwt -p tessera-auth --bench jwt --bench auth
  else
    note "micro-benchmarks, once each: cargo test -p tessera-jwt -p tessera-auth --bench jwt --bench auth"
    cargo test -p tessera-jwt -p tessera-auth --bench jwt --bench auth
  fi
fi
[[ $LOAD -eq 1 ]] || exit 0

# ------------------------------------------------------------------------------------------------
# Builds and peers

# The http_floor example is the bare-axum reference row: what any request costs here.
if [[ $PROFILE == release ]]; then
  note "cargo build --release -p tessera --bin tessera --example http_floor"
  cargo build --release -p tessera --bin tessera --example http_floor
else
  note "cargo build -p tessera --bin tessera --example http_floor"
  cargo build -p tessera --bin tessera --example http_floor
fi
TESSERA_BIN=$TARGET_DIR/$PROFILE/tessera
FLOOR_BIN=$TARGET_DIR/$PROFILE/examples/http_floor
[[ -x $TESSERA_BIN ]] || die "$TESSERA_BIN was not built"
[[ -x $FLOOR_BIN ]] || die "$FLOOR_BIN was not built"

PEER_LIST=""
if [[ $PEERS -eq 1 ]]; then
  # The FastAPI peer from its pinned requirements; the Better Auth peer's dependencies (npm ci in
  # interop/; better-sqlite3 may compile its addon: a few minutes).
  ensure_venv "$VENV" "$FASTAPI_DIR/requirements.txt" fastapi,jose,uvicorn,asyncpg
  ensure_interop_node_deps
  PEER_LIST=fastapi,better-auth
fi

# ------------------------------------------------------------------------------------------------
# Load

OUT=$BENCH/results/$(date -u +%Y%m%dT%H%M%SZ)-$MODE
# Besides the default Tessera (EdDSA; verified-token, session and task-list caches on), the
# floor, the guarded and the session scenarios run again with every cache off, and the floor and
# the guarded ones with HS256 (the brief's shared-secret mode, what the FastAPI peer verifies),
# and the storm and the flood with the hashing threads in SCHED_IDLE (TESSERA_HASH_PRIORITY=idle).
# The storm's sign-ins come from one address and report how many were shed (503); another
# address signs in every 200 ms meanwhile, and its latency is reported.
NO_CACHES='no caches:TESSERA_TOKEN_CACHE=0,TESSERA_SESSION_CACHE_TTL=0,TESSERA_TASKS_CACHE_TTL=0'
if [[ $MODE != smoke ]]; then
  mode_args=(--duration 10 --runs 3 --warmup 3
    --tessera-variant "$NO_CACHES@ok+me+tasks+bad-token+get-session+token"
    --tessera-variant 'HS256:TESSERA_JWT_ALG=HS256'
    --tessera-variant 'hashing in SCHED_IDLE:TESSERA_HASH_PRIORITY=idle@tasks-paced+tasks-storm+sign-in-flood')
else
  # The 1 ms hashing-queue bound sheds nearly every storm sign-in: the harness's 503 path runs.
  mode_args=(--smoke --duration 1 --runs 1 --warmup 0 --noise-retries 0
    --tessera-variant "$NO_CACHES@me+tasks+get-session"
    --tessera-variant 'hashing queue bound 1 ms:TESSERA_HASH_QUEUE_MAX_WAIT_MS=1@tasks-storm')
fi

# PostgreSQL (the helpers scripts/test.sh uses): a throwaway cluster only for --pg, stopped at exit.
trap stop_postgres EXIT
TEST_DATABASE_URL=${BENCH_DATABASE_URL:-${TEST_DATABASE_URL:-$DEFAULT_DATABASE_URL}}
if [[ $MODE == pg ]]; then
  ensure_postgres
  # Only the servers on PostgreSQL (harness.py names them so); the floor binary is not needed.
  pg_servers=tessera-pg,tessera-pg-caches,fastapi-pg,better-auth-pg
  mode_args+=(--pg-url "$TEST_DATABASE_URL" --servers "$pg_servers")
elif [[ $MODE == smoke ]] && have psql && pg_answers "$TEST_DATABASE_URL"; then
  note "PostgreSQL: using $(redact_url "$TEST_DATABASE_URL") (Tessera's PostgreSQL scenarios run too)"
  mode_args+=(--pg-url "$TEST_DATABASE_URL")
elif [[ $MODE == smoke ]]; then
  note "no PostgreSQL answers at $(redact_url "$TEST_DATABASE_URL"): PostgreSQL scenarios skipped"
fi

note "load harness ($MODE, $PROFILE build${PEER_LIST:+, peers: $PEER_LIST})"
python3 "$BENCH/harness.py" --tessera "$TESSERA_BIN" --floor "$FLOOR_BIN" --peers "$PEER_LIST" --venv "$VENV" \
  --out "$OUT" --title "bench/run.sh ($MODE, tessera $PROFILE build)" "${mode_args[@]}" "${HARNESS_ARGS[@]}"
