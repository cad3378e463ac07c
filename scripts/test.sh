#!/usr/bin/env bash
# Tessera's one test command; .ci/run calls it. Works on a fresh Debian machine (as root, or with
# sudo) and in CI (CI=true, no stdin), installing only what is missing, and fails fast.
#
#   scripts/test.sh [STAGE...]        default: every stage, in this order
#
#   fmt      cargo fmt --all -- --check
#   clippy   cargo clippy --workspace --all-targets -- -D warnings
#   lint     shellcheck over every shell script, ruff over every Python file (ruff.toml),
#            fuzz/Cargo.lock up to date (cargo metadata --locked)
#   test     cargo test --workspace, with TEST_DATABASE_URL pointing at a live PostgreSQL
#   security the attack suites by name (Wycheproof vectors through tessera-jwt, the auth server's
#            attacks on SQLite and PostgreSQL, the guard's jwt_tool playbook, the hardening
#            findings: bursts, forged proxies, caching, input, load, slow clients), then every
#            cargo-fuzz target for TESSERA_FUZZ_SECONDS each (fuzz/run.sh; docs/security.md)
#   interop  the official better-auth client with passkeyClient (Node), python-jose (HS256) and PyJWT (JWKS: EdDSA,
#            ES256, RS256) against target/debug/tessera, one fresh server per scenario
#   clients  pytest for python/tessera-fastapi (the FastAPI verifier package) and
#            examples/fastapi-tasks (SQLAlchemy on PostgreSQL with row-level security) against a
#            real target/debug/tessera (and a real Better Auth 1.7.25's tokens), in the venv
#            .venv-clients; node --test for clients/js (the browser module) against a real tessera
#   compat   interop/diff: a real Better Auth 1.7.25 against Tessera response by response (fails on
#            any difference docs/compatibility.md does not list), adoption of Better Auth's own
#            SQLite and PostgreSQL databases in place, both servers side by side on one database,
#            and `tessera api` verifying Better Auth's JWTs through its JWKS, refetching on a new key
#   browser  headless Chromium tests of the web app (interop/browser), screenshots in target/
#   bench    bench/run.sh --smoke: every micro-benchmark once and every load scenario for 1 s
#            against a debug build (peers skipped; Tessera's PostgreSQL scenarios too when
#            TEST_DATABASE_URL answers), so the harness cannot rot; checks answers only, never
#            speed (BENCHMARKS.md has the full run)
#
# Environment:
#   TEST_DATABASE_URL  PostgreSQL the tests create their databases in (default
#                      postgres://postgres@127.0.0.1:5432/postgres). If it does not answer, a
#                      throwaway cluster is started on a free 127.0.0.1 port and stopped at exit.
#   TEST_REDIS_URL     Redis the rate-limit tests share counters through (default
#                      redis://127.0.0.1:6379). If it does not answer, a throwaway redis-server is
#                      started on a free 127.0.0.1 port and stopped at exit.
#   TESSERA_FUZZ_SECONDS
#                      seconds per fuzz target in the security stage (default 20).
#   TESSERA_INTEROP_SERVER=better-auth
#                      run the interop scenarios against a real Better Auth 1.7.25
#                      (interop/better-auth-server.mjs) instead of Tessera, to check the
#                      scenarios themselves.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
SCRIPT_NAME=test.sh
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

ALL_STAGES=(fmt clippy lint test security interop clients compat browser bench)
NODE_DIR=$ROOT/interop/node
PY_DIR=$ROOT/interop/python
VENV=$ROOT/.venv
LINT_VENV=$ROOT/.venv-lint
CLIENTS_VENV=$ROOT/.venv-clients
RUFF_VERSION=0.17.6
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
DEFAULT_REDIS_URL=redis://127.0.0.1:6379
REDIS_PID=""
REDIS_DIR=""
SMTP_VENV=$ROOT/.venv-smtp
SMTP_PID=""
SMTP_DIR=""
OIDC_PID=""
OIDC_DIR=""
INTEROP_SERVER=${TESSERA_INTEROP_SERVER:-tessera}
# The browser origin the interop clients claim to be; the servers trust it.
INTEROP_ORIGIN=http://127.0.0.1:3001
SERVER_START_TRIES=150 # x 0.2 s between tries

CURRENT_STAGE=startup
SUMMARY=()
TOTAL_PASSED=0
TOTAL_SKIPPED=0
SERVER_PID=""
SERVER_DIR=""
SERVER_URL=""

# ------------------------------------------------------------------------------------------------
# Output, failure, cleanup

STAGE_NO=0
STAGE_COUNT=0
banner() {
  STAGE_NO=$((STAGE_NO + 1))
  CURRENT_STAGE=$1
  printf '\n==> [%d/%d] %s  (t=%ds)\n' "$STAGE_NO" "$STAGE_COUNT" "$2" "$SECONDS"
}
on_exit() {
  local rc=$?
  set +e
  stop_server
  stop_postgres
  stop_redis
  stop_smtp
  stop_oidc
  if [[ $rc -ne 0 ]]; then
    printf '\n==> FAILED in stage "%s" after %ds (exit %d)\n' "$CURRENT_STAGE" "$SECONDS" "$rc" >&2
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------------------------------------
# Installing what is missing

# Installs the Debian packages the selected stages need, in one apt run, then checks the toolchain.
ensure_tools() {
  local pkgs=()
  have python3 || pkgs+=(python3)
  have curl || pkgs+=(curl)
  if want fmt || want clippy || want test || want security || want interop || want clients; then
    have cc || pkgs+=(gcc libc6-dev)
  fi
  if want security; then
    have c++ || pkgs+=(g++) # libfuzzer-sys compiles libFuzzer
  fi
  if want test || want security; then
    have psql || pkgs+=(postgresql-client)
  fi
  if want test; then
    # The fault tests (crates/tessera/tests/cli/faults.rs) start, stop and restart a PostgreSQL
    # cluster and a redis-server of their own.
    have redis-server || pkgs+=(redis-server)
    pg_bin_dir >/dev/null || pkgs+=(postgresql)
    # The social sign-in tests run a real OpenID provider (npm's oidc-provider, ensure_oidc).
    have node || pkgs+=(nodejs)
    have npm || pkgs+=(npm)
  fi
  if want lint; then
    have shellcheck || pkgs+=(shellcheck)
    have git || pkgs+=(git)
  fi
  # The test stage's SMTP server (aiosmtpd) lives in a venv too.
  if want interop || want lint || want clients || want test; then
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then pkgs+=(python3-venv); fi
  fi
  if want clients; then
    have psql || pkgs+=(postgresql-client)
    have node || pkgs+=(nodejs)
    have npm || pkgs+=(npm)
  fi
  if want interop; then
    have node || pkgs+=(nodejs)
    have npm || pkgs+=(npm)
  fi
  if [[ ${#pkgs[@]} -gt 0 ]]; then apt_install "${pkgs[@]}"; fi

  if want fmt || want clippy || want test || want security || want interop || want clients; then
    ensure_cargo
    local component
    for component in fmt clippy; do
      if want "$component" && ! cargo "$component" --version >/dev/null 2>&1; then
        [[ $component == fmt ]] && component=rustfmt
        if ! { have rustup && rustup component add "$component"; }; then
          die "$component missing: rustup component add $component"
        fi
      fi
    done
  fi
  if want interop || want clients; then ensure_node; fi
}

# ------------------------------------------------------------------------------------------------
# Helpers

random_secret() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }

# Sums the "test result:" lines of cargo test output in file $1 into TOTAL_PASSED / TOTAL_SKIPPED
# and adds a line to SUMMARY.
count_cargo_results() {
  local passed=0 ignored=0 p i
  while read -r p i; do
    passed=$((passed + p))
    ignored=$((ignored + i))
  done < <(sed -nE 's/^test result: ok\. ([0-9]+) passed; [0-9]+ failed; ([0-9]+) ignored.*/\1 \2/p' "$1")
  TOTAL_PASSED=$((TOTAL_PASSED + passed))
  TOTAL_SKIPPED=$((TOTAL_SKIPPED + ignored))
  SUMMARY+=("cargo test: $passed passed, $ignored ignored")
}

# ------------------------------------------------------------------------------------------------
# Redis

redis_answers() {
  local hostport=${1#redis://}
  hostport=${hostport%%/*}
  hostport=${hostport##*@}
  timeout 5 redis-cli -h "${hostport%:*}" -p "${hostport##*:}" ping 2>/dev/null | grep -qx PONG
}

ensure_redis() {
  TEST_REDIS_URL=${TEST_REDIS_URL:-$DEFAULT_REDIS_URL}
  have redis-cli || apt_install redis-tools
  if redis_answers "$TEST_REDIS_URL"; then
    note "Redis: using $(redact_url "$TEST_REDIS_URL")"
    export TEST_REDIS_URL
    return
  fi
  note "Redis at $(redact_url "$TEST_REDIS_URL") does not answer: starting a throwaway server"
  have redis-server || apt_install redis-server
  REDIS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tessera-redis.XXXXXX")
  local port tries=0
  port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$REDIS_DIR" \
    >"$REDIS_DIR/redis.log" 2>&1 &
  REDIS_PID=$!
  TEST_REDIS_URL=redis://127.0.0.1:$port
  until redis_answers "$TEST_REDIS_URL"; do
    tries=$((tries + 1))
    kill -0 "$REDIS_PID" 2>/dev/null || { cat "$REDIS_DIR/redis.log" >&2; die "redis-server exited"; }
    [[ $tries -lt 100 ]] || die "the throwaway Redis does not answer"
    sleep 0.1
  done
  export TEST_REDIS_URL
  note "Redis: using $TEST_REDIS_URL (pid $REDIS_PID)"
}

stop_redis() {
  [[ -n $REDIS_PID ]] || return 0
  kill "$REDIS_PID" 2>/dev/null
  wait "$REDIS_PID" 2>/dev/null
  rm -rf "$REDIS_DIR"
  REDIS_PID=""
}

# A real SMTP server for the mail tests: aiosmtpd (PyPI, its own venv) on a free loopback port,
# writing every mail it accepts into a Maildir the tests read (tessera-mail's `testing` helper).
# Exports TEST_SMTP_URL and TEST_MAILDIR; stopped by PID on exit.
smtp_answers() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && head -c 3 <&3" 2>/dev/null | grep -qx 220; }

ensure_smtp() {
  ensure_venv "$SMTP_VENV" "$ROOT/scripts/smtp/requirements.txt" aiosmtpd
  SMTP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tessera-smtp.XXXXXX")
  local port tries=0
  port=$(free_port)
  "$SMTP_VENV/bin/python" -m aiosmtpd -n -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox \
    "$SMTP_DIR/maildir" >"$SMTP_DIR/smtp.log" 2>&1 &
  SMTP_PID=$!
  until smtp_answers "$port"; do
    tries=$((tries + 1))
    kill -0 "$SMTP_PID" 2>/dev/null || { cat "$SMTP_DIR/smtp.log" >&2; die "aiosmtpd exited"; }
    [[ $tries -lt 100 ]] || die "the test SMTP server does not answer"
    sleep 0.1
  done
  export TEST_SMTP_URL=smtp://127.0.0.1:$port TEST_MAILDIR=$SMTP_DIR/maildir
  note "SMTP: aiosmtpd on $TEST_SMTP_URL, Maildir $TEST_MAILDIR (pid $SMTP_PID)"
}

stop_smtp() {
  [[ -n $SMTP_PID ]] || return 0
  kill "$SMTP_PID" 2>/dev/null || true
  # Killed by our SIGTERM it exits 143; that is the expected end, not a failure.
  wait "$SMTP_PID" 2>/dev/null || true
  rm -rf "$SMTP_DIR"
  SMTP_PID=""
}

# A real OpenID provider for the social sign-in tests: panva's certified oidc-provider (npm, in
# interop/), run by interop/oidc-provider.mjs on a free loopback port with a test client and
# non-interactive sign-in. An issuer already in TEST_OIDC_ISSUER that answers is used as it is;
# otherwise one is started, TEST_OIDC_ISSUER exported, and it is stopped by PID on exit.
oidc_answers() { curl -fsS -m 2 -o /dev/null "$1/.well-known/openid-configuration" 2>/dev/null; }

ensure_oidc() {
  if [[ -n ${TEST_OIDC_ISSUER:-} ]] && oidc_answers "$TEST_OIDC_ISSUER"; then
    note "OpenID provider: $TEST_OIDC_ISSUER answers"
    return
  fi
  ensure_interop_node_deps
  OIDC_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tessera-oidc.XXXXXX")
  local port tries=0
  port=$(free_port)
  node "$ROOT/interop/oidc-provider.mjs" "$port" >"$OIDC_DIR/oidc.log" 2>&1 &
  OIDC_PID=$!
  until oidc_answers "http://127.0.0.1:$port"; do
    tries=$((tries + 1))
    kill -0 "$OIDC_PID" 2>/dev/null || { cat "$OIDC_DIR/oidc.log" >&2; die "oidc-provider exited"; }
    [[ $tries -lt 100 ]] || die "the test OpenID provider does not answer"
    sleep 0.1
  done
  export TEST_OIDC_ISSUER=http://127.0.0.1:$port
  note "OpenID provider: oidc-provider at $TEST_OIDC_ISSUER (pid $OIDC_PID)"
}

stop_oidc() {
  [[ -n $OIDC_PID ]] || return 0
  kill "$OIDC_PID" 2>/dev/null || true
  wait "$OIDC_PID" 2>/dev/null || true
  rm -rf "$OIDC_DIR"
  OIDC_PID=""
}

# ------------------------------------------------------------------------------------------------
# Interop servers

# start_server ALG: a fresh server on a free 127.0.0.1 port with a fresh data dir; sets SERVER_URL.
start_server() {
  local alg=$1 port cmd
  port=$(free_port)
  SERVER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tessera-interop.XXXXXX")
  # SERVER_HOST=localhost: the same listener named by host name (WebAuthn needs a domain).
  SERVER_URL=http://${SERVER_HOST:-127.0.0.1}:$port
  case $INTEROP_SERVER in
    tessera) cmd=("$TARGET_DIR/debug/tessera" serve --addr "127.0.0.1:$port") ;;
    better-auth) cmd=(node "$ROOT/interop/better-auth-server.mjs" serve --addr "127.0.0.1:$port") ;;
    *) die "TESSERA_INTEROP_SERVER must be tessera or better-auth, not $INTEROP_SERVER" ;;
  esac
  (
    cd "$SERVER_DIR"
    exec env -u DATABASE_URL -u REDIS_URL -u BETTER_AUTH_SECRETS -u NODE_ENV \
      BETTER_AUTH_SECRET="$INTEROP_SECRET" \
      BETTER_AUTH_URL="$SERVER_URL" \
      BETTER_AUTH_TRUSTED_ORIGINS="$INTEROP_ORIGIN" \
      TESSERA_DATA_DIR="$SERVER_DIR" \
      TESSERA_JWT_ALG="$alg" \
      TESSERA_ENV=development \
      TESSERA_TWO_FACTOR=true \
      BETTER_AUTH_TELEMETRY=0 \
      "${cmd[@]}" </dev/null
  ) >"$SERVER_DIR/server.log" 2>&1 &
  SERVER_PID=$!
  local i
  for ((i = 0; i < SERVER_START_TRIES; i++)); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      tail -n 50 "$SERVER_DIR/server.log" >&2
      die "server ($alg) exited before answering GET /api/auth/ok"
    fi
    if curl -fsS --max-time 2 -o /dev/null "$SERVER_URL/api/auth/ok" 2>/dev/null; then
      note "$INTEROP_SERVER ($alg) up at $SERVER_URL (pid $SERVER_PID)"
      return
    fi
    sleep 0.2
  done
  tail -n 50 "$SERVER_DIR/server.log" >&2
  die "server ($alg) did not answer GET /api/auth/ok within $((SERVER_START_TRIES / 5)) s"
}

stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  local i
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  [[ -z $SERVER_DIR ]] || rm -rf "$SERVER_DIR"
  SERVER_DIR=""
}

# run_scenario NAME COMMAND...: runs a scenario against the running server. It must exit 0 and
# print "N passed, 0 failed"; N is added to the summary.
run_scenario() {
  local name=$1 log n
  shift
  log=$SERVER_DIR/scenario.log
  note "scenario: $name"
  if ! timeout 300 "$@" 2>&1 | tee "$log"; then
    printf -- '--- server log (last 50 lines) ---\n' >&2
    tail -n 50 "$SERVER_DIR/server.log" >&2
    die "interop scenario failed: $name"
  fi
  n=$(sed -nE 's/^([0-9]+) passed, 0 failed$/\1/p' "$log" | tail -n1)
  [[ -n $n ]] || die "interop scenario $name did not print 'N passed, 0 failed'"
  TOTAL_PASSED=$((TOTAL_PASSED + n))
  SUMMARY+=("interop $name: $n passed")
  stop_server
}

# ------------------------------------------------------------------------------------------------
# Stages

fmt_stage() {
  cargo fmt --all -- --check
  SUMMARY+=("fmt: ok")
}

clippy_stage() {
  cargo clippy --workspace --all-targets -- -D warnings
  SUMMARY+=("clippy: ok")
}

# The shell and Python gates. ruff lives in its own venv so the interop venv stays what
# interop/python/requirements.txt says.
lint_stage() {
  local scripts=() pyfiles=()
  mapfile -t scripts < <(git ls-files '*.sh' .ci/run)
  mapfile -t pyfiles < <(git ls-files '*.py')
  shellcheck "${scripts[@]}"
  if [[ ! -x $LINT_VENV/bin/ruff ]] || ! "$LINT_VENV/bin/ruff" --version | grep -qx "ruff $RUFF_VERSION"; then
    note ".venv-lint: pip install ruff==$RUFF_VERSION"
    python3 -m venv --clear "$LINT_VENV"
    "$LINT_VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
      "ruff==$RUFF_VERSION" </dev/null
  fi
  "$LINT_VENV/bin/ruff" check "${pyfiles[@]}"
  # The fuzz workspace has a lock file of its own that no other stage resolves; left stale it
  # would be rewritten by the next `cargo fuzz build` with whatever versions are newest then.
  cargo metadata --locked --format-version 1 --manifest-path "$ROOT/fuzz/Cargo.toml" >/dev/null ||
    die "fuzz/Cargo.lock is out of date: run cargo update -w --manifest-path fuzz/Cargo.toml"
  SUMMARY+=("lint: shellcheck (${#scripts[@]} scripts), ruff (${#pyfiles[@]} files), fuzz/Cargo.lock current: ok")
}

test_stage() {
  ensure_postgres
  ensure_redis
  ensure_smtp
  ensure_oidc
  local log
  log=$(mktemp "${TMPDIR:-/tmp}/tessera-cargo-test.XXXXXX")
  if ! cargo test --workspace 2>&1 | tee "$log"; then
    rm -f "$log"
    die "cargo test failed"
  fi
  count_cargo_results "$log"
  rm -f "$log"
  stop_postgres
  stop_redis
  stop_smtp
  stop_oidc
}

# The attack suites run in the test stage too; here they run by name, so `scripts/test.sh
# security` alone proves them, and are counted only when the test stage did not count them.
security_stage() {
  ensure_postgres
  ensure_redis
  local log passed=0 p suite
  log=$(mktemp "${TMPDIR:-/tmp}/tessera-security.XXXXXX")
  # The attack suites, then the hardening findings (bursts against the failed-attempt limits,
  # forged forwarding headers, credential-bearing answers cached, oversized and control-character
  # input, the hashing queue flooded, tokens at rest, slow and silent clients, weak production
  # settings), each a test file of its own.
  local suites=("-p tessera-jwt --test wycheproof" "-p tessera-auth --test api attacks"
    "-p tessera-guard --test guard playbook"
    "-p tessera-auth --test api -- password_attempts:: client_address:: no_store:: bad_input:: load_shedding:: token_storage::"
    "-p tessera --test cli -- connections:: start_up::")
  # In a full run the test stage has just run these suites (they are part of the workspace tests).
  want test && suites=()
  for suite in "${suites[@]}"; do
    note "cargo test $suite"
    # shellcheck disable=SC2086 # the suite is a word list on purpose
    if ! cargo test $suite 2>&1 | tee -a "$log"; then
      rm -f "$log"
      die "attack suite failed: cargo test $suite"
    fi
  done
  while read -r p; do passed=$((passed + p)); done < <(
    sed -nE 's/^test result: ok\. ([0-9]+) passed.*/\1/p' "$log")
  rm -f "$log"
  stop_postgres
  stop_redis
  if want test; then
    SUMMARY+=("security: attack suites ran with the workspace tests")
  else
    TOTAL_PASSED=$((TOTAL_PASSED + passed))
    SUMMARY+=("security: $passed attack-suite tests passed")
  fi
  local seconds=${TESSERA_FUZZ_SECONDS:-20}
  "$ROOT/fuzz/run.sh" "$seconds"
  SUMMARY+=("security: every fuzz target ran ${seconds}s without a crash")
}

interop_stage() {
  if [[ $INTEROP_SERVER == tessera ]]; then
    note "cargo build -p tessera"
    cargo build -p tessera
    [[ -x $TARGET_DIR/debug/tessera ]] || die "$TARGET_DIR/debug/tessera was not built"
  fi
  INTEROP_SECRET=$(random_secret)
  local py=$VENV/bin/python alg

  # The client scenario needs interop/node_modules (better-auth, @better-auth/passkey), and its
  # passkey steps a server named by a domain (SERVER_HOST=localhost) with passkeys on.
  ensure_interop_node_deps
  SERVER_HOST=localhost TESSERA_PASSKEY=true start_server EdDSA
  run_scenario "node better-auth client (passkeyClient, TESSERA_PASSKEY=true)" \
    env TESSERA_URL="$SERVER_URL" TESSERA_ORIGIN="$INTEROP_ORIGIN" node "$NODE_DIR/client-scenario.mjs"

  start_server HS256
  run_scenario "python-jose HS256" env TESSERA_URL="$SERVER_URL" BETTER_AUTH_SECRET="$INTEROP_SECRET" \
    "$py" "$PY_DIR/verify_hs256.py"

  for alg in EdDSA ES256 RS256; do
    start_server "$alg"
    run_scenario "PyJWT JWKS $alg" env TESSERA_URL="$SERVER_URL" TESSERA_JWT_ALG="$alg" \
      "$py" "$PY_DIR/verify_jwks.py"
  done
}

# The clients: the tessera-fastapi package's tests and the FastAPI example's (pytest), and the
# browser module's (node --test), each against real tessera processes the tests start themselves
# (free loopback ports, fresh data dirs), the example's on a throwaway database in
# TEST_DATABASE_URL's cluster; tessera-fastapi's tests also verify tokens minted by a real Better
# Auth 1.7.25 (interop/better-auth-server.mjs, so interop's node_modules are installed).
# The venv is refreshed from the working tree on every run (pip skips what is already installed);
# clients/js has no dependencies.
clients_stage() {
  note "cargo build -p tessera"
  cargo build -p tessera
  [[ -x $TARGET_DIR/debug/tessera ]] || die "$TARGET_DIR/debug/tessera was not built"
  # A real Better Auth for test_better_auth.py: without it that test fails (it never skips).
  ensure_interop_node_deps
  ensure_postgres
  [[ -x $CLIENTS_VENV/bin/python ]] || python3 -m venv "$CLIENTS_VENV"
  note ".venv-clients: pip install ./python/tessera-fastapi[test] -r examples/fastapi-tasks/requirements.txt"
  pip_install "$CLIENTS_VENV" "$ROOT/python/tessera-fastapi[test]" -r "$ROOT/examples/fastapi-tasks/requirements.txt"
  # The package under test is the working tree's, even when its version number did not change.
  "$CLIENTS_VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q --no-deps \
    --force-reinstall "$ROOT/python/tessera-fastapi" </dev/null
  run_pytest "tessera-fastapi" "$ROOT/python/tessera-fastapi"
  run_pytest "examples/fastapi-tasks" "$ROOT/examples/fastapi-tasks"
  stop_postgres
  run_node_tests "clients/js" "$ROOT/clients/js"
}

# run_node_tests NAME DIR: `npm test` (node --test) in DIR, no dependencies to install; its
# "# pass N" line goes into the summary, and a run that passed nothing fails.
run_node_tests() {
  local name=$1 dir=$2 log rc=0 passed
  log=$(mktemp "${TMPDIR:-/tmp}/tessera-node-test.XXXXXX")
  note "node --test: $name"
  (cd "$dir" && timeout 600 env TESSERA_BIN="$TARGET_DIR/debug/tessera" npm test --silent </dev/null) 2>&1 |
    tee "$log" || rc=$?
  if [[ $rc -ne 0 ]]; then
    rm -f "$log"
    die "node tests failed in $name (exit $rc)"
  fi
  passed=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$log" | tail -n1)
  rm -f "$log"
  [[ ${passed:-0} -gt 0 ]] || die "node --test ran no test in $name"
  TOTAL_PASSED=$((TOTAL_PASSED + passed))
  SUMMARY+=("node --test $name: $passed passed")
}

# run_pytest NAME DIR: pytest in DIR with the clients venv; its "N passed" line goes into the
# summary. Exit 5 (no test collected) fails the stage like any other failure.
run_pytest() {
  local name=$1 dir=$2 log rc=0 passed skipped
  log=$(mktemp "${TMPDIR:-/tmp}/tessera-pytest.XXXXXX")
  note "pytest: $name"
  # With pipefail, rc is pytest's exit status (tee succeeds).
  (cd "$dir" && timeout 900 env TESSERA_BIN="$TARGET_DIR/debug/tessera" TEST_DATABASE_URL="$TEST_DATABASE_URL" \
    "$CLIENTS_VENV/bin/python" -m pytest -p no:cacheprovider </dev/null) 2>&1 | tee "$log" || rc=$?
  if [[ $rc -eq 5 ]]; then
    rm -f "$log"
    die "pytest collected no test in $name"
  fi
  if [[ $rc -ne 0 ]]; then
    rm -f "$log"
    die "pytest failed in $name (exit $rc)"
  fi
  # pytest's closing line, e.g. "=== 29 passed, 2 skipped in 20.85s ===" (no match is not an error).
  passed=$(sed -nE 's/^=+ (.*[^0-9])?([0-9]+) passed.* in [0-9.]+s.*=+$/\2/p' "$log" | tail -n1)
  skipped=$(sed -nE 's/^=+ (.*[^0-9])?([0-9]+) skipped.* in [0-9.]+s.*=+$/\2/p' "$log" | tail -n1)
  rm -f "$log"
  [[ -n $passed ]] || die "pytest in $name printed no 'N passed' line"
  TOTAL_PASSED=$((TOTAL_PASSED + passed))
  TOTAL_SKIPPED=$((TOTAL_SKIPPED + ${skipped:-0}))
  SUMMARY+=("pytest $name: $passed passed, ${skipped:-0} skipped")
}

# Compatibility with Better Auth 1.7.25 (interop/diff; the list of accepted differences is
# docs/compatibility.md). Each script starts and stops its own servers (Better Auth through
# interop/better-auth-server.mjs, Tessera from target/) on free loopback ports and prints
# "N passed, 0 failed". Its dependencies are interop/'s (ensure_interop_node_deps).
compat_stage() {
  local dir=$ROOT/interop/diff work
  ensure_interop_node_deps
  ensure_cargo

  note "cargo build -p tessera; cargo build -p tessera-guard --example verify_token"
  cargo build -p tessera
  cargo build -p tessera-guard --example verify_token
  ensure_postgres
  # The differential suite "social" signs both servers in through one real OpenID provider.
  ensure_oidc
  work=$(mktemp -d "${TMPDIR:-/tmp}/tessera-compat.XXXXXX")
  local run=(env TESSERA_BIN="$TARGET_DIR/debug/tessera"
    TESSERA_GUARD_VERIFY="$TARGET_DIR/debug/examples/verify_token"
    COMPAT_DATABASE_URL="$TEST_DATABASE_URL" COMPAT_WORK="$work" node)

  run_compat "$work" "differential (Better Auth 1.7.25 vs Tessera)" "${run[@]}" "$dir/differential.mjs"
  run_compat "$work" "adoption in place: SQLite" "${run[@]}" "$dir/adoption.mjs" --db sqlite
  run_compat "$work" "adoption in place: PostgreSQL" "${run[@]}" "$dir/adoption.mjs" --db postgres
  run_compat "$work" "side by side: SQLite (WAL)" "${run[@]}" "$dir/side-by-side.mjs" --db sqlite
  run_compat "$work" "side by side: PostgreSQL" "${run[@]}" "$dir/side-by-side.mjs" --db postgres
  run_compat "$work" "guard: Better Auth JWTs in tessera api, new key after a JWKS refetch" \
    "${run[@]}" "$dir/guard-refetch.mjs"
  rm -rf "$work"
  stop_postgres
  stop_oidc
}

# run_compat WORKDIR NAME COMMAND...: like run_scenario, for scripts that run their own servers
# (their logs stay in WORKDIR when one fails).
run_compat() {
  local work=$1 name=$2 log n
  shift 2
  log=$work/scenario.log
  note "compat: $name"
  if ! timeout 900 "$@" 2>&1 | tee "$log"; then
    die "compat scenario failed: $name (server logs in $work)"
  fi
  n=$(sed -nE 's/^([0-9]+) passed, 0 failed$/\1/p' "$log" | tail -n1)
  [[ -n $n ]] || die "compat scenario $name did not print 'N passed, 0 failed'"
  TOTAL_PASSED=$((TOTAL_PASSED + n))
  SUMMARY+=("compat $name: $n passed")
}

# Browser tests: the web app (web/) driven in headless Chromium from Debian's `chromium` package
# (tools that download their own browser do not work offline) through playwright-core, pinned in
# interop/browser/package-lock.json. interop/browser/scenario.mjs runs twice, one fresh server at a
# time: acceptance items 1-4, 6, 7 (plus error-feedback checks) against a default server, then
# item 5 against one whose JWTs live 3 s. Screenshots of every page (1280 and 360 px wide) go to
# target/screenshots/.
browser_stage() {
  local dir=$ROOT/interop/browser chromium=/usr/bin/chromium
  local INTEROP_SERVER=tessera # the web app is Tessera's own; Better Auth has none
  [[ -x $chromium ]] || apt_install chromium
  [[ -x $chromium ]] || die "$chromium missing after apt-get install chromium"
  ensure_node
  ensure_cargo
  have cc || apt_install gcc libc6-dev
  ensure_npm_deps "$dir" playwright-core

  note "cargo build -p tessera"
  cargo build -p tessera
  [[ -x $TARGET_DIR/debug/tessera ]] || die "$TARGET_DIR/debug/tessera was not built"
  INTEROP_SECRET=${INTEROP_SECRET:-$(random_secret)}
  local run=(env CHROMIUM="$chromium" SCREENSHOT_DIR="$ROOT/target/screenshots" node "$dir/scenario.mjs")

  # The mail group follows the reset, email-change and deletion links the server mailed over
  # real SMTP (aiosmtpd's Maildir); change-email and delete-user (by mailed link) are on for it.
  ensure_smtp
  TESSERA_SMTP_URL=$TEST_SMTP_URL TESSERA_CHANGE_EMAIL=true TESSERA_DELETE_USER=true \
    TESSERA_DELETE_USER_VERIFICATION=true start_server EdDSA
  run_scenario "browser: items 1-4, 6, 7, error feedback, mail and two-factor" \
    env TESSERA_URL="$SERVER_URL" MAILDIR="$TEST_MAILDIR" SCENARIO_GROUPS=1,2,3,4,6,7,extra,mail,two-factor "${run[@]}"

  TESSERA_JWT_EXPIRES_IN=3 start_server EdDSA
  run_scenario "browser: item 5 (TESSERA_JWT_EXPIRES_IN=3)" \
    env TESSERA_URL="$SERVER_URL" SCENARIO_GROUPS=5 "${run[@]}"
  SERVER_HOST=localhost TESSERA_PASSKEY=true start_server EdDSA
  run_scenario "browser: passkeys (TESSERA_PASSKEY=true, Chromium's virtual authenticator)" \
    env TESSERA_URL="$SERVER_URL" SCENARIO_GROUPS=passkey "${run[@]}"

  # Social sign-in through a real OpenID provider (npm's oidc-provider, ensure_oidc).
  ensure_oidc
  TESSERA_OAUTH_PROVIDERS=test-oidc TESSERA_OAUTH_TEST_OIDC_ISSUER="$TEST_OIDC_ISSUER" \
    TESSERA_OAUTH_TEST_OIDC_CLIENT_ID=tessera-test TESSERA_OAUTH_TEST_OIDC_CLIENT_SECRET=tessera-test-secret \
    start_server EdDSA
  run_scenario "browser: social sign-in (issue 18)" \
    env TESSERA_URL="$SERVER_URL" SCENARIO_GROUPS=social "${run[@]}"
  stop_oidc
  note "screenshots: target/screenshots/"
}

# The benchmark harness in smoke mode (bench/run.sh installs wrk if missing). It fails when a
# scenario gets a socket error or an answer it does not expect; speed is never judged here.
bench_stage() {
  local log n
  log=$(mktemp "${TMPDIR:-/tmp}/tessera-bench-smoke.XXXXXX")
  if ! "$ROOT/bench/run.sh" --smoke 2>&1 | tee "$log"; then
    rm -f "$log"
    die "bench/run.sh --smoke failed"
  fi
  n=$(grep -c -- ' \[ok\]$' "$log" || true)
  rm -f "$log"
  [[ $n -gt 0 ]] || die "bench/run.sh --smoke ran no scenario"
  TOTAL_PASSED=$((TOTAL_PASSED + n))
  SUMMARY+=("bench smoke: $n load scenarios answered as expected")
}

# ------------------------------------------------------------------------------------------------
# Main

STAGES=()
if [[ $# -eq 0 ]]; then
  STAGES=("${ALL_STAGES[@]}")
else
  for arg in "$@"; do
    case " ${ALL_STAGES[*]} " in
      *" $arg "*) STAGES+=("$arg") ;;
      *) die "unknown stage '$arg' (stages: ${ALL_STAGES[*]})" ;;
    esac
  done
fi
want() {
  local s
  for s in "${STAGES[@]}"; do [[ $s == "$1" ]] && return 0; done
  return 1
}

STAGE_COUNT=$((${#STAGES[@]} + 1))
banner setup "prerequisites (installing only what is missing)"
ensure_tools
if want interop; then
  ensure_interop_node_deps
  ensure_venv "$VENV" "$PY_DIR/requirements.txt" jose,jwt
fi

for stage in "${STAGES[@]}"; do
  case $stage in
    fmt) banner fmt "cargo fmt --all -- --check" ;;
    clippy) banner clippy "cargo clippy --workspace --all-targets -- -D warnings" ;;
    lint) banner lint "shellcheck and ruff" ;;
    test) banner test "cargo test --workspace (PostgreSQL via TEST_DATABASE_URL)" ;;
    security) banner security "attack suites, then cargo fuzz for ${TESSERA_FUZZ_SECONDS:-20}s per target" ;;
    interop) banner interop "interop: better-auth client, python-jose HS256, PyJWT JWKS against $INTEROP_SERVER" ;;
    clients) banner clients "clients: pytest (python/tessera-fastapi, examples/fastapi-tasks), node --test (clients/js) against tessera" ;;
    compat) banner compat "compat: Tessera vs a real Better Auth 1.7.25, adoption in place, side by side, guard refetch" ;;
    browser) banner browser "browser: headless Chromium tests of the web app (interop/browser)" ;;
    bench) banner bench "bench/run.sh --smoke (the benchmark harness works; speed is not judged)" ;;
  esac
  "${stage}_stage"
done

CURRENT_STAGE=summary
printf '\n==> all stages passed in %ds\n' "$SECONDS"
printf '    %s\n' "${SUMMARY[@]}"
if [[ $TOTAL_SKIPPED -gt 0 ]]; then
  echo "summary: $TOTAL_PASSED passed, 0 failed, $TOTAL_SKIPPED skipped"
else
  echo "summary: $TOTAL_PASSED passed, 0 failed"
fi
