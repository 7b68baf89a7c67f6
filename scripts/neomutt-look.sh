#!/usr/bin/env bash
# neomutt-look.sh: a message the daemon really sent, as its recipient reads it in NeoMutt.
#
# Opens USER's INBOX over IMAP (127.0.0.1:$MAILENV_IMAP_PORT, password $MAILENV_PASSWORD,
# default `secret`) in NeoMutt inside a detached tmux session of COLSxROWS (default 80x40,
# a classic terminal), limits the index to the messages matching PATTERN (a NeoMutt pattern,
# e.g. '~s "Invoice"' or '~b frobnicate'), opens the LAST match in the pager (text/plain
# preferred, as a text reader sees it; `+` marks a line NeoMutt had to wrap) and writes every
# screen of the pager, one after another, to OUTFILE with `tmux capture-pane -p`.
#
# Usage:
#   MAILENV_IMAP_PORT=14143 scripts/neomutt-look.sh USER PATTERN OUTFILE [COLSxROWS]
# e.g. after `scripts/template-look.sh --demo --out DIR` (people in DIR/world/people):
#   scripts/neomutt-look.sh alice-look123@customer.test '~A' DIR/neomutt-acknowledgment.txt
#
# With NEOMUTT_LOOK_ATTACH=FILE it then presses `v` and writes NeoMutt's attachment menu of the
# message (its MIME tree: parts, types, sizes, names) to FILE.
#
# Needs neomutt and tmux (apt-get install -y neomutt tmux). No network beyond loopback.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2; }
user="$1" pattern="$2" outfile="$3" size="${4:-80x40}"
port="${MAILENV_IMAP_PORT:?set MAILENV_IMAP_PORT}"
pass="${MAILENV_PASSWORD:-secret}"
cols="${size%x*}" rows="${size#*x}"
work="$(mktemp -d /tmp/neomutt-look.XXXXXX)"
session="look-$$"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT

cat > "$work/muttrc" <<EOF
set folder = "imap://$user@127.0.0.1:$port/"
set spoolfile = "+INBOX"
set imap_user = "$user"
set imap_pass = "$pass"
set ssl_starttls = no
set ssl_force_tls = no
set header_cache = ""
set message_cachedir = ""
set mail_check_stats = no
set read_only = yes
set charset = "utf-8"
set sort = date
set wait_key = no
set markers = yes
set smart_wrap = yes
set pager_index_lines = 0
set pager_stop = yes
set help = no
alternative_order text/plain text/html
auto_view text/html
ignore *
unignore from: to: cc: reply-to: date: subject:
hdr_order from: to: cc: reply-to: date: subject:
EOF

export LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color
tmux new-session -d -s "$session" -x "$cols" -y "$rows" "neomutt -n -F $work/muttrc -R"
# Wait for the index (the status bar names the folder).
for _ in $(seq 1 50); do
  tmux capture-pane -p -t "$session" | grep -q "INBOX" && break
  sleep 0.2
done
sleep 0.5
tmux send-keys -t "$session" l
sleep 0.3
tmux send-keys -t "$session" -l "$pattern"
tmux send-keys -t "$session" Enter
sleep 0.8
tmux send-keys -t "$session" End
sleep 0.3
tmux send-keys -t "$session" Enter
sleep 1
: > "$outfile"
last=""
for page in 1 2 3 4 5 6; do
  screen="$(tmux capture-pane -p -t "$session")"
  # NeoMutt's last screen of a message may repeat; stop when nothing new shows.
  [ "$screen" = "$last" ] && break
  { echo "=== screen $page (${cols}x${rows}) ==="; echo "$screen"; } >> "$outfile"
  last="$screen"
  # The pager's status line says (all) or (end) once the message is on screen to its end.
  echo "$screen" | grep -qE -- '-- \((all|end)\)' && break
  tmux send-keys -t "$session" Space
  sleep 0.5
done
if [ -n "${NEOMUTT_LOOK_ATTACH:-}" ]; then
  tmux send-keys -t "$session" v
  sleep 0.8
  { echo "=== attachment menu (v) (${cols}x${rows}) ==="; tmux capture-pane -p -t "$session"; } > "$NEOMUTT_LOOK_ATTACH"
fi
echo "neomutt-look.sh: $outfile ($page screen(s))" >&2
