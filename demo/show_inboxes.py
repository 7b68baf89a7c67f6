"""Prints what each demo customer received in their Dovecot INBOX: each message's whole text part."""
import email
import email.policy
import imaplib
import sys

port, password, tag = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for local in ["alice", "bob", "chloe", "dan", "juergen", "erin"]:
    user = f"{local}-{tag}@customer.test"
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login(user, password)
    typ, data = c.select("INBOX", readonly=True)
    n = int(data[0])
    print(f"--- {user}: {n} message(s)")
    if n:
        typ, msgs = c.fetch("1:*", "(BODY.PEEK[])")
        for part in msgs:
            if isinstance(part, tuple):
                m = email.message_from_bytes(part[1], policy=email.policy.default)
                print(f"    Subject: {m['Subject']}")
                print(f"    Auto-Submitted: {m['Auto-Submitted']}   In-Reply-To: {m['In-Reply-To']}")
                body = m.get_body(preferencelist=("plain",))
                for line in body.get_content().rstrip().splitlines():
                    print(f"    | {line}")
    c.logout()
