#!/usr/bin/env bash
# Runs Tessera's cargo-fuzz targets, each for a bounded time; scripts/test.sh's `security` stage
# calls it. Nothing is written into the repository: libFuzzer's working corpus lives in a temp
# directory (the committed seeds in corpus/<target>/seed-* are read, never written), and a
# crashing input is kept under fuzz/artifacts/<target>/ (gitignored) with the command that
# replays it.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     default: 20 seconds, every target
#
# Needs cargo-fuzz (installed with `cargo install cargo-fuzz --locked` when missing). It runs on
# stable Rust: RUSTC_BOOTSTRAP=1 lets stable rustc take the -Z sanitizer/coverage flags
# cargo-fuzz passes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
FUZZ_DIR=$PWD

die() {
  printf 'fuzz/run.sh: error: %s\n' "$*" >&2
  exit 1
}

SECONDS_PER_TARGET=${1:-20}
[[ $# -gt 0 ]] && shift
[[ $SECONDS_PER_TARGET =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a positive integer, not '$SECONDS_PER_TARGET'"

export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  if ! command -v cargo >/dev/null 2>&1 && [[ -x ${CARGO_HOME:-$HOME/.cargo}/bin/cargo ]]; then
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
  fi
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "--> cargo install cargo-fuzz --locked"
    cargo install cargo-fuzz --locked
  fi
fi

mapfile -t ALL_TARGETS < <(cargo fuzz list)
[[ ${#ALL_TARGETS[@]} -gt 0 ]] || die "cargo fuzz list found no targets"
if [[ $# -gt 0 ]]; then
  TARGETS=("$@")
  for t in "${TARGETS[@]}"; do
    printf '%s\n' "${ALL_TARGETS[@]}" | grep -qx -- "$t" || die "unknown target '$t' (targets: ${ALL_TARGETS[*]})"
  done
else
  TARGETS=("${ALL_TARGETS[@]}")
fi

# Longest input per target: a token may be up to 8 KiB (MAX_TOKEN_BYTES), so the JWT targets go
# a little past it to reach the size check from both sides.
max_len() {
  case $1 in
    jwt_verify | jwt_signed) echo 9000 ;;
    *) echo 4096 ;;
  esac
}

# Unoptimised (--dev) with AddressSanitizer: it builds in a fraction of the release time, which
# matters more for a bounded smoke run than executions per second, and debug builds keep
# overflow checks and a smaller stack budget (this is how the recursive origin matcher's stack
# overflow was found). TESSERA_FUZZ_PROFILE=release switches to optimised builds for long runs.
PROFILE_FLAG=--dev
[[ ${TESSERA_FUZZ_PROFILE:-dev} == release ]] && PROFILE_FLAG=--release
echo "--> cargo fuzz build $PROFILE_FLAG (debug assertions, AddressSanitizer)"
cargo fuzz build "$PROFILE_FLAG"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessera-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SUMMARY=()
for target in "${TARGETS[@]}"; do
  corpus=$WORK/corpus/$target
  artifacts=$FUZZ_DIR/artifacts/$target
  log=$WORK/$target.log
  mkdir -p "$corpus" "$artifacts"
  seeds=()
  [[ -d corpus/$target ]] && seeds=("corpus/$target")
  echo "--> $target: ${SECONDS_PER_TARGET}s"
  if ! cargo fuzz run "$PROFILE_FLAG" "$target" "$corpus" "${seeds[@]}" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len="$(max_len "$target")" -timeout=10 \
    -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    crash=$(find "$artifacts" -type f -newer "$log" -print -quit 2>/dev/null || true)
    die "target $target failed${crash:+; input kept at $crash, replay with: RUSTC_BOOTSTRAP=1 cargo fuzz run $target $crash}"
  fi
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n1)
  # `|| true`: a log without a coverage line must reach the check below, not end the script
  # silently through `set -e`.
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n1 | cut -d' ' -f2 || true)
  # A target that exits 0 without executing anything (a build that links no fuzzer, an option
  # libFuzzer ignores, a corpus it cannot read) has tested nothing: that is a failure too.
  if [[ -z $runs || $runs -eq 0 ]]; then
    tail -n 60 "$log" >&2
    die "target $target ran no input (stat::number_of_executed_units: ${runs:-missing})"
  fi
  SUMMARY+=("$target: $runs runs, ${cov:-?} coverage points, no crash")
  rmdir "$artifacts" 2>/dev/null || true
done
rmdir "$FUZZ_DIR/artifacts" 2>/dev/null || true

echo "==> fuzzing passed (${SECONDS_PER_TARGET}s per target)"
printf '    %s\n' "${SUMMARY[@]}"
