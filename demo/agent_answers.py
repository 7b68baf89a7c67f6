"""The conversation part of the demo, as people would do it from their mail clients.

1. Ann (an agent) opens the case card in her mailbox and answers Alice's case from
   "Thunderbird": her text on top, the card quoted below, `#resolve` on the first line.
2. Alice receives the answer (from "Ann Agent via Example Support", without the quote) and
   replies that it is not solved, quoting it Gmail-style.
3. The case reopens and Ann gets Alice's reply, marked REOPENED, in the same thread.
Everything goes through the local Postfix and is read back from the Dovecot mailboxes.
"""
import imaplib
import smtplib
import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid

imap_port, smtp_port, password, tag, ann = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
alice = f"alice-{tag}@customer.test"


def inbox(user, want, timeout=60):
    """Messages of user's INBOX once there are at least `want`."""
    end = time.time() + timeout
    while True:
        m = imaplib.IMAP4("127.0.0.1", imap_port)
        m.login(user, password)
        m.select("INBOX", readonly=True)
        _, data = m.search(None, "ALL")
        msgs = []
        for n in data[0].split():
            _, d = m.fetch(n, "(BODY.PEEK[])")
            msgs.append(message_from_bytes(d[0][1], policy=policy.default))
        m.logout()
        if len(msgs) >= want or time.time() > end:
            return msgs
        time.sleep(0.5)


def text_of(msg):
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part else ""


def reply(parent, frm, body, quote_intro):
    r = EmailMessage()
    r["From"] = frm
    r["To"] = parent["Reply-To"]
    subject = str(parent["Subject"])
    r["Subject"] = subject if subject.lower().startswith("re:") else "Re: " + subject
    r["Message-ID"] = make_msgid(domain=frm.split("@")[1].rstrip(">"))
    r["In-Reply-To"] = parent["Message-ID"]
    r["References"] = ((parent["References"] or "") + " " + parent["Message-ID"]).strip()
    quoted = "\n".join("> " + l for l in text_of(parent).splitlines())
    r.set_content(f"{body}\n\n{quote_intro}\n{quoted}\n")
    with smtplib.SMTP("127.0.0.1", smtp_port) as s:
        s.send_message(r, to_addrs=[parent["Reply-To"].addresses[0].addr_spec])


cards = inbox(ann, 4)
card = next(c for c in cards if "Invoice charged twice" in str(c["Subject"]))
print(f"  Ann's mailbox has {len(cards)} case cards; she opens: {card['Subject']}")
print(f"    Reply-To: {card['Reply-To']}")
reply(card, f"Ann Agent <{ann}>",
      "#resolve\nHello Alice,\n\nwe have refunded the second payment; it will show on your card within 3-5 days.\n\nBest regards,\nAnn",
      "On 23.11.26 10:00, Example Support wrote:")
print("  Ann answered from her mail client with #resolve on the first line")

got = inbox(alice, 2)
answer = next(m for m in got if "via" in str(m["From"]))
print(f"\n  Alice received: From: {answer['From']}")
print(f"                  Subject: {answer['Subject']}")
print("    " + "\n    ".join(text_of(answer).strip().splitlines()))

reply(answer, f"Alice Martin <{alice}>",
      "Sorry, but both payments are still on my statement today.\n\nAlice",
      f"On Mon, 23 Nov 2026 at 11:02, Ann Agent via Example Support <{answer['From'].addresses[0].addr_spec}> wrote:")
print("\n  Alice replied that it is not solved (Gmail-style quote below her text)")

mails = inbox(ann, 5)
fwd = mails[-1]
print(f"\n  Ann received: Subject: {fwd['Subject']}")
print("    " + "\n    ".join(text_of(fwd).strip().splitlines()[:9]))
