#!/usr/bin/env bash
# template-look.sh: every template of templates/ as a person sees it.
#
# For each template it runs `mailcase template preview NAME --case REF --html` for a case
# where the template makes sense, writes the parts to OUTDIR/NAME.txt and OUTDIR/NAME.html
# (NAME.subject holds the subject line), and screenshots each HTML part with headless
# Chromium (full page, device scale 1) into OUTDIR/shots/:
#   NAME-800.png    800 px wide (a desktop mail client's reading pane)
#   NAME-390.png    390 px wide laid out as is (a phone mail app that fits mail to the screen)
#   NAME-390m.png   390 px with phone emulation: a page without <meta name="viewport"> is laid
#                   out 980 px wide and shrunk, as a phone browser does
# OUTDIR/shots/index.txt lists each shot with its page height and any horizontal overflow.
#
# The management digest is about a period, not a case: its HTML is `mailcase report --html`
# (the page the daemon mails, charts embedded); its text part exists only in the digest mail
# the daemon sends, so with --demo the script takes it from the manager's mailbox.
#
# Usage:
#   scripts/template-look.sh --demo [--out OUTDIR]
#       Builds a world first: the local Dovecot + Postfix (tests/mailserver/up.sh, with the
#       MAILENV_* of the environment), a config like demo/run.sh's (plus a daily digest), the
#       daemon on a fast demo clock, demo/send_samples.py's complaints, demo/agent_answers.py
#       (reply with #resolve, follow-up with rating links, rating, reopen, escalation), an
#       unknown agent command (#frobnicate) and a #priority urgent. Every message the daemon
#       sent is kept in OUTDIR/world/sent/USER/NNN.eml; the config in OUTDIR/world/mailcase.toml.
#       Unlike demo/run.sh it does not run cargo: it uses MAILCASE_BIN as it is.
#   scripts/template-look.sh --config CFG [--out OUTDIR] [NAME=REF ...]
#       An existing config and database (e.g. one a demo left behind). Templates not named
#       get a case chosen from `mailcase cases --json` and `mailcase case REF --json`.
#
# Environment: MAILCASE_BIN (default target/release/mailcase), CHROMIUM (default chromium),
# MAILENV_* for --demo (see tests/mailserver/README.md). Needs python3; no network.
# OUTDIR defaults to /tmp/template-look. A --demo run takes about 2 minutes.
#
# With --demo it also captures six messages the daemon sent as NeoMutt shows them in an 80x40
# terminal (scripts/neomutt-look.sh): OUTDIR/neomutt-{acknowledgment,agent_new_case,
# customer_follow_up,agent_command_error,customer_escalated,management_digest}.txt.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
look="$repo/scripts/lib/look.py"

bin="${MAILCASE_BIN:-target/release/mailcase}"
case "$bin" in /*) ;; *) bin="$repo/$bin" ;; esac
chromium="${CHROMIUM:-chromium}"
out=/tmp/template-look
cfg=""
demo=0
pairs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --config) cfg="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --demo) demo=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *=*) pairs+=("$1"); shift ;;
    *) echo "template-look.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || { echo "template-look.sh: no mailcase binary at $bin (set MAILCASE_BIN)" >&2; exit 2; }
[ "$demo" = 1 ] || [ -n "$cfg" ] || { echo "template-look.sh: give --config CFG or --demo" >&2; exit 2; }
mkdir -p "$out/shots"
out="$(cd "$out" && pwd)"
start=$SECONDS

if [ "$demo" = 1 ]; then
  world="$out/world"
  rm -rf "$world"
  mkdir -p "$world"
  echo "== mail servers" >&2
  eval "$(tests/mailserver/up.sh)"
  tag="look$$"
  support="support-$tag@support.test"
  ann="ann-$tag@support.test"
  manager="mgr-$tag@support.test"
  echo "$MAILENV_PASSWORD" > "$world/imap-password"
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$world/token.key"
  {
    sed -e "s/@IMAP_PORT@/$MAILENV_IMAP_PORT/" -e "s/@SMTP_PORT@/$MAILENV_SMTP_PORT/" \
        -e "s/@SUPPORT@/$support/g" -e "s#@TEMPLATES@#$repo/templates#" \
        tests/fixtures/config/integration.toml
    printf '\n[[agents.members]]\naddress = "%s"\nname = "Ann Agent"\n' "$ann"
    printf '\n[[escalation]]\ncontacts = ["%s"]\n' "$manager"
    printf '\n[follow_up]\nafter = "1h"\n\n[feedback]\nwhen = "follow-up"\n'
    # A daily digest at 16:00 Berlin: about 36 s after the start on the demo clock.
    printf '\n[digest]\nenabled = true\nschedule = "daily"\nat = "16:00"\nrecipients = ["%s"]\n' "$manager"
  } > "$world/mailcase.toml"
  cfg="$world/mailcase.toml"
  "$bin" --config "$cfg" check > "$world/check.log" 2>&1 || { cat "$world/check.log" >&2; exit 1; }
  echo "== daemon (log $world/daemon.log)" >&2
  # The demo's clock: Monday 23 November 2026, 10:00 in Berlin, 600 times faster than real time.
  "$bin" --config "$cfg" run --clock-start 2026-11-23T09:00:00Z --clock-rate 600 2> "$world/daemon.log" &
  daemon=$!
  trap 'kill $daemon 2>/dev/null || true' EXIT
  sleep 1
  python3 demo/send_samples.py "$MAILENV_SMTP_PORT" "$support" "$tag" >&2
  for _ in $(seq 1 60); do
    n=$("$bin" --config "$cfg" cases --json | python3 -c 'import json,sys; print(sum(1 for c in json.load(sys.stdin) if c["status"]!="new"))')
    [ "$n" -ge 4 ] && break
    sleep 1
  done
  echo "== the agent and the customers at work (demo/agent_answers.py)" >&2
  python3 demo/agent_answers.py "$MAILENV_IMAP_PORT" "$MAILENV_SMTP_PORT" "$MAILENV_PASSWORD" "$tag" "$ann" "$manager" \
    "$world/answered" > "$world/agent_answers.log"
  # A command the daemon does not know (agent_command_error) and a raised priority.
  python3 "$look" agent-reply "$MAILENV_IMAP_PORT" "$MAILENV_SMTP_PORT" "$MAILENV_PASSWORD" "$ann" \
    "Question about my account" '#frobnicate\nHello Dan,\n\nyou can change it under Settings > Account.\n\nAnn'
  python3 "$look" agent-reply "$MAILENV_IMAP_PORT" "$MAILENV_SMTP_PORT" "$MAILENV_PASSWORD" "$ann" \
    "parcel never arrived" '#priority urgent\nBonjour Chloé,\n\nwe have asked the carrier and will come back to you today.\n\nAnn'
  python3 "$look" wait-mail "$MAILENV_IMAP_PORT" "$MAILENV_PASSWORD" "$ann" "unknown command" 60 \
    || python3 "$look" wait-mail "$MAILENV_IMAP_PORT" "$MAILENV_PASSWORD" "$ann" "frobnicate" 30 || true
  echo "== waiting for the daily digest (16:00 on the demo clock)" >&2
  python3 "$look" wait-mail "$MAILENV_IMAP_PORT" "$MAILENV_PASSWORD" "$manager" "digest" 120 \
    || echo "template-look.sh: no digest mail arrived" >&2
  sleep 2
  kill -TERM $daemon; wait $daemon || true
  trap - EXIT
  mkdir -p "$world/sent"
  python3 "$look" save-all "$MAILENV_IMAP_PORT" "$MAILENV_PASSWORD" "$world/sent" \
    "$ann" "$manager" alice-"$tag"@customer.test bob-"$tag"@customer.test \
    chloe-"$tag"@customer.test dan-"$tag"@customer.test erin-"$tag"@customer.test > "$world/sent/index.txt"
  printf 'ann=%s\nmanager=%s\nalice=alice-%s@customer.test\nbob=bob-%s@customer.test\nchloe=chloe-%s@customer.test\ndan=dan-%s@customer.test\n' \
    "$ann" "$manager" "$tag" "$tag" "$tag" "$tag" > "$world/people"
fi

echo "== choosing cases" >&2
mkdir -p "$out/cases"
"$bin" --config "$cfg" cases --json > "$out/cases/cases.json"
for ref in $(python3 -c 'import json,sys; print(" ".join(c["reference"] for c in json.load(open(sys.argv[1]))))' "$out/cases/cases.json"); do
  "$bin" --config "$cfg" case "$ref" --json > "$out/cases/$ref.json"
done
templates=()
for f in templates/*.txt.tera; do
  n="$(basename "$f" .txt.tera)"
  [ "$n" = management_digest ] || templates+=("$n")
done
python3 "$look" pick "$out/cases/cases.json" "$out/cases" "${templates[@]}" > "$out/cases/picked"
for p in "${pairs[@]+"${pairs[@]}"}"; do
  sed -i "/^${p%%=*}=/d" "$out/cases/picked"
  echo "$p" >> "$out/cases/picked"
done

echo "== rendering" >&2
: > "$out/shots/jobs"
while IFS='=' read -r name ref; do
  "$bin" --config "$cfg" template preview "$name" --case "$ref" --html > "$out/$name.preview"
  # The preview prints: template line, Subject, ----- text part -----, ..., ----- HTML part -----, ...
  python3 - "$out/$name.preview" "$out/$name" "$ref" <<'EOF'
import sys
src, base, ref = sys.argv[1:]
s = open(src).read()
head, rest = s.split("\n----- text part", 1)
text, html = rest.split("\n----- HTML part", 1)
subject = next(l for l in head.splitlines() if l.startswith("Subject: "))
open(base + ".subject", "w").write(f"{subject}\n(case {ref})\n")
open(base + ".txt", "w").write(text.split("-----\n", 1)[1])
open(base + ".html", "w").write(html.split("-----\n", 1)[1])
EOF
  rm "$out/$name.preview"
  echo "  $name  (case $ref)" >&2
done < "$out/cases/picked"

# The digest: the HTML page is `report --html` (what the daemon mails); the text part only
# exists in a sent digest.
if [ "$demo" = 1 ]; then
  "$bin" --config "$cfg" report --from 2026-11-23 --to 2026-11-29 --html "$out/management_digest.html" >/dev/null
  d="$(grep -il 'digest' "$world/sent/index.txt" >/dev/null && awk -F'\t' 'tolower($2) ~ /digest/ {print $1; exit}' "$world/sent/index.txt")"
  if [ -n "$d" ]; then
    python3 "$look" text-of "$world/sent/$d" > "$out/management_digest.txt"
    grep -m1 '^Subject:' "$world/sent/$d" > "$out/management_digest.subject" || true
  fi
else
  "$bin" --config "$cfg" report --since 30d --html "$out/management_digest.html" >/dev/null
  "$bin" --config "$cfg" report --since 30d > "$out/management_digest.report-table.txt"
fi

echo "== screenshots" >&2
for h in "$out"/*.html; do
  n="$(basename "$h" .html)"
  printf '%s\t800\t0\t%s\n%s\t390\t0\t%s\n%s\t390\t1\t%s\n' \
    "$h" "$out/shots/$n-800.png" "$h" "$out/shots/$n-390.png" "$h" "$out/shots/$n-390m.png" >> "$out/shots/jobs"
done
LOOK_PROFILE="$out/shots/.profile" python3 "$look" shots "$chromium" "$out/shots/jobs" > "$out/shots/index.txt"
rm -rf "$out/shots/.profile" "$out/shots/jobs"
grep OVERFLOW "$out/shots/index.txt" >&2 || true

# The text parts as their recipients read them in NeoMutt (80x40 terminal), demo only.
if [ "$demo" = 1 ] && command -v neomutt >/dev/null && command -v tmux >/dev/null; then
  echo "== neomutt captures" >&2
  # shellcheck disable=SC1090
  . "$world/people"
  nm() { scripts/neomutt-look.sh "$1" "$2" "$out/neomutt-$3.txt" 2>/dev/null || echo "  neomutt $3 failed" >&2; }
  nm "$dan" '~A' acknowledgment
  nm "$ann" '~s "Invoice charged twice" !~s "Re:"' agent_new_case
  nm "$alice" '~b mailto:' customer_follow_up
  nm "$ann" '~b frobnicate' agent_command_error
  nm "$bob" '~A' customer_escalated
  nm "$manager" '~s digest' management_digest
fi

echo "== done in $((SECONDS - start)) s: $out (parts), $out/shots (screenshots)" >&2
[ "$demo" = 1 ] && echo "   config $cfg; sent mail in $world/sent; people in $world/people" >&2
exit 0
