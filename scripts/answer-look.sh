#!/usr/bin/env bash
# answer-look.sh: what a customer sees of an agent's answer written in a given mail client.
#
# For each FIXTURE (an agent's raw reply as a mail client builds it, e.g.
# tests/fixtures/agent_clients/outlook_desktop.eml) it runs the real flow against the local
# Dovecot + Postfix (tests/mailserver/up.sh, with the MAILENV_* of the environment):
#   - a config like demo/run.sh's (tests/fixtures/config/integration.toml, @...@ filled in,
#     one agent "Carol Agent" at ann-TAG@support.test) in OUTDIR/world/, and the daemon
#     MAILCASE_BIN on the real clock (log OUTDIR/world/daemon.log);
#   - a complaint per fixture from alice-NAME-TAG@customer.test, "Charged twice (NAME)";
#   - waits for the case card in the agent's mailbox and sends the fixture retargeted as the
#     agent's reply to it (From/To/Cc/Subject/Message-ID/In-Reply-To/References replaced,
#     To = the card's Reply-To; header rest and body byte for byte, as tests/agent_answers.rs);
#   - waits for the answer in the customer's mailbox and writes, NAME being the fixture's
#     file name without .eml:
#       OUTDIR/NAME.eml           the answer as the customer's mailbox holds it
#       OUTDIR/NAME.parts.txt     its MIME tree (types, file names, Content-IDs)
#       OUTDIR/NAME.html          its HTML part (NAME.view.html: cid: images inlined)
#       OUTDIR/NAME-800.png       Chromium screenshot of the HTML part, 800 px wide, full page
#       OUTDIR/NAME-390.png       the same 390 px wide (a phone)
#       OUTDIR/NAME-neomutt.txt   the customer's NeoMutt (80x40) showing the message, text
#                                 part preferred, attachment lines as NeoMutt prints them
#       OUTDIR/NAME-neomutt-attachments.txt   NeoMutt's attachment menu (`v`), when the
#                                 message is multipart
# Then it stops the daemon. The mail servers stay up (tests/mailserver/down.sh stops them).
#
# Usage:
#   MAILCASE_BIN=/path/to/mailcase scripts/answer-look.sh OUTDIR FIXTURE...
# e.g.
#   export MAILENV_DIR=$PWD/.mailenv-ans MAILENV_IMAP_PORT=15143 MAILENV_LMTP_PORT=15024 \
#          MAILENV_SMTP_PORT=15025 MAILENV_SUBMISSION_PORT=15587
#   MAILCASE_BIN=target/release/mailcase scripts/answer-look.sh /tmp/answer-look \
#     tests/fixtures/agent_clients/{outlook_desktop,outlook_web,gmail}.eml
#   tests/mailserver/down.sh
#
# Environment: MAILCASE_BIN (default target/release/mailcase), MAILCASE_TEMPLATES (the
# templates dir the config names, default templates/ of this checkout: give the one that
# belongs to the binary), CHROMIUM (default chromium), MAILENV_*. Needs python3, chromium,
# neomutt, tmux; no network beyond loopback. Takes about 30 s plus 10 s per fixture.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
look="$repo/scripts/lib/look.py"

[ $# -ge 2 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2; }
abs() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
bin="$(abs "${MAILCASE_BIN:-$repo/target/release/mailcase}")"
templates="$(abs "${MAILCASE_TEMPLATES:-$repo/templates}")"
chromium="${CHROMIUM:-chromium}"
out="$1"; shift
fixtures=()
for f in "$@"; do
  [ -f "$f" ] || { echo "answer-look.sh: no fixture $f" >&2; exit 2; }
  fixtures+=("$(abs "$f")")
done
[ -x "$bin" ] || { echo "answer-look.sh: no mailcase binary at $bin (set MAILCASE_BIN)" >&2; exit 2; }
[ -d "$templates" ] || { echo "answer-look.sh: no templates dir $templates" >&2; exit 2; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$repo"
start=$SECONDS

echo "== mail servers" >&2
eval "$(tests/mailserver/up.sh)"
pass="${MAILENV_PASSWORD:-secret}"
world="$out/world"
rm -rf "$world"
mkdir -p "$world"
tag="ans$$"
support="support-$tag@support.test"
ann="ann-$tag@support.test"
echo "$pass" > "$world/imap-password"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$world/token.key"
{
  sed -e "s/@IMAP_PORT@/$MAILENV_IMAP_PORT/" -e "s/@SMTP_PORT@/$MAILENV_SMTP_PORT/" \
      -e "s/@SUPPORT@/$support/g" -e "s#@TEMPLATES@#$templates#" \
      tests/fixtures/config/integration.toml
  printf '\n[[agents.members]]\naddress = "%s"\nname = "Carol Agent"\n' "$ann"
} > "$world/mailcase.toml"
cfg="$world/mailcase.toml"
"$bin" --version > "$world/version" 2>&1 || true
"$bin" --config "$cfg" check > "$world/check.log" 2>&1 || { cat "$world/check.log" >&2; exit 1; }

echo "== daemon $bin (log $world/daemon.log)" >&2
"$bin" --config "$cfg" run 2> "$world/daemon.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null || true' EXIT
sleep 1

names=()
for f in "${fixtures[@]}"; do
  n="$(basename "$f" .eml)"
  names+=("$n")
  python3 "$look" complain "$MAILENV_SMTP_PORT" "Alice Customer <alice-$n-$tag@customer.test>" "$support" \
    "Charged twice ($n)" \
    'Hello,\n\nI was charged twice for invoice INV-2026-1183. Please refund one payment.\n\nAlice'
done
echo "== complaints sent; the agent answers from each client" >&2
for i in "${!fixtures[@]}"; do
  n="${names[$i]}"
  python3 "$look" answer-fixture "$MAILENV_IMAP_PORT" "$MAILENV_SMTP_PORT" "$pass" "$ann" \
    "($n)" "${fixtures[$i]}"
  echo "  $n: answer sent to the card" >&2
done
echo "== waiting for the answers in the customers' mailboxes" >&2
for n in "${names[@]}"; do
  python3 "$look" save-answer "$MAILENV_IMAP_PORT" "$pass" "alice-$n-$tag@customer.test" \
    "business days" "$out/$n" 90 >&2
done
sleep 1
kill -TERM $daemon; wait $daemon || true
trap - EXIT
echo "alice-NAME-$tag@customer.test (NAME: ${names[*]}); agent $ann" > "$world/people"

echo "== screenshots" >&2
: > "$out/.jobs"
for n in "${names[@]}"; do
  printf '%s\t800\t0\t%s\n%s\t390\t0\t%s\n' \
    "$out/$n.view.html" "$out/$n-800.png" "$out/$n.view.html" "$out/$n-390.png" >> "$out/.jobs"
done
LOOK_PROFILE="$out/.profile" python3 "$look" shots "$chromium" "$out/.jobs" > "$out/shots.txt"
rm -rf "$out/.profile" "$out/.jobs"

echo "== neomutt" >&2
for n in "${names[@]}"; do
  attach=""
  grep -qi '^content-type: *multipart' "$out/$n.eml" && attach="$out/$n-neomutt-attachments.txt"
  MAILENV_PASSWORD="$pass" NEOMUTT_LOOK_ATTACH="$attach" \
    scripts/neomutt-look.sh "alice-$n-$tag@customer.test" '~b "business days"' "$out/$n-neomutt.txt" \
    || echo "  neomutt $n failed" >&2
done
echo "== done in $((SECONDS - start)) s: $out" >&2
