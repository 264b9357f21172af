//! A closed-loop HTTP/1.1 load generator over mutual TLS.
//!
//! `connections` workers each send one request, wait for the whole response, and send the next
//! (no pipelining, so the rate is what the server sustains at that concurrency). Every worker
//! connects with TCP_NODELAY and the TLS client configuration it is given (normally an
//! organisation of the test PKI, see [`crate::tls::client_config`]).
//!
//! Two modes:
//! - [`Mode::KeepAlive`]: one connection per worker, reused for every request (reconnected after
//!   an error);
//! - [`Mode::NewConnection`]: TCP connect + full mTLS handshake + one request with
//!   `Connection: close` for every request, so the rate is handshakes per second (turn TLS
//!   resumption off in the client configuration to measure full handshakes).
//!
//! A run ([`run`]) is a warm-up (nothing counted) followed by a fixed window: a request counts
//! when it completes inside the window, its latency is measured from the moment it started
//! (connect included in the new-connection mode). A request that fails, answers a non-2xx status
//! or does not finish within the request timeout counts as an error. The raw [`Measurement`]s of
//! several runs of one scenario can be [merged](Measurement::merge) before they are summarised
//! into a [`Report`] (rate, p50/p99, errors, body throughput).
//!
//! Timings are reported, never judged: callers compare rates taken in the same run on the same
//! machine.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

/// How long a request may take before it counts as an error.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the load goes.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// The name the server certificate is checked against.
    pub server_name: ServerName<'static>,
    /// Client identity, trusted CA, ALPN and resumption policy.
    pub tls: Arc<rustls::ClientConfig>,
}

/// The request every worker repeats.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub method: Method,
    /// Origin-form path and query (`/interoperabilidade/rest/v3/tramites/pendentes`).
    pub path: String,
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
}

impl RequestSpec {
    /// `GET path`.
    #[must_use]
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            content_type: None,
            body: Bytes::new(),
        }
    }

    /// `POST path` with a JSON body.
    #[must_use]
    pub fn post_json(path: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Self {
            method: Method::POST,
            path: path.into(),
            content_type: Some(HeaderValue::from_static("application/json")),
            body: body.into(),
        }
    }
}

/// Connection reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// One connection per worker, HTTP/1.1 keep-alive.
    KeepAlive,
    /// A new TCP + TLS connection for every request.
    NewConnection,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::KeepAlive => "keep-alive",
            Mode::NewConnection => "new-conn",
        })
    }
}

/// How to load.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub mode: Mode,
    /// Concurrent workers (= connections in keep-alive mode).
    pub connections: usize,
    /// Requests before the window are not counted.
    pub warmup: Duration,
    /// The measured window.
    pub window: Duration,
    pub request_timeout: Duration,
}

/// A [`Measurement`] summarised.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mode: Mode,
    pub connections: usize,
    /// The measured window (all rounds), in seconds.
    pub window_secs: f64,
    /// Successful requests completed in the window.
    pub completed: u64,
    /// Failed requests (transport, TLS, non-2xx, timeout) completed in the window.
    pub errors: u64,
    /// `completed / window_secs`.
    pub requests_per_sec: f64,
    /// Latency percentiles of the successful requests, milliseconds.
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Response body bytes of the successful requests per second.
    pub body_bytes_per_sec: f64,
    /// The first error seen (warm-up included), for diagnosis.
    pub first_error: Option<String>,
}

/// Runs the plan on the current tokio runtime. Never fails: every failure is counted (a worker
/// that panicked counts as one error).
pub async fn run(target: &Target, request: &RequestSpec, plan: &Plan) -> Measurement {
    let target = Arc::new(target.clone());
    let request = Arc::new(request.clone());
    let start = Instant::now();
    let window = Window {
        from: start + plan.warmup,
        until: start + plan.warmup + plan.window,
    };
    let mut workers = JoinSet::new();
    for _ in 0..plan.connections.max(1) {
        workers.spawn(worker(
            Arc::clone(&target),
            Arc::clone(&request),
            plan.mode,
            plan.request_timeout,
            window,
        ));
    }
    let mut total = Measurement::empty(plan);
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(tally) => total.absorb(tally),
            Err(error) => total.error(format!("worker: {error}"), true),
        }
    }
    total.window = plan.window;
    total
}

#[derive(Debug, Clone, Copy)]
struct Window {
    from: Instant,
    until: Instant,
}

impl Window {
    fn contains(&self, at: Instant) -> bool {
        at >= self.from && at < self.until
    }
}

/// The raw outcome of one or more runs of the same plan: what [`Measurement::report`] summarises.
/// Runs of the same scenario taken at different moments (interleaved with others, so that a
/// changing background load hits every scenario alike) are [merged](Measurement::merge).
#[derive(Debug, Clone)]
pub struct Measurement {
    pub mode: Mode,
    pub connections: usize,
    /// Sum of the measured windows.
    pub window: Duration,
    /// Latency of every successful request completed in the window, nanoseconds, unordered.
    pub latencies_nanos: Vec<u64>,
    pub body_bytes: u64,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Measurement {
    fn empty(plan: &Plan) -> Self {
        Self {
            mode: plan.mode,
            connections: plan.connections.max(1),
            window: Duration::ZERO,
            latencies_nanos: Vec::new(),
            body_bytes: 0,
            errors: 0,
            first_error: None,
        }
    }

    fn error(&mut self, message: String, counted: bool) {
        if counted {
            self.errors += 1;
        }
        if self.first_error.is_none() {
            self.first_error = Some(message);
        }
    }

    fn absorb(&mut self, tally: Tally) {
        self.latencies_nanos.extend(tally.latencies_nanos);
        self.body_bytes += tally.body_bytes;
        self.errors += tally.errors;
        if self.first_error.is_none() {
            self.first_error = tally.first_error;
        }
    }

    /// Successful requests per second of window.
    #[must_use]
    pub fn requests_per_sec(&self) -> f64 {
        per_sec(self.latencies_nanos.len() as u64, self.window)
    }

    /// Adds another run of the same plan: windows, requests and errors add up.
    pub fn merge(&mut self, other: Measurement) {
        self.window += other.window;
        self.latencies_nanos.extend(other.latencies_nanos);
        self.body_bytes += other.body_bytes;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// Rates and percentiles.
    #[must_use]
    pub fn report(&self) -> Report {
        let mut sorted = self.latencies_nanos.clone();
        sorted.sort_unstable();
        let completed = sorted.len() as u64;
        Report {
            mode: self.mode,
            connections: self.connections,
            window_secs: self.window.as_secs_f64(),
            completed,
            errors: self.errors,
            requests_per_sec: per_sec(completed, self.window),
            p50_ms: percentile_ms(&sorted, 0.50),
            p99_ms: percentile_ms(&sorted, 0.99),
            body_bytes_per_sec: per_sec(self.body_bytes, self.window),
            first_error: self.first_error.clone(),
        }
    }
}

fn per_sec(n: u64, window: Duration) -> f64 {
    let secs = window.as_secs_f64();
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

/// What one worker saw.
#[derive(Debug, Default)]
struct Tally {
    latencies_nanos: Vec<u64>,
    body_bytes: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, message: String, counted: bool) {
        if counted {
            self.errors += 1;
        }
        if self.first_error.is_none() {
            self.first_error = Some(message);
        }
    }
}

/// The nearest-rank percentile of sorted nanoseconds, in milliseconds (0 when empty).
fn percentile_ms(sorted_nanos: &[u64], p: f64) -> f64 {
    if sorted_nanos.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted_nanos.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_nanos.len()) - 1;
    sorted_nanos[index] as f64 / 1e6
}

type Sender = http1::SendRequest<Full<Bytes>>;

async fn worker(
    target: Arc<Target>,
    request: Arc<RequestSpec>,
    mode: Mode,
    request_timeout: Duration,
    window: Window,
) -> Tally {
    let mut tally = Tally::default();
    let host = HeaderValue::from_str(&target.addr.to_string()).ok();
    let mut kept: Option<Sender> = None;
    while Instant::now() < window.until {
        let started = Instant::now();
        // A request still running when the window closes is abandoned soon after.
        let deadline = (started + request_timeout).min(window.until + Duration::from_secs(1));
        let attempt = async {
            let mut sender = match kept.take() {
                Some(sender) if !sender.is_closed() => sender,
                _ => connect(&target).await?,
            };
            let close = mode == Mode::NewConnection;
            let len = exchange(&mut sender, host.as_ref(), &request, close).await?;
            Ok::<_, String>((len, sender))
        };
        let outcome = tokio::time::timeout_at(deadline, attempt).await;
        let finished = Instant::now();
        let counted = window.contains(finished);
        match outcome {
            Ok(Ok((len, sender))) => {
                if mode == Mode::KeepAlive {
                    kept = Some(sender);
                }
                if counted {
                    let nanos = finished.duration_since(started).as_nanos();
                    tally
                        .latencies_nanos
                        .push(u64::try_from(nanos).unwrap_or(u64::MAX));
                    tally.body_bytes += len;
                }
            }
            Ok(Err(message)) => tally.error(message, counted),
            Err(_elapsed) => {
                if finished < window.until {
                    tally.error(format!("no answer within {request_timeout:?}"), counted);
                }
            }
        }
    }
    tally
}

/// TCP connect with TCP_NODELAY, mTLS handshake, HTTP/1.1 handshake; the connection is driven by
/// its own task until the sender is dropped.
async fn connect(target: &Target) -> Result<Sender, String> {
    let tcp = TcpStream::connect(target.addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    tcp.set_nodelay(true)
        .map_err(|e| format!("TCP_NODELAY: {e}"))?;
    let tls = TlsConnector::from(Arc::clone(&target.tls))
        .connect(target.server_name.clone(), tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let (sender, connection) = http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| format!("HTTP/1.1 handshake: {e}"))?;
    tokio::spawn(async move {
        // Ends when the server closes or the sender is dropped; errors show up on the sender.
        let _ = connection.await;
    });
    Ok(sender)
}

/// One request and its whole response; the response body's length on a 2xx status.
async fn exchange(
    sender: &mut Sender,
    host: Option<&HeaderValue>,
    spec: &RequestSpec,
    close: bool,
) -> Result<u64, String> {
    sender
        .ready()
        .await
        .map_err(|e| format!("connection: {e}"))?;
    let mut builder = Request::builder()
        .method(spec.method.clone())
        .uri(spec.path.as_str());
    if let Some(host) = host {
        builder = builder.header(HOST, host.clone());
    }
    if let Some(content_type) = &spec.content_type {
        builder = builder.header(CONTENT_TYPE, content_type.clone());
    }
    if close {
        builder = builder.header(CONNECTION, HeaderValue::from_static("close"));
    }
    let request = builder
        .body(Full::new(spec.body.clone()))
        .map_err(|e| format!("request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let mut body = response.into_body();
    let mut len = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("response body: {e}"))?;
        if let Some(data) = frame.data_ref() {
            len += data.len() as u64;
        }
    }
    if status.is_success() {
        Ok(len)
    } else {
        Err(format!("HTTP {status} for {} {}", spec.method, spec.path))
    }
}

#[cfg(test)]
mod tests {
    use super::percentile_ms;

    #[test]
    fn nearest_rank_percentiles() {
        let nanos: Vec<u64> = (1..=100).map(|ms| ms * 1_000_000).collect();
        assert!((percentile_ms(&nanos, 0.50) - 50.0).abs() < f64::EPSILON);
        assert!((percentile_ms(&nanos, 0.99) - 99.0).abs() < f64::EPSILON);
        assert!((percentile_ms(&[7_000_000], 0.99) - 7.0).abs() < f64::EPSILON);
        assert!(percentile_ms(&[], 0.5).abs() < f64::EPSILON);
    }
}
