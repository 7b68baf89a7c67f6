//! The metrics listener: `GET /metrics` on a loopback address (`[metrics] listen`), answered
//! with the OpenMetrics text that `prometheus-client` encodes.
//!
//! One read-only page does not warrant an HTTP framework: each connection gets one answer
//! and is closed. A request head is read with a time limit and a size limit (a client that
//! sends nothing, or too much, is dropped), and anything but `GET /metrics` (or `/`) gets a
//! 404 or 405. At most [`MAX_CLIENTS`] connections are served at once, each in its own task,
//! so a client that sends nothing delays no scrape; more wait to be accepted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::{Monitor, StoreSource};

/// Most bytes of a request's head read before the connection is dropped.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client has to send its request and take the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at the same time.
const MAX_CLIENTS: usize = 8;
/// The content type of the OpenMetrics text format.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds the listener (so a taken port is an error at start, naming the key).
///
/// # Errors
/// The bind error.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves `/metrics` until `shutdown`; each scrape first reads the store's figures from
/// `source` (when given), so they are as of the scrape.
pub async fn serve(
    listener: TcpListener,
    monitor: Arc<Monitor>,
    source: Option<Arc<StoreSource>>,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, _)) => {
                let (m, src) = (monitor.clone(), source.clone());
                tokio::spawn(async move {
                    let _ =
                        tokio::time::timeout(CLIENT_TIMEOUT, answer(stream, &m, src.as_deref()))
                            .await;
                    drop(slot);
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads one request head and writes one answer.
async fn answer(
    stream: TcpStream,
    monitor: &Arc<Monitor>,
    source: Option<&StoreSource>,
) -> std::io::Result<()> {
    let mut r = BufReader::new(stream);
    let mut head = Vec::new();
    let mut line = Vec::new();
    // The request line, then header lines until the empty one.
    loop {
        line.clear();
        let n = (&mut r)
            .take((MAX_HEAD - head.len().min(MAX_HEAD)) as u64 + 1)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return Ok(());
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    let request = String::from_utf8_lossy(&head);
    let mut words = request.lines().next().unwrap_or("").split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, ctype, body) = match (method, path) {
        ("GET", "/metrics" | "/") => {
            if let Some(src) = source {
                // On a store error the gauges keep the heartbeat's values; the heartbeat
                // logs the failure.
                let _ = src.refresh(monitor, None).await;
            }
            ("200 OK", CONTENT_TYPE, monitor.encode())
        }
        ("GET", _) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "mailcase serves /metrics only\n".to_string(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "GET /metrics\n".to_string(),
        ),
    };
    let mut stream = r.into_inner();
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(reply.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn served() -> (SocketAddr, CancellationToken) {
        let l = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = l.local_addr().unwrap();
        let stop = CancellationToken::new();
        tokio::spawn(serve(
            l,
            Arc::new(Monitor::new("pid 1 on test")),
            None,
            stop.clone(),
        ));
        (addr, stop)
    }

    async fn ask(addr: SocketAddr, request: &[u8]) -> String {
        let mut c = TcpStream::connect(addr).await.unwrap();
        let _ = c.write_all(request).await;
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn a_silent_client_delays_no_scrape_and_an_oversized_head_is_dropped() {
        let (addr, stop) = served().await;
        // Connected, sends nothing: holds one slot until its 5 s are up.
        let _silent = TcpStream::connect(addr).await.unwrap();
        let started = std::time::Instant::now();
        let m = ask(addr, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n").await;
        assert!(m.starts_with("HTTP/1.1 200 OK\r\n"), "{m}");
        assert!(m.contains("mailcase_build_info"), "{m}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 2 * MAX_HEAD));
        big.extend(b"\r\n\r\n");
        assert_eq!(ask(addr, &big).await, "", "no answer to an oversized head");
        assert!(ask(addr, b"DELETE / HTTP/1.1\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 405"));
        stop.cancel();
    }
}
