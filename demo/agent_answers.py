"""The conversation part of the demo, as people would do it from their mail clients.

1. Ann (an agent) opens the case card in her mailbox and answers Alice's case from
   "Thunderbird": her text on top, the card quoted below, `#resolve` on the first line.
2. Alice receives the answer (from "Ann Agent via Example Support", without the quote).
3. An hour of business time later (seconds: the demo daemon runs a fast clock) the follow-up
   arrives, asking whether the issue is solved, with one-click rating links. Alice clicks "4"
   (a mail to a signed rating address) and replies that it is not solved, quoting it
   Gmail-style.
4. The case reopens and Ann gets Alice's reply, marked REOPENED, in the same thread.
Alice had copied Max, a colleague: he joined the case and gets the answers in Cc (never the
acknowledgment or the follow-up). Ben, the second agent, sees Ann's answer in the card's
thread; his own answer, written to the card before Alice reopened the case, is held (the
case changed since), and he sends it anyway with `#send`.
Meanwhile Bob's urgent case (2 hours, wall clock) breached its target: the manager got the
escalation digest and Bob an escalation notice.
Everything goes through the local Postfix and is read back from the Dovecot mailboxes.
"""
import imaplib
import re
import smtplib
import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid

imap_port, smtp_port, password, tag, ann, manager = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3],
                                                    sys.argv[4], sys.argv[5], sys.argv[6])
# The reference of the case Ann answers is written here, for run.sh to show that case in full.
answered_file = sys.argv[7]
ben = sys.argv[8]
alice = f"alice-{tag}@customer.test"
max_ = f"max-{tag}@customer.test"


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


def first(user, pred, timeout=60):
    """The first message of user's INBOX that `pred` accepts, waiting for it."""
    end = time.time() + timeout
    while True:
        found = next((m for m in inbox(user, 1, timeout=1) if pred(m)), None)
        if found or time.time() > end:
            return found
        time.sleep(0.5)


def excerpt(text, lines):
    """The first `lines` lines of text, indented, saying how many more there are."""
    all_lines = text.strip().splitlines()
    shown = "    " + "\n    ".join(all_lines[:lines])
    if len(all_lines) > lines:
        shown += f"\n    ... ({len(all_lines) - lines} more lines)"
    return shown


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
reference = re.search(r"\[([A-Z]+-[0-9A-Z]{5}-[0-9A-Z])\]", str(card["Subject"])).group(1)
with open(answered_file, "w") as f:
    f.write(reference + "\n")
print(f"  Ann's mailbox has {len(cards)} case cards; she opens {reference}: {card['Subject']}")
print(f"    Reply-To: {card['Reply-To']}")
reply(card, f"Ann Agent <{ann}>",
      "#resolve\nHello Alice,\n\nwe have refunded the second payment; it will show on your card within 3-5 days.\n\nBest regards,\nAnn",
      "On 23.11.26 10:00, Example Support wrote:")
print(f"  Ann answered {reference} from her mail client with #resolve on the first line")

got = inbox(alice, 2)
answer = next(m for m in got if "via" in str(m["From"]))
print(f"\n  Alice received: From: {answer['From']}")
print(f"                  Cc: {answer['Cc']}")
print(f"                  Subject: {answer['Subject']}")
print("    " + "\n    ".join(text_of(answer).strip().splitlines()))

ours = [m for m in inbox(max_, 2) if "via" in str(m["From"])]
print(f"\n  Max (Alice's colleague, in Cc of her complaint) has the answer too: {len(ours)} mail(s) from us")

seen = first(ben, lambda m: "answered the customer" in text_of(m))
print(f"\n  Ben (the other agent) sees it in the card's thread: Subject: {seen['Subject']}")
print(excerpt(text_of(seen), 7))
ben_card = first(ben, lambda c: reference in str(c["Subject"]) and "New case" in text_of(c))

got = inbox(alice, 3, timeout=90)
follow_up = got[-1]
print(f"\n  The follow-up arrived: Subject: {follow_up['Subject']}")
print("    " + "\n    ".join(text_of(follow_up).strip().splitlines()))

# Each rating's label on its line ("4:"), its link indented on the next.
lines = text_of(follow_up).splitlines()
link = next(lines[i + 1].split("mailto:")[1].split("?")[0].strip()
            for i, l in enumerate(lines[:-1])
            if l.strip().startswith("4") and "mailto:" in lines[i + 1])
r = EmailMessage()
r["From"] = f"Alice Martin <{alice}>"
r["To"] = link
r["Subject"] = "Rating 4"
r["Message-ID"] = make_msgid(domain="customer.test")
r.set_content("Friendly and quick, thank you.")
with smtplib.SMTP("127.0.0.1", smtp_port) as s:
    s.send_message(r)
print(f"\n  Alice clicked rating 4 (a mail to {link})")

reply(follow_up, f"Alice Martin <{alice}>",
      "Sorry, but both payments are still on my statement today.\n\nAlice",
      f"On Tue, 24 Nov 2026 at 11:05, Example Support <{follow_up['From'].addresses[0].addr_spec}> wrote:")
print("  Alice replied to the follow-up that it is not solved (Gmail-style quote below her text)")

fwd = None
for _ in range(120):
    fwd = next((m for m in inbox(ann, 1) if "REOPENED" in text_of(m)), None)
    if fwd:
        break
    time.sleep(0.5)
print(f"\n  Ann received: Subject: {fwd['Subject']}")
print(excerpt(text_of(fwd), 9))

# Ben answers from the card he got (before Alice reopened the case): the answer is held.
reply(ben_card, f"Ben Agent <{ben}>",
      "Hello Alice,\n\nI have asked our bank to reverse the second payment today.\n\nBen",
      "On 23.11.26 10:00, Example Support wrote:")
held = first(ben, lambda m: "Not sent" in str(m["Subject"]))
print(f"\n  Ben answered the card he had, written before Alice's reply: held. He received: Subject: {held['Subject']}")
print(excerpt(text_of(held), 8))
reply(held, f"Ben Agent <{ben}>", "#send", "On 23.11.26 12:00, Example Support wrote:")
sent = first(alice, lambda m: "Ben Agent" in str(m["From"]))
print(f"  Ben replied #send: Alice received From: {sent['From']}, Cc: {sent['Cc']}")

esc = inbox(manager, 1, timeout=60)
print(f"\n  The manager's mailbox: {len(esc)} escalation(s)")
for m in esc:
    print(f"    Subject: {m['Subject']}")
    print(excerpt(text_of(m), 3))
