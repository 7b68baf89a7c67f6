#!/usr/bin/env bash
# Stop the Dovecot and Postfix of one mail test state dir
# ($MAILENV_DIR, default <repo>/.mailenv).
#   down.sh           stop both servers, keep configs and mail
#   down.sh --purge   stop them and remove the whole state dir
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0
case "${1:-}" in
    "") ;;
    --purge) purge=1 ;;
    -h | --help)
        echo "usage: $0 [--purge]" >&2
        exit 0
        ;;
    *) die "usage: $0 [--purge]" ;;
esac

if [[ ! -d "$MAILENV_DIR" ]]; then
    log "no state dir $MAILENV_DIR; nothing to do"
    exit 0
fi
mailenv_init_paths
mailenv_lock
load_state_env

# Postfix first, so nothing is mid-delivery to a vanishing Dovecot.
if command -v postfix >/dev/null; then
    postfix_stop
fi
dovecot_stop
wait_ports_closed "$MAILENV_IMAP_PORT" "$MAILENV_LMTP_PORT" "$MAILENV_SMTP_PORT" \
    "$MAILENV_SUBMISSION_PORT" || true

if ((purge)); then
    log "removing $ST"
    rm -rf -- "$ST"
fi
log "stopped"
