"""Repeatable ingest runs for profiling (not the benchmark: bench/bench.py is).

Keeps one support mailbox with a folder `bench-master` of N complaints (APPENDed once, the
same generator as bench.py), and for every run copies it into the INBOX (UID COPY: hard links
in Maildir, a second instead of a minute of APPENDs), starts the release daemon on a fresh
database and waits until every case exists (and, with --ack, every acknowledgment was
accepted by Postfix). Prints cases/s, acks/s, the daemon's CPU seconds and peak RSS;
`--perf FILE` records a `perf record -g` profile of the daemon meanwhile.

  MAILENV_DIR=$PWD/.mailenv-bench MAILENV_IMAP_PORT=12143 MAILENV_LMTP_PORT=12024 \
  MAILENV_SMTP_PORT=12025 MAILENV_SUBMISSION_PORT=12587 \
  python3 bench/profile_ingest.py [--n 10000] [--ack] [--runs 3] [--perf /tmp/ingest.data]

(the benchmark's servers, as bench/run.sh starts them; build the release binary first).
BENCH_DAEMON_LOG=mailcase=debug logs the ingest's per-batch timings (fetch, move, commit) in
the run's daemon.log; BENCH_SMTP_CONNECTIONS=8 overrides the 4 connections of the
benchmark's config (bench/mailenv.py); BENCH_PERF_CG=dwarf BENCH_PERF_HZ=700 gives call graphs through Rust.
"""
import argparse, imaplib, os, random, sqlite3, statistics, subprocess, sys, time

import bench
from mailenv import BIN, IMAP, PW, world

MASTER = "bench-master"


def ensure_master(support, n, tag):
    c = imaplib.IMAP4("127.0.0.1", IMAP)
    c.login(support, PW)
    c.create(MASTER)
    typ, data = c.select(MASTER)
    have = int(data[0])
    c.logout()
    if have != n:
        c = imaplib.IMAP4("127.0.0.1", IMAP)
        c.login(support, PW)
        c.delete(MASTER)
        c.create(MASTER)
        c.logout()
        rng = random.Random(7)
        msgs = [bench.complaint(i, tag, support, rng)[2] for i in range(n)]
        t = time.monotonic()
        bench.append_all_to(support, MASTER, msgs)
        print(f"appended {n} to {MASTER} in {time.monotonic() - t:.1f} s", file=sys.stderr)


def refill_inbox(support):
    c = imaplib.IMAP4("127.0.0.1", IMAP)
    c.login(support, PW)
    for box in ("INBOX", "Processed", "Quarantine"):
        typ, data = c.select(box)
        if typ == "OK" and int(data[0]) > 0:
            c.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
            c.expunge()
    c.select(MASTER)
    c.uid("COPY", "1:*", "INBOX")
    c.logout()


def one_run(n, ack, perf):
    tag = "prof"
    tail = "" if ack else "\n[acknowledgment]\nenabled = false\n"
    d, support = world(tag, outbox_extra="max_automatic_per_minute = 1000000\n", tail=tail)
    ensure_master(support, n, tag)
    refill_inbox(support)
    if ack:
        bench.wait_postfix_idle()
    db = f"{d}/mailcase.db"
    dm = bench.Daemon(d)
    rec = None
    if perf:
        rec = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", os.environ.get("BENCH_PERF_HZ", "2000"), "--call-graph", os.environ.get("BENCH_PERF_CG", "fp"), "-o", perf,
                                "-p", str(dm.p.pid)], stderr=subprocess.DEVNULL)
    t_cases = t_sent = None
    try:
        while True:
            time.sleep(0.02)
            now = time.monotonic() - dm.t0
            if now > 600:
                raise SystemExit(f"not done after 10 min; see {d}/daemon.log")
            if not os.path.exists(db):
                continue
            try:
                cases, sent = bench.db_counts(db, ack)
            except sqlite3.Error:
                continue
            if cases >= n and t_cases is None:
                t_cases = now
                st = dm.stats()
            if ack and sent >= n:
                t_sent = now
                st = dm.stats()
            if t_cases is not None and (not ack or t_sent is not None):
                break
    finally:
        if rec:
            rec.send_signal(2)
            rec.wait()
        dm.stop()
    out = {"cases_per_s": round(n / t_cases), **st, "dir": d}
    if ack:
        out["acks_per_s"] = round(n / t_sent)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--ack", action="store_true")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--perf")
    a = ap.parse_args()
    rs = []
    for k in range(a.runs):
        r = one_run(a.n, a.ack, a.perf if k == a.runs - 1 else None)
        print(r, flush=True)
        rs.append(r)
    if a.runs > 1:
        print("median cases/s", statistics.median(r["cases_per_s"] for r in rs),
              "median CPU s", statistics.median(r["cpu_s"] for r in rs))


if __name__ == "__main__":
    main()
