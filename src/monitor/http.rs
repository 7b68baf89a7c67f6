//! The metrics listener: `GET /metrics` on a loopback address (`[metrics] listen`), answered
//! with the OpenMetrics text that `prometheus-client` encodes.
//!
//! One read-only page does not warrant an HTTP framework: each connection gets one answer
//! and is closed. A request line is read with a time limit and a size limit (a client that
//! sends nothing, or too much, is dropped), and anything but `GET /metrics` (or `/`) gets a
//! 404 or 405. Connections are served one at a time: a scrape is a few kilobytes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::Monitor;

/// Most bytes of a request's head read before the connection is dropped.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client has to send its request and take the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// The content type of the OpenMetrics text format.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds the listener (so a taken port is an error at start, naming the key).
///
/// # Errors
/// The bind error.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves `/metrics` until `shutdown`.
pub async fn serve(listener: TcpListener, monitor: Arc<Monitor>, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, _)) => {
                let _ = tokio::time::timeout(CLIENT_TIMEOUT, answer(stream, &monitor)).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads one request head and writes one answer.
async fn answer(stream: TcpStream, monitor: &Monitor) -> std::io::Result<()> {
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
        ("GET", "/metrics" | "/") => ("200 OK", CONTENT_TYPE, monitor.encode()),
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
