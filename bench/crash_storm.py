"""Crash storm: the "no loss, no doubles" promise (README) under repeated kill -9.

On the real local servers of tests/mailserver (Dovecot + Postfix, started by mailenv.py), with
the release binary:
  1. a fresh support mailbox and config (mailenv.world(): acknowledgments on, the outbox
     breaker lifted as in bench.py, the per-domain flood caps lifted);
  2. the daemon is started, then N complaints from N distinct customers (cNNNN-<tag>@customer.test,
     each with its own Message-ID and body) are mailed through Postfix's SMTP port from a few
     parallel connections, at --rate complaints/s so that delivery overlaps the storm;
  3. meanwhile the daemon is killed with SIGKILL --kills times, each after a random 1-4 s of
     life (seeded RNG), and restarted at once;
  4. the last daemon is left to finish: until the support INBOX is empty, the outbox has nothing
     pending and Postfix's queue is empty (steady for 3 s), bounded by --timeout; then it is
     stopped with SIGTERM;
  5. the outcome is read from the database (sqlite3, read-only), from every folder of the
     support mailbox and from every customer's INBOX (imaplib).

Figures (one JSON object on stdout, then a short table):
  lost                 complaints accepted by Postfix that have no stored message in the
                       database and are in no folder of the support mailbox
  doubled              customers of this run with more than one case
  acks_received        acknowledgments (Message-ID of an outbox row of kind 'ack') found in the
                       customers' INBOXes
  duplicate_acks       acks_received minus the customers who received at least one
  customers_without_ack
  kills, wall_s        kill -9 actually sent; wall time of the whole run
and the details behind them (what each kill interrupted, quarantined mail, mail still in the
INBOX, outbox states, which acknowledgments arrived twice and after which kill).

The README promises at most one resent message per SMTP connection per crash (the window between
the server's 250 and the row marked sent); bench.py's config uses 4 connections
(BENCH_SMTP_CONNECTIONS). Printed: `duplicate_acks <= kills` (in total), and per kill whether
it resent at most 1 and at most smtp.connections. A duplicate is put down to the last kill
before its row's sent_at (the recorded copy went out from a daemon started after the kill
that lost the first copy's result). Set BENCH_SMTP_CONNECTIONS=1 for a run where one per kill
is the documented bound (as in tests/restart_and_outage.rs).

Exit status: 0 when lost == 0 and doubled == 0; 1 when a complaint was lost or a case doubled;
2 when the run did not settle within --timeout (the figures are then printed but incomplete).

Usage:
  cargo build --release && python3 bench/crash_storm.py
  python3 bench/crash_storm.py [--n 2000] [--kills 10] [--seed 1] [--rate 80] [--senders 4]
                               [--min-gap 1] [--max-gap 4] [--timeout 600] [--json-out FILE]
  The servers' state dir and ports come from the MAILENV_* variables (see tests/mailserver/README.md),
  e.g. MAILENV_DIR=/tmp/storm-mailenv MAILENV_IMAP_PORT=17143 MAILENV_LMTP_PORT=17024
       MAILENV_SMTP_PORT=17025 MAILENV_SUBMISSION_PORT=17587 python3 bench/crash_storm.py
  The daemon's log (MAILCASE_LOG=$STORM_DAEMON_LOG, default info) is <config dir>/daemon.log,
  with a line marking each start and kill.
"""
import argparse, email.parser, imaplib, json, os, random, re, signal, smtplib, sqlite3, subprocess
import sys, threading, time, uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mailenv import BIN, IMAP, PW, SMTP, repo, world  # noqa: E402  (starts/joins the servers)
from bench import CUSTOMER_DOMAIN, queue_dir  # noqa: E402

WORDS = ("widget order invoice delivery broken refund account password login screen error "
         "payment shipping package damaged missing late support please help customer "
         "number reference yesterday today still working again thanks").split()


def norm_mid(mid):
    """Message-IDs compared without angle brackets, whitespace or case."""
    return mid.strip().strip("<>").strip().lower() if mid else None


# ------------------------------------------------------------------------- complaints

class Complaint:
    def __init__(self, i, tag, support, rng):
        self.i = i
        self.customer = f"c{i:04d}-{tag}@{CUSTOMER_DOMAIN}"
        self.mid = f"<storm-{tag}-{i}.{rng.getrandbits(48):012x}@{CUSTOMER_DOMAIN}>"
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 120)))
        self.raw = (f"From: Customer {i} <{self.customer}>\r\nTo: Support <{support}>\r\n"
                    f"Subject: complaint {i}: {rng.choice(WORDS)} {rng.choice(WORDS)}\r\n"
                    f"Message-ID: {self.mid}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
                    f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
                    f"Complaint {i} (token {uuid.uuid4().hex}): {words}\r\n").encode()
        self.accepted_at = None   # monotonic time Postfix answered 250 to our DATA
        self.error = None


def send_all(complaints, support, rate, senders, t0):
    """Mails the complaints through Postfix from `senders` parallel SMTP sessions; complaint k
    is due at t0 + k/rate (rate 0: as fast as Postfix takes them). Retries a refused or broken
    session up to 5 times per complaint."""
    def worker(part):
        s = None
        for c in part:
            if rate > 0:
                pause = t0 + c.i / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            for attempt in range(5):
                try:
                    if s is None:
                        s = smtplib.SMTP("127.0.0.1", SMTP, timeout=30)
                    s.sendmail(c.customer, [support], c.raw)
                    c.accepted_at = time.monotonic()
                    c.error = None
                    break
                except (smtplib.SMTPException, OSError) as e:
                    c.error = f"{type(e).__name__}: {e}"
                    try:
                        if s is not None:
                            s.close()
                    except OSError:
                        pass
                    s = None
                    time.sleep(0.2 * (attempt + 1))
        if s is not None:
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass
    threads = [threading.Thread(target=worker, args=(complaints[k::senders],), daemon=True)
               for k in range(senders)]
    for t in threads:
        t.start()
    return threads


# ------------------------------------------------------------------------- the daemon

class Daemon:
    """The release binary; every start and kill is marked in <dir>/daemon.log."""
    def __init__(self, d):
        self.d, self.log = d, f"{d}/daemon.log"
        self.p = None
        self.starts = 0

    def _mark(self, what):
        with open(self.log, "a") as f:
            f.write(f"===== crash_storm: {what} at {time.strftime('%H:%M:%S')} =====\n")

    def start(self):
        self.starts += 1
        self._mark(f"start #{self.starts}")
        self.p = subprocess.Popen(
            [BIN, "--config", f"{self.d}/mailcase.toml", "run"],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "a"),
            env={**os.environ, "MAILCASE_LOG": os.environ.get("STORM_DAEMON_LOG", "info")})
        self.started = time.monotonic()

    def kill9(self):
        """SIGKILL; returns when (Unix time), how long this instance had run, and its exit
        status if it had already exited by itself."""
        lived, at = time.monotonic() - self.started, time.time()
        exited = self.p.poll()
        if exited is None:
            self.p.send_signal(signal.SIGKILL)
        self.p.wait()
        self._mark(f"kill -9 of start #{self.starts} (pid {self.p.pid}) after {lived:.2f} s")
        return at, lived, exited

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self._mark(f"SIGTERM of start #{self.starts}")


# ------------------------------------------------------------------------- observing

def ro(db):
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)


def db_progress(db):
    """(cases, messages stored, acks sent, outbox rows pending); zeros before the DB exists."""
    if not os.path.exists(db):
        return 0, 0, 0, 0
    for _ in range(20):
        try:
            con = ro(db)
            try:
                one = lambda q: con.execute(q).fetchone()[0]
                return (one("SELECT count(*) FROM cases"), one("SELECT count(*) FROM messages"),
                        one("SELECT count(*) FROM outbox WHERE kind = 'ack' AND status = 'sent'"),
                        one("SELECT count(*) FROM outbox WHERE status = 'pending'"))
            finally:
                con.close()
        except sqlite3.Error:
            time.sleep(0.1)   # the schema is being created by a fresh daemon
    return 0, 0, 0, 0


def imap_login(user):
    c = imaplib.IMAP4("127.0.0.1", IMAP)
    c.login(user, PW)
    return c


def inbox_count(user):
    c = imap_login(user)
    try:
        typ, data = c.status("INBOX", "(MESSAGES)")
        return int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))
    finally:
        c.logout()


def postfix_queue_len(qdir):
    return sum(len(fs) for sub in ("maildrop", "incoming", "active", "deferred")
               for _, _, fs in os.walk(f"{qdir}/{sub}"))


HEADER_PARSER = email.parser.BytesHeaderParser()


def folder_message_ids(user, folders=None):
    """{folder: [Message-ID, ...]} over `folders` (default: every folder) of a mailbox."""
    c = imap_login(user)
    out = {}
    try:
        if folders is None:
            typ, lines = c.list()
            folders = []
            for line in lines or []:
                m = re.match(rb'\((?P<flags>[^)]*)\) (?:"[^"]*"|NIL) (?P<name>.+)$', line)
                if m and b"\\Noselect" not in m.group("flags"):
                    folders.append(m.group("name").decode().strip('"'))
        for f in folders:
            typ, data = c.select(f'"{f}"', readonly=True)
            if typ != "OK":
                continue
            ids = []
            if int(data[0]) > 0:
                typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
                for part in data:
                    if isinstance(part, tuple):
                        ids.append(norm_mid(HEADER_PARSER.parsebytes(part[1]).get("Message-ID")))
            out[f] = ids
            c.close()
    finally:
        c.logout()
    return out


def customer_inboxes(customers, workers=4):
    """{customer: [Message-ID of each message in their INBOX]}."""
    def one(cust):
        for attempt in range(3):
            try:
                return cust, folder_message_ids(cust, ["INBOX"]).get("INBOX", [])
            except (imaplib.IMAP4.error, OSError):
                time.sleep(0.5 * (attempt + 1))
        return cust, folder_message_ids(cust, ["INBOX"]).get("INBOX", [])
    with ThreadPoolExecutor(workers) as ex:
        return dict(ex.map(one, customers))


# ------------------------------------------------------------------------- the run

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="complaints, one customer each")
    ap.add_argument("--kills", type=int, default=10, help="kill -9 to send while it ingests")
    ap.add_argument("--seed", type=int, default=1, help="seeds the kill moments and the bodies")
    ap.add_argument("--min-gap", type=float, default=1.0, help="a daemon lives at least this long (s)")
    ap.add_argument("--max-gap", type=float, default=4.0, help="... and at most this long (s)")
    ap.add_argument("--rate", type=float, default=80.0,
                    help="complaints/s mailed (0: as fast as Postfix accepts); the default spreads "
                         "2000 over the ~25 s of 10 kills")
    ap.add_argument("--senders", type=int, default=4, help="parallel SMTP sessions mailing them")
    ap.add_argument("--timeout", type=float, default=600, help="bound on the wait to settle (s)")
    ap.add_argument("--json-out", help="also write the JSON object to this file")
    a = ap.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit(f"{BIN} missing: run `cargo build --release` first")

    rng = random.Random(a.seed)
    tag = f"storm{uuid.uuid4().hex[:6]}"
    d, support = world(tag, outbox_extra="max_automatic_per_minute = 1000000\n")
    smtp_connections = int(re.search(r"(?m)^\[smtp\][^\[]*?^connections = (\d+)",
                                      open(f"{d}/mailcase.toml").read()).group(1))
    db = f"{d}/mailcase.db"
    qdir = queue_dir()
    complaints = [Complaint(i, tag, support, rng) for i in range(a.n)]
    print(f"crash storm: {a.n} complaints to {support}, {a.kills} kills, seed {a.seed}, "
          f"config {d}", file=sys.stderr)

    t_run = time.monotonic()
    daemon = Daemon(d)
    daemon.start()
    senders = send_all(complaints, support, a.rate, a.senders, time.monotonic())

    # The storm: each daemon lives a random 1-4 s, is killed with SIGKILL, and is replaced.
    kill_log = []
    for k in range(a.kills):
        time.sleep(rng.uniform(a.min_gap, a.max_gap))
        at, lived, exited = daemon.kill9()
        cases, stored, acks_sent, pending = db_progress(db)
        mailed = sum(1 for c in complaints if c.accepted_at is not None)
        inbox = inbox_count(support)
        kill_log.append({"kill": k + 1, "at_s": round(time.monotonic() - t_run, 2), "unix_time": at,
                         "daemon_lived_s": round(lived, 2), "had_exited": exited,
                         "mailed": mailed, "cases": cases, "stored": stored, "inbox": inbox,
                         "acks_sent": acks_sent, "outbox_pending": pending})
        print(f"  kill {k + 1}: {kill_log[-1]}", file=sys.stderr)
        daemon.start()
    storm_s = time.monotonic() - t_run
    for t in senders:
        t.join()
    send_s = max((c.accepted_at for c in complaints if c.accepted_at), default=t_run) - t_run

    # Settle: the INBOX empty, nothing pending in the outbox, Postfix's queue empty, 3 s in a row.
    t_settle = time.monotonic()
    settled, steady = False, 0
    while time.monotonic() - t_settle < a.timeout:
        if daemon.p.poll() is not None:
            print(f"  the daemon exited with {daemon.p.returncode}; restarting it", file=sys.stderr)
            daemon.start()
        _, _, _, pending = db_progress(db)
        idle = pending == 0 and postfix_queue_len(qdir) == 0 and inbox_count(support) == 0
        steady = steady + 1 if idle else 0
        if steady >= 3:
            settled = True
            break
        time.sleep(1)
    settle_s = time.monotonic() - t_settle
    daemon.stop()

    res = measure(a, db, support, complaints, kill_log, smtp_connections)
    res.update({"settled": settled, "wall_s": round(time.monotonic() - t_run, 1),
                "storm_s": round(storm_s, 1), "mailing_s": round(send_s, 1),
                "settle_s": round(settle_s, 1), "config": d, "daemon_log": daemon.log,
                "mailcase": subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout.strip(),
                # The checkout's HEAD now, and when the binary was built (it may be older).
                "git": subprocess.run(["git", "-C", repo, "describe", "--always", "--dirty"],
                                      capture_output=True, text=True).stdout.strip() or None,
                "binary_built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.path.getmtime(BIN)))})
    print(json.dumps(res, indent=2))
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(res, f, indent=2)
    table(res)
    if res["lost"] or res["doubled"]:
        sys.exit(1)
    if not settled:
        sys.exit(2)


def measure(a, db, support, complaints, kill_log, smtp_connections):
    con = ro(db)
    try:
        cases = con.execute("SELECT id, reference, customer_address, created_at FROM cases").fetchall()
        messages = con.execute("SELECT id, case_id, message_id, source_mailbox, uidvalidity, uid, "
                               "dedupe_id, outcome, received_at FROM messages").fetchall()
        quarantine = con.execute("SELECT id, reason, raw FROM quarantine").fetchall()
        outbox = con.execute("SELECT id, case_id, kind, recipient, message_id, status, attempts, "
                             "last_error, sent_at FROM outbox").fetchall()
    finally:
        con.close()

    accepted = [c for c in complaints if c.accepted_at is not None]
    by_mid = {norm_mid(c.mid): c for c in complaints}
    stored = defaultdict(list)                      # complaint Message-ID -> message rows
    for m in messages:
        stored[norm_mid(m[2])].append(m)
    quarantined = set()
    for q in quarantine:
        if q[2]:
            quarantined.add(norm_mid(HEADER_PARSER.parsebytes(bytes(q[2])).get("Message-ID")))
    folders = folder_message_ids(support)           # every folder of the support mailbox
    where = defaultdict(list)                       # Message-ID -> folders holding it
    for f, ids in folders.items():
        for mid in ids:
            where[mid].append(f)

    lost = [c for c in accepted if not stored.get(norm_mid(c.mid)) and not where.get(norm_mid(c.mid))]
    stored_twice = [c for c in accepted if len(stored.get(norm_mid(c.mid), [])) > 1]
    without_case = [c for c in accepted if stored.get(norm_mid(c.mid))
                    and all(m[1] is None for m in stored[norm_mid(c.mid)])]
    left_in_inbox = [c for c in accepted if "INBOX" in where.get(norm_mid(c.mid), [])]
    in_two_folders = [c for c in accepted if len(where.get(norm_mid(c.mid), [])) > 1]

    ours = {c.customer.lower() for c in complaints}
    cases_of = defaultdict(list)
    for case in cases:
        if case[2] and case[2].lower() in ours:
            cases_of[case[2].lower()].append(case)
    doubled = {cust: cs for cust, cs in cases_of.items() if len(cs) > 1}

    # Acknowledgments: what each customer's INBOX holds, told apart by the outbox's Message-IDs.
    ack_rows = defaultdict(list)                    # customer -> ack outbox rows
    ack_mids = {}
    for o in outbox:
        if o[2] == "ack":
            ack_rows[o[3].lower()].append(o)
            ack_mids[norm_mid(o[4])] = o
    inboxes = customer_inboxes([c.customer for c in accepted])
    acks_received, with_ack, other_mail = 0, 0, 0
    duplicated, two_different = [], []
    for cust, mids in inboxes.items():
        acks = [m for m in mids if m in ack_mids]
        other_mail += len(mids) - len(acks)
        acks_received += len(acks)
        with_ack += bool(acks)
        copies = Counter(acks)
        for mid, n in copies.items():
            if n > 1:
                o = ack_mids[mid]
                duplicated.append({"customer": cust, "ack_message_id": o[4], "copies": n,
                                   "outbox_id": o[0], "attempts": o[6], "status": o[5],
                                   "sent_at": o[8], "kill": kill_before(kill_log, o[8])})
        if len(copies) > 1:
            two_different.append({"customer": cust, "ack_message_ids": sorted(copies)})
    duplicate_acks = acks_received - with_ack
    # Which kill each duplicate belongs to: the copy that was sent and never recorded went out
    # from the daemon that kill ended; the recorded copy (sent_at) from one started after it.
    per_kill = Counter()
    for dup in duplicated:
        per_kill[dup["kill"]] += dup["copies"] - 1
    for k in kill_log:
        k["duplicate_acks"] = per_kill.get(k["kill"], 0)
    max_per_kill = max(per_kill.values(), default=0)

    res = {
        "complaints": a.n, "customers": len(ours), "kills": len(kill_log), "seed": a.seed,
        "rate_per_s": a.rate, "smtp_connections": smtp_connections,
        "accepted_by_postfix": len(accepted),
        "not_accepted_by_postfix": [{"i": c.i, "error": c.error} for c in complaints if c.accepted_at is None],
        "cases": len(cases), "cases_of_these_customers": sum(len(v) for v in cases_of.values()),
        "stored": sum(1 for c in accepted if stored.get(norm_mid(c.mid))),
        "stored_twice": len(stored_twice), "stored_without_case": len(without_case),
        "quarantined": sum(1 for c in accepted if norm_mid(c.mid) in quarantined),
        "left_in_inbox": len(left_in_inbox), "in_two_support_folders": len(in_two_folders),
        "support_folders": {f: len(ids) for f, ids in folders.items()},
        "lost": len(lost), "doubled": len(doubled),
        "acks_received": acks_received, "customers_with_ack": with_ack,
        "duplicate_acks": duplicate_acks,
        "customers_without_ack": len(accepted) - with_ack,
        "customers_with_two_different_acks": len(two_different),
        "cases_with_two_ack_rows": sum(1 for rows in ack_rows.values() if len({r[1] for r in rows}) < len(rows)),
        "other_mail_to_customers": other_mail,
        "outbox": dict(Counter(f"{o[2]}:{o[5]}" for o in outbox)),
        "duplicate_acks_le_kills": duplicate_acks <= len(kill_log),
        "duplicate_acks_le_kills_x_connections": duplicate_acks <= len(kill_log) * smtp_connections,
        "max_duplicate_acks_from_one_kill": max_per_kill,
        "kills_with_duplicate_acks": sum(1 for k, v in per_kill.items() if k is not None and v),
        "duplicate_acks_per_kill_le_1": max_per_kill <= 1,
        "duplicate_acks_per_kill_le_connections": max_per_kill <= smtp_connections,
        "duplicate_acks_not_after_a_kill": per_kill.get(None, 0),
        "kills_with_work_pending": sum(1 for k in kill_log if k["inbox"] or k["outbox_pending"]
                                       or k["mailed"] < a.n),
        "kill_log": kill_log,
        "duplicated_acks": duplicated[:50],
    }
    if two_different:
        res["two_different_acks"] = two_different[:20]
    if lost:
        res["lost_details"] = [{"i": c.i, "customer": c.customer, "message_id": c.mid,
                                "mailed_at_s": round(c.accepted_at - (min(x.accepted_at for x in accepted)), 2)}
                               for c in lost[:50]]
    if doubled:
        res["doubled_details"] = [
            {"customer": cust, "cases": [
                {"id": cs[0], "reference": cs[1], "created_at": cs[3],
                 "messages": [{"id": m[0], "message_id": m[2], "mailbox": m[3], "uidvalidity": m[4],
                               "uid": m[5], "dedupe_id": m[6], "outcome": m[7], "received_at": m[8]}
                              for m in messages if m[1] == cs[0]]}
                for cs in cs_list]}
            for cust, cs_list in list(doubled.items())[:20]]
    if stored_twice:
        res["stored_twice_details"] = [{"message_id": c.mid, "rows": [list(m[:9]) for m in stored[norm_mid(c.mid)]]}
                                       for c in stored_twice[:20]]
    if left_in_inbox:
        res["left_in_inbox_details"] = [c.mid for c in left_in_inbox[:20]]
    unknown = [mid for mid in stored if mid not in by_mid]
    if unknown:
        res["stored_not_ours"] = len(unknown)
    return res


def kill_before(kill_log, sent_at):
    """The number of the last kill before `sent_at` (the database's UTC text time), or None."""
    if not sent_at:
        return None
    t = datetime.fromisoformat(sent_at.replace("Z", "+00:00")).timestamp()
    before = [k["kill"] for k in kill_log if k["unix_time"] < t]
    return before[-1] if before else None


def table(r):
    rows = [
        ("complaints mailed / accepted by Postfix", f"{r['complaints']} / {r['accepted_by_postfix']}"),
        ("kill -9 (with work pending)", f"{r['kills']} ({r['kills_with_work_pending']})"),
        ("cases / stored / quarantined / left in INBOX",
         f"{r['cases']} / {r['stored']} / {r['quarantined']} / {r['left_in_inbox']}"),
        ("lost", r["lost"]), ("doubled (customers with >1 case)", r["doubled"]),
        ("acks received / customers with one", f"{r['acks_received']} / {r['customers_with_ack']}"),
        ("duplicate acks", r["duplicate_acks"]),
        ("duplicate acks <= kills", r["duplicate_acks_le_kills"]),
        ("duplicate acks by kill (kill: count)",
         ", ".join(f"{k['kill']}: {k['duplicate_acks']}" for k in r["kill_log"] if k["duplicate_acks"]) or "-"),
        ("at most 1 duplicate per kill", r["duplicate_acks_per_kill_le_1"]),
        (f"at most {r['smtp_connections']} (smtp.connections) per kill",
         r["duplicate_acks_per_kill_le_connections"]),
        ("customers without ack", r["customers_without_ack"]),
        ("settled", r["settled"]),
        ("wall s (storm / mailing / settle)", f"{r['wall_s']} ({r['storm_s']} / {r['mailing_s']} / {r['settle_s']})"),
    ]
    w = max(len(k) for k, _ in rows)
    print()
    for k, v in rows:
        print(f"{k:<{w}}  {v}")


if __name__ == "__main__":
    main()
