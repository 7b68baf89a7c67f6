# shellcheck shell=bash disable=SC2034 # variables here are used by the sourcing scripts
# Shared helpers for the mailcase test PostgreSQL server.
# Sourced by up.sh, down.sh and ctl.sh; not meant to be run directly.
#
# Everything lives in one state dir:
#   $PGENV_DIR (default: <repo>/.pgenv)
#     .lock          flock taken for the whole run of up/down/ctl (not by status)
#     env            KEY=value lines describing the server (shell-sourceable)
#     password       the mailcase role's password (mode 0600, invoking user)
#     ca.crt         throwaway CA that signed the server certificate
#     tls/           ca.key, server.key, server.crt
#     data/          the cluster (PGDATA); pgenv.conf holds our settings
#     run/           unix socket directory
#     log/           postgres.log (server log), start.log (pg_ctl output),
#                    initdb.log

PGENV_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PGENV_REPO="$(cd "$PGENV_SCRIPT_DIR/../.." && pwd)"

PGENV_DIR="${PGENV_DIR:-$PGENV_REPO/.pgenv}"
PGENV_PORT="${PGENV_PORT:-10432}"
PGENV_HOST="127.0.0.1"
PGENV_USER="mailcase"
PGENV_DB="mailcase"
PGENV_PGBIN="${PGENV_PGBIN:-/usr/lib/postgresql/15/bin}"
PGENV_WAIT_TIMEOUT="${PGENV_WAIT_TIMEOUT:-60}"
START_SECONDS=0
PGENV_PACKAGES=(postgresql openssl)

log() { printf 'pgenv: %s\n' "$*" >&2; }
die() { printf 'pgenv: ERROR: %s\n' "$*" >&2; exit 1; }

# Absolute, normalised state dir and derived paths.
pgenv_init_paths() {
    mkdir -p "$PGENV_DIR"
    PGENV_DIR="$(cd "$PGENV_DIR" && pwd)"
    export PGENV_DIR
    ST="$PGENV_DIR"
    DATA="$ST/data"
    SOCK_DIR="$ST/run"
    LOG_DIR="$ST/log"
    TLS_DIR="$ST/tls"
    PIDFILE="$DATA/postmaster.pid"
    # PostgreSQL refuses to run as root: as root, the server runs as the
    # Debian package's `postgres` system user; otherwise as the caller.
    if ((EUID == 0)); then
        PG_OS_USER="postgres"
    else
        PG_OS_USER="$(id -un)"
    fi
    # The cluster's superuser role has the same name (local socket, trust).
    PG_SUPER="$PG_OS_USER"
    if ((EUID == 0)); then
        AS_PG=(runuser -u "$PG_OS_USER" --)
    else
        AS_PG=(env)
    fi
}

# Run a command as the server's OS user.
as_pg() { "${AS_PG[@]}" "$@"; }

# Take an exclusive lock on STATE/.lock for the rest of the process's life.
pgenv_lock() {
    # A non-root caller of a state dir set up by root may only read it;
    # flock works on a read-only fd too.
    if [[ -w "$ST/.lock" ]] || [[ ! -e "$ST/.lock" && -w "$ST" ]]; then
        exec 9>>"$ST/.lock"
    else
        exec 9<"$ST/.lock"
    fi
    flock -w 600 9 || die "could not lock $ST/.lock within 600 s"
}

# True when PID $1 exists and is not a zombie (PID 1 in these containers
# may not reap orphans, and a killed postmaster can linger as a zombie that
# `kill -0` - and so PostgreSQL's own lock-file check - reports as alive).
pid_alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)"
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# PID of this state dir's postmaster if it is alive, else nothing (rc 1).
pg_pid() {
    local pid comm
    [[ -s "$PIDFILE" ]] || return 1
    pid="$(head -n 1 "$PIDFILE" | tr -dc '0-9')"
    [[ -n "$pid" ]] || return 1
    pid_alive "$pid" || return 1
    comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
    [[ "$comm" == postgres ]] || return 1
    printf '%s\n' "$pid"
}

pg_running() { pg_pid >/dev/null; }

# PIDs of the live children of PID $1.
child_pids() {
    local f rest ppid
    for f in /proc/[0-9]*/stat; do
        read -r rest 2>/dev/null <"$f" || continue
        rest="${rest##*) }"
        read -r _ ppid _ <<<"$rest"
        if [[ "$ppid" == "$1" ]]; then
            f="${f#/proc/}"
            printf '%s\n' "${f%/stat}"
        fi
    done
}

# Run a daemon-starting command with stdin from /dev/null, output appended
# to STATE/log/start.log and every other inherited fd closed (the server
# must not keep our flock fd or the pipe a caller reads our stdout from).
run_detached() {
    (
        local fd
        for fd in /proc/self/fd/*; do
            fd="${fd##*/}"
            if ((fd > 2)); then
                eval "exec $fd>&-" 2>/dev/null || true
            fi
        done
        exec "$@" </dev/null >>"$LOG_DIR/start.log" 2>&1
    )
}

show_logs() {
    local f
    for f in "$LOG_DIR/start.log" "$LOG_DIR/postgres.log"; do
        if [[ -s "$f" ]]; then
            printf -- '----- tail %s -----\n' "$f" >&2
            tail -n 25 "$f" >&2
        fi
    done
}

# True when this state dir's server accepts connections on its unix socket
# and on 127.0.0.1:$PGENV_PORT. (TCP alone could be another cluster that
# holds the port; our socket file exists only while our server runs.)
pg_ready() {
    [[ -S "$SOCK_DIR/.s.PGSQL.$PGENV_PORT" ]] || return 1
    "$PGENV_PGBIN/pg_isready" -q -t 2 -h "$SOCK_DIR" -p "$PGENV_PORT" -d postgres >/dev/null 2>&1 || return 1
    "$PGENV_PGBIN/pg_isready" -q -t 2 -h "$PGENV_HOST" -p "$PGENV_PORT" -d postgres >/dev/null 2>&1
}

# Wait (at most PGENV_WAIT_TIMEOUT s) until the server accepts connections;
# on timeout or when the postmaster died, print the log tails and fail.
pg_wait_ready() {
    local deadline=$((SECONDS + PGENV_WAIT_TIMEOUT))
    until pg_ready; do
        if ((SECONDS >= deadline)); then
            show_logs
            die "PostgreSQL did not accept connections on $PGENV_HOST:$PGENV_PORT within $PGENV_WAIT_TIMEOUT s"
        fi
        # Give the postmaster 1 s to write its pid file before judging it dead.
        if ((SECONDS > START_SECONDS + 1)) && ! pg_running; then
            show_logs
            die "PostgreSQL exited during startup (see the log above)"
        fi
        sleep 0.1
    done
}

# Remove lock files left by a postmaster that is gone (SIGKILL, reboot).
# PostgreSQL would trust a zombie's PID in them and refuse to start.
remove_stale_locks() {
    local f pid
    for f in "$PIDFILE" "$SOCK_DIR/.s.PGSQL.$PGENV_PORT.lock"; do
        [[ -f "$f" ]] || continue
        pid="$(head -n 1 "$f" | tr -dc '0-9')"
        if [[ -z "$pid" ]] || ! pid_alive "$pid"; then
            rm -f "$f"
        fi
    done
}

pg_start() {
    if pg_running; then
        pg_wait_ready
        return 0
    fi
    [[ -f "$DATA/PG_VERSION" ]] || die "no cluster in $DATA; run tests/pgserver/up.sh first"
    [[ -x "$PGENV_PGBIN/pg_ctl" ]] || die "$PGENV_PGBIN/pg_ctl not found; run tests/pgserver/up.sh as root (installs postgresql)"
    remove_stale_locks
    log "starting PostgreSQL ($PGENV_HOST:$PGENV_PORT, socket $SOCK_DIR)"
    START_SECONDS=$SECONDS
    # -W: do not let pg_ctl wait; pg_wait_ready checks the TCP listener.
    if ! run_detached "${AS_PG[@]}" "$PGENV_PGBIN/pg_ctl" start -W -D "$DATA" -l "$LOG_DIR/postgres.log"; then
        show_logs
        die "pg_ctl start failed"
    fi
    pg_wait_ready
}

# Fast shutdown (disconnects clients, rolls back open transactions).
pg_stop() {
    local pid i
    pid="$(pg_pid)" || { remove_stale_locks; return 0; }
    log "stopping PostgreSQL (pid $pid)"
    kill -INT "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        pid_alive "$pid" || break
        sleep 0.1
    done
    if pid_alive "$pid"; then
        log "PostgreSQL did not stop in 30 s; immediate shutdown"
        kill -QUIT "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            pid_alive "$pid" || break
            sleep 0.1
        done
    fi
    pid_alive "$pid" && die "PostgreSQL (pid $pid) did not stop"
    remove_stale_locks
}

# SIGKILL the postmaster (crash simulation). Its backends notice the
# postmaster's death and exit; wait for them so a following start does not
# find the old shared memory still attached.
pg_kill() {
    local pid i c left
    local -a children=()
    pid="$(pg_pid)" || { log "PostgreSQL is not running"; return 0; }
    mapfile -t children < <(child_pids "$pid")
    log "killing PostgreSQL postmaster (pid $pid) with SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        left=0
        pid_alive "$pid" && left=1
        for c in "${children[@]}"; do
            if pid_alive "$c"; then left=1; fi
        done
        ((left)) || break
        sleep 0.1
    done
    for c in "${children[@]}"; do
        if pid_alive "$c"; then kill -KILL "$c" 2>/dev/null || true; fi
    done
}

# Load the port a state dir was set up with, so down.sh and ctl.sh use it
# without the caller repeating PGENV_PORT.
load_state_env() {
    local port
    [[ -f "$ST/env" ]] || return 0
    port="$(sed -n 's/^PGENV_PORT=//p' "$ST/env")"
    [[ -n "$port" ]] && PGENV_PORT="$port"
    return 0
}
