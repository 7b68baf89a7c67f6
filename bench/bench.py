"""The performance benchmark, on the real local servers of tests/mailserver.

Measures, in one run, with the release binary:
  raw        what the servers themselves do with the same kind of mail: Dovecot's
             `UID FETCH 1:* (BODY.PEEK[])` rate over the backlog before the daemon touches it,
             and Postfix's accept rate from 1 and from 4 SMTP sessions (Postfix's own
             smtp-source, 5 KB messages, connections reused);
  backlog    N complaints (varied sizes, 10% with an attachment, 20% non-ASCII, every one from
             a distinct customer) APPENDed to the support INBOX, then the daemon started: time
             until every case exists, until every acknowledgment was accepted by Postfix, and
             until every acknowledgment was delivered into its customer's mailbox (Postfix's
             log says status=sent over LMTP); for N = 1000 and 10000;
  suppressed the same 10000 with acknowledgments off (`[acknowledgment] enabled = false`):
             messages/s into cases, i.e. IMAP + parsing + SQLite alone;
  latency    complaints mailed through Postfix at a steady 10/s for 60 s to the daemon
             waiting in IDLE: time from Postfix accepting the complaint (its 250 to our DATA)
             to Postfix accepting the acknowledgment (the outbox records sent_at when the 250
             arrives), p50/p90/p99/max;
  and the daemon's peak RSS (VmHWM) and CPU seconds (utime + stime) in every run.

Every run is made once per storage engine (`--engines sqlite,postgres`, the default when
bench/run.sh started the benchmark's PostgreSQL and passed it in BENCH_PG_* variables), the
engines alternating run by run so that both see the same machine. On PostgreSQL each run
gets a fresh database (CREATE DATABASE as the mailcase role), the daemon reaches it over TLS
on loopback (sslmode=require, the test CA), and the run also reports the PostgreSQL
cluster's CPU seconds and peak memory (sum of the PSS of its processes, sampled).

Prints one JSON object (also written to bench/results/latest.json) and the tables.
Usage: bench/run.sh [--quick]   (installs/starts the servers, builds, runs this)
       python3 bench/bench.py [--sizes 1000,10000] [--latency-seconds 60] [--skip-suppressed]
                              [--engines sqlite,postgres]
"""
import argparse, base64, imaplib, json, os, platform, quopri, random, re, smtplib, socket, sqlite3
import statistics, subprocess, sys, threading, time, uuid

from datetime import datetime

from mailenv import BIN, IMAP, PW, SMTP, env, peak_rss_kb, repo, world
import pgbench

CUSTOMER_DOMAIN = env.get("MAILENV_CUSTOMER_DOMAIN", "customer.test")
MAILENV_DIR = env["MAILENV_DIR"]
POSTFIX_LOG = f"{MAILENV_DIR}/log/postfix.log"

WORDS = ("widget order invoice delivery broken refund account password login screen error "
         "payment shipping package damaged missing late support please help customer "
         "number reference yesterday today still working again thanks").split()
NON_ASCII = [
    ("Reklamation: Gerät defekt, Rückerstattung gewünscht",
     "Sehr geehrte Damen und Herren, mein Gerät funktioniert nicht mehr. Grüße aus Köln."),
    ("注文した商品が届きません", "先週注文した商品がまだ届いていません。確認をお願いします。"),
    ("Réclamation : facture erronée", "Bonjour, ma facture de novembre est erronée. Merci d'avance."),
    ("Жалоба: не работает вход", "Здравствуйте, я не могу войти в свой аккаунт уже два дня."),
]


def complaint(i, tag, support, rng):
    """One complaint from a customer of its own: sizes from 300 B to ~40 KB of text, 10% with
    an attachment (8-120 KB), 20% non-ASCII (RFC 2047 subjects, quoted-printable UTF-8)."""
    cust = f"c{i}-{tag}@{CUSTOMER_DOMAIN}"
    mid = f"<{uuid.uuid4()}@{CUSTOMER_DOMAIN}>"
    n_words = int(min(6000, rng.lognormvariate(4.5, 1.1)))
    text = " ".join(rng.choice(WORDS) for _ in range(max(20, n_words)))
    text = "\r\n".join(text[k:k + 72] for k in range(0, len(text), 72))
    hdr = [f"From: Customer {i} <{cust}>", f"To: Support <{support}>",
           f"Message-ID: {mid}", "Date: Mon, 23 Nov 2026 10:00:00 +0000", "MIME-Version: 1.0"]
    if i % 5 == 0:
        subj, line = NON_ASCII[(i // 5) % len(NON_ASCII)]
        hdr.append("Subject: =?UTF-8?B?" + base64.b64encode(f"{subj} #{i}".encode()).decode() + "?=")
        body_part = ("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                     + quopri.encodestring((line + "\r\n\r\n" + text).encode()).decode().replace("\n", "\r\n"))
    else:
        hdr.append(f"Subject: complaint {i}: {rng.choice(WORDS)} {rng.choice(WORDS)}")
        body_part = "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + text + "\r\n"
    if i % 10 == 3:
        b = f"b{uuid.uuid4().hex}"
        blob = base64.encodebytes(rng.randbytes(rng.randint(8_000, 120_000))).decode().replace("\n", "\r\n")
        hdr.append(f'Content-Type: multipart/mixed; boundary="{b}"')
        body = (f"\r\n--{b}\r\n{body_part}\r\n--{b}\r\nContent-Type: application/pdf\r\n"
                f'Content-Disposition: attachment; filename="receipt-{i}.pdf"\r\n'
                f"Content-Transfer-Encoding: base64\r\n\r\n{blob}\r\n--{b}--\r\n")
        return cust, mid, ("\r\n".join(hdr) + "\r\n" + body).encode()
    return cust, mid, ("\r\n".join(hdr) + "\r\n" + body_part).encode()


def bench_world(tag, engine, tail=""):
    """A fresh support mailbox and config: every complaint is owed an acknowledgment (distinct
    senders), breaker and batch sized for a backlog, no agents (acknowledgments only). Returns
    the config dir, the support address and the run's store (a fresh database on PostgreSQL)."""
    d, support = world(tag, outbox_extra="max_automatic_per_minute = 1000000\n", tail=tail)
    if engine == "sqlite":
        return d, support, SqliteStore(f"{d}/mailcase.db")
    pg = pgbench.fresh_database(tag)
    cfg = open(f"{d}/mailcase.toml").read()
    old = '[store]\npath = "mailcase.db"\n'
    assert old in cfg, "the fixture config's [store] section changed"
    open(f"{d}/mailcase.toml", "w").write(cfg.replace(old, pg.store_toml(d)))
    return d, support, pg


def append_all(support, msgs, conns=4):
    return append_all_to(support, "INBOX", msgs, conns)


def append_all_to(support, folder, msgs, conns=4):
    def worker(part):
        c = imaplib.IMAP4("127.0.0.1", IMAP)
        c.login(support, PW)
        for raw in part:
            typ, _ = c.append(folder, None, None, raw)
            assert typ == "OK"
        c.logout()
    ts = [threading.Thread(target=worker, args=(msgs[k::conns],)) for k in range(conns)]
    t0 = time.monotonic()
    for t in ts: t.start()
    for t in ts: t.join()
    return time.monotonic() - t0


def dovecot_move_rate(user, batch):
    """Dovecot alone: `UID MOVE` in batches of `batch` of a copy of the INBOX (UID COPY, hard
    links in Maildir) between two scratch folders."""
    s = socket.create_connection(("127.0.0.1", IMAP))
    f = s.makefile("rb", buffering=1 << 20)
    f.readline()
    tag = iter(range(1, 1 << 30))

    def cmd(c):
        t = f"m{next(tag)}"
        s.sendall(f"{t} {c}\r\n".encode())
        out = b""
        while True:
            line = f.readline()
            out += line
            if not line or line.startswith(f"{t} ".encode()):
                return out

    cmd(f'LOGIN "{user}" "{PW}"')
    for box in ("bench-move-a", "bench-move-b"):
        cmd(f"CREATE {box}")
    cmd("SELECT INBOX")
    cmd("UID COPY 1:* bench-move-a")
    sel = cmd("SELECT bench-move-a")
    n = int(re.search(rb"\* (\d+) EXISTS", sel).group(1))
    t0 = time.monotonic()
    # UIDs in the fresh folder are 1..n.
    for lo in range(1, n + 1, batch):
        cmd(f"UID MOVE {lo}:{min(lo + batch - 1, n)} bench-move-b")
    dt = time.monotonic() - t0
    cmd("UNSELECT")
    for box in ("bench-move-a", "bench-move-b"):
        cmd(f"DELETE {box}")
    s.sendall(b"z LOGOUT\r\n"); s.close()
    return n / dt


def dovecot_fetch_rate(user, n_expected, rounds=3):
    """Dovecot alone: one `UID FETCH 1:* (BODY.PEEK[])` on one connection, read to the tagged
    OK as fast as a socket can (no parsing beyond literals' sizes). Median of `rounds`."""
    rates = []
    for _ in range(rounds):
        s = socket.create_connection(("127.0.0.1", IMAP))
        f = s.makefile("rb", buffering=1 << 20)
        f.readline()
        s.sendall(f'a LOGIN "{user}" "{PW}"\r\n'.encode()); _until(f, b"a ")
        s.sendall(b"b EXAMINE INBOX\r\n"); _until(f, b"b ")
        t0 = time.monotonic()
        s.sendall(b"c UID FETCH 1:* (BODY.PEEK[])\r\n")
        n = 0
        while True:
            line = f.readline()
            if line.startswith(b"c "):
                break
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if m:
                f.read(int(m.group(1))); n += 1
        dt = time.monotonic() - t0
        s.sendall(b"d LOGOUT\r\n"); s.close()
        assert n == n_expected, f"fetched {n}, expected {n_expected}"
        rates.append(n / dt)
    return statistics.median(rates)


def _until(f, tag):
    while True:
        line = f.readline()
        if not line or line.startswith(tag):
            return line


def queue_dir():
    for line in open(f"{MAILENV_DIR}/postfix/main.cf"):
        if line.startswith("queue_directory"):
            return line.split("=", 1)[1].strip()
    raise SystemExit("no queue_directory in the test Postfix's main.cf")


def wait_postfix_idle(timeout=600):
    """Until Postfix's queue is empty (nothing incoming, active or deferred)."""
    q = queue_dir(); t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        n = sum(len(fs) for sub in ("maildrop", "incoming", "active", "deferred")
                for _, _, fs in os.walk(f"{q}/{sub}"))
        if n == 0:
            return
        time.sleep(0.2)
    raise SystemExit("postfix queue did not drain")


def machine_cpu():
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
    hz = os.sysconf("SC_CLK_TCK")
    busy = f[0] + f[1] + f[2] + f[5] + f[6]  # user nice system irq softirq (not idle, iowait, steal)
    return busy / hz, sum(f) / hz


def postfix_accept_rate(sessions, messages=2000, size=5120):
    """Postfix alone: smtp-source, `sessions` parallel sessions each reusing its connection."""
    wait_postfix_idle()
    sink = f"sink-{uuid.uuid4().hex[:8]}@{CUSTOMER_DOMAIN}"
    t0 = time.monotonic()
    m0 = machine_cpu()
    subprocess.run(["/usr/sbin/smtp-source", "-d", "-s", str(sessions), "-m", str(messages),
                    "-l", str(size), "-f", f"bench@{CUSTOMER_DOMAIN}", "-t", sink,
                    f"127.0.0.1:{SMTP}"], check=True)
    dt = time.monotonic() - t0
    m1 = machine_cpu()
    wait_postfix_idle()
    m2 = machine_cpu()
    # CPU of the whole machine per message: while accepting, and until delivered into Dovecot.
    return messages / dt, {"busy_pct_while_accepting": round(100 * (m1[0] - m0[0]) / (m1[1] - m0[1])),
                           "machine_cpu_ms_per_msg_accept_and_deliver": round(1000 * (m2[0] - m0[0]) / messages, 2)}


class Daemon:
    def __init__(self, d, store=None):
        self.d = d
        self.store = store
        if store is not None:
            store.server_begin()
        self.wall0 = time.time()
        self.p = subprocess.Popen([BIN, "--config", f"{d}/mailcase.toml", "run"],
                                  stderr=open(f"{d}/daemon.log", "a"),
                                  env={**os.environ, "MAILCASE_LOG": os.environ.get("BENCH_DAEMON_LOG", "warn")})
        self.t0 = time.monotonic()

    def stats(self):
        st = open(f"/proc/{self.p.pid}/stat").read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        cpu = (int(st[11]) + int(st[12])) / tick
        rss = peak_rss_kb(self.p.pid)
        out = {"peak_rss_mb": round(rss / 1024, 1), "cpu_s": round(cpu, 2)}
        if self.store is not None:
            out.update(self.store.server_stats())
        return out

    def stop(self):
        self.p.terminate(); self.p.wait()
        if self.store is not None:
            self.store.server_end()


class SqliteStore:
    """The run's SQLite file, read directly (read-only) while the daemon writes it."""
    engine = "sqlite"
    poll_interval = 0.02
    Error = sqlite3.Error

    def __init__(self, path):
        self.path = path

    def ready(self):
        return os.path.exists(self.path)

    def query(self, sql, params=()):
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute(sql.replace("%s", "?"), params).fetchall()
        finally:
            con.close()

    def server_begin(self): pass
    def server_end(self): pass
    def server_stats(self): return {}
    def close(self): pass


def db_counts(store, ack=True):
    cases = store.query("SELECT count(*) FROM cases")[0][0]
    sent = store.query("SELECT count(*) FROM outbox WHERE kind='ack' AND status='sent'")[0][0] if ack else 0
    return cases, sent


def quantiles(xs, ps):
    xs = sorted(xs)
    return [xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))] for p in ps]


def rfc3339(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


class Deliveries:
    """Counts Postfix's `status=sent` LMTP deliveries to this run's customers in its log."""
    def __init__(self, tag):
        self.f = open(POSTFIX_LOG, "rb"); self.f.seek(0, 2)
        self.pat = re.compile(rb"to=<c\d+-" + tag.encode() + rb"@[^>]*>.*relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+.*status=sent")
        self.n = 0; self.buf = b""

    def poll(self):
        data = self.f.read()
        if data:
            self.buf += data
            *lines, self.buf = self.buf.split(b"\n")
            self.n += sum(1 for l in lines if self.pat.search(l))
        return self.n


def backlog(n, engine, ack=True, seed=7):
    tag = f"bl{n}{'a' if ack else 's'}{uuid.uuid4().hex[:6]}"
    tail = "" if ack else "\n[acknowledgment]\nenabled = false\n"
    d, support, store = bench_world(tag, engine, tail)
    rng = random.Random(seed)
    msgs = [complaint(i, tag, support, rng)[2] for i in range(n)]
    total_bytes = sum(len(m) for m in msgs)
    append_s = append_all(support, msgs)
    del msgs
    wait_postfix_idle()
    fetch_rate = dovecot_fetch_rate(support, n)
    # In groups of 50 and of 500 (what the daemon moves at once, at least).
    move_rate = {b: round(dovecot_move_rate(support, b)) for b in (50, 500)}
    deliveries = Deliveries(tag)
    dm = Daemon(d, store)
    m0 = machine_cpu()
    m1 = m_cases = None
    t_cases = t_sent = t_delivered = None
    peak = {}
    try:
        while True:
            time.sleep(store.poll_interval)
            now = time.monotonic() - dm.t0
            if now > 1800:
                raise SystemExit(f"backlog {n} not done after 30 min; see {d}/daemon.log")
            if ack and t_sent is not None:
                if deliveries.poll() >= n:
                    t_delivered = now
                    break
                continue
            if not store.ready():
                continue
            try:
                cases, sent = db_counts(store, ack)
            except store.Error:
                continue
            if cases >= n and t_cases is None:
                t_cases = now
                peak = dm.stats()
                m1 = m_cases = machine_cpu()
            if ack and sent >= n and t_sent is None:
                t_sent = now
                peak = dm.stats()
                m1 = machine_cpu()
            if not ack and t_cases is not None:
                break
            if ack:
                deliveries.poll()
        final = dm.stats()
    finally:
        dm.stop()
    out = {"messages": n, "mbytes": round(total_bytes / 1e6, 1),
           "append_s": round(append_s, 2), "dovecot_fetch_msgs_per_s": round(fetch_rate),
           "dovecot_move_msgs_per_s_by_50": move_rate[50], "dovecot_move_msgs_per_s_by_500": move_rate[500],
           "cases_s": round(t_cases, 2), "cases_per_s": round(n / t_cases, 1)}
    if ack:
        out.update({"acks_accepted_s": round(t_sent, 2), "acks_accepted_per_s": round(n / t_sent, 1),
                    "acks_delivered_s": round(t_delivered, 2)})
        # The two phases: while the ingest still opens cases, and after the last one.
        last_case = store.query("SELECT max(created_at) FROM cases")[0][0]
        during = store.query("SELECT count(*) FROM outbox WHERE kind = 'ack' AND status = 'sent' "
                             "AND sent_at <= %s", (last_case,))[0][0]
        out["acks_per_s_while_ingesting"] = round(during / t_cases, 1)
        # Time to acknowledge in a backlog: from the daemon's start (every complaint was
        # waiting then) to Postfix accepting the complaint's acknowledgment (sent_at).
        sent_at = [rfc3339(r[0]) - dm.wall0 for r in
                   store.query("SELECT sent_at FROM outbox WHERE kind = 'ack' AND status = 'sent'")]
        p50, p95, p99 = quantiles(sent_at, (0.5, 0.95, 0.99))
        out.update({"ack_after_start_p50_s": round(p50, 2), "ack_after_start_p95_s": round(p95, 2),
                    "ack_after_start_p99_s": round(p99, 2)})
        if t_sent > t_cases:
            out["acks_per_s_after_ingest"] = round((n - during) / (t_sent - t_cases), 1)
            b, t = m1[0] - m_cases[0], m1[1] - m_cases[1]
            out["machine_busy_pct_after_ingest"] = round(100 * b / t) if t else None
    # The whole machine over the same span (daemon, Dovecot, Postfix, this script): on a
    # small machine the mail servers' own CPU is what the daemon competes with.
    busy, total = m1[0] - m0[0], m1[1] - m0[1]
    out.update({"peak_rss_mb": final["peak_rss_mb"], "cpu_s": peak.get("cpu_s", final["cpu_s"]),
                "machine_busy_pct": round(100 * busy / total) if total else None,
                "machine_cpu_s": round(busy, 2),
                "daemon_share_of_machine_cpu_pct": round(100 * peak.get("cpu_s", final["cpu_s"]) / busy) if busy else None,
                "engine": engine, "config": d})
    # PostgreSQL's own CPU until the last case / acknowledgment (as cpu_s), and its peak memory.
    for k in ("pg_cpu_s", "pg_poll_backend_cpu_s", "pg_peak_pss_mb", "pg_peak_rss_sum_mb", "pg_peak_processes"):
        if k in final:
            out[k] = (peak or final).get(k, final[k]) if k == "pg_cpu_s" else final[k]
    if "pg_cpu_s" in out and busy:
        out["pg_share_of_machine_cpu_pct"] = round(100 * out["pg_cpu_s"] / busy)
    if store.engine == "postgres":
        out.update(store.db_stats())
        out["pg_commits_per_message"] = round(out["pg_xact_commit"] / n, 2)
    store.close()
    return out


def latency(engine, rate=10.0, seconds=60):
    tag = f"lat{uuid.uuid4().hex[:6]}"
    d, support, store = bench_world(tag, engine)
    wait_postfix_idle()
    dm = Daemon(d, store)
    # Ready: the database exists and the daemon is in IDLE (give it its first round).
    t0 = time.monotonic()
    while not store.ready() and time.monotonic() - t0 < 30:
        time.sleep(0.05)
    time.sleep(1.5)
    rng = random.Random(11)
    accepted = {}  # Message-ID -> wall time Postfix accepted it
    n = int(rate * seconds)
    s = smtplib.SMTP("127.0.0.1", SMTP)
    start = time.monotonic()
    try:
        for i in range(n):
            target = start + i / rate
            pause = target - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            cust, mid, raw = complaint(i, tag, support, rng)
            s.sendmail(cust, [support], raw)
            accepted[mid] = time.time()
        s.quit()
        send_s = time.monotonic() - start
        lat = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rows = store.query(
                """SELECT m.message_id, o.sent_at FROM messages m JOIN outbox o ON o.case_id = m.case_id
                   WHERE o.kind = 'ack' AND o.status = 'sent'""")
            if len(rows) >= n:
                break
            time.sleep(0.5)
        stats = dm.stats()
    finally:
        dm.stop()
        store.close()
    for mid, sent_at in rows:
        key = mid if mid.startswith("<") else f"<{mid}>"
        if key in accepted:
            lat.append(rfc3339(sent_at) - accepted[key])
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(round(p * (len(lat) - 1))))]
    return {"sent": n, "send_s": round(send_s, 1), "acknowledged": len(lat),
            "p50_ms": round(q(0.5) * 1000), "p90_ms": round(q(0.9) * 1000), "p95_ms": round(q(0.95) * 1000),
            "p99_ms": round(q(0.99) * 1000), "max_ms": round(lat[-1] * 1000),
            "min_ms": round(lat[0] * 1000), **stats, "engine": engine, "config": d}


def versions():
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip() or None
        except OSError:
            return None
    return {"mailcase": out([BIN, "--version"]),
            "git": out(["git", "-C", repo, "describe", "--always", "--dirty"]),
            "rustc": out(["rustc", "--version"]),
            "dovecot": out(["dovecot", "--version"]),
            "postfix": out(["/usr/sbin/postconf", "-c", f"{MAILENV_DIR}/postfix", "-h", "mail_version"]),
            "python": platform.python_version(),
            "cpus": os.cpu_count(), "kernel": platform.release()}


def targets(r, sizes, skip_suppressed, p4):
    big, small = r[f"backlog_{max(sizes)}"], r[f"backlog_{min(sizes)}"]
    lat = r["latency_10_per_s"]
    t = {
        "acks_vs_postfix_4_sessions": round(big["acks_accepted_per_s"] / p4, 2),
        "acks_vs_postfix_4_sessions_ok": big["acks_accepted_per_s"] >= 0.8 * p4,
        "latency_p50_ok": lat["p50_ms"] < 300, "latency_p99_ok": lat["p99_ms"] < 1000,
        "peak_rss_mb": max(x["peak_rss_mb"] for k, x in r.items() if k.startswith(("backlog", "suppressed", "latency"))),
        "rss_flat_ratio": round(big["peak_rss_mb"] / small["peak_rss_mb"], 2),
    }
    t["peak_rss_ok"] = t["peak_rss_mb"] < 32
    if not skip_suppressed:
        t["suppressed_cases_per_s_ok"] = r[f"suppressed_{max(sizes)}"]["cases_per_s"] >= 5000
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--latency-seconds", type=int, default=60)
    ap.add_argument("--skip-suppressed", action="store_true")
    ap.add_argument("--engines", default=None,
                    help="comma-separated: sqlite, postgres (default: both when BENCH_PG_URL is set, "
                         "as bench/run.sh does; else sqlite)")
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",") if x]
    engines = [e for e in (a.engines or ("sqlite,postgres" if pgbench.configured() else "sqlite")).split(",") if e]
    for e in engines:
        if e not in ("sqlite", "postgres"):
            raise SystemExit(f"unknown engine {e!r}: sqlite or postgres")
    if "postgres" in engines:
        pgbench.check()
    res = {"versions": versions(), "engines": engines, "raw": {}}
    if "postgres" in engines:
        res["versions"]["postgresql"] = pgbench.server_version()
        res["postgres_setup"] = pgbench.describe()
    per = {e: {} for e in engines}
    r1, _ = postfix_accept_rate(1)
    r4, cpu4 = postfix_accept_rate(4)
    res["raw"]["postfix_accept_per_s_1_session"] = round(r1, 1)
    res["raw"]["postfix_accept_per_s_4_sessions"] = round(r4, 1)
    res["raw"]["postfix_4_sessions_machine"] = cpu4
    print("raw postfix:", res["raw"], file=sys.stderr)
    # The engines take turns run by run, so a slow spell of the (shared) machine does not
    # land on one engine's figures only.
    for n in sizes:
        for e in engines:
            per[e][f"backlog_{n}"] = backlog(n, e)
            print(f"{e} backlog {n}:", per[e][f"backlog_{n}"], file=sys.stderr)
    if not a.skip_suppressed:
        n = max(sizes)
        for e in engines:
            per[e][f"suppressed_{n}"] = backlog(n, e, ack=False)
            print(f"{e} suppressed {n}:", per[e][f"suppressed_{n}"], file=sys.stderr)
    for e in engines:
        per[e]["latency_10_per_s"] = latency(e, 10.0, a.latency_seconds)
        print(f"{e} latency:", per[e]["latency_10_per_s"], file=sys.stderr)
    # Postfix again at the end: the machine is noisy, the ratio uses the median of both runs.
    p4b, _ = postfix_accept_rate(4)
    res["raw"]["postfix_accept_per_s_4_sessions_after"] = round(p4b, 1)
    p4 = statistics.median([res["raw"]["postfix_accept_per_s_4_sessions"], p4b])
    for e in engines:
        per[e]["targets"] = targets(per[e], sizes, a.skip_suppressed, p4)
    res.update(per)
    os.makedirs(f"{repo}/bench/results", exist_ok=True)
    with open(f"{repo}/bench/results/latest.json", "w") as f:
        json.dump(res, f, indent=2)
    print(json.dumps(res, indent=2))
    for e in engines:
        table(res, e)
    side_by_side(res, sizes)


def table(res, e):
    print(f"\n[{e}]")
    print("%-22s %9s %9s %9s %9s %9s %8s %7s %7s" % ("run", "cases/s", "acks/s", "acked s", "deliv s", "fetch/s", "RSS MB",
                                                    "CPU s", "busy %"))
    for k, r in res[e].items():
        if k.startswith(("backlog", "suppressed")):
            print("%-22s %9s %9s %9s %9s %9s %8s %7s %7s" % (k, r["cases_per_s"], r.get("acks_accepted_per_s", "-"),
                  r.get("acks_accepted_s", "-"), r.get("acks_delivered_s", "-"), r["dovecot_fetch_msgs_per_s"],
                  r["peak_rss_mb"], r["cpu_s"], r["machine_busy_pct"]))
    l = res[e]["latency_10_per_s"]
    print(f"latency at 10/s: p50 {l['p50_ms']} ms, p90 {l['p90_ms']} ms, p99 {l['p99_ms']} ms, max {l['max_ms']} ms "
          f"({l['acknowledged']}/{l['sent']}), RSS {l['peak_rss_mb']} MB, CPU {l['cpu_s']} s")
    r = res["raw"]
    print(f"postfix accepts: {r['postfix_accept_per_s_1_session']}/s (1 session), "
          f"{r['postfix_accept_per_s_4_sessions']}/s and {r['postfix_accept_per_s_4_sessions_after']}/s (4 sessions, before/after)")
    print("targets:", json.dumps(res[e]["targets"]))


def side_by_side(res, sizes):
    """The engines in columns: the largest backlog with acknowledgments, the latency run, memory."""
    engines = res["engines"]
    names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    n = max(sizes)
    rows = []

    def row(label, f):
        vals = []
        for e in engines:
            try:
                v = f(res[e])
            except (KeyError, TypeError):
                v = None
            vals.append("-" if v is None else str(v))
        rows.append((label, vals))

    b = lambda r: r[f"backlog_{n}"]
    l = lambda r: r["latency_10_per_s"]
    row(f"backlog {n}: cases/s", lambda r: b(r)["cases_per_s"])
    row(f"backlog {n}: acks accepted/s", lambda r: b(r)["acks_accepted_per_s"])
    row(f"backlog {n}: all cases, s", lambda r: b(r)["cases_s"])
    row(f"backlog {n}: all acks accepted, s", lambda r: b(r)["acks_accepted_s"])
    row(f"backlog {n}: all acks delivered, s", lambda r: b(r)["acks_delivered_s"])
    row(f"backlog {n}: ack after start p50/p95/p99 s", lambda r: "%s / %s / %s" % (
        b(r)["ack_after_start_p50_s"], b(r)["ack_after_start_p95_s"], b(r)["ack_after_start_p99_s"]))
    row(f"backlog {n}: acks/s while ingesting / after", lambda r: "%s / %s" % (
        b(r)["acks_per_s_while_ingesting"], b(r).get("acks_per_s_after_ingest", "-")))
    row(f"backlog {n}: daemon CPU s", lambda r: b(r)["cpu_s"])
    row(f"backlog {n}: PostgreSQL server CPU s", lambda r: b(r).get("pg_cpu_s"))
    row(f"backlog {n}: machine busy %", lambda r: b(r)["machine_busy_pct"])
    if f"suppressed_{n}" in res[engines[0]]:
        row(f"suppressed {n}: cases/s", lambda r: r[f"suppressed_{n}"]["cases_per_s"])
    if min(sizes) != n:
        row(f"backlog {min(sizes)}: cases/s, acks/s", lambda r: "%s, %s" % (
            r[f"backlog_{min(sizes)}"]["cases_per_s"], r[f"backlog_{min(sizes)}"]["acks_accepted_per_s"]))
    row("latency 10/s: p50/p95/p99 ms", lambda r: "%s / %s / %s" % (l(r)["p50_ms"], l(r)["p95_ms"], l(r)["p99_ms"]))
    row("latency 10/s: max ms, acked", lambda r: "%s, %s/%s" % (l(r)["max_ms"], l(r)["acknowledged"], l(r)["sent"]))
    row("daemon peak RSS MB (all runs)", lambda r: r["targets"]["peak_rss_mb"])
    row(f"daemon peak RSS MB backlog {n} / latency", lambda r: "%s / %s" % (b(r)["peak_rss_mb"], l(r)["peak_rss_mb"]))
    row("PostgreSQL server peak PSS MB (all runs)", lambda r: max(
        (x["pg_peak_pss_mb"] for k, x in r.items() if isinstance(x, dict) and "pg_peak_pss_mb" in x), default=None))
    w0 = max(len(x[0]) for x in rows)
    w = [max(len(names[e]), *(len(x[1][i]) for x in rows)) for i, e in enumerate(engines)]
    print("\n" + " | ".join([" " * w0] + [names[e].ljust(w[i]) for i, e in enumerate(engines)]))
    print("-+-".join(["-" * w0] + ["-" * x for x in w]))
    for label, vals in rows:
        print(" | ".join([label.ljust(w0)] + [v.ljust(w[i]) for i, v in enumerate(vals)]))


if __name__ == "__main__":
    main()
