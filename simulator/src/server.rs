//! The TLS edge of the simulator: a TCP listener, the mutual-TLS handshake, and HTTP/1.1 or
//! HTTP/2 (by ALPN) into an axum [`Router`].
//!
//! The accept loop is written by hand (tokio-rustls + hyper-util) rather than taken from
//! `axum::serve` or axum-server, because the simulator needs per-connection control:
//! - **handshake errors we can report**: a client without a certificate, with an expired one
//!   or one from another CA is refused during the handshake, and the reason ("peer sent no
//!   certificates", "invalid peer certificate: UnknownIssuer", …) goes to a
//!   [`HandshakeObserver`] (the journal) and to `tracing`, not into a library's log line;
//! - **the verified certificate reaches the handlers**: every request of a connection carries a
//!   [`PeerIdentity`] (and a [`ConnectionInfo`] and axum's `ConnectInfo<SocketAddr>`) as a
//!   request extension;
//! - **TCP_NODELAY on every accepted socket**: without it each fresh mTLS connection stalls
//!   ~40 ms on Nagle's algorithm and delayed ACKs;
//! - the handshake runs inside the connection's task, never inline in `accept`, so a slow or
//!   silent client cannot hold up the others, and it is bounded by a timeout;
//! - **nothing unbounded** ([`EdgeLimits`]): a cap on open connections (one more is closed at
//!   once), an idle timeout for HTTP/1.1 and HTTP/2 alike (hyper times out only HTTP/1.1's
//!   headers), h2 keep-alive pings, and request bodies that must keep arriving ([`BodyPace`]);
//! - explicit graceful shutdown: stop accepting, let open connections finish their requests,
//!   close whatever is left after a bounded wait.
//!
//! Before routing, repeated slashes in the request path are collapsed ([`collapse_slashes`]):
//! SEI's installation checker asks for `…/rest/v3//healthcheck`.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::ConnectInfo;
use axum::http::uri::PathAndQuery;
use axum::http::{Request, Response, Uri};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::pki::load::{sha1_fingerprint, sha256_fingerprint};

mod body;

pub use body::{BodyPace, BodyTimeout};
use body::{InFlight, InFlightBody, InFlightGuard, TimedBody};

/// How long a client may take to complete the TLS handshake
/// (see [`Server::with_handshake_timeout`]).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections may take to finish after shutdown
/// (see [`Server::with_shutdown_grace`]).
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Pause after an accept error that is not about one connection (EMFILE, ENOBUFS, …), so that
/// the loop does not spin while the process is out of descriptors or memory.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// What one listener allows each client: how many connections, how long each may take to
/// start, idle or send a body. Every value is wall-clock time (the platform's clock may be
/// accelerated or held; a network timeout is about the network).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeLimits {
    /// Connections open at once, handshakes included. One more is closed as soon as it is
    /// accepted (the client sees the connection reset), never left waiting in the backlog:
    /// 1,013 idle connections under `ulimit -n 1024` used to lock every new client out.
    pub max_connections: usize,
    /// From TCP accept to the end of the TLS handshake.
    pub handshake_timeout: Duration,
    /// HTTP/1.1: longest wait for a request's headers, idle keep-alive included (hyper's).
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed: HTTP/1.1 at once,
    /// HTTP/2 with GOAWAY. A request is in flight until its response is sent, so a long-poll
    /// or a long download never counts as idle.
    pub idle_timeout: Duration,
    /// HTTP/2: a PING after this long without a frame from the client…
    pub keep_alive_interval: Duration,
    /// …and the connection closed when its answer takes longer than this (a peer that
    /// vanished during a long-poll).
    pub keep_alive_timeout: Duration,
    /// How fast request bodies must arrive.
    pub body: BodyPace,
    /// How long open connections may take to finish their requests once shutdown starts.
    pub shutdown_grace: Duration,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        EdgeLimits {
            max_connections: 512,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            keep_alive_interval: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(20),
            body: BodyPace {
                idle: Duration::from_secs(30),
                grace: Duration::from_secs(30),
                min_rate: 1024,
            },
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// The verified client certificate of a connection, as handlers see it
/// (`Extension<PeerIdentity>`).
///
/// The registry maps it to an SPE by [`sha1_fingerprint`](Self::sha1_fingerprint), the way the
/// real portal registers certificates; the common name is for people and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The leaf certificate, DER.
    pub certificate_der: Arc<[u8]>,
    /// SHA-1 of the DER, upper-case hex with colons (the manifest's format).
    pub sha1_fingerprint: String,
    /// SHA-256 of the DER, upper-case hex with colons.
    pub sha256_fingerprint: String,
    /// The subject's first common name; empty when the subject has none (or it is not text).
    pub common_name: String,
}

impl PeerIdentity {
    /// The identity of a (leaf) certificate. Never fails: a certificate rustls verified always
    /// parses, and anything else just gets an empty common name.
    #[must_use]
    pub fn from_der(der: &[u8]) -> Self {
        let common_name = x509_parser::parse_x509_certificate(der)
            .ok()
            .and_then(|(_, cert)| {
                cert.subject()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok())
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        Self {
            certificate_der: Arc::from(der),
            sha1_fingerprint: sha1_fingerprint(der),
            sha256_fingerprint: sha256_fingerprint(der),
            common_name,
        }
    }
}

impl fmt::Debug for PeerIdentity {
    // The DER is long and says nothing to a reader; the fingerprints identify it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerIdentity")
            .field("common_name", &self.common_name)
            .field("sha1_fingerprint", &self.sha1_fingerprint)
            .field("sha256_fingerprint", &self.sha256_fingerprint)
            .finish_non_exhaustive()
    }
}

/// Facts about the connection a request came on (`Extension<ConnectionInfo>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The client's address.
    pub peer_addr: SocketAddr,
    /// Our end of the connection.
    pub local_addr: SocketAddr,
    /// TCP_NODELAY as read back from the socket after the server set it.
    pub tcp_nodelay: bool,
}

/// A connection that did not get past the TLS handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeFailure {
    /// Who tried.
    pub peer: SocketAddr,
    /// What went wrong, in rustls' words ("peer sent no certificates",
    /// "invalid peer certificate: UnknownIssuer", …) or ours (timeout, no certificate, the
    /// connection limit).
    pub reason: String,
    /// When the failure was seen (wall clock: the journal's own clock is not ours to read).
    pub at: SystemTime,
}

impl fmt::Display for HandshakeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TLS handshake with {} failed: {}",
            self.peer, self.reason
        )
    }
}

/// Called once for every refused or failed handshake, from the connection's task. Keep it
/// short and non-blocking (push to a bounded journal, send on a channel).
pub type HandshakeObserver = Arc<dyn Fn(HandshakeFailure) + Send + Sync>;

/// A bound listener, mutual TLS or (for the loopback control plane) plain HTTP;
/// [`serve`](Self::serve) runs it.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    /// `None`: plain HTTP.
    acceptor: Option<TlsAcceptor>,
    observer: Option<HandshakeObserver>,
    limits: EdgeLimits,
    open: Arc<watch::Sender<usize>>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("tls", &self.acceptor.is_some())
            .field("observer", &self.observer.is_some())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `addr` (port 0 picks a free port, see [`local_addr`](Self::local_addr)).
    ///
    /// `tls` decides who gets in: [`crate::pki::Pki::server_config`] requires a client
    /// certificate issued by the test CA. Its ALPN list decides between HTTP/2 and HTTP/1.1.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn bind(addr: SocketAddr, tls: Arc<rustls::ServerConfig>) -> io::Result<Self> {
        Self::bind_with(addr, Some(TlsAcceptor::from(tls))).await
    }

    /// Binds a plain-HTTP listener (HTTP/1.1, or h2 with prior knowledge): no identity on its
    /// requests, every other limit as over TLS. For the loopback control plane only.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn bind_plain(addr: SocketAddr) -> io::Result<Self> {
        Self::bind_with(addr, None).await
    }

    async fn bind_with(addr: SocketAddr, acceptor: Option<TlsAcceptor>) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
            acceptor,
            observer: None,
            limits: EdgeLimits::default(),
            open: Arc::new(watch::channel(0).0),
        })
    }

    /// The address actually bound.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Who hears about refused handshakes (replaces any previous observer).
    #[must_use]
    pub fn with_handshake_observer(mut self, observer: HandshakeObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Every limit at once (default [`EdgeLimits::default`]).
    #[must_use]
    pub fn with_limits(mut self, limits: EdgeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// How long a client may take from TCP accept to the end of the TLS handshake
    /// (default [`DEFAULT_HANDSHAKE_TIMEOUT`]); a timeout is reported as a handshake failure.
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.limits.handshake_timeout = timeout;
        self
    }

    /// How long open connections may take to finish their requests once shutdown starts
    /// (default [`DEFAULT_SHUTDOWN_GRACE`]); whatever is left then is closed.
    #[must_use]
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.limits.shutdown_grace = grace;
        self
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> EdgeLimits {
        self.limits
    }

    /// How many connections are open now (handshakes included), and a way to wait for that
    /// number to change: what tests and operators watch instead of sleeping.
    #[must_use]
    pub fn open_connections(&self) -> watch::Receiver<usize> {
        self.open.subscribe()
    }

    /// Serves `app` until `shutdown` resolves, then stops accepting, asks every open connection
    /// to finish (HTTP/1.1: after the current response; HTTP/2: GOAWAY), waits up to the
    /// shutdown grace and closes what is left. Handshakes still in progress are abandoned.
    ///
    /// Accept errors do not end the loop: per-connection ones are skipped, resource ones
    /// (EMFILE, ENOBUFS, …) are logged and retried after a short pause.
    ///
    /// # Errors
    /// None today (the `io::Result` leaves room for listener errors that cannot be retried).
    pub async fn serve(
        self,
        app: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let Self {
            listener,
            local_addr,
            acceptor,
            observer,
            limits,
            open,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            acceptor,
            observer,
            limits,
            http: HttpBuilders::new(&limits),
            stop: stop_rx,
        });
        let slots = Arc::new(Semaphore::new(limits.max_connections));
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);

        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                // Reap finished connections before accepting more, so the set stays small.
                Some(finished) = connections.join_next() => log_join(finished),
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => match Arc::clone(&slots).try_acquire_owned() {
                        Ok(permit) => {
                            let slot = Slot::take(permit, &open);
                            let shared = Arc::clone(&shared);
                            connections.spawn(connection(shared, app.clone(), tcp, peer, slot));
                        }
                        // Closed at once: a client told "no" now can retry or give up, one
                        // parked in the backlog waits for nothing.
                        Err(_) => shared.refuse_at_capacity(tcp, peer),
                    },
                    Err(error) if is_connection_error(&error) => {
                        tracing::debug!(%error, "accept: connection gone before it was accepted");
                    }
                    Err(error) => {
                        tracing::warn!(%error, "accept failed; retrying in {ACCEPT_ERROR_PAUSE:?}");
                        tokio::select! {
                            biased;
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                        }
                    }
                },
            }
        }

        drop(listener);
        // Handshakes in progress are dropped; served connections finish gracefully.
        stop_tx.send_replace(true);
        tracing::debug!(%local_addr, open = connections.len(), "shutting down");
        let drained = tokio::time::timeout(limits.shutdown_grace, async {
            while let Some(finished) = connections.join_next().await {
                log_join(finished);
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                %local_addr,
                open = connections.len(),
                "connections still open after {:?}; closing them",
                limits.shutdown_grace
            );
        }
        connections.abort_all();
        while let Some(finished) = connections.join_next().await {
            log_join(finished);
        }
        Ok(())
    }

    /// [`serve`](Self::serve) on a new task (the returned handle yields its result).
    pub fn spawn(
        self,
        app: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<io::Result<()>> {
        tokio::spawn(self.serve(app, shutdown))
    }
}

/// One of the listener's [`EdgeLimits::max_connections`], held by a connection's task for its
/// whole life; the count of open connections follows.
struct Slot {
    _permit: OwnedSemaphorePermit,
    open: Arc<watch::Sender<usize>>,
}

impl Slot {
    fn take(permit: OwnedSemaphorePermit, open: &Arc<watch::Sender<usize>>) -> Self {
        open.send_modify(|n| *n += 1);
        Slot {
            _permit: permit,
            open: Arc::clone(open),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// State every connection task shares.
struct Shared {
    acceptor: Option<TlsAcceptor>,
    observer: Option<HandshakeObserver>,
    limits: EdgeLimits,
    http: HttpBuilders,
    /// Turns true when shutdown starts.
    stop: watch::Receiver<bool>,
}

impl Shared {
    fn report(&self, peer: SocketAddr, reason: String) {
        tracing::warn!(%peer, %reason, "TLS handshake refused");
        self.observe(peer, reason);
    }

    fn observe(&self, peer: SocketAddr, reason: String) {
        if let Some(observer) = &self.observer {
            observer(HandshakeFailure {
                peer,
                reason,
                at: SystemTime::now(),
            });
        }
    }

    fn refuse_at_capacity(&self, tcp: TcpStream, peer: SocketAddr) {
        drop(tcp);
        let max = self.limits.max_connections;
        // Debug, not warn: a flood would otherwise flood the log; the journal has each one.
        tracing::debug!(%peer, max, "connection refused: the listener is full");
        self.observe(
            peer,
            format!("refused before the TLS handshake: {max} connections already open (the limit)"),
        );
    }
}

/// One hyper builder per ALPN outcome: the protocol the client agreed to in the handshake is
/// the one we speak, and we only sniff the connection preface when ALPN chose nothing.
struct HttpBuilders {
    auto: auto::Builder<TokioExecutor>,
    http1: auto::Builder<TokioExecutor>,
    http2: auto::Builder<TokioExecutor>,
}

impl HttpBuilders {
    fn new(limits: &EdgeLimits) -> Self {
        let mut auto = auto::Builder::new(TokioExecutor::new());
        // A timer enables hyper's header-read timeout (HTTP/1.1) and keep-alive pings (h2).
        auto.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        auto.http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(limits.keep_alive_interval)
            .keep_alive_timeout(limits.keep_alive_timeout);
        Self {
            http1: auto.clone().http1_only(),
            http2: auto.clone().http2_only(),
            auto,
        }
    }

    fn for_alpn(&self, alpn: Option<&[u8]>) -> &auto::Builder<TokioExecutor> {
        match alpn {
            Some(b"h2") => &self.http2,
            Some(b"http/1.1") => &self.http1,
            _ => &self.auto,
        }
    }
}

/// Everything that happens on one accepted socket; `slot` is given back when it ends.
async fn connection(
    shared: Arc<Shared>,
    app: Router,
    tcp: TcpStream,
    peer_addr: SocketAddr,
    slot: Slot,
) {
    let _slot = slot;
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(peer = %peer_addr, %error, "cannot set TCP_NODELAY");
    }
    let tcp_nodelay = tcp.nodelay().unwrap_or(false);
    let local_addr = match tcp.local_addr() {
        Ok(addr) => addr,
        Err(error) => {
            tracing::debug!(peer = %peer_addr, %error, "connection gone before the handshake");
            return;
        }
    };
    let info = ConnectionInfo {
        peer_addr,
        local_addr,
        tcp_nodelay,
    };
    let Some(acceptor) = &shared.acceptor else {
        return serve_http(&shared, app, tcp, None, info, None).await;
    };

    let mut stop = shared.stop.clone();
    let timeout = shared.limits.handshake_timeout;
    let handshake = tokio::time::timeout(timeout, acceptor.accept(tcp));
    let tls = tokio::select! {
        outcome = handshake => match outcome {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => return shared.report(peer_addr, handshake_reason(&error)),
            Err(_elapsed) => {
                let reason =
                    format!("the client did not complete the TLS handshake within {timeout:?}");
                return shared.report(peer_addr, reason);
            }
        },
        _ = stop.wait_for(|stopping| *stopping) => return,
    };

    let session = &tls.get_ref().1;
    let Some(leaf) = session.peer_certificates().and_then(<[_]>::first) else {
        // Only reachable with a ServerConfig that lets anonymous clients in.
        let reason = "the client presented no certificate (the server configuration does not \
                      require one, but this server serves identified clients only)";
        return shared.report(peer_addr, reason.to_owned());
    };
    let identity = PeerIdentity::from_der(leaf);
    let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
    tracing::debug!(peer = %peer_addr, cn = %identity.common_name, "TLS handshake done");
    serve_http(&shared, app, tls, Some(identity), info, alpn.as_deref()).await;
}

/// HTTP on an established connection until the client leaves, the connection idles past
/// [`EdgeLimits::idle_timeout`], or shutdown asks it to finish.
async fn serve_http<I>(
    shared: &Shared,
    app: Router,
    io: I,
    identity: Option<PeerIdentity>,
    info: ConnectionInfo,
    alpn: Option<&[u8]>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (in_flight, mut activity) = watch::channel(0_usize);
    let service = EdgeService {
        app,
        identity,
        info,
        in_flight: Arc::new(in_flight),
        pace: shared.limits.body,
    };
    let conn = shared
        .http
        .for_alpn(alpn)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut stop = shared.stop.clone();
    let idle = shared.limits.idle_timeout;
    let finish = async {
        tokio::select! {
            _ = stop.wait_for(|stopping| *stopping) => {}
            () = idle_for(&mut activity, idle) => {
                tracing::debug!(peer = %info.peer_addr, "closing an idle connection");
            }
        }
    };
    tokio::pin!(finish);
    let mut finishing = false;
    let outcome = loop {
        tokio::select! {
            outcome = conn.as_mut() => break outcome,
            () = &mut finish, if !finishing => {
                finishing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    };
    if let Err(error) = outcome {
        // Peers hanging up mid-request, malformed HTTP, h2 protocol errors: theirs, not ours.
        tracing::debug!(peer = %info.peer_addr, error = %error, "connection ended with an error");
    }
}

/// Resolves once no request has been in flight for `idle`.
async fn idle_for(activity: &mut watch::Receiver<usize>, idle: Duration) {
    loop {
        // The sender lives as long as the connection's service; gone means nothing to wait for.
        if activity.wait_for(|n| *n == 0).await.is_err() {
            return std::future::pending().await;
        }
        tokio::select! {
            () = tokio::time::sleep(idle) => return,
            changed = activity.changed() => {
                if changed.is_err() {
                    return std::future::pending().await;
                }
            }
        }
    }
}

/// The service of one connection: the app behind the edge's own request handling (identity,
/// path, timed body) and the in-flight count that keeps the connection from idling.
#[derive(Clone)]
struct EdgeService {
    app: Router,
    identity: Option<PeerIdentity>,
    info: ConnectionInfo,
    in_flight: InFlight,
    pace: BodyPace,
}

type EdgeResponse = Response<InFlightBody<axum::body::Body>>;

impl hyper::service::Service<Request<Incoming>> for EdgeService {
    type Response = EdgeResponse;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<EdgeResponse, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let guard = InFlightGuard::begin(&self.in_flight);
        let pace = self.pace;
        let request = request.map(|body| TimedBody::new(body, pace));
        let request = prepare(request, self.identity.as_ref(), self.info);
        let app = self.app.clone();
        Box::pin(async move {
            let response = app.oneshot(request).await?;
            Ok(response.map(|body| InFlightBody::new(body, guard)))
        })
    }
}

/// An address a client can reach a listener bound to `addr` at: the loopback address of the
/// same family when `addr` is unspecified (`0.0.0.0:8443` listens everywhere, but
/// `https://0.0.0.0:8443/` is no URL to give a client, and no certificate names it).
#[must_use]
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, addr.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
}

/// What each request gets before routing: the connection's extensions and a path without
/// repeated slashes.
fn prepare<B>(
    mut request: Request<B>,
    identity: Option<&PeerIdentity>,
    info: ConnectionInfo,
) -> Request<B> {
    let extensions = request.extensions_mut();
    if let Some(identity) = identity {
        extensions.insert(identity.clone());
    }
    extensions.insert(info);
    extensions.insert(ConnectInfo(info.peer_addr));
    if request.uri().path().contains("//") {
        if let Some(uri) = collapsed_uri(request.uri()) {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// `uri` with [`collapse_slashes`] applied to its path; `None` when the result would not be a
/// valid URI (then the request is routed as it came).
fn collapsed_uri(uri: &Uri) -> Option<Uri> {
    let collapsed = collapse_slashes(uri.path_and_query()?.as_str());
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(collapsed).ok()?);
    Uri::from_parts(parts).ok()
}

/// Collapses every run of `/` in the path part of `path_and_query` into one `/`; the query
/// (from the first `?`) is kept byte for byte.
///
/// ```
/// use pen_simulator::server::collapse_slashes;
/// assert_eq!(
///     collapse_slashes("/interoperabilidade/rest/v3//healthcheck?a=b//c"),
///     "/interoperabilidade/rest/v3/healthcheck?a=b//c"
/// );
/// ```
#[must_use]
pub fn collapse_slashes(path_and_query: &str) -> String {
    let (path, query) = path_and_query
        .find('?')
        .map_or((path_and_query, ""), |at| path_and_query.split_at(at));
    let mut out = String::with_capacity(path_and_query.len());
    let mut previous_was_slash = false;
    for c in path.chars() {
        let is_slash = c == '/';
        if !(is_slash && previous_was_slash) {
            out.push(c);
        }
        previous_was_slash = is_slash;
    }
    out.push_str(query);
    out
}

/// A handshake error in words: rustls' own message when it is a TLS error ("peer sent no
/// certificates", "invalid peer certificate: …"), otherwise the I/O error's.
fn handshake_reason(error: &io::Error) -> String {
    if let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return tls.to_string();
    }
    match error.kind() {
        io::ErrorKind::UnexpectedEof => {
            "the client closed the connection during the TLS handshake".to_owned()
        }
        _ => error.to_string(),
    }
}

/// Accept errors about one connection (it was reset before we took it), as opposed to the
/// listener or the process being in trouble.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

fn log_join(finished: Result<(), tokio::task::JoinError>) {
    if let Err(error) = finished {
        if error.is_panic() {
            tracing::error!(%error, "a connection task panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_unspecified_address_is_reached_on_loopback() {
        for (bound, reached) in [
            ("0.0.0.0:8443", "127.0.0.1:8443"),
            ("[::]:8443", "[::1]:8443"),
            ("10.0.0.5:8443", "10.0.0.5:8443"),
            ("127.0.0.1:0", "127.0.0.1:0"),
        ] {
            let bound: SocketAddr = bound.parse().unwrap();
            assert_eq!(reachable(bound).to_string(), reached);
        }
    }

    #[test]
    fn collapse_slashes_examples() {
        for (input, expected) in [
            (
                "/interoperabilidade/rest/v3//healthcheck",
                "/interoperabilidade/rest/v3/healthcheck",
            ),
            ("//a///b/", "/a/b/"),
            ("/", "/"),
            ("", ""),
            ("/a?x=//y", "/a?x=//y"),
            ("//?//", "/?//"),
            ("/a/b?c", "/a/b?c"),
        ] {
            assert_eq!(collapse_slashes(input), expected, "{input:?}");
        }
    }

    #[test]
    fn collapsed_uri_keeps_scheme_authority_and_query() {
        let uri: Uri = "https://127.0.0.1:8443//a//b?c=//d".parse().unwrap();
        assert_eq!(
            collapsed_uri(&uri).map(|u| u.to_string()).as_deref(),
            Some("https://127.0.0.1:8443/a/b?c=//d")
        );
    }

    fn split(s: &str) -> (&str, &str) {
        s.find('?').map_or((s, ""), |at| s.split_at(at))
    }

    proptest! {
        #[test]
        fn collapse_slashes_properties(input in "[/a-z?=&%.]{0,40}") {
            let once = collapse_slashes(&input);
            prop_assert_eq!(collapse_slashes(&once), once.clone(), "idempotent");
            let (path, query) = split(&once);
            prop_assert!(!path.contains("//"), "path {path:?} still has //");
            prop_assert_eq!(query, split(&input).1, "query untouched");
            let without_slashes = |s: &str| s.replace('/', "");
            prop_assert_eq!(
                without_slashes(path),
                without_slashes(split(&input).0),
                "only slashes removed"
            );
        }
    }
}
