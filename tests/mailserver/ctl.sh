#!/usr/bin/env bash
# Control one server of a mail test state dir, for fault-injection tests.
#   ctl.sh {start|stop|restart|status} {postfix|dovecot}
# e.g. `ctl.sh stop postfix` simulates an SMTP outage (the SMTP and submission
# ports close; IMAP keeps working), `ctl.sh restart dovecot` drops all IMAP
# connections. `status` exits 0 when the server is running, 1 when not.
# Uses $MAILENV_DIR (default <repo>/.mailenv); the state dir must have been
# set up by up.sh. start/restart wait until the server's ports answer.
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { die "usage: $0 {start|stop|restart|status} {postfix|dovecot}"; }
[[ $# -eq 2 ]] || usage
action="$1"
server="$2"
case "$server" in postfix | dovecot) ;; *) usage ;; esac
case "$action" in start | stop | restart | status) ;; *) usage ;; esac

[[ -d "$MAILENV_DIR" ]] || die "no state dir $MAILENV_DIR; run tests/mailserver/up.sh first"
mailenv_init_paths
load_state_env

if [[ "$action" == status ]]; then
    # No lock: status must answer even while another script holds it.
    if "${server}_running"; then
        echo "$server running" >&2
        exit 0
    fi
    echo "$server stopped" >&2
    exit 1
fi

mailenv_lock
case "$server" in
    postfix) ports=("smtp:$MAILENV_SMTP_PORT" "submission:$MAILENV_SUBMISSION_PORT") ;;
    dovecot) ports=("imap:$MAILENV_IMAP_PORT" "lmtp:$MAILENV_LMTP_PORT") ;;
esac

if [[ "$action" == stop || "$action" == restart ]]; then
    "${server}_stop"
    wait_ports_closed "${ports[@]##*:}" || true
fi
if [[ "$action" == start || "$action" == restart ]]; then
    if [[ "$server" == dovecot ]]; then
        ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    fi
    "${server}_start"
    wait_ports "${ports[@]}"
fi
