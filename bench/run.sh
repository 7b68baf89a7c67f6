#!/usr/bin/env bash
# The performance benchmark (bench/bench.py): real Dovecot + Postfix on loopback (started by
# the shared tests/mailserver/up.sh, in a state dir and on ports of their own so a test run
# cannot disturb it), the release binary, one JSON object and a short table at the end.
#   bench/run.sh                      # backlogs of 1000 and 10000, suppressed 10000, latency 60 s
#   bench/run.sh --sizes 1000 --latency-seconds 10 --skip-suppressed   # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
export MAILENV_DIR="${MAILENV_DIR:-$PWD/.mailenv-bench}"
export MAILENV_IMAP_PORT="${MAILENV_IMAP_PORT:-12143}" MAILENV_LMTP_PORT="${MAILENV_LMTP_PORT:-12024}"
export MAILENV_SMTP_PORT="${MAILENV_SMTP_PORT:-12025}" MAILENV_SUBMISSION_PORT="${MAILENV_SUBMISSION_PORT:-12587}"
tests/mailserver/up.sh >/dev/null
cargo build --release --quiet
# The binary just built, also when CARGO_TARGET_DIR puts it elsewhere than ./target (else
# bench/mailenv.py would run whatever ./target/release holds, perhaps an old build).
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
export MAILCASE_BIN="${MAILCASE_BIN:-$target/release/mailcase}"
exec python3 -u bench/bench.py "$@"
