#!/usr/bin/env bash
# The whole test suite, on both storage engines: first on SQLite (the default), then on
# PostgreSQL 15, which tests/pgserver/up.sh installs (as root, from Debian) when missing and
# starts on a loopback port; every test that keeps cases then runs in a PostgreSQL database
# of its own, over TLS with a password from a file. Arguments go to both
# `cargo test --all-targets` runs: `tests/all.sh failover` runs the tests whose names hold
# "failover", `tests/all.sh -- --nocapture` shows what they print.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== the test suite on SQLite"
cargo test --all-targets "$@"

echo "== the test suite on PostgreSQL"
eval "$(tests/pgserver/up.sh)"
# ctl.sh (the failover test restarts the server) finds it by its state dir.
export PGENV_DIR
export MAILCASE_TEST_PG_URL="$PGENV_URL"
export MAILCASE_TEST_PG_PASSWORD_FILE="$PGENV_PASSWORD_FILE"
export MAILCASE_TEST_PG_CA="$PGENV_CA"
cargo test --all-targets "$@"

# Each test made a database of its own (mc_<pid>_<n>_<random>): drop them.
PGPASSWORD="$(cat "$PGENV_PASSWORD_FILE")" psql "$PGENV_URL" -Atqc \
    "SELECT datname FROM pg_database WHERE datname LIKE 'mc\_%'" |
    while read -r db; do
        PGPASSWORD="$(cat "$PGENV_PASSWORD_FILE")" psql "$PGENV_URL" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null
    done
echo "== the test suite passed on SQLite and on PostgreSQL"
