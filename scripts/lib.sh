# shellcheck shell=bash
# Shell helpers shared by scripts/test.sh and bench/run.sh; sourced, never run. The sourcing
# script sets ROOT (the repository) and SCRIPT_NAME (how its errors begin) first. Every installer
# installs only what is missing and remembers what it installed from (a checksum stamp), so a
# second run does nothing.

note() { printf -- '--> %s\n' "$*"; }
die() {
  printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

APT_UPDATED=0
# apt_install PACKAGE...: Debian packages, as root or through sudo, apt-get update once per run.
apt_install() {
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    have sudo || die "need root or sudo to install: $*"
    sudo=(sudo -n)
  fi
  have apt-get || die "apt-get not found; install these by hand: $*"
  if [[ $APT_UPDATED -eq 0 ]]; then
    note "apt-get update"
    "${sudo[@]}" apt-get update -qq </dev/null
    APT_UPDATED=1
  fi
  note "apt-get install $*"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@" </dev/null
}

# cargo on PATH (rustup's default place when a fresh shell has not picked it up), or fail.
ensure_cargo() {
  if ! have cargo && [[ -x ${CARGO_HOME:-$HOME/.cargo}/bin/cargo ]]; then
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
  fi
  have cargo || die "cargo not found: install the Rust toolchain with rustup (Debian's is too old)"
}

# True if `node` is at least 20.19 (better-auth's @noble/* dependencies need it).
node_ok() {
  have node && node -e 'const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null
}

# node and npm installed, and node recent enough, or fail.
ensure_node() {
  { have node && have npm; } || apt_install nodejs npm
  node_ok || die "Node.js >= 20.19 is needed (found $(node --version 2>/dev/null || echo none))"
}

# ensure_npm_deps DIR MARKER [NAME=VALUE...]: npm ci in DIR with the given environment, skipped
# when DIR/node_modules was installed from the same package-lock.json by the same Node and
# DIR/node_modules/MARKER exists. Never downloads a browser (playwright-core's install step).
ensure_npm_deps() {
  local dir=$1 marker=$2 stamp want_sum
  shift 2
  stamp=$dir/node_modules/.tessera-lock.sha256
  want_sum=$( (cat "$dir/package-lock.json"; node --version) | sha256sum | cut -d' ' -f1)
  if [[ -f $stamp && $(<"$stamp") == "$want_sum" && -e $dir/node_modules/$marker ]]; then
    note "${dir#"$ROOT"/}: node_modules up to date"
    return
  fi
  note "${dir#"$ROOT"/}: npm ci"
  (cd "$dir" && env PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$@" npm ci --no-audit --no-fund --loglevel=error </dev/null)
  printf '%s\n' "$want_sum" >"$stamp"
}

# npm ci in interop/: Better Auth 1.7.25 (the client, and interop/better-auth-server.mjs, the one
# Better Auth server every stage and the benchmarks use) with its database drivers. better-sqlite3
# is a native module, built here from source against the installed Node's headers (its prebuilt
# download is offline).
ensure_interop_node_deps() {
  local nodedir
  ensure_node
  { have make && have g++; } || apt_install make g++
  nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  [[ -f $nodedir/include/node/node_api.h ]] || apt_install libnode-dev
  [[ -f $nodedir/include/node/node_api.h ]] || nodedir=/usr
  ensure_npm_deps "$ROOT/interop" better-sqlite3/build "npm_config_nodedir=$nodedir"
}

# ensure_venv VENV REQUIREMENTS MODULES: a venv with `pip install -r REQUIREMENTS`, redone only when
# the file or python3 changes or one of MODULES (comma-separated) no longer imports.
ensure_venv() {
  local venv=$1 requirements=$2 modules=$3 stamp want_sum
  stamp=$venv/.tessera-requirements.sha256
  want_sum=$( (cat "$requirements"; python3 --version) | sha256sum | cut -d' ' -f1)
  if [[ -f $stamp && $(<"$stamp") == "$want_sum" ]] &&
    "$venv/bin/python" -c "import $modules" >/dev/null 2>&1; then
    note "${venv#"$ROOT"/}: up to date"
    return
  fi
  note "${venv#"$ROOT"/}: python3 -m venv + pip install -r ${requirements#"$ROOT"/}"
  python3 -m venv --clear "$venv"
  pip_install "$venv" -r "$requirements"
  printf '%s\n' "$want_sum" >"$stamp"
}

# pip_install VENV ARGS...: pip install ARGS into VENV, quietly, retried once: a registry hiccup
# should not fail the whole run.
pip_install() {
  local venv=$1 attempt
  shift
  for attempt in 1 2; do
    if "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q "$@" </dev/null; then
      return
    fi
    [[ $attempt -lt 2 ]] || die "pip install $* failed twice"
    note "pip install failed; retrying once"
  done
}

free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

redact_url() { sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#' <<<"$1"; }

# ------------------------------------------------------------------------------------------------
# PostgreSQL: the server TEST_DATABASE_URL names, or a throwaway cluster. The sourcing script calls
# stop_postgres on exit (it does nothing unless start_throwaway_postgres ran).

DEFAULT_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
PG_DIR=""
PG_RUN=()
PG_BIN=""

pg_answers() { PGCONNECT_TIMEOUT=5 psql "$1" -XqtAc 'select 1' 2>/dev/null | grep -qx 1; }

pg_bin_dir() {
  local dir
  dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n1)
  [[ -n $dir && -x $dir/initdb && -x $dir/pg_ctl ]] || return 1
  echo "$dir"
}

ensure_postgres() {
  TEST_DATABASE_URL=${TEST_DATABASE_URL:-$DEFAULT_DATABASE_URL}
  if pg_answers "$TEST_DATABASE_URL"; then
    note "PostgreSQL: using $(redact_url "$TEST_DATABASE_URL")"
    export TEST_DATABASE_URL
    return
  fi
  note "PostgreSQL at $(redact_url "$TEST_DATABASE_URL") does not answer: starting a throwaway cluster"
  start_throwaway_postgres
}

start_throwaway_postgres() {
  PG_BIN=$(pg_bin_dir) || {
    apt_install postgresql
    PG_BIN=$(pg_bin_dir) || die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
  }
  PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tessera-pg.XXXXXX")
  PG_RUN=()
  if [[ $(id -u) -eq 0 ]]; then # postgres refuses to run as root
    local user=postgres
    if ! id -u "$user" >/dev/null 2>&1; then
      user=tessera-pg
      id -u "$user" >/dev/null 2>&1 ||
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
    fi
    chown "$user:" "$PG_DIR"
    PG_RUN=(runuser -u "$user" --)
  fi
  local port
  port=$(free_port)
  note "initdb in $PG_DIR ($PG_BIN)"
  if ! (cd "$PG_DIR" && "${PG_RUN[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust \
    -E UTF8 --locale=C --no-sync) >"$PG_DIR/initdb.log" 2>&1; then
    cat "$PG_DIR/initdb.log" >&2
    die "initdb failed"
  fi
  note "starting PostgreSQL on 127.0.0.1:$port"
  if ! (cd "$PG_DIR" && "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" \
    -w -t 60 -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$PG_DIR \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start) >/dev/null; then
    cat "$PG_DIR/postgres.log" >&2
    die "PostgreSQL did not start"
  fi
  TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres
  pg_answers "$TEST_DATABASE_URL" || die "the throwaway PostgreSQL does not answer"
  export TEST_DATABASE_URL
  note "PostgreSQL: using $TEST_DATABASE_URL (pid $(head -n1 "$PG_DIR/data/postmaster.pid"))"
}

stop_postgres() {
  [[ -n $PG_DIR ]] || return 0
  local pidfile=$PG_DIR/data/postmaster.pid pid=""
  if [[ -f $pidfile ]]; then
    pid=$(head -n1 "$pidfile")
    (cd "$PG_DIR" && "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop) \
      >/dev/null 2>&1 || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$PG_DIR"
  PG_DIR=""
  note "throwaway PostgreSQL stopped${pid:+ (pid $pid)}"
}
