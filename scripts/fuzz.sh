#!/usr/bin/env bash
# Fuzzing with cargo-fuzz (libFuzzer, AddressSanitizer): every input bearmon takes from
# outside has a target in fuzz/fuzz_targets/: check params JSON for every kind, contact data
# for every kind, config TOML, node-to-node messages and signature headers. Each target
# starts from the seed corpus in fuzz/seeds/ (new inputs go to a temporary directory, not
# into the repository) and runs for --seconds; a panic, a single allocation over 256 MB or
# an RSS over 2 GB is a failure, its input kept and printed.
#
#   scripts/fuzz.sh [--seconds N] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(check_params contact_data config_toml node_messages)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
# cargo-fuzz passes nightly-only flags (-Z sanitizer); this machine has one stable toolchain.
export RUSTC_BOOTSTRAP=1
cargo fuzz build --debug-assertions

work=$(mktemp -d /tmp/bearmon-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
status=0
for t in "${targets[@]}"; do
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  if cargo fuzz run --debug-assertions "$t" "$work/$t/corpus" "fuzz/seeds/$t" -- \
      -max_total_time="$seconds" -malloc_limit_mb=256 -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$work/$t/artifacts/" -print_final_stats=1 > "$work/$t.log" 2>&1; then
    runs=$(grep -m1 '^stat::number_of_executed_units' "$work/$t.log" | awk '{print $2}')
    cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -n 1 | awk '{print $2}')
    echo "fuzz $t: ok (${runs:-?} inputs in ${seconds} s, coverage ${cov:-?})"
  else
    status=1
    echo "fuzz $t: FAILED"
    tail -n 40 "$work/$t.log"
    for f in "$work/$t/artifacts/"*; do
      [ -f "$f" ] && { echo "input ($f):"; od -c "$f" | head -n 20; }
    done
  fi
done
exit "$status"
