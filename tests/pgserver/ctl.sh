#!/usr/bin/env bash
# Control the test PostgreSQL server of a state dir, for fault tests.
#   ctl.sh {start|stop|restart|kill|status}
# stop = fast shutdown (clients are disconnected); kill = SIGKILL the
# postmaster (a crash: the next start runs crash recovery); start/restart wait
# until it accepts connections on 127.0.0.1 (at most PGENV_WAIT_TIMEOUT s,
# default 60, then fail with the log tail). status exits 0 when running.
# Uses $PGENV_DIR (default <repo>/.pgenv), which up.sh must have set up.
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { die "usage: $0 {start|stop|restart|kill|status}"; }
[[ $# -eq 1 ]] || usage
action="$1"
case "$action" in start | stop | restart | kill | status) ;; *) usage ;; esac

[[ -d "$PGENV_DIR" ]] || die "no state dir $PGENV_DIR; run tests/pgserver/up.sh first"
pgenv_init_paths
load_state_env

if [[ "$action" == status ]]; then
    # No lock: status must answer even while another script holds it.
    if pg_running; then
        echo "postgres running (pid $(pg_pid))" >&2
        exit 0
    fi
    echo "postgres stopped" >&2
    exit 1
fi

pgenv_lock
case "$action" in
    stop) pg_stop ;;
    kill) pg_kill ;;
    start) pg_start ;;
    restart)
        pg_stop
        pg_start
        ;;
esac
