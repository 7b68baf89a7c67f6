#!/usr/bin/env bash
# Start (or confirm running) the test PostgreSQL 15 server: one cluster in
# one state dir, listening on 127.0.0.1 (TLS with a throwaway CA, or plain)
# and on a unix socket in the state dir.
#
# Idempotent and safe to run concurrently (flock on STATE/.lock): on a
# running server it only prints the env; on a stopped one it starts it.
# stdout: only KEY=value lines (also written to STATE/env), so callers can
#   eval "$(tests/pgserver/up.sh)"
# Progress and errors go to stderr.
#
# Env: PGENV_DIR (default <repo>/.pgenv), PGENV_PORT (10432),
#      PGENV_WAIT_TIMEOUT (60 s), PGENV_PGBIN (/usr/lib/postgresql/15/bin).
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------- install

need_install() {
    [[ ! -x "$PGENV_PGBIN/postgres" ]] || ! command -v openssl >/dev/null
}

POLICY_RC=/usr/sbin/policy-rc.d
POLICY_BACKUP=""
POLICY_INSTALLED=0
restore_policy_rc() {
    if ((POLICY_INSTALLED)); then
        if [[ -n "$POLICY_BACKUP" ]]; then
            mv -f "$POLICY_BACKUP" "$POLICY_RC"
        else
            rm -f "$POLICY_RC"
        fi
        POLICY_INSTALLED=0
    fi
}

install_packages() {
    need_install || return 0
    if ((EUID != 0)); then
        die "$PGENV_PGBIN/postgres or openssl missing - run tests/pgserver/up.sh as root (it installs them), or: apt-get install ${PGENV_PACKAGES[*]}"
    fi
    # One installer at a time across all state dirs on this machine.
    exec 8>>/tmp/pgenv-install.lock
    flock -w 900 8 || die "could not take /tmp/pgenv-install.lock"
    if ! need_install; then
        exec 8>&-
        return 0
    fi
    log "installing: ${PGENV_PACKAGES[*]}"
    # Keep the package from starting its system-wide cluster (port 5432).
    if [[ -e "$POLICY_RC" ]]; then
        POLICY_BACKUP="$(mktemp /usr/sbin/policy-rc.d.pgenv.XXXXXX)"
        cp -p "$POLICY_RC" "$POLICY_BACKUP"
    fi
    POLICY_INSTALLED=1
    trap restore_policy_rc EXIT
    trap 'exit 130' INT TERM
    printf '#!/bin/sh\n# temporary, written by mailcase tests/pgserver/up.sh\nexit 101\n' >"$POLICY_RC"
    chmod 755 "$POLICY_RC"

    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update >&2
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${PGENV_PACKAGES[@]}" >&2

    restore_policy_rc
    trap - EXIT INT TERM
    exec 8>&-
    need_install && die "still missing after apt-get install: $PGENV_PGBIN/postgres or openssl"
    return 0
}

# ---------------------------------------------------------------- files

# Write $2 to file $1 only when the content changed; sets WROTE=1 if it did.
WROTE=0
write_file() {
    local path="$1" content="$2"
    if [[ ! -f "$path" ]] || [[ "$(cat "$path")" != "$(printf '%s' "$content")" ]]; then
        printf '%s\n' "$content" >"$path.tmp.$$"
        mv -f "$path.tmp.$$" "$path"
        WROTE=1
    fi
}

prepare_dirs() {
    mkdir -p "$SOCK_DIR" "$LOG_DIR" "$TLS_DIR"
    chmod 0755 "$ST" "$SOCK_DIR" "$LOG_DIR"
    chmod 0700 "$TLS_DIR"
    if ((EUID == 0)); then
        getent passwd "$PG_OS_USER" >/dev/null ||
            die "system user $PG_OS_USER missing (the Debian postgresql package creates it)"
        chown "$PG_OS_USER:" "$ST" "$SOCK_DIR" "$LOG_DIR" "$TLS_DIR"
        [[ -d "$DATA" ]] && chown "$PG_OS_USER:" "$DATA"
        touch "$LOG_DIR/postgres.log" "$LOG_DIR/start.log" "$LOG_DIR/initdb.log"
        chown "$PG_OS_USER:" "$LOG_DIR/postgres.log" "$LOG_DIR/start.log" "$LOG_DIR/initdb.log"
        if ! runuser -u "$PG_OS_USER" -- test -w "$ST" -a -x "$ST"; then
            die "user $PG_OS_USER cannot reach $ST (a parent directory is not world-searchable?); set PGENV_DIR to a path it can reach, e.g. /tmp/pgenv"
        fi
    fi
}

# Throwaway CA + server certificate for localhost / 127.0.0.1 (once).
make_tls() {
    [[ -s "$TLS_DIR/server.crt" && -s "$TLS_DIR/server.key" && -s "$ST/ca.crt" ]] && return 0
    log "generating a throwaway CA and server certificate"
    local tmp
    tmp="$(mktemp -d)"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mailcase test CA" \
        -keyout "$tmp/ca.key" -out "$tmp/ca.crt" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        2>/dev/null || die "openssl: could not create the CA"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout "$tmp/server.key" -out "$tmp/server.csr" 2>/dev/null ||
        die "openssl: could not create the server key"
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$tmp/ext"
    openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" \
        -CAcreateserial -days 3650 -extfile "$tmp/ext" -out "$tmp/server.crt" 2>/dev/null ||
        die "openssl: could not sign the server certificate"
    install -m 0600 "$tmp/ca.key" "$TLS_DIR/ca.key"
    install -m 0600 "$tmp/server.key" "$TLS_DIR/server.key"
    install -m 0644 "$tmp/server.crt" "$TLS_DIR/server.crt"
    install -m 0644 "$tmp/ca.crt" "$ST/ca.crt"
    rm -rf "$tmp"
    if ((EUID == 0)); then
        chown "$PG_OS_USER:" "$TLS_DIR/server.key" "$TLS_DIR/server.crt"
    fi
}

init_cluster() {
    [[ -f "$DATA/PG_VERSION" ]] && return 0
    local locale=C
    if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
        locale=C.UTF-8
    fi
    log "initdb $DATA (superuser $PG_SUPER, locale $locale)"
    rm -rf "$DATA"
    mkdir -m 0700 "$DATA"
    ((EUID == 0)) && chown "$PG_OS_USER:" "$DATA"
    if ! as_pg "$PGENV_PGBIN/initdb" -D "$DATA" -U "$PG_SUPER" -E UTF8 --locale="$locale" \
        --auth-local=trust --auth-host=scram-sha-256 >>"$LOG_DIR/initdb.log" 2>&1; then
        tail -n 25 "$LOG_DIR/initdb.log" >&2
        rm -rf "$DATA"
        die "initdb failed"
    fi
    printf '\n# mailcase test settings (tests/pgserver/up.sh)\ninclude = '"'"'pgenv.conf'"'"'\n' |
        as_pg tee -a "$DATA/postgresql.conf" >/dev/null
}

# Our settings and pg_hba.conf, rewritten on every run; a running server
# reloads when they changed (port/socket changes need down.sh + up.sh).
write_conf() {
    local hba
    WROTE=0
    write_file "$DATA/pgenv.conf" "# Generated by tests/pgserver/up.sh - do not edit (rewritten on start).
listen_addresses = '$PGENV_HOST'
port = $PGENV_PORT
unix_socket_directories = '$SOCK_DIR'
# The test suite opens many databases in parallel.
max_connections = 200
# Small 2-core machine.
shared_buffers = 128MB
work_mem = 4MB
maintenance_work_mem = 64MB
effective_cache_size = 512MB
# Checkpoints often and little WAL between them: every test creates a database (WAL-logged
# copies of the template), and a restart or crash mid-suite (the failover test restarts the
# server) must stop and recover in seconds, not replay hundreds of megabytes.
max_wal_size = 128MB
checkpoint_timeout = 30s
# After a crash (ctl.sh kill), sync the data directory with one syncfs() instead of an
# fsync() per file: thousands of files once the suite has made its databases.
recovery_init_sync_method = syncfs
min_wal_size = 80MB
max_worker_processes = 4
max_parallel_workers = 2
max_parallel_workers_per_gather = 1
# fsync stays on: the tests check durability.
fsync = on
synchronous_commit = on
password_encryption = scram-sha-256
ssl = on
ssl_cert_file = '$TLS_DIR/server.crt'
ssl_key_file = '$TLS_DIR/server.key'
ssl_min_protocol_version = 'TLSv1.2'
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'"
    hba="# Generated by tests/pgserver/up.sh - do not edit (rewritten on start).
# TYPE  DATABASE USER          ADDRESS        METHOD
local   all      $PG_SUPER     trust
local   all      all           scram-sha-256
hostssl all      all           127.0.0.1/32   scram-sha-256
host    all      all           127.0.0.1/32   scram-sha-256"
    write_file "$DATA/pg_hba.conf" "$hba"
    if ((EUID == 0)); then
        chown "$PG_OS_USER:" "$DATA/pgenv.conf" "$DATA/pg_hba.conf"
    fi
    chmod 0600 "$DATA/pgenv.conf" "$DATA/pg_hba.conf"
}

# psql as the superuser over the unix socket; SQL on stdin.
super_psql() {
    as_pg "$PGENV_PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
        -h "$SOCK_DIR" -p "$PGENV_PORT" -U "$PG_SUPER" -d postgres "$@"
}

# The mailcase login role (password from STATE/password) and database.
ensure_role() {
    local pw new_pw=0 owner
    if [[ ! -s "$ST/password" ]]; then
        pw="$(openssl rand -hex 24)"
        (umask 077 && printf '%s\n' "$pw" >"$ST/password.tmp.$$")
        mv -f "$ST/password.tmp.$$" "$ST/password"
        new_pw=1
    fi
    chmod 0600 "$ST/password"
    # Readable by the invoking user (through sudo: the sudo caller).
    owner="${SUDO_UID:-$(id -u)}"
    chown "$owner" "$ST/password" 2>/dev/null || true
    pw="$(tr -dc '0-9a-zA-Z' <"$ST/password")"
    [[ -n "$pw" ]] || die "$ST/password is empty or not hex; delete it and run up.sh again"

    if [[ "$(super_psql -c "select 1 from pg_roles where rolname = '$PGENV_USER'")" != 1 ]]; then
        log "creating role $PGENV_USER"
        super_psql <<<"create role $PGENV_USER login createdb password '$pw';"
    elif ((new_pw)); then
        log "setting a new password for role $PGENV_USER"
        super_psql <<<"alter role $PGENV_USER login createdb password '$pw';"
    fi
    if [[ "$(super_psql -c "select 1 from pg_database where datname = '$PGENV_DB'")" != 1 ]]; then
        log "creating database $PGENV_DB"
        super_psql <<<"create database $PGENV_DB owner $PGENV_USER;"
    fi
}

env_text() {
    printf '%s=%q\n' \
        PGENV_DIR "$ST" \
        PGENV_HOST "$PGENV_HOST" \
        PGENV_PORT "$PGENV_PORT" \
        PGENV_USER "$PGENV_USER" \
        PGENV_DB "$PGENV_DB" \
        PGENV_PASSWORD_FILE "$ST/password" \
        PGENV_CA "$ST/ca.crt" \
        PGENV_SOCKET_DIR "$SOCK_DIR" \
        PGENV_URL "postgres://$PGENV_USER@$PGENV_HOST:$PGENV_PORT/$PGENV_DB"
}

# ---------------------------------------------------------------- main

main() {
    pgenv_init_paths
    pgenv_lock

    local was_up=0 have
    # A state dir set up by root (server runs as postgres): a non-root
    # caller can use the running server but not manage it.
    if ((EUID != 0)) && [[ -e "$DATA" && ! -r "$DATA" ]]; then
        if [[ -f "$ST/env" ]] && pg_ready; then
            cat "$ST/env"
            return 0
        fi
        die "$ST was set up by root and its server is not running; run tests/pgserver/up.sh as root"
    fi
    if pg_running; then
        was_up=1
        have="$(sed -n 's/^PGENV_PORT=//p' "$ST/env" 2>/dev/null || true)"
        if [[ -n "$have" && "$have" != "$PGENV_PORT" ]]; then
            die "the server in $ST already runs with PGENV_PORT=$have (asked for $PGENV_PORT); run tests/pgserver/down.sh first"
        fi
        # Fast path: a running, set-up server only gets its config
        # refreshed (and reloaded when it changed).
        if [[ -f "$ST/env" && -s "$ST/password" && -f "$DATA/pgenv.conf" ]] && pg_ready; then
            if [[ -w "$DATA" ]]; then
                write_conf
                if ((WROTE)); then
                    log "config changed; reloading"
                    kill -HUP "$(pg_pid)" 2>/dev/null || true
                fi
            fi
            cat "$ST/env"
            return 0
        fi
    fi

    install_packages
    prepare_dirs
    make_tls
    init_cluster
    write_conf
    if ((was_up)); then
        if ((WROTE)); then
            log "config changed; reloading"
            kill -HUP "$(pg_pid)" 2>/dev/null || true
        fi
        pg_wait_ready
    else
        pg_start
    fi
    ensure_role

    WROTE=0
    write_file "$ST/env" "$(env_text)"
    chmod 0644 "$ST/env"
    if ((WROTE)) || ! ((was_up)); then
        log "ready (state dir $ST, $PGENV_HOST:$PGENV_PORT)"
    fi
    cat "$ST/env"
}

main "$@"
