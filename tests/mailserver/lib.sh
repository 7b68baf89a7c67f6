# shellcheck shell=bash disable=SC2034 # variables here are used by the sourcing scripts
# Shared helpers for the mailcase test mail environment (Dovecot + Postfix).
# Sourced by up.sh, down.sh and ctl.sh; not meant to be run directly.
#
# Everything lives in one state dir:
#   $MAILENV_DIR (default: <repo>/.mailenv)
#     .lock            flock taken for the whole run of up/down/ctl
#     env              KEY=value lines describing the running environment
#     passwd           Dovecot passwd-file with the fixed users
#     domains          Dovecot passwd-file keyed by domain (the catch-all)
#     dovecot.conf     Dovecot config
#     run/dovecot/     Dovecot base_dir (master.pid, auth socket for Postfix)
#     lib/dovecot/     Dovecot state_dir
#     mail/<domain>/<user>/Maildir   mailboxes (owned by the mailenv user)
#     postfix/         Postfix config_directory (main.cf, master.cf)
#     spool/           Postfix queue_directory
#     postfix-data/    Postfix data_directory
#     log/             dovecot.log, dovecot-info.log, postfix.log

# Repo = two levels up from this directory (tests/mailserver -> repo).
MAILENV_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MAILENV_REPO="$(cd "$MAILENV_SCRIPT_DIR/../.." && pwd)"

MAILENV_DIR="${MAILENV_DIR:-$MAILENV_REPO/.mailenv}"
MAILENV_IMAP_PORT="${MAILENV_IMAP_PORT:-10143}"
MAILENV_LMTP_PORT="${MAILENV_LMTP_PORT:-10024}"
MAILENV_SMTP_PORT="${MAILENV_SMTP_PORT:-10025}"
MAILENV_SUBMISSION_PORT="${MAILENV_SUBMISSION_PORT:-10587}"
MAILENV_PASSWORD="secret"
MAILENV_SUPPORT_DOMAIN="support.test"
MAILENV_CUSTOMER_DOMAIN="customer.test"
MAILENV_HOST="127.0.0.1"
# Unprivileged system user that owns all mailboxes.
MAILENV_USER="mailenv"

# Packages we need from Debian.
MAILENV_PACKAGES=(dovecot-core dovecot-imapd dovecot-lmtpd postfix)

log() { printf 'mailenv: %s\n' "$*" >&2; }
die() { printf 'mailenv: ERROR: %s\n' "$*" >&2; exit 1; }

# Absolute, normalised state dir (mkdir -p first so `cd` works).
mailenv_init_paths() {
    mkdir -p "$MAILENV_DIR"
    MAILENV_DIR="$(cd "$MAILENV_DIR" && pwd)"
    export MAILENV_DIR
    ST="$MAILENV_DIR"
    DOVECOT_CONF="$ST/dovecot.conf"
    DOVECOT_BASE="$ST/run/dovecot"
    DOVECOT_PIDFILE="$DOVECOT_BASE/master.pid"
    DOVECOT_AUTH_SOCKET="$DOVECOT_BASE/auth-postfix"
    PF_CONF="$ST/postfix"
    PF_QUEUE="$ST/spool"
    PF_DATA="$ST/postfix-data"
    LOG_DIR="$ST/log"
}

# Take an exclusive lock on STATE/.lock for the rest of the process's life.
# The fd stays open (and the lock held) until the script exits.
mailenv_lock() {
    exec 9>>"$ST/.lock"
    if ! flock -w 600 9; then
        die "could not lock $ST/.lock within 600 s"
    fi
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    # shellcheck disable=SC2016 # $1 is expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# Run a daemon-starting command detached from the caller: stdin from
# /dev/null, stdout/stderr appended to STATE/log/start.log, and every other
# inherited file descriptor closed. Otherwise the daemon would keep our flock
# fd (blocking every later up/down/ctl run forever) and any pipe the caller
# reads our output through (the caller would never see EOF).
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

# Print the last lines of the logs to stderr (used on failures).
show_logs() {
    local f
    for f in "$LOG_DIR"/start.log "$LOG_DIR"/dovecot.log "$LOG_DIR"/dovecot-info.log "$LOG_DIR"/postfix.log; do
        if [[ -s "$f" ]]; then
            printf -- '----- tail %s -----\n' "$f" >&2
            tail -n 25 "$f" >&2
        fi
    done
}

# ---------------------------------------------------------------- Dovecot

# True when PID $1 exists and is not a zombie. (PID 1 in these containers
# does not reap orphans, so a dead daemon can linger as a zombie that
# `kill -0` still reports as alive.)
pid_alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)"
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# PIDs of the live children of PID $1.
child_pids() {
    local f rest ppid
    for f in /proc/[0-9]*/stat; do
        # Field 4 of /proc/PID/stat is the parent PID (comm in field 2 may
        # contain spaces, so strip through its closing parenthesis first).
        read -r rest 2>/dev/null <"$f" || continue
        rest="${rest##*) }"
        read -r _ ppid _ <<<"$rest"
        if [[ "$ppid" == "$1" ]]; then
            f="${f#/proc/}"
            printf '%s\n' "${f%/stat}"
        fi
    done
}

# PID of this state dir's Dovecot master if it is alive, else nothing (rc 1).
# Checks the process name too, so a PID reused after a reboot is not trusted.
dovecot_pid() {
    local pid comm
    [[ -s "$DOVECOT_PIDFILE" ]] || return 1
    pid="$(tr -dc '0-9' <"$DOVECOT_PIDFILE")"
    [[ -n "$pid" ]] || return 1
    pid_alive "$pid" || return 1
    comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
    [[ "$comm" == dovecot ]] || return 1
    printf '%s\n' "$pid"
}

dovecot_running() { dovecot_pid >/dev/null; }

dovecot_start() {
    if dovecot_running; then
        return 0
    fi
    [[ -f "$DOVECOT_CONF" ]] || die "no $DOVECOT_CONF; run up.sh first"
    # A stale master.pid (dead or reused PID after a reboot) would make Dovecot
    # refuse to start; dovecot_pid already said it is not ours.
    rm -f "$DOVECOT_PIDFILE"
    # Dovecot wants enough file descriptors for its client limits.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    log "starting Dovecot (imap 127.0.0.1:$MAILENV_IMAP_PORT, lmtp 127.0.0.1:$MAILENV_LMTP_PORT)"
    if ! run_detached dovecot -c "$DOVECOT_CONF"; then
        show_logs
        die "dovecot failed to start"
    fi
}

dovecot_stop() {
    local pid i c
    local -a children=()
    if ! pid="$(dovecot_pid)"; then
        return 0
    fi
    # Remember the master's children: a session process forked just as the
    # master shuts down can outlive it (it would keep its client connected).
    mapfile -t children < <(child_pids "$pid")
    log "stopping Dovecot (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        pid_alive "$pid" || break
        sleep 0.1
    done
    if pid_alive "$pid"; then
        log "Dovecot did not stop in 10 s; sending KILL to pid $pid"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    for ((i = 0; i < 30; i++)); do
        local left=0
        for c in "${children[@]}"; do
            if pid_alive "$c"; then left=1; fi
        done
        ((left)) || break
        # After 1 s, ask the stragglers (only ever this master's children).
        if ((i == 10)); then
            for c in "${children[@]}"; do
                if pid_alive "$c"; then kill -TERM "$c" 2>/dev/null || true; fi
            done
        fi
        sleep 0.1
    done
    for c in "${children[@]}"; do
        if pid_alive "$c"; then kill -KILL "$c" 2>/dev/null || true; fi
    done
    rm -f "$DOVECOT_PIDFILE"
}

# ---------------------------------------------------------------- Postfix

postfix_cmd() { postfix -c "$PF_CONF" "$@"; }

postfix_running() {
    [[ -f "$PF_CONF/main.cf" ]] || return 1
    postfix_cmd status >/dev/null 2>&1
}

postfix_start() {
    if postfix_running; then
        return 0
    fi
    [[ -f "$PF_CONF/main.cf" ]] || die "no $PF_CONF/main.cf; run up.sh first"
    log "starting Postfix (smtp 127.0.0.1:$MAILENV_SMTP_PORT, submission 127.0.0.1:$MAILENV_SUBMISSION_PORT)"
    if ! run_detached postfix -c "$PF_CONF" start; then
        show_logs
        die "postfix failed to start"
    fi
}

postfix_stop() {
    local i
    if ! postfix_running; then
        return 0
    fi
    log "stopping Postfix"
    run_detached postfix -c "$PF_CONF" stop || true
    # `postfix stop` only signals master; wait until it is really gone so the
    # port is closed when we return (tests rely on that for outage simulation).
    for ((i = 0; i < 100; i++)); do
        postfix_running || break
        sleep 0.1
    done
    if postfix_running; then
        log "Postfix did not stop in 10 s; postfix abort"
        run_detached postfix -c "$PF_CONF" abort || true
        sleep 1
    fi
}

# ---------------------------------------------------------------- waiting

# wait_ports NAME:PORT... : wait up to MAILENV_WAIT_TIMEOUT (20) seconds until
# each port accepts connections; on timeout print the log tails and fail.
wait_ports() {
    local spec name port deadline
    deadline=$((SECONDS + ${MAILENV_WAIT_TIMEOUT:-20}))
    for spec in "$@"; do
        name="${spec%%:*}"
        port="${spec##*:}"
        until port_open "$port"; do
            if ((SECONDS >= deadline)); then
                show_logs
                die "$name did not accept connections on 127.0.0.1:$port within ${MAILENV_WAIT_TIMEOUT:-20} s"
            fi
            sleep 0.1
        done
    done
}

# wait_ports_closed PORT... : wait up to 10 s until nothing listens there.
wait_ports_closed() {
    local port deadline
    deadline=$((SECONDS + 10))
    for port in "$@"; do
        while port_open "$port"; do
            ((SECONDS < deadline)) || { log "port $port still open"; return 1; }
            sleep 0.1
        done
    done
}

# Load the ports a state dir was set up with (written by up.sh), so down.sh
# and ctl.sh use the same ports without the caller repeating the env vars.
load_state_env() {
    local line key val
    [[ -f "$ST/env" ]] || return 0
    while IFS= read -r line; do
        key="${line%%=*}"
        val="${line#*=}"
        case "$key" in
            MAILENV_IMAP_PORT | MAILENV_LMTP_PORT | MAILENV_SMTP_PORT | MAILENV_SUBMISSION_PORT)
                printf -v "$key" '%s' "$val"
                ;;
        esac
    done <"$ST/env"
}
