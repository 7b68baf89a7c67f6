"""Helpers of scripts/template-look.sh (stdlib only, no network).

  look.py agent-reply IMAP SMTP PASSWORD AGENT SUBJECT_PART BODY
      The agent answers the case card whose subject contains SUBJECT_PART, as from a mail
      client: BODY on top, the card quoted below, To: the card's Reply-To.
  look.py wait-mail IMAP PASSWORD USER PART [TIMEOUT]
      Waits until USER's INBOX holds a message whose subject or text contains PART.
  look.py save-all IMAP PASSWORD DIR USER...
      Saves every message of each USER's INBOX as DIR/USER/NNN.eml (what the daemon really sent).
  look.py pick CASES_JSON CASE_JSON_DIR TEMPLATE...
      Prints NAME=REF for each template: a case where the template makes sense.
  look.py text-of EML
      Prints the text/plain part of a saved message.
  look.py shots CHROMIUM JOBS
      Full-page screenshots, one Chromium over the DevTools pipe (see shots()).
  look.py complain SMTP FROM TO SUBJECT BODY
      A customer's complaint to the support address.
  look.py answer-fixture IMAP SMTP PASSWORD AGENT SUBJECT_PART FIXTURE
      The agent answers the case card whose subject contains SUBJECT_PART with FIXTURE (a mail
      client's raw reply, tests/fixtures/agent_clients/*.eml) retargeted to the card: From,
      To (the card's Reply-To), Cc, Subject, Message-ID, In-Reply-To and References replaced,
      the rest of its header and its body byte for byte (as tests/agent_answers.rs does).
  look.py save-answer IMAP PASSWORD USER PART OUTBASE [TIMEOUT]
      Waits for the message of USER's INBOX whose subject or text contains PART and writes it
      raw to OUTBASE.eml, its HTML part to OUTBASE.html, the same with cid: images made
      data: URIs to OUTBASE.view.html (what a mail client shows), and a summary of its MIME
      tree to OUTBASE.parts.txt.
"""
import email
import imaplib
import json
import os
import smtplib
import sys
import time
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid


def inbox(port, user, password):
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login(user, password)
    m.select("INBOX", readonly=True)
    _, data = m.search(None, "ALL")
    msgs = []
    for n in data[0].split():
        _, d = m.fetch(n, "(BODY.PEEK[])")
        msgs.append(d[0][1])
    m.logout()
    return msgs


def parsed(raw):
    return email.message_from_bytes(raw, policy=policy.default)


def text_of(msg):
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part else ""


def wait_for(port, password, user, subject_part, timeout=90):
    end = time.time() + timeout
    while True:
        for raw in inbox(port, user, password):
            m = parsed(raw)
            if subject_part.lower() in (str(m["Subject"]) + "\n" + text_of(m)).lower():
                return m
        if time.time() > end:
            sys.exit(f"look.py: no message '{subject_part}' for {user} within {timeout}s")
        time.sleep(0.5)


def agent_reply(imap, smtp, password, agent, subject_part, body):
    card = wait_for(imap, password, agent, subject_part)
    r = EmailMessage()
    r["From"] = agent
    r["To"] = card["Reply-To"]
    r["Subject"] = "Re: " + str(card["Subject"])
    r["Message-ID"] = make_msgid(domain=agent.split("@")[1])
    r["In-Reply-To"] = card["Message-ID"]
    r["References"] = ((card["References"] or "") + " " + card["Message-ID"]).strip()
    quoted = "\n".join("> " + line for line in text_of(card).splitlines())
    r.set_content(f"{body}\n\nOn 23.11.26 10:00, Example Support wrote:\n{quoted}\n")
    with smtplib.SMTP("127.0.0.1", smtp) as s:
        s.send_message(r, to_addrs=[card["Reply-To"].addresses[0].addr_spec])


def save_all(imap, password, outdir, users):
    for user in users:
        d = os.path.join(outdir, user)
        os.makedirs(d, exist_ok=True)
        for i, raw in enumerate(inbox(imap, user, password), 1):
            with open(os.path.join(d, f"{i:03d}.eml"), "wb") as f:
                f.write(raw)
            print(f"{user}/{i:03d}.eml\t{parsed(raw)['Subject']}")


def pick(cases_json, case_dir, templates):
    """A case per template where it makes sense, from `cases --json` and `case REF --json`."""
    cases = json.load(open(cases_json))
    events = {}
    for c in cases:
        p = os.path.join(case_dir, c["reference"] + ".json")
        tl = json.load(open(p)).get("timeline", []) if os.path.exists(p) else []
        events[c["reference"]] = {e.get("event") or e.get("outcome") or e.get("kind") for e in tl}

    def first(pred):
        return next((c["reference"] for c in cases if pred(c)), None)

    def had(*names):
        return first(lambda c: events[c["reference"]] & set(names))

    oldest = cases[-1]["reference"] if cases else None
    escalated = first(lambda c: c.get("escalated_at")) or first(lambda c: c.get("status") == "escalated")
    urgent = escalated or first(lambda c: c.get("priority") == "urgent")
    # Answered by an agent, then the customer wrote again (the demo's Alice).
    answered = (first(lambda c: c.get("reopen_count", 0) > 0)
                or first(lambda c: c.get("status") in ("resolved", "closed"))
                or first(lambda c: c.get("first_response_at")))
    resolved = first(lambda c: c.get("resolved_at")) or answered
    raised = had("priority") or urgent
    want = {
        "acknowledgment": oldest,
        "agent_new_case": oldest,
        "agent_command_error": had("command_rejected"),
        "agent_customer_message": answered,
        "agent_flood_held": had("flood_held", "held"),
        "agent_loop_stopped": first(lambda c: c.get("loop_stopped_at")),
        "agent_sla_warning": urgent,
        "agent_undeliverable": had("address_undeliverable"),
        "customer_agent_reply": answered,
        "customer_escalated": escalated,
        "customer_feedback_request": resolved,
        "customer_follow_up": resolved,
        "customer_priority_raised": raised,
        "customer_resolved": resolved,
        "customer_status_update": answered,
        "customer_update": escalated,
        "manager_escalation": escalated,
        # The survivor of a #merge (its timeline holds merged_from).
        "customer_merged": had("merged_from"),
        "agent_merged": had("merged_from"),
    }
    for t in templates:
        ref = want.get(t)
        if ref:
            print(f"{t}={ref}")
        elif oldest:
            print(f"{t}={oldest}")
            print(f"look.py: no case fits {t}; it is shown with {oldest}", file=sys.stderr)


def shots(chromium, jobs):
    """Full-page screenshots through the DevTools protocol over a pipe (no port, no network).

    jobs: lines "HTML_PATH<TAB>WIDTH<TAB>MOBILE(0/1)<TAB>PNG_PATH". One Chromium for all.
    MOBILE=1 emulates a phone: a page without <meta name=viewport> is laid out 980 px wide
    and shrunk, as a phone browser does."""
    import base64
    import subprocess
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()

    def fds():
        # Chromium reads commands on fd 3 and answers on fd 4 (kept through pass_fds).
        a, b = os.dup2(to_r, 100), os.dup2(from_w, 101)
        os.dup2(a, 3)
        os.dup2(b, 4)

    p = subprocess.Popen(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--force-device-scale-factor=1", "--remote-debugging-pipe", "--no-first-run",
         "--disable-extensions", "--disable-background-networking",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost", "--user-data-dir=" + os.environ.get("LOOK_PROFILE", "/tmp/look-chromium")],
        pass_fds=(3, 4), preexec_fn=fds, stdout=subprocess.DEVNULL, stderr=open(os.environ.get("LOOK_CHROMIUM_LOG", os.devnull), "w"))
    os.close(to_r)
    os.close(from_w)
    out, inp = os.fdopen(to_w, "wb"), os.fdopen(from_r, "rb")
    n = [0]
    buf = [b""]

    def call(method, params=None, session=None):
        n[0] += 1
        msg = {"id": n[0], "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        out.write(json.dumps(msg).encode() + b"\0")
        out.flush()
        while True:
            while b"\0" not in buf[0]:
                chunk = os.read(inp.fileno(), 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                buf[0] += chunk
            line, buf[0] = buf[0].split(b"\0", 1)
            r = json.loads(line)
            if r.get("id") == n[0]:
                if "error" in r:
                    raise RuntimeError(f"{method}: {r['error']}")
                return r["result"]

    target = call("Target.createTarget", {"url": "about:blank"})["targetId"]
    s = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for job in jobs:
        html, width, mobile, png = job.split("\t")
        width, mobile = int(width), mobile == "1"
        call("Emulation.setDeviceMetricsOverride",
             {"width": width, "height": 100, "deviceScaleFactor": 1, "mobile": mobile}, s)
        call("Page.navigate", {"url": "file://" + os.path.abspath(html)}, s)
        for _ in range(100):
            st = call("Runtime.evaluate", {"expression": "document.readyState", "returnByValue": True}, s)
            if st["result"].get("value") == "complete":
                break
            time.sleep(0.05)
        h = call("Runtime.evaluate", {"expression": "Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)",
                                      "returnByValue": True}, s)["result"]["value"]
        sw = call("Runtime.evaluate", {"expression": "document.documentElement.scrollWidth", "returnByValue": True}, s)["result"]["value"]
        call("Emulation.setDeviceMetricsOverride",
             {"width": width, "height": max(100, min(int(h), 8000)), "deviceScaleFactor": 1, "mobile": mobile}, s)
        data = call("Page.captureScreenshot", {"format": "png"}, s)["data"]
        open(png, "wb").write(base64.b64decode(data))
        wide = f"  OVERFLOW: content {sw}px wide" if sw > width and not mobile else ""
        print(f"{png}\t{width}px{' mobile' if mobile else ''}\t{h}px tall{wide}")
    try:
        call("Browser.close")
    except Exception:
        pass
    p.wait(timeout=10)


def complain(smtp, frm, to, subject, body):
    m = EmailMessage()
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Message-ID"] = make_msgid(domain=frm.split("@")[1])
    m.set_content(body)
    with smtplib.SMTP("127.0.0.1", smtp) as s:
        s.send_message(m)


def retarget(raw, frm, card):
    """The fixture as a reply from `frm` to `card`: addressing and threading replaced."""
    head, body = raw.split(b"\r\n\r\n", 1)
    replaced = (b"from:", b"to:", b"cc:", b"subject:", b"message-id:", b"in-reply-to:", b"references:")
    kept, skipping = [], False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.lower().startswith(replaced)
        if not skipping:
            kept.append(line)
    refs = ((card["References"] or "") + " " + card["Message-ID"]).split()
    new = [
        f"From: Carol Agent <{frm}>",
        f"To: {card['Reply-To'].addresses[0].addr_spec}",
        f"Subject: RE: {card['Subject']}",
        f"Message-ID: {make_msgid(domain=frm.split('@')[1])}",
        f"In-Reply-To: {card['Message-ID']}",
        "References: " + "\r\n ".join(refs),
    ]
    return "\r\n".join(new).encode() + b"\r\n" + b"\r\n".join(kept) + b"\r\n\r\n" + body


def answer_fixture(imap, smtp, password, agent, subject_part, fixture):
    card = wait_for(imap, password, agent, subject_part)
    raw = retarget(open(fixture, "rb").read(), agent, card)
    with smtplib.SMTP("127.0.0.1", smtp) as s:
        s.sendmail(agent, [card["Reply-To"].addresses[0].addr_spec], raw)


def save_answer(imap, password, user, part, outbase, timeout=90):
    import base64
    import re
    end = time.time() + timeout
    raw = None
    while raw is None:
        for r in inbox(imap, user, password):
            m = parsed(r)
            if part.lower() in (str(m["Subject"]) + "\n" + text_of(m)).lower():
                raw = r
        if raw is None:
            if time.time() > end:
                sys.exit(f"look.py: no message '{part}' for {user} within {timeout}s")
            time.sleep(0.5)
    open(outbase + ".eml", "wb").write(raw)
    m = parsed(raw)
    tree = []
    cids = {}
    for p in m.walk():
        cid = (p["Content-ID"] or "").strip().strip("<>")
        tree.append(f"{p.get_content_type()}"
                    + (f"  filename={p.get_filename()}" if p.get_filename() else "")
                    + (f"  disposition={p.get_content_disposition()}" if p.get_content_disposition() else "")
                    + (f"  cid={cid}" if cid else ""))
        if cid and not p.is_multipart():
            cids[cid] = f"data:{p.get_content_type()};base64," + base64.b64encode(p.get_payload(decode=True)).decode()
    open(outbase + ".parts.txt", "w").write("\n".join(tree) + "\n")
    h = m.get_body(preferencelist=("html",))
    html = h.get_content() if h else "<p>(no HTML part)</p>"
    open(outbase + ".html", "w").write(html)
    view = re.sub(r'cid:([^"\'\s>]+)', lambda x: cids.get(x.group(1), x.group(0)), html)
    open(outbase + ".view.html", "w").write(view)
    print(f"{user}: {m['Subject']}")


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "agent-reply":
        agent_reply(int(a[0]), int(a[1]), a[2], a[3], a[4], a[5].replace("\\n", "\n"))
    elif cmd == "wait-mail":
        wait_for(int(a[0]), a[1], a[2], a[3], int(a[4]) if len(a) > 4 else 90)
    elif cmd == "save-all":
        save_all(int(a[0]), a[1], a[2], a[3:])
    elif cmd == "pick":
        pick(a[0], a[1], a[2:])
    elif cmd == "text-of":
        print(text_of(parsed(open(a[0], "rb").read())))
    elif cmd == "complain":
        complain(int(a[0]), a[1], a[2], a[3], a[4].replace("\\n", "\n"))
    elif cmd == "answer-fixture":
        answer_fixture(int(a[0]), int(a[1]), a[2], a[3], a[4], a[5])
    elif cmd == "save-answer":
        save_answer(int(a[0]), a[1], a[2], a[3], a[4], int(a[5]) if len(a) > 5 else 90)
    elif cmd == "shots":
        shots(a[0], [l.rstrip("\n") for l in open(a[1]) if l.strip()])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
