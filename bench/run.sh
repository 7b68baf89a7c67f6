#!/usr/bin/env bash
# The performance benchmark (bench/bench.py): real Dovecot + Postfix on loopback (started by
# the shared tests/mailserver/up.sh, in a state dir and on ports of their own so a test run
# cannot disturb it), the release binary, one JSON object and a short table at the end.
#   bench/run.sh                      # backlogs of 1000 and 10000, suppressed 10000, latency 60 s
#   bench/run.sh --sizes 1000 --latency-seconds 10 --skip-suppressed   # a quick look
#   bench/run.sh --engines sqlite     # SQLite only (the default is SQLite and PostgreSQL)
# PostgreSQL: tests/pgserver/up.sh in a state dir and on a port of their own (.pgenv-bench,
# 12432; BENCH_PGENV_DIR, BENCH_PGENV_PORT), passed to bench.py in BENCH_PG_* variables.
set -euo pipefail
cd "$(dirname "$0")/.."
export MAILENV_DIR="${MAILENV_DIR:-$PWD/.mailenv-bench}"
export MAILENV_IMAP_PORT="${MAILENV_IMAP_PORT:-12143}" MAILENV_LMTP_PORT="${MAILENV_LMTP_PORT:-12024}"
export MAILENV_SMTP_PORT="${MAILENV_SMTP_PORT:-12025}" MAILENV_SUBMISSION_PORT="${MAILENV_SUBMISSION_PORT:-12587}"
tests/mailserver/up.sh >/dev/null
engines=sqlite,postgres
prev=""
for a in "$@"; do
    case "$prev" in --engines) engines="$a" ;; esac
    case "$a" in --engines=*) engines="${a#--engines=}" ;; esac
    prev="$a"
done
python=python3
if [[ ",$engines," == *,postgres,* ]]; then
    pgenv="$(PGENV_DIR="${BENCH_PGENV_DIR:-$PWD/.pgenv-bench}" PGENV_PORT="${BENCH_PGENV_PORT:-12432}" tests/pgserver/up.sh)"
    val() { sed -n "s/^$1=//p" <<<"$pgenv"; }
    export BENCH_PG_DIR="$(val PGENV_DIR)" BENCH_PG_PORT="$(val PGENV_PORT)" BENCH_PG_URL="$(val PGENV_URL)"
    export BENCH_PG_PASSWORD_FILE="$(val PGENV_PASSWORD_FILE)" BENCH_PG_CA="$(val PGENV_CA)"
    export BENCH_PG_SOCKET_DIR="$(val PGENV_SOCKET_DIR)"
    # psycopg2 reads the progress counts over one connection (else one psql per poll).
    if ! python3 -c 'import psycopg2' 2>/dev/null; then
        if /usr/bin/python3 -c 'import psycopg2' 2>/dev/null; then
            python=/usr/bin/python3
        elif ((EUID == 0)) && command -v apt-get >/dev/null; then
            DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends \
                python3-psycopg2 >&2 || true
            /usr/bin/python3 -c 'import psycopg2' 2>/dev/null && python=/usr/bin/python3
        fi
    fi
fi
cargo build --release --quiet
# The binary just built, also when CARGO_TARGET_DIR puts it elsewhere than ./target (else
# bench/mailenv.py would run whatever ./target/release holds, perhaps an old build).
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
export MAILCASE_BIN="${MAILCASE_BIN:-$target/release/mailcase}"
exec "$python" -u bench/bench.py "$@"
