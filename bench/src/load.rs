//! A small load generator: N keep-alive HTTP/1.1 connections on loopback, each its own
//! task sending one request after the other, bounded by a request count and a duration.

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

/// Builds request number `n` of a run (numbers are unique within a run).
pub type MakeRequest = Arc<dyn Fn(u64) -> http::Request<Full<Bytes>> + Send + Sync>;

/// One request may take this long before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Load {
    pub addr: SocketAddr,
    pub connections: usize,
    pub max_requests: u64,
    pub duration: Duration,
    /// The status every answer should have; anything else counts as an error.
    pub expect: u16,
}

/// What a run measured: client-side round trips (request written to body read).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub connections: usize,
    /// Answers received (with any status).
    pub requests: u64,
    /// Answers with another status, plus transport failures and timeouts.
    pub errors: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub first_error: Option<String>,
    /// CPU time this process (host, fakes and load generator) used during the run.
    pub cpu: Option<Duration>,
}

impl Outcome {
    /// Process CPU time per answered request.
    pub fn cpu_per_request(&self) -> Option<Duration> {
        let n = u32::try_from(self.requests).ok().filter(|n| *n > 0)?;
        self.cpu.map(|c| c / n)
    }

    pub fn rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        }
    }
}

struct TaskResult {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

/// Runs the load and waits for every connection to finish.
pub async fn run(load: &Load, make: MakeRequest) -> Result<Outcome> {
    let tickets = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(load.connections + 1));
    let mut tasks = Vec::with_capacity(load.connections);
    for _ in 0..load.connections {
        tasks.push(tokio::spawn(connection(
            load.clone(),
            make.clone(),
            tickets.clone(),
            barrier.clone(),
        )));
    }
    // Every connection is open before the clock starts.
    barrier.wait().await;
    let started = Instant::now();
    let cpu_before = process_cpu();
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        let r = t.await.context("a load task panicked")??;
        latencies.extend(r.latencies);
        errors += r.errors;
        if first_error.is_none() {
            first_error = r.first_error;
        }
    }
    let elapsed = started.elapsed();
    let cpu = process_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    latencies.sort_unstable();
    let requests = latencies.len() as u64;
    Ok(Outcome {
        connections: load.connections,
        requests,
        errors,
        elapsed,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        max: latencies.last().copied().unwrap_or_default(),
        first_error,
        cpu,
    })
}

/// User plus system CPU time of this process so far (Linux `/proc/self/stat`).
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after `)`.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // The kernel reports clock ticks of 1/100 s on Linux (USER_HZ).
    Some(Duration::from_millis(ticks * 10))
}

/// The `q` quantile of sorted values (nearest rank).
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

async fn connection(
    load: Load,
    make: MakeRequest,
    tickets: Arc<AtomicU64>,
    barrier: Arc<Barrier>,
) -> Result<TaskResult> {
    let connected = connect(load.addr).await;
    // Wait at the barrier even after a failure, or the run would never start.
    barrier.wait().await;
    let mut sender = connected?;
    let deadline = Instant::now() + load.duration;
    let mut out = TaskResult {
        latencies: Vec::new(),
        errors: 0,
        first_error: None,
    };
    while Instant::now() < deadline {
        let n = tickets.fetch_add(1, Ordering::Relaxed);
        if n >= load.max_requests {
            break;
        }
        let started = Instant::now();
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange(&mut sender, make(n))).await {
            Ok(Ok((status, body))) => {
                out.latencies.push(started.elapsed());
                if status != load.expect {
                    out.errors += 1;
                    out.first_error.get_or_insert_with(|| {
                        let text = String::from_utf8_lossy(&body);
                        format!(
                            "status {status}: {}",
                            text.chars().take(300).collect::<String>()
                        )
                    });
                }
            }
            failed => {
                out.errors += 1;
                out.first_error.get_or_insert_with(|| match failed {
                    Ok(Err(e)) => format!("transport: {e:#}"),
                    _ => format!("no answer within {REQUEST_TIMEOUT:?}"),
                });
                // The connection is in an unknown state: start a new one.
                sender = connect(load.addr).await?;
            }
        }
    }
    Ok(out)
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    req: http::Request<Full<Bytes>>,
) -> Result<(u16, Bytes)> {
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// One request on a new connection, for setting things up.
pub async fn once(addr: SocketAddr, req: http::Request<Full<Bytes>>) -> Result<(u16, Bytes)> {
    let mut sender = connect(addr).await?;
    tokio::time::timeout(REQUEST_TIMEOUT, exchange(&mut sender, req))
        .await
        .context("request timed out")?
}

/// A request with a `Host` header (HTTP/1.1 needs one; hyper's connection API adds none).
pub fn request(
    method: &str,
    addr: SocketAddr,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> http::Request<Full<Bytes>> {
    let mut b = http::Request::builder()
        .method(method)
        .uri(path_and_query)
        .header(http::header::HOST, addr.to_string());
    for (name, value) in headers {
        b = b.header(*name, *value);
    }
    if !body.is_empty() {
        b = b.header(http::header::CONTENT_TYPE, "application/json");
    }
    // Every part above is a valid literal or comes from a valid URL.
    b.body(Full::new(body)).expect("a valid request")
}
