"""Mails the demo's sample complaints (and two robots) through the local Postfix."""
import smtplib
import sys
from email.message import EmailMessage
from email.utils import make_msgid

port, support, tag = int(sys.argv[1]), sys.argv[2], sys.argv[3]

samples = [
    ("Alice Martin", "alice", "Invoice charged twice",
     "Hello,\n\nmy November invoice was charged twice to my card. Please refund the second payment.\n"
     "I have copied Max from our accounts team; please keep him in the loop.\n\nAlice"),
    ("Bob Chen", "bob", "Website down!!",
     "Your service is down since 9:00, none of our 40 staff can log in. This is an outage."),
    ("Chloé Dubois", "chloe", "Colis jamais arrivé / parcel never arrived",
     "Bonjour, my parcel never arrived. Tracking number FR123456."),
    ("Dan O'Brien", "dan", "Question about my account",
     "How do I change the e-mail address on my account?"),
    # A customer who writes German gets a German acknowledgment (templates/de/), with the
    # promise of an urgent case: the shipped rules know "Ausfall" as well as "outage".
    ("Jürgen Weiß", "juergen", "Portal seit heute früh nicht erreichbar",
     "Sehr geehrte Damen und Herren,\n\nwir arbeiten seit Jahren gern mit Ihrem Portal. "
     "Seit heute früh um 8 Uhr haben wir einen kompletten Ausfall in allen drei Filialen, "
     "niemand kann sich anmelden.\n\nMit freundlichen Grüßen\nJürgen Weiß"),
]
robots = [
    ("Erin Vacation", "erin", "Automatic reply: Out of office", "auto-replied",
     "I am out of the office until Monday."),
]

with smtplib.SMTP("127.0.0.1", port) as s:
    for name, local, subject, body in samples:
        m = EmailMessage()
        addr = f"{local}-{tag}@customer.test"
        m["From"] = f"{name} <{addr}>"
        m["To"] = f"Support <{support}>"
        if local == "alice":
            # A colleague in Cc: he joins the case and gets the answers in Cc.
            m["Cc"] = f"Max Keller <max-{tag}@customer.test>"
        m["Subject"] = subject
        m["Message-ID"] = make_msgid(domain="customer.test")
        m.set_content(body)
        s.send_message(m)
        print(f"  sent: {name} <{addr}>: {subject}")
    for name, local, subject, auto, body in robots:
        m = EmailMessage()
        addr = f"{local}-{tag}@customer.test"
        m["From"] = f"{name} <{addr}>"
        m["To"] = support
        m["Subject"] = subject
        m["Auto-Submitted"] = auto
        m["Message-ID"] = make_msgid(domain="customer.test")
        m.set_content(body)
        s.send_message(m)
        print(f"  sent (robot, must get no answer): {name} <{addr}>: {subject}")
