//! systemd service notifications (sd_notify) and the watchdog, without libsystemd.
//!
//! The protocol is a datagram to the socket named by `$NOTIFY_SOCKET` (a path, or an abstract
//! name starting with `@`). `READY=1` goes out once the store is open and the first IMAP
//! login succeeded; `WATCHDOG=1` after healthy rounds of the main loop (at most twice per
//! `$WATCHDOG_USEC`, so a stuck or disconnected loop lets the watchdog fire); `STOPPING=1`
//! on shutdown; `STATUS=` lines for `systemctl status`. Outside systemd every call is a no-op.

use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A connection to the service manager, or nothing when not run by systemd.
#[derive(Debug)]
pub struct Notifier {
    target: Option<Target>,
    watchdog: Option<Duration>,
    last_ping: Mutex<Option<Instant>>,
}

#[derive(Debug)]
struct Target {
    socket: UnixDatagram,
    addr: std::os::unix::net::SocketAddr,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID` (ignored when it names
    /// another process).
    pub fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|p| {
            let p = p.to_string_lossy().to_string();
            let addr = if let Some(name) = p.strip_prefix('@') {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).ok()?
            } else {
                std::os::unix::net::SocketAddr::from_pathname(&p).ok()?
            };
            let socket = UnixDatagram::unbound().ok()?;
            Some(Target { socket, addr })
        });
        let pid_ok = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|p| p == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|u| *u > 0 && pid_ok)
            .map(Duration::from_micros);
        Notifier {
            target,
            watchdog,
            last_ping: Mutex::new(None),
        }
    }

    /// The watchdog interval systemd asked for, if any.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    fn send(&self, msg: &str) {
        if let Some(t) = &self.target {
            if let Err(e) = t.socket.send_to_addr(msg.as_bytes(), &t.addr) {
                tracing::warn!(error = %e, "cannot notify the service manager");
            }
        }
    }

    /// The service is up.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    /// A line for `systemctl status`.
    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    /// Still starting (waiting for the database): a status line, and more time before
    /// systemd's start timeout, one minute from now.
    pub fn waiting(&self, status: &str) {
        self.send(&format!(
            "STATUS={}\nEXTEND_TIMEOUT_USEC=60000000",
            one_line(status)
        ));
    }

    /// The main loop completed a healthy round: feed the watchdog (rate-limited to twice per
    /// interval).
    pub fn healthy(&self) {
        let Some(every) = self.watchdog else {
            return;
        };
        let mut last = self.last_ping.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|l| l.elapsed() < every / 4) {
            return;
        }
        *last = Some(Instant::now());
        drop(last);
        self.send("WATCHDOG=1");
    }

    /// Shutdown has begun.
    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping: finishing the batch and sends in hand");
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_reach_a_notify_socket_and_the_watchdog_is_rate_limited() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let n = Notifier {
            target: Some(Target {
                socket: UnixDatagram::unbound().unwrap(),
                addr: std::os::unix::net::SocketAddr::from_pathname(&path).unwrap(),
            }),
            watchdog: Some(Duration::from_secs(60)),
            last_ping: Mutex::new(None),
        };
        let mut buf = [0u8; 256];
        n.ready("running\nFAKE=1");
        let k = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..k], b"READY=1\nSTATUS=running FAKE=1");
        n.healthy();
        n.healthy(); // within a quarter interval: not sent again
        n.stopping();
        let k = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..k], b"WATCHDOG=1");
        let k = server.recv(&mut buf).unwrap();
        assert!(buf[..k].starts_with(b"STOPPING=1"));
    }

    #[test]
    fn outside_systemd_everything_is_a_no_op() {
        let n = Notifier {
            target: None,
            watchdog: None,
            last_ping: Mutex::new(None),
        };
        n.ready("x");
        n.healthy();
        n.stopping();
        assert_eq!(n.watchdog_interval(), None);
    }
}
