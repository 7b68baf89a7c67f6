"""Shared helpers of the benchmark scripts: the real local servers (tests/mailserver), a
config for a fresh support mailbox, the release binary, sample complaints."""
import atexit, os, secrets, shutil, subprocess, tempfile, uuid

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
env = dict(l.split("=", 1) for l in subprocess.check_output([f"{repo}/tests/mailserver/up.sh"], text=True).split() if "=" in l)
IMAP, SMTP, PW = int(env["MAILENV_IMAP_PORT"]), int(env["MAILENV_SMTP_PORT"]), env["MAILENV_PASSWORD"]
# MAILCASE_BIN measures another build (an older commit's, for a before/after comparison).
BIN = os.environ.get("MAILCASE_BIN", f"{repo}/target/release/mailcase")


def world(tag, outbox_extra="", tail=""):
    """A temp dir with a config for support-<tag>@support.test; `tail` is appended TOML."""
    d = tempfile.mkdtemp(prefix="mailcase-fig-")
    # A 10000 backlog leaves a database of about 200 MB: gone when the script ends, unless
    # MAILCASE_BENCH_KEEP=1 (to look at a run's database or log afterwards).
    if os.environ.get("MAILCASE_BENCH_KEEP") != "1":
        atexit.register(shutil.rmtree, d, ignore_errors=True)
    support = f"support-{tag}@support.test"
    open(f"{d}/imap-password", "w").write(PW + "\n")
    open(f"{d}/token.key", "w").write(secrets.token_hex(32) + "\n")
    cfg = open(f"{repo}/tests/fixtures/config/integration.toml").read()
    cfg = (cfg.replace("@IMAP_PORT@", str(IMAP)).replace("@SMTP_PORT@", str(SMTP))
              .replace("@SUPPORT@", support).replace("@TEMPLATES@", f"{repo}/templates"))
    cfg = cfg.replace('batch_size = 50', 'batch_size = 200').replace('connections = 2', 'connections = ' + os.environ.get('BENCH_SMTP_CONNECTIONS', '4'))
    if outbox_extra:
        cfg = cfg.replace("[outbox]\n", "[outbox]\n" + outbox_extra)
    # Every sample customer writes from customer.test: the flood caps by domain would take the
    # whole backlog for one flood, so the benchmark lifts them (the per-sender cap stays).
    limits = "\n[limits]\nnew_cases_per_text_per_hour = 1000000\nnew_cases_per_domain_per_hour = 0\n"
    # BENCH_BRANDS=1: the same mailbox as one of three queues of two brands (the other
    # addresses receive nothing), to measure what routing and an engine per queue cost.
    if os.environ.get("BENCH_BRANDS") == "1":
        local = support.split("@")[0]
        tail += f"""
[[brand]]
name = "acme"
display_name = "Acme Support"
reference_prefix = "ACM"
signature = "Acme Support, +1 555 0100"

[[brand]]
name = "globex"
display_name = "Globex Care"
reference_prefix = "GLX"
[brand.calendar]
timezone = "America/New_York"

[[queue]]
name = "support"
brand = "acme"
addresses = ["{support}"]

[[queue]]
name = "billing"
brand = "acme"
addresses = ["{local}--billing@support.test"]

[[queue]]
name = "help"
brand = "globex"
addresses = ["{local}--help@support.test"]
"""
    open(f"{d}/mailcase.toml", "w").write(cfg + "\n" + tail + limits)
    return d, support


def start(d, *args):
    return subprocess.Popen([BIN, "--config", f"{d}/mailcase.toml", "run", *args],
                            stderr=open(f"{d}/daemon.log", "a"))


def complaint(frm, to, i):
    return (f"From: Customer {i} <{frm}>\r\nTo: {to}\r\nSubject: complaint {i} - broken widget\r\n"
            f"Message-ID: <{uuid.uuid4()}@customer.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n"
            f"My widget number {i} stopped working yesterday. Please help.\r\n").encode()


def peak_rss_kb(pid):
    return int([l for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM")][0].split()[1])
