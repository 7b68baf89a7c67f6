"""Figures for the foundation issue, on the real local servers (tests/mailserver):
  1. time from a complaint's delivery into the support INBOX (Postfix accepted it) to its
     acknowledgment arriving in the customer's INBOX, median of 20 (one at a time);
  2. wall time to ingest and acknowledge 1000 complaints seeded into the INBOX by IMAP APPEND
     (until every case exists and every acknowledgment was accepted by Postfix).
Usage: python3 bench/issue2_figures.py  (after `cargo build --release`; starts the servers)
The full benchmark of the performance issue lives beside this file when it is built."""
import imaplib, json, os, smtplib, sqlite3, statistics, subprocess, sys, tempfile, time, uuid

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
env = dict(l.split("=", 1) for l in subprocess.check_output([f"{repo}/tests/mailserver/up.sh"], text=True).split() if "=" in l)
IMAP, SMTP, PW = int(env["MAILENV_IMAP_PORT"]), int(env["MAILENV_SMTP_PORT"]), env["MAILENV_PASSWORD"]
BIN = f"{repo}/target/release/mailcase"

def world(tag, extra=""):
    d = tempfile.mkdtemp(prefix="mailcase-fig-")
    support = f"support-{tag}@support.test"
    open(f"{d}/imap-password", "w").write(PW + "\n")
    cfg = open(f"{repo}/tests/fixtures/config/integration.toml").read()
    cfg = (cfg.replace("@IMAP_PORT@", str(IMAP)).replace("@SMTP_PORT@", str(SMTP))
              .replace("@SUPPORT@", support).replace("@TEMPLATES@", f"{repo}/templates"))
    cfg = cfg.replace('batch_size = 50', 'batch_size = 200').replace('connections = 2', 'connections = 4')
    if extra:
        cfg = cfg.replace("[outbox]\n", "[outbox]\n" + extra)
    open(f"{d}/mailcase.toml", "w").write(cfg)
    return d, support

def start(d):
    return subprocess.Popen([BIN, "--config", f"{d}/mailcase.toml", "run"], stderr=open(f"{d}/daemon.log", "w"))

def complaint(frm, to, i):
    return (f"From: Customer {i} <{frm}>\r\nTo: {to}\r\nSubject: complaint {i} - broken widget\r\n"
            f"Message-ID: <{uuid.uuid4()}@customer.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n"
            f"My widget number {i} stopped working yesterday. Please help.\r\n").encode()

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
    d, support = world(tag, extra)
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
        rss = int([l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmHWM")][0].split()[1])
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
