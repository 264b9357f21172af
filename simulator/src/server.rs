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
//! - explicit graceful shutdown: stop accepting, let open connections finish their requests
//!   (hyper-util's [`GracefulShutdown`]), close whatever is left after a bounded wait.
//!
//! Before routing, repeated slashes in the request path are collapsed ([`collapse_slashes`]):
//! SEI's installation checker asks for `…/rest/v3//healthcheck`.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::ConnectInfo;
use axum::http::uri::PathAndQuery;
use axum::http::{Request, Uri};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::pki::load::{sha1_fingerprint, sha256_fingerprint};

/// How long a client may take to complete the TLS handshake
/// (see [`Server::with_handshake_timeout`]).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections may take to finish after shutdown
/// (see [`Server::with_shutdown_grace`]).
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Pause after an accept error that is not about one connection (EMFILE, ENOBUFS, …), so that
/// the loop does not spin while the process is out of descriptors or memory.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

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
    /// "invalid peer certificate: UnknownIssuer", …) or ours (timeout, no certificate).
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

/// A bound mutual-TLS listener; [`serve`](Self::serve) runs it.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    acceptor: TlsAcceptor,
    observer: Option<HandshakeObserver>,
    handshake_timeout: Duration,
    shutdown_grace: Duration,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("observer", &self.observer.is_some())
            .field("handshake_timeout", &self.handshake_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
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
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
            acceptor: TlsAcceptor::from(tls),
            observer: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
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

    /// How long a client may take from TCP accept to the end of the TLS handshake
    /// (default [`DEFAULT_HANDSHAKE_TIMEOUT`]); a timeout is reported as a handshake failure.
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How long open connections may take to finish their requests once shutdown starts
    /// (default [`DEFAULT_SHUTDOWN_GRACE`]); whatever is left then is closed.
    #[must_use]
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
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
            handshake_timeout,
            shutdown_grace,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            acceptor,
            observer,
            handshake_timeout,
            http: HttpBuilders::new(),
            stop: stop_rx,
        });
        let graceful = GracefulShutdown::new();
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);

        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                // Reap finished connections before accepting more, so the set stays small.
                Some(finished) = connections.join_next() => log_join(finished),
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        // The watcher is taken here, not in the task: a connection accepted
                        // before shutdown is always one that shutdown waits for.
                        let watcher = graceful.watcher();
                        let shared = Arc::clone(&shared);
                        connections.spawn(connection(shared, app.clone(), tcp, peer, watcher));
                    }
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
        // Handshakes in progress are dropped; served connections get a graceful shutdown.
        stop_tx.send_replace(true);
        tracing::debug!(%local_addr, open = connections.len(), "shutting down");
        if tokio::time::timeout(shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                %local_addr,
                open = connections.len(),
                "connections still open after {shutdown_grace:?}; closing them"
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

/// State every connection task shares.
struct Shared {
    acceptor: TlsAcceptor,
    observer: Option<HandshakeObserver>,
    handshake_timeout: Duration,
    http: HttpBuilders,
    /// Turns true when shutdown starts.
    stop: watch::Receiver<bool>,
}

impl Shared {
    fn report(&self, peer: SocketAddr, reason: String) {
        tracing::warn!(%peer, %reason, "TLS handshake refused");
        if let Some(observer) = &self.observer {
            observer(HandshakeFailure {
                peer,
                reason,
                at: SystemTime::now(),
            });
        }
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
    fn new() -> Self {
        let mut auto = auto::Builder::new(TokioExecutor::new());
        // A timer enables hyper's header-read timeout (HTTP/1.1) and keep-alive pings (h2).
        auto.http1().timer(TokioTimer::new());
        auto.http2().timer(TokioTimer::new());
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

/// Everything that happens on one accepted socket.
async fn connection(
    shared: Arc<Shared>,
    app: Router,
    tcp: TcpStream,
    peer_addr: SocketAddr,
    watcher: Watcher,
) {
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

    let mut stop = shared.stop.clone();
    let handshake = tokio::time::timeout(shared.handshake_timeout, shared.acceptor.accept(tcp));
    let tls = tokio::select! {
        outcome = handshake => match outcome {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => return shared.report(peer_addr, handshake_reason(&error)),
            Err(_elapsed) => {
                let reason = format!(
                    "the client did not complete the TLS handshake within {:?}",
                    shared.handshake_timeout
                );
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
    let builder = shared.http.for_alpn(session.alpn_protocol());
    tracing::debug!(peer = %peer_addr, cn = %identity.common_name, "TLS handshake done");

    let info = ConnectionInfo {
        peer_addr,
        local_addr,
        tcp_nodelay,
    };
    let service = app.map_request(move |request| prepare(request, &identity, info));
    let conn = builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(service));
    if let Err(error) = watcher.watch(conn).await {
        // Peers hanging up mid-request, malformed HTTP, h2 protocol errors: theirs, not ours.
        tracing::debug!(peer = %peer_addr, error = %error, "connection ended with an error");
    }
}

/// What each request gets before routing: the connection's extensions and a path without
/// repeated slashes.
fn prepare<B>(
    mut request: Request<B>,
    identity: &PeerIdentity,
    info: ConnectionInfo,
) -> Request<B> {
    let extensions = request.extensions_mut();
    extensions.insert(identity.clone());
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
