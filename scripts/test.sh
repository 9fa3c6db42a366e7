#!/usr/bin/env bash
# The one test command (README, CI): installs what is missing (Debian: mariadb-server,
# postgresql, dnsmasq-base, nftables, iproute2), starts MariaDB and PostgreSQL on loopback
# in a temporary directory, runs cargo fmt --check, clippy with -D warnings and the whole
# test suite against SQLite, MariaDB and PostgreSQL, and stops what it started, also on
# failure. Needs root (packages, network namespaces, raw ICMP sockets).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh

trap stop_services EXIT
start_services

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
log="$BM_TMP/cargo-test.log"
status=0
cargo test --no-fail-fast -- "$@" 2>&1 | tee "$log" || status=$?
# One plain closing line over every test binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "total: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
