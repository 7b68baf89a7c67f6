#!/usr/bin/env bash
# Start (or confirm running) the shared real-mail-server test environment:
# Dovecot (IMAP + LMTP) and Postfix (SMTP + submission with SASL via Dovecot),
# all configured and stored under one state dir, listening on 127.0.0.1 only.
#
# Idempotent and safe to run concurrently (flock on STATE/.lock).
# stdout: only KEY=value lines (also written to STATE/env), so callers can
#   eval "$(tests/mailserver/up.sh)"
# Progress and errors go to stderr.
#
# Env: MAILENV_DIR (default <repo>/.mailenv), MAILENV_IMAP_PORT (10143),
#      MAILENV_LMTP_PORT (10024), MAILENV_SMTP_PORT (10025),
#      MAILENV_SUBMISSION_PORT (10587), MAILENV_WAIT_TIMEOUT (20 s).
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------- install

packages_missing() {
    local p missing=()
    for p in "${MAILENV_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
            missing+=("$p")
        fi
    done
    printf '%s\n' "${missing[@]}"
}

# Restore whatever /usr/sbin/policy-rc.d was there before install_packages.
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
    local missing
    missing="$(packages_missing)"
    [[ -n "$missing" ]] || return 0
    if ((EUID != 0)); then
        die "packages missing: $(echo "$missing" | tr '\n' ' ')- run tests/mailserver/up.sh as root (or: apt-get install ${MAILENV_PACKAGES[*]})"
    fi
    # One installer at a time across all state dirs on this machine.
    exec 8>>/tmp/mailenv-install.lock
    flock -w 900 8 || die "could not take /tmp/mailenv-install.lock"
    missing="$(packages_missing)"
    if [[ -z "$missing" ]]; then
        exec 8>&-
        return 0
    fi
    log "installing: $(echo "$missing" | tr '\n' ' ')"

    # Keep the packages from starting system-wide daemons during install.
    if [[ -e "$POLICY_RC" ]]; then
        POLICY_BACKUP="$(mktemp /usr/sbin/policy-rc.d.mailenv.XXXXXX)"
        cp -p "$POLICY_RC" "$POLICY_BACKUP"
    fi
    POLICY_INSTALLED=1
    # Restore it however we leave (error, Ctrl-C, kill).
    trap restore_policy_rc EXIT
    trap 'exit 130' INT TERM
    printf '#!/bin/sh\n# temporary, written by mailcase tests/mailserver/up.sh\nexit 101\n' >"$POLICY_RC"
    chmod 755 "$POLICY_RC"

    export DEBIAN_FRONTEND=noninteractive
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get -o DPkg::Lock::Timeout=600 update >&2
    # shellcheck disable=SC2086 # $missing is a newline-separated word list
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends $missing >&2

    restore_policy_rc
    trap - EXIT INT TERM
    exec 8>&-
    missing="$(packages_missing)"
    [[ -z "$missing" ]] || die "still missing after apt-get install: $missing"
}

ensure_user() {
    if ! getent passwd "$MAILENV_USER" >/dev/null; then
        log "creating system user $MAILENV_USER"
        # Concurrent runs on other state dirs may race here; tolerate "exists".
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$MAILENV_USER" 2>/dev/null ||
            getent passwd "$MAILENV_USER" >/dev/null ||
            die "could not create user $MAILENV_USER"
    fi
}

# ---------------------------------------------------------------- config

# Write $2 to file $1 only when the content changed (keeps mtimes stable);
# sets WROTE=1 when it did write.
WROTE=0
write_file() {
    local path="$1" content="$2"
    # $(...) drops trailing newlines on both sides of the comparison.
    if [[ ! -f "$path" ]] || [[ "$(cat "$path")" != "$(printf '%s' "$content")" ]]; then
        printf '%s\n' "$content" >"$path.tmp.$$"
        mv -f "$path.tmp.$$" "$path"
        WROTE=1
    fi
}

write_dovecot_conf() {
    local uid gid
    uid="$(id -u "$MAILENV_USER")"
    gid="$(id -g "$MAILENV_USER")"

    # Fixed users (passdb). {PLAIN} scheme: these are test credentials.
    write_file "$ST/passwd" "$(
        for u in support agent agent2 manager; do
            printf '%s@%s:{PLAIN}%s::::::\n' "$u" "$MAILENV_SUPPORT_DOMAIN" "$MAILENV_PASSWORD"
        done
    )"
    # Catch-all: this passwd-file is looked up by the *domain* part of the
    # login (username_format=%d), so any local part at these domains is valid.
    write_file "$ST/domains" "$(
        for d in "$MAILENV_SUPPORT_DOMAIN" "$MAILENV_CUSTOMER_DOMAIN"; do
            printf '%s:{PLAIN}%s::::::\n' "$d" "$MAILENV_PASSWORD"
        done
    )"
    # The auth process runs as the "dovecot" user and must read them.
    chmod 0644 "$ST/passwd" "$ST/domains"

    write_file "$DOVECOT_CONF" "# Generated by tests/mailserver/up.sh - do not edit (rewritten on start).
# Test-only Dovecot: IMAP + LMTP on loopback, plaintext auth, no TLS.
protocols = imap lmtp
listen = $MAILENV_HOST
base_dir = $DOVECOT_BASE
state_dir = $ST/lib/dovecot
instance_name = mailenv
log_path = $LOG_DIR/dovecot.log
info_log_path = $LOG_DIR/dovecot-info.log
auth_verbose = yes
# Tests check wrong passwords: answer at once instead of after 2 s, and no
# growing per-IP penalty (2-15 s) after repeated failures (see service anvil).
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8

ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login

# All mail belongs to one unprivileged system user.
mail_uid = $uid
mail_gid = $gid
first_valid_uid = $uid
last_valid_uid = $uid
first_valid_gid = $gid
last_valid_gid = $gid
mail_location = maildir:~/Maildir

# Fixed users first, then the per-domain catch-all (support.test, customer.test).
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu $ST/passwd
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Ld $ST/domains
}
# Same layout for everyone; without allow_all_users the user must exist in
# a passdb, so LMTP rejects unknown domains.
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$ST/mail/%Ld/%Ln
}

# Plus-addressing: user+tag@domain goes to user's INBOX.
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no

namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
  }
  mailbox Sent {
    special_use = \\Sent
  }
  mailbox Trash {
    special_use = \\Trash
  }
  mailbox Junk {
    special_use = \\Junk
  }
}

# Benchmarks open many connections from one user and IP.
default_process_limit = 200
default_client_limit = 4000
protocol imap {
  mail_max_userip_connections = 200
}

service imap-login {
  inet_listener imap {
    address = $MAILENV_HOST
    port = $MAILENV_IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
  # High-performance mode: few login processes, each with many clients.
  service_count = 0
  process_min_avail = 2
  client_limit = 1000
}
service imap {
  process_limit = 1000
}
service lmtp {
  inet_listener lmtp {
    address = $MAILENV_HOST
    port = $MAILENV_LMTP_PORT
  }
  process_min_avail = 2
}
service anvil {
  # Disables the per-IP authentication penalty (Dovecot's documented way).
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  # Postfix smtpd (submission port) authenticates through this socket.
  unix_listener auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
"
}

write_postfix_conf() {
    mkdir -p "$PF_CONF"
    # Aliases: <box>--<name>@support.test is delivered to <box>@support.test,
    # like an admin's virtual alias billing@ -> support@. <box> is the part
    # before the first "--". A regexp table sees the whole address and Postfix
    # does not retry it without the +detail, so the pattern keeps the detail
    # itself: <box>--<name>+tok@ -> <box>+tok@.
    local domain_re="${MAILENV_SUPPORT_DOMAIN//./\\.}"
    write_file "$PF_CONF/virtual_alias.regexp" "# Generated by tests/mailserver/up.sh - do not edit (rewritten on start).
/^([^-+@]+(-[^-+@]+)*)--[^+@]+(\+[^@]*)?@$domain_re\$/ \${1}\${3}@$MAILENV_SUPPORT_DOMAIN"
    write_file "$PF_CONF/main.cf" "# Generated by tests/mailserver/up.sh - do not edit (rewritten on start).
# Test-only Postfix: accepts mail for support.test and customer.test on
# loopback and hands it to Dovecot LMTP. No local delivery, no relaying.
compatibility_level = 3.6
config_directory = $PF_CONF
queue_directory = $PF_QUEUE
data_directory = $PF_DATA
mail_owner = postfix
setgid_group = postdrop

# No syslog in the containers: log to a file through the postlog service.
maillog_file = $LOG_DIR/postfix.log
maillog_file_prefixes = $LOG_DIR

myhostname = mail.test
mydomain = test
myorigin = \$myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks_style = host
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
biff = no
append_dot_mydomain = no

# No local delivery, no aliases.
alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:local delivery is disabled
relay_domains =
relayhost =
default_transport = error:no relaying from the mail test environment

# Everything for the test domains goes to Dovecot over LMTP.
virtual_mailbox_domains = $MAILENV_SUPPORT_DOMAIN $MAILENV_CUSTOMER_DOMAIN
virtual_mailbox_maps =
# <box>--<name>@$MAILENV_SUPPORT_DOMAIN -> <box>@$MAILENV_SUPPORT_DOMAIN (see virtual_alias.regexp).
virtual_alias_maps = regexp:$PF_CONF/virtual_alias.regexp
virtual_transport = lmtp:inet:$MAILENV_HOST:$MAILENV_LMTP_PORT
recipient_delimiter = +
lmtp_destination_concurrency_limit = 8
lmtp_destination_recipient_limit = 50

# Mail to any other domain is rejected, even from mynetworks.
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = reject_unauth_destination
smtpd_banner = \$myhostname ESMTP mailcase-test
message_size_limit = 52428800
mailbox_size_limit = 0
smtpd_tls_security_level = none
smtp_tls_security_level = none
lmtp_tls_security_level = none
smtputf8_enable = yes

# Benchmark-friendly: no throttling of loopback clients.
in_flow_delay = 0
default_process_limit = 100
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
smtpd_client_auth_rate_limit = 0
smtpd_client_new_tls_session_rate_limit = 0
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
anvil_rate_time_unit = 60s

# Retry deferred mail quickly (tests stop Dovecot mid-batch).
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 10s
"

    # master.cf: Debian's default services, all with chroot = n (the queue is
    # not a chroot jail here), plus our SMTP and submission listeners.
    write_file "$PF_CONF/master.cf" "# Generated by tests/mailserver/up.sh - do not edit (rewritten on start).
# service     type  private unpriv  chroot  wakeup  maxproc command + args
$MAILENV_HOST:$MAILENV_SMTP_PORT inet n - n - - smtpd
$MAILENV_HOST:$MAILENV_SUBMISSION_PORT inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=none
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_sasl_type=dovecot
  -o smtpd_sasl_path=$DOVECOT_AUTH_SOCKET
  -o smtpd_sasl_security_options=noanonymous
  -o smtpd_tls_auth_only=no
  -o smtpd_relay_restrictions=reject_unauth_destination
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"
}

# Directories and ownership (cheap; done on every start).
prepare_dirs() {
    mkdir -p "$LOG_DIR" "$ST/run" "$ST/lib/dovecot" "$ST/mail" "$PF_QUEUE" "$PF_DATA"
    # The dovecot/postfix/mailenv users must be able to traverse the state dir.
    chmod 0755 "$ST" "$ST/run" "$ST/lib" "$LOG_DIR"
    chown "$MAILENV_USER:$MAILENV_USER" "$ST/mail"
    chmod 0750 "$ST/mail"
    # Postfix's queue/data ownership (postfix:postdrop etc.); also repairs it.
    postfix -c "$PF_CONF" set-permissions >&2 2>/dev/null ||
        postfix -c "$PF_CONF" post-install create-missing >&2
}

# ---------------------------------------------------------------- env

env_text() {
    cat <<EOF
MAILENV_DIR=$ST
MAILENV_IMAP_HOST=$MAILENV_HOST
MAILENV_IMAP_PORT=$MAILENV_IMAP_PORT
MAILENV_SMTP_PORT=$MAILENV_SMTP_PORT
MAILENV_SUBMISSION_PORT=$MAILENV_SUBMISSION_PORT
MAILENV_LMTP_PORT=$MAILENV_LMTP_PORT
MAILENV_PASSWORD=$MAILENV_PASSWORD
MAILENV_SUPPORT_DOMAIN=$MAILENV_SUPPORT_DOMAIN
MAILENV_CUSTOMER_DOMAIN=$MAILENV_CUSTOMER_DOMAIN
EOF
}

all_ports() {
    printf '%s\n' "imap:$MAILENV_IMAP_PORT" "lmtp:$MAILENV_LMTP_PORT" \
        "smtp:$MAILENV_SMTP_PORT" "submission:$MAILENV_SUBMISSION_PORT"
}

# Ports recorded in STATE/env by a previous run, if any (KEY=value lines).
recorded_port() {
    local key="$1"
    [[ -f "$ST/env" ]] || return 0
    sed -n "s/^$key=//p" "$ST/env"
}

# ---------------------------------------------------------------- main

main() {
    mailenv_init_paths
    mailenv_lock

    local key want have ok=1 dovecot_was_up=0 postfix_was_up=0
    dovecot_running && dovecot_was_up=1
    postfix_running && postfix_was_up=1

    # Servers already running with other ports: refuse rather than mix.
    if ((dovecot_was_up || postfix_was_up)); then
        for key in MAILENV_IMAP_PORT MAILENV_LMTP_PORT MAILENV_SMTP_PORT MAILENV_SUBMISSION_PORT; do
            want="${!key}"
            have="$(recorded_port "$key")"
            if [[ -n "$have" && "$have" != "$want" ]]; then
                die "servers in $ST already run with $key=$have (asked for $want); run tests/mailserver/down.sh first"
            fi
        done
    fi

    if ((EUID != 0)); then
        # Non-root callers can use a running environment, not set one up.
        if ((dovecot_was_up && postfix_was_up)) && [[ -f "$ST/env" ]]; then
            for key in $(all_ports); do
                port_open "${key##*:}" || ok=0
            done
            if ((ok)); then
                cat "$ST/env"
                return 0
            fi
        fi
        if [[ -n "$(packages_missing)" ]]; then
            die "packages missing: $(packages_missing | tr '\n' ' ')- run tests/mailserver/up.sh as root (it installs them)"
        fi
        die "up.sh must run as root to start the servers (Postfix's master and Dovecot's per-user mail processes need it)"
    fi

    install_packages
    command -v dovecot >/dev/null || die "dovecot not found in PATH after install"
    command -v postfix >/dev/null || die "postfix not found in PATH after install"
    ensure_user

    # Regenerate the configs every time (cheap). A server that is already
    # running is reloaded when its config changed (e.g. after a repo update);
    # reloads keep existing connections and queued mail.
    WROTE=0
    write_dovecot_conf
    if ((WROTE && dovecot_was_up)); then
        log "Dovecot config changed; reloading"
        kill -HUP "$(dovecot_pid)" 2>/dev/null || true
    fi
    WROTE=0
    write_postfix_conf
    if ((WROTE && postfix_was_up)); then
        log "Postfix config changed; reloading"
        run_detached postfix -c "$PF_CONF" reload || true
    fi

    if ! ((dovecot_was_up && postfix_was_up)); then
        prepare_dirs
        dovecot_start
        postfix_start
    fi
    local -a ports
    mapfile -t ports < <(all_ports)
    wait_ports "${ports[@]}"

    WROTE=0
    write_file "$ST/env" "$(env_text)"
    if ((WROTE)) || ! ((dovecot_was_up && postfix_was_up)); then
        log "ready (state dir $ST)"
    fi
    cat "$ST/env"
}

main "$@"
