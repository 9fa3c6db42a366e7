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
cargo test --no-fail-fast -- "$@"
