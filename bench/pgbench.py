"""bench.py's PostgreSQL side: the benchmark's PostgreSQL (started by bench/run.sh with
tests/pgserver/up.sh, state dir .pgenv-bench, port 12432, passed in BENCH_PG_* variables), a
fresh database per run, the progress counts, and the server's CPU and memory.

Reading: with psycopg2 (Debian python3-psycopg2; bench/run.sh installs it when root) one
connection per run over the unix socket, polled every 0.05 s; without it one `psql` per poll,
every 0.2 s. Either way the poll's own backend is left out of the server's figures (psycopg2)
or its cost is said (psql: a process and a connection per poll). The daemon itself connects
over TCP with TLS (sslmode=require, the test CA), as a deployment would.
"""
import atexit, os, re, shutil, subprocess, threading, time

env = os.environ
try:
    import psycopg2
    Error = psycopg2.Error
except ImportError:  # pragma: no cover - the psql fallback
    psycopg2 = None

    class Error(Exception):
        pass


def configured():
    return bool(env.get("BENCH_PG_URL"))


def check():
    missing = [k for k in ("BENCH_PG_URL", "BENCH_PG_PASSWORD_FILE", "BENCH_PG_CA", "BENCH_PG_SOCKET_DIR",
                           "BENCH_PG_PORT", "BENCH_PG_DIR") if not env.get(k)]
    if missing:
        raise SystemExit(f"--engines postgres needs {', '.join(missing)} (bench/run.sh sets them from "
                         "tests/pgserver/up.sh)")
    if not shutil.which("psql"):
        raise SystemExit("psql not found (Debian postgresql-client)")


def password():
    return open(env["BENCH_PG_PASSWORD_FILE"]).read().strip()


def base_url():
    """BENCH_PG_URL without its database: postgres://mailcase@127.0.0.1:12432"""
    return env["BENCH_PG_URL"].split("?")[0].rsplit("/", 1)[0]


def user():
    return re.match(r"postgres(?:ql)?://([^@]+)@", env["BENCH_PG_URL"]).group(1)


def psql(db, sql):
    """One statement through psql over the unix socket; rows of fields (text)."""
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
                          "-h", env["BENCH_PG_SOCKET_DIR"], "-p", env["BENCH_PG_PORT"], "-U", user(),
                          "-d", db, "-c", sql],
                         capture_output=True, text=True, env={**env, "PGPASSWORD": password()})
    if out.returncode != 0:
        raise Error(out.stderr.strip())
    return [[int(f) if f.isdigit() else f for f in l.split("\x1f")] for l in out.stdout.splitlines() if l]


def server_version():
    return psql("postgres", "SHOW server_version")[0][0]


def describe():
    return {"url": env["BENCH_PG_URL"], "tls": "sslmode=require, ca_file = the test CA, TCP 127.0.0.1",
            "reader": "psycopg2, unix socket, every 0.05 s" if psycopg2 else "psql per poll, unix socket, every 0.2 s",
            "settings": {k: psql("postgres", f"SHOW {k}")[0][0] for k in
                         ("shared_buffers", "fsync", "synchronous_commit", "wal_level", "max_connections")}}


def fresh_database(tag):
    name = "bench_" + re.sub(r"[^a-z0-9_]", "_", tag.lower())
    psql("postgres", f"CREATE DATABASE {name}")
    if env.get("MAILCASE_BENCH_KEEP") != "1":
        atexit.register(drop_database, name)
    return PgStore(name)


def drop_database(name):
    try:
        psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    except Error:
        pass


def postmaster_pid():
    return int(open(f"{env['BENCH_PG_DIR']}/data/postmaster.pid").readline())


def proc_cpu(pid, children=False):
    """utime + stime (+ cutime + cstime) in seconds."""
    st = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    t = int(st[11]) + int(st[12]) + ((int(st[13]) + int(st[14])) if children else 0)
    return t / os.sysconf("SC_CLK_TCK")


def children(ppid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1]) == ppid:
                    out.append(int(p))
            except OSError:
                pass
    return out


def mem_kb(pid):
    """(PSS, RSS) in kB: PSS shares shared_buffers among the processes mapping them."""
    pss = rss = 0
    for l in open(f"/proc/{pid}/smaps_rollup"):
        if l.startswith("Pss:"):
            pss = int(l.split()[1])
        elif l.startswith("Rss:"):
            rss = int(l.split()[1])
    return pss, rss


class PgStore:
    engine = "postgres"
    Error = Error

    def __init__(self, db):
        self.db = db
        self.con = None
        self.poll_interval = 0.05 if psycopg2 else 0.2
        self.poll_pid = None
        self.sampler = None
        self.queries = 0  # our own transactions, left out of pg_xact_commit

    def store_toml(self, d):
        pw = f"{d}/pg-password"
        with open(pw, "w") as f:
            f.write(password() + "\n")
        os.chmod(pw, 0o600)
        return (f'[store]\nengine = "postgres"\nurl = "{base_url()}/{self.db}?sslmode=require"\n'
                f'password_file = "{pw}"\nca_file = "{env["BENCH_PG_CA"]}"\n')

    def _conn(self):
        if self.con is None:
            self.con = psycopg2.connect(host=env["BENCH_PG_SOCKET_DIR"], port=env["BENCH_PG_PORT"], user=user(),
                                        password=password(), dbname=self.db, application_name="bench-poll")
            self.con.autocommit = True
            self.poll_pid = self.con.get_backend_pid()
        return self.con

    def query(self, sql, params=()):
        self.queries += 1
        if psycopg2 is None:
            for p in params:
                sql = sql.replace("%s", "'" + str(p).replace("'", "''") + "'", 1)
            return psql(self.db, sql)
        with self._conn().cursor() as c:
            c.execute(sql, params or None)
            return c.fetchall()

    def ready(self):
        try:
            return self.query("SELECT to_regclass('public.outbox') IS NOT NULL AND "
                              "to_regclass('public.cases') IS NOT NULL")[0][0] in (True, "t")
        except Error:
            return False

    # The server's figures over a daemon's life: its CPU (the postmaster and every backend,
    # exited ones through the postmaster's cutime/cstime) and its peak memory, sampled twice a
    # second. The poll's own backend is subtracted from the CPU and left out of the memory.
    def server_begin(self):
        if psycopg2 is not None:
            self._conn()
        self.pm = postmaster_pid()
        self.cpu0 = self._cpu()
        self.poll_cpu0 = self._poll_cpu()
        self.peak = {"pss": 0, "rss": 0, "n": 0}
        self.wal0 = self._wal()
        self.stop_ev = threading.Event()
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()

    def _wal(self):
        """The cluster's WAL so far: records, bytes, flushes to disk (pg_stat_wal)."""
        return [int(x) for x in psql("postgres", "SELECT wal_records, wal_bytes, wal_sync FROM pg_stat_wal")[0]]

    def db_stats(self):
        """The run's database, after the daemon stopped: transactions committed, rows written
        and read (pg_stat_database; a backend reports them when it exits, hence the poll's
        connection is closed first and its own transactions subtracted), the WAL the cluster
        wrote, and the tables read whole most (pg_stat_user_tables)."""
        scans = self.query("SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0) FROM pg_stat_user_tables "
                           "ORDER BY seq_tup_read DESC LIMIT 4")
        self.close()
        time.sleep(0.5)
        r = psql("postgres", "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, "
                 f"tup_fetched, tup_returned FROM pg_stat_database WHERE datname = '{self.db}'")[0]
        w = [b - a for a, b in zip(self.wal0, self._wal())]
        keys = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_deleted", "tup_fetched", "tup_returned")
        r = [int(v) for v in r]
        r[0] -= self.queries  # each of our polls is a transaction of its own
        return {**{f"pg_{k}": v for k, v in zip(keys, r)},
                "pg_wal_records": w[0], "pg_wal_mb": round(w[1] / 1e6, 1), "pg_wal_syncs": w[2],
                "pg_seq_scans_top": {t: {"seq_scan": int(a), "seq_tup_read": int(b), "idx_scan": int(c)}
                                     for t, a, b, c in scans}}

    def _cpu(self):
        t = proc_cpu(self.pm, children=True)
        for c in children(self.pm):
            try:
                t += proc_cpu(c)
            except OSError:
                pass
        return t

    def _poll_cpu(self):
        try:
            return proc_cpu(self.poll_pid) if self.poll_pid else 0.0
        except OSError:
            return 0.0

    def _sample(self):
        while not self.stop_ev.wait(0.5):
            pss = rss = n = 0
            for pid in [self.pm] + children(self.pm):
                if pid == self.poll_pid:
                    continue
                try:
                    a, b = mem_kb(pid)
                except OSError:
                    continue
                pss += a; rss += b; n += 1
            if pss > self.peak["pss"]:
                self.peak.update(pss=pss, rss=max(rss, self.peak["rss"]), n=n)

    def server_stats(self):
        if self.sampler is None:
            return {}
        poll = self._poll_cpu() - self.poll_cpu0
        return {"pg_cpu_s": round(self._cpu() - self.cpu0 - poll, 2),
                "pg_poll_backend_cpu_s": round(poll, 2),
                "pg_peak_pss_mb": round(self.peak["pss"] / 1024, 1),
                "pg_peak_rss_sum_mb": round(self.peak["rss"] / 1024, 1),
                "pg_peak_processes": self.peak["n"]}

    def server_end(self):
        if self.sampler is not None:
            self.stop_ev.set()
            self.sampler.join()

    def close(self):
        if self.con is not None:
            self.con.close()
            self.con = None
