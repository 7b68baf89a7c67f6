"""Figures for the conversation and schedule issues, on the real local servers:
  1. card latency: a complaint accepted by Postfix -> the agents' case card in the agent's
     INBOX (median of 20, one at a time);
  2. relay latency: an agent's reply accepted by Postfix (to the agent reply address) -> the
     answer in the customer's INBOX, quoted history stripped (median of 20);
  3. scheduler after downtime: N open cases whose SLA timers all fell due while the daemon was
     stopped (restart on a clock 3 days later): time until every breach has fired (cases
     escalated, digests and notices queued), timers/s, and that each fired exactly once.
Usage: python3 bench/conversation_figures.py [N]  (after `cargo build --release`)"""
import email, email.policy, imaplib, json, os, smtplib, sqlite3, statistics, sys, time, uuid

from mailenv import IMAP, PW, SMTP, complaint, peak_rss_kb, start, world

AGENT = """
[[agents.members]]
address = "{ann}"
name = "Ann Agent"

[[escalation]]
contacts = ["{mgr}"]
"""


def inbox(user, n, timeout=30):
    """The messages of user's INBOX once there are at least n."""
    t0 = time.monotonic()
    c = imaplib.IMAP4("127.0.0.1", IMAP); c.login(user, PW)
    try:
        while True:
            k = int(c.select("INBOX", readonly=True)[1][0])
            if k >= n:
                _, d = c.fetch(f"1:{k}", "(BODY.PEEK[])")
                return [email.message_from_bytes(p[1], policy=email.policy.default) for p in d if isinstance(p, tuple)]
            if time.monotonic() - t0 > timeout:
                raise SystemExit(f"{user}: {k} of {n} messages after {timeout} s")
            time.sleep(0.005)
    finally:
        c.logout()


def conversation(rounds=20):
    tag = f"cv{os.getpid()}"
    ann, mgr = f"ann-{tag}@support.test", f"mgr-{tag}@support.test"
    d, support = world(tag, tail=AGENT.format(ann=ann, mgr=mgr))
    p = start(d); time.sleep(1.5)
    cards, relays = [], []
    try:
        for i in range(rounds):
            cust = f"cv{i}-{tag}@customer.test"
            t0 = time.monotonic()
            with smtplib.SMTP("127.0.0.1", SMTP) as s:
                s.sendmail(cust, [support], complaint(cust, support, i))
            card = inbox(ann, i + 1)[-1]
            cards.append(time.monotonic() - t0)
            body = card.get_body(preferencelist=("plain",)).get_content()
            quoted = "".join(f"> {l}\r\n" for l in body.splitlines())
            to = card["Reply-To"].addresses[0].addr_spec
            reply = (f"From: Ann Agent <{ann}>\r\nTo: {to}\r\nSubject: Re: {card['Subject']}\r\n"
                     f"Message-ID: <{uuid.uuid4()}@support.test>\r\nIn-Reply-To: {card['Message-ID']}\r\n\r\n"
                     f"Hello, we replaced widget {i}.\r\n\r\nOn Monday, Example Support wrote:\r\n{quoted}").encode()
            t1 = time.monotonic()
            with smtplib.SMTP("127.0.0.1", SMTP) as s:
                s.sendmail(ann, [to], reply)
            answer = inbox(cust, 2)[-1]
            relays.append(time.monotonic() - t1)
            text = answer.get_body(preferencelist=("plain",)).get_content()
            assert "replaced widget" in text and "wrote:" not in text, text
    finally:
        p.terminate(); p.wait()
    return cards, relays


def downtime(n):
    tag = f"dt{os.getpid()}"
    ann, mgr = f"ann-{tag}@support.test", f"mgr-{tag}@support.test"
    d, support = world(tag, outbox_extra="max_automatic_per_minute = 100000\n",
                       tail=AGENT.format(ann=ann, mgr=mgr))
    c = imaplib.IMAP4("127.0.0.1", IMAP); c.login(support, PW)
    for i in range(n):
        cust = f"dt{i}-{tag}@customer.test"
        c.append("INBOX", None, None, complaint(cust, support, i))
    c.logout()
    db = f"{d}/mailcase.db"
    # Monday 10:00 Berlin: open the cases, then stop.
    p = start(d, "--clock-start", "2026-11-23T09:00:00Z")
    while True:
        time.sleep(0.2)
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            k = con.execute("select count(*) from cases").fetchone()[0]; con.close()
        except sqlite3.Error:
            continue
        if k == n: break
    p.terminate(); p.wait()
    # Three days later every first-response breach (and status update) is overdue.
    t0 = time.monotonic()
    p = start(d, "--clock-start", "2026-11-26T09:00:00Z")
    try:
        while True:
            time.sleep(0.05)
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            fired = con.execute("select count(*) from timers where kind='first_response_breach' and fired_at is not null").fetchone()[0]
            con.close()
            if fired == n: break
            if time.monotonic() - t0 > 600: raise SystemExit(f"only {fired} of {n} breaches fired")
        wall = time.monotonic() - t0
        time.sleep(3)
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        twice = con.execute("select count(*) from (select case_id from timers where kind='first_response_breach' and fired_at is not null group by case_id having count(*) > 1)").fetchone()[0]
        escalated = con.execute("select count(*) from cases where status='escalated'").fetchone()[0]
        timers = con.execute("select count(*) from timers where fired_at is not null").fetchone()[0]
        con.close()
        rss = peak_rss_kb(p.pid)
    finally:
        p.terminate(); p.wait()
    return {"cases": n, "wall_s_until_all_breaches_fired": round(wall, 2), "breaches_per_s": round(n / wall, 1),
            "timers_fired": timers, "cases_escalated": escalated, "breach_fired_twice": twice, "peak_rss_kb": rss}


n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
cards, relays = conversation()
res = {"card_latency_s": {"median": round(statistics.median(cards), 3), "max": round(max(cards), 3), "n": len(cards)},
       "relay_latency_s": {"median": round(statistics.median(relays), 3), "max": round(max(relays), 3), "n": len(relays)},
       "downtime": downtime(n)}
print(json.dumps(res, indent=2))
