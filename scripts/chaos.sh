#!/usr/bin/env bash
# The chaos harness: a viewserver and workers as separate processes on PostgreSQL (or, with
# --mariadb, MariaDB), a few hundred checks against a target farm whose timeline comes from a
# printed seed, faults injected one after another for --minutes (kill -9 of the controller,
# a worker, the viewserver; a SIGSTOPped controller; the database stopped; a worker blinded
# by nftables; the webhook receiver down), then one verdict line per invariant and a summary
# (src/bin/bearmon-chaos/ does the work). Exit code 0 only when every invariant holds.
# Needs root (per-worker users, nftables, stopping the database).
#
#   scripts/chaos.sh [--minutes N] [--seed S] [--mariadb] [--debug] [--report FILE]
#                    [--workers 3..5] [--checks N]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh

profile=release
backend=pg
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) profile=debug; shift ;;
    --mariadb) backend=mysql; shift ;;
    *) args+=("$1"); shift ;;
  esac
done

if [ "$profile" = release ]; then
  cargo build --release --quiet --bins
else
  cargo build --quiet --bins
fi

# Reuse the database servers of scripts/test.sh when it runs the short chaos run.
own_services=0
[ -n "${BEARMON_TEST_PG:-}" ] && [ -n "${BM_TMP:-}" ] || own_services=1
cleanup() { [ "$own_services" = 1 ] && stop_services; return 0; }
trap cleanup EXIT
[ "$own_services" = 1 ] && start_services

if [ "$backend" = pg ]; then
  db=$BEARMON_TEST_PG
else
  db=$BEARMON_TEST_MYSQL
fi
"target/$profile/bearmon-chaos" --db "$db" --bin "target/$profile/bearmon" \
  --db-down "source scripts/services.sh && ${backend}_down" \
  --db-up "source scripts/services.sh && ${backend}_up" "${args[@]}"
