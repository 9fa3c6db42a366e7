#!/usr/bin/env bash
# The one test command (README, CI): installs what is missing (Debian: mariadb-server,
# postgresql, dnsmasq-base, nftables, iproute2, python3-aiosmtpd, chromium,
# monitoring-plugins-basic and -standard, prometheus (promtool); nginx-light and
# apache2-utils for the bench smoke), starts MariaDB and PostgreSQL on loopback
# in a temporary directory, runs cargo fmt --check, clippy with -D warnings and the whole
# test suite against SQLite, MariaDB and PostgreSQL, and stops what it started, also on
# failure; then schemathesis against `bearmon up` (PyPI), the bench smoke, a 2-minute chaos run and
# 30 s of fuzzing per target. Needs root (packages, network namespaces, raw ICMP sockets).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh

trap stop_services EXIT
start_services

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo run -- --version (the README's first command must find the bearmon binary)"
cargo run --quiet -- --version
echo "== cargo test"
# tests/edges.rs holds 10,000 connections open (it needs a limit of at least 12,000).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log="$BM_TMP/cargo-test.log"
status=0
cargo test --no-fail-fast -- "$@" 2>&1 | tee "$log" || status=$?
# The API against its OpenAPI document (schemathesis from PyPI, fixed seed, 120 s).
echo "== schemathesis: scripts/schemathesis.sh 120"
if ! bash scripts/schemathesis.sh 120 > "$BM_TMP/schemathesis.log" 2>&1; then
  echo "schemathesis: FAILED"
  tail -n 150 "$BM_TMP/schemathesis.log" || true
  status=1
else
  grep -E "generated|passed|failures" "$BM_TMP/schemathesis.log" | tail -n 3
fi
# Keep the benchmark harness working: a tiny run (BENCHMARKS.md has the real ones).
echo "== bench smoke: scripts/bench.sh --debug --checks 200 --seconds 10"
if bash scripts/bench.sh --debug --checks 200 --seconds 10 --interval 5 --ab-requests 1000 \
    > "$BM_TMP/bench-smoke.json" 2> "$BM_TMP/bench-smoke.log" \
    && grep -q '"executions_per_s"' "$BM_TMP/bench-smoke.json"; then
  echo "bench smoke: ok ($(grep '"executions_per_s"' "$BM_TMP/bench-smoke.json" | tr -d ' ,'))"
else
  echo "bench smoke: FAILED"
  cat "$BM_TMP/bench-smoke.log" "$BM_TMP/bench-smoke.json" || true
  status=1
fi
# The short chaos run (RELIABILITY.md has the long ones): a fixed seed, PostgreSQL.
echo "== chaos: scripts/chaos.sh --debug --minutes 2 --seed 7"
if bash scripts/chaos.sh --debug --minutes 2 --seed 7 > "$BM_TMP/chaos.log" 2>&1; then
  grep -E '^(PASS|FAIL) |^chaos: (PASS|FAIL|[0-9]+ faults)' "$BM_TMP/chaos.log"
else
  echo "chaos: FAILED"
  tail -n 80 "$BM_TMP/chaos.log" || true
  status=1
fi
# A short fuzz run of every target (scripts/fuzz.sh; 30 s each).
echo "== fuzz: scripts/fuzz.sh --seconds 30"
if ! bash scripts/fuzz.sh --seconds 30; then
  echo "fuzz: FAILED"
  status=1
fi
# One plain closing line over every test binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "total: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
