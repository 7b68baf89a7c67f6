"""Figures for the foundation issue, on the real local servers (tests/mailserver):
  1. time from a complaint's delivery into the support INBOX (Postfix accepted it) to its
     acknowledgment arriving in the customer's INBOX, median of 20 (one at a time);
  2. wall time to ingest and acknowledge 1000 complaints seeded into the INBOX by IMAP APPEND
     (until every case exists and every acknowledgment was accepted by Postfix).
Usage: python3 bench/issue2_figures.py  (after `cargo build --release`; starts the servers)
The full benchmark of the performance issue lives beside this file when it is built."""
import imaplib, json, os, smtplib, sqlite3, statistics, sys, time

from mailenv import IMAP, PW, SMTP, complaint, peak_rss_kb, start, world

def latency():
    tag = f"lat{os.getpid()}"
    d, support = world(tag)
    p = start(d); time.sleep(1.5)
    out = []
    try:
        for i in range(20):
            cust = f"lat{i}-{tag}@customer.test"
            with smtplib.SMTP("127.0.0.1", SMTP) as s:
                t0 = time.monotonic()
                s.sendmail(cust, [support], complaint(cust, support, i))
            c = imaplib.IMAP4("127.0.0.1", IMAP); c.login(cust, PW)
            while int(c.select("INBOX", readonly=True)[1][0]) == 0:
                if time.monotonic() - t0 > 30: raise SystemExit("no ack in 30 s")
                time.sleep(0.005)
            out.append(time.monotonic() - t0); c.logout()
    finally:
        p.terminate(); p.wait()
    return out

def backlog(n=1000, extra=""):
    tag = f"bl{os.getpid()}{len(extra)}"
    d, support = world(tag, outbox_extra=extra)
    c = imaplib.IMAP4("127.0.0.1", IMAP); c.login(support, PW)
    for i in range(n):
        cust = f"b{i}-{tag}@customer.test"
        c.append("INBOX", None, None, complaint(cust, support, i))
    c.logout()
    t0 = time.monotonic(); p = start(d)
    db = f"{d}/mailcase.db"
    try:
        while True:
            time.sleep(0.05)
            if not os.path.exists(db): continue
            try:
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                cases = con.execute("select count(*) from cases").fetchone()[0]
                sent = con.execute("select count(*) from outbox where status='sent'").fetchone()[0]
                con.close()
            except sqlite3.Error:
                continue
            if cases == n and sent == n: break
            if time.monotonic() - t0 > 600: raise SystemExit(f"backlog not done: {cases} cases, {sent} sent")
        wall = time.monotonic() - t0
        rss = peak_rss_kb(p.pid)
    finally:
        p.terminate(); p.wait()
    return wall, rss

lat = latency()
wall, rss = backlog(extra="max_automatic_per_minute = 100000\n")
print("raised breaker done", wall, file=sys.stderr)
# Default circuit breaker (600 automatic mails a minute) and raised, to show both.
wall_b, rss_b = backlog()
res = {"ack_latency_s": {"median": round(statistics.median(lat), 3), "min": round(min(lat), 3),
                          "max": round(max(lat), 3), "n": len(lat)},
       "backlog_1000_breaker_raised": {"wall_s": round(wall, 2), "acks_per_s": round(1000 / wall, 1), "peak_rss_kb": rss},
       "backlog_1000_default_breaker": {"wall_s": round(wall_b, 2), "acks_per_s": round(1000 / wall_b, 1), "peak_rss_kb": rss_b}}
print(json.dumps(res, indent=2))
