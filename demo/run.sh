#!/usr/bin/env bash
# The demo: real Dovecot + Postfix on loopback, a handful of sample complaints mailed through
# Postfix, the daemon answering them, then the cases and the acknowledgments the customers got.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

# MAILENV_DIR and MAILENV_*_PORT, when set, go through to tests/mailserver/up.sh (another state
# dir and other ports, e.g. beside a test run); the end of the demo repeats them in its stop command.
given_env=""
for v in MAILENV_DIR MAILENV_IMAP_PORT MAILENV_LMTP_PORT MAILENV_SMTP_PORT MAILENV_SUBMISSION_PORT; do
  if [ -n "${!v:-}" ]; then
    export "${v?}"
    given_env+="$v=${!v} "
  fi
done

echo "== starting the local mail servers (installs Dovecot and Postfix when missing)" >&2
eval "$(tests/mailserver/up.sh)"

echo "== building mailcase (release; several minutes on a small machine)" >&2
cargo build --release
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
bin="$target/release/mailcase"

work="$(mktemp -d /tmp/mailcase-demo.XXXXXX)"
support="support-demo-$$@support.test"
ann="ann-demo-$$@support.test"
ben="ben-demo-$$@support.test"
manager="mgr-demo-$$@support.test"
echo "$MAILENV_PASSWORD" > "$work/imap-password"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/token.key"
metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
  sed -e "s/@IMAP_PORT@/$MAILENV_IMAP_PORT/" -e "s/@SMTP_PORT@/$MAILENV_SMTP_PORT/" \
      -e "s/@SUPPORT@/$support/g" -e "s#@TEMPLATES@#$repo/templates#" \
      tests/fixtures/config/integration.toml
  printf '\n[[agents.members]]\naddress = "%s"\nname = "Ann Agent"\n' "$ann"
  printf '\n[[agents.members]]\naddress = "%s"\nname = "Ben Agent"\n' "$ben"
  printf '\n[[escalation]]\ncontacts = ["%s"]\n' "$manager"
  # The shipped rules, in every language, and what the acknowledgment looks for and asks
  # (config/mailcase.example.toml), on top of the test config's English ones.
  python3 demo/shipped_rules.py config/mailcase.example.toml tests/fixtures/config/integration.toml
  # Short follow-up for the demo: one business hour after resolution, with the rating links.
  printf '\n[follow_up]\nafter = "1h"\n\n[feedback]\nwhen = "follow-up"\n'
  # Prometheus metrics on a free loopback port.
  printf '\n[metrics]\nlisten = "127.0.0.1:%s"\n' "$metrics_port"
} > "$work/mailcase.toml"
cfg="$work/mailcase.toml"

"$bin" --config "$cfg" check

echo "== starting the daemon (log: $work/daemon.log)" >&2
# A demo clock: Monday 23 November 2026, 10:00 in Berlin, running 600 times faster than real
# time (10 minutes a second), so SLA timers and the follow-up fire while you watch.
"$bin" --config "$cfg" run --clock-start 2026-11-23T09:00:00Z --clock-rate 600 2> "$work/daemon.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null || true' EXIT
sleep 1

echo "== mailing sample complaints through Postfix" >&2
python3 demo/send_samples.py "$MAILENV_SMTP_PORT" "$support" "demo$$"

echo "== waiting for the acknowledgments" >&2
for _ in $(seq 1 60); do
  n=$("$bin" --config "$cfg" cases --json | python3 -c 'import json,sys; print(sum(1 for c in json.load(sys.stdin) if c["status"]!="new"))')
  [ "$n" -ge 5 ] && break
  sleep 1
done
sleep 2

echo
echo "== cases (mailcase cases)"
"$bin" --config "$cfg" cases
echo
echo "== what the customers received"
python3 demo/show_inboxes.py "$MAILENV_IMAP_PORT" "$MAILENV_PASSWORD" "demo$$"
echo
echo "== an agent answers one case (her colleague in Cc gets it, the other agent sees it); the follow-up with rating links arrives; the customer rates and reopens; the second agent's stale answer is held until he sends it"
python3 demo/agent_answers.py "$MAILENV_IMAP_PORT" "$MAILENV_SMTP_PORT" "$MAILENV_PASSWORD" "demo$$" "$ann" "$manager" \
  "$work/answered" "$ben"
sleep 1
answered=$(cat "$work/answered")
echo
echo "== the case Ann answered, in full (mailcase case $answered)"
"$bin" --config "$cfg" case "$answered"
echo
echo "== the service as an operator sees it (mailcase status, while the daemon runs)"
"$bin" --config "$cfg" status || true
echo
echo "== a few of its metrics (GET http://127.0.0.1:$metrics_port/metrics)"
python3 -c 'import sys, urllib.request; print("".join(l for l in urllib.request.urlopen(sys.argv[1]).read().decode().splitlines(True) if l.startswith(("mailcase_messages_total", "mailcase_outbound_total", "mailcase_sla_events_total", "mailcase_cases_"))), end="")' \
  "http://127.0.0.1:$metrics_port/metrics"

kill -TERM $daemon; wait $daemon || true
trap - EXIT
echo
echo "== the demo is over; what it leaves behind"
echo "demo state kept in $work (config, database, daemon.log)"
echo "  try: $bin --config $cfg cases"
echo "       $bin --config $cfg case $answered"
echo "       $bin --config $cfg report --from 2026-11-23 --to 2026-11-29   (the demo clock's week)"
echo "       $bin --config $cfg status     (now says the daemon stopped; exit status 3)"
echo "the mail servers are still running (tests and the next demo reuse them), state in $MAILENV_DIR:"
echo "  Dovecot IMAP 127.0.0.1:$MAILENV_IMAP_PORT, LMTP 127.0.0.1:$MAILENV_LMTP_PORT;" \
     "Postfix SMTP 127.0.0.1:$MAILENV_SMTP_PORT, submission 127.0.0.1:$MAILENV_SUBMISSION_PORT"
echo "  stop them:  ${given_env}tests/mailserver/down.sh     (add --purge to delete $MAILENV_DIR too)"
