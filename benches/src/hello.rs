//! The baseline: a bare axum + rustls server with the simulator's TLS configuration (same server
//! certificate, same CA, client certificate required and verified), TCP_NODELAY on every
//! accepted socket, HTTP/1.1 or HTTP/2 by ALPN, on `127.0.0.1:0`.
//!
//! It does what any mutual-TLS HTTP server must do and nothing else: no identity extraction, no
//! journal, no routing beyond two fixed routes. The ratio simulator / baseline measured in one
//! run is therefore the cost of the simulator's own work on top of the unavoidable TLS and HTTP.
//!
//! The accept loop is the minimum hyper-util asks for (axum's `serve` speaks plain TCP only):
//! accept, set TCP_NODELAY, hand the handshake to the connection's own task, serve.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// `GET` → `ok` (the request-rate ceiling).
pub const HELLO_PATH: &str = "/hello";
/// `POST` (any body) → the blob given to [`router`], as `text/plain` (the ceiling for a
/// component download of the same size).
pub const BLOB_PATH: &str = "/blob";

const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(10);

/// The baseline's routes.
pub fn router(blob: Bytes) -> Router {
    Router::new()
        .route(HELLO_PATH, get(|| async { "ok" }))
        .route(
            BLOB_PATH,
            post(move || {
                let blob = blob.clone();
                async move { ([(header::CONTENT_TYPE, "text/plain; charset=UTF-8")], blob) }
            }),
        )
}

/// A bound baseline server; [`serve`](Self::serve) runs it.
pub struct HelloServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for HelloServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelloServer")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl HelloServer {
    /// Binds `127.0.0.1:0`.
    ///
    /// # Errors
    /// When the loopback port cannot be bound.
    pub async fn bind(tls: Arc<rustls::ServerConfig>) -> io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
            acceptor: TlsAcceptor::from(tls),
        })
    }

    /// The address actually bound.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves `app` until `shutdown` resolves; open connections are then dropped.
    pub async fn serve(self, app: Router, shutdown: impl Future<Output = ()> + Send) {
        let builders = Arc::new(Builders::new());
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(_) = connections.join_next() => {}
                accepted = self.listener.accept() => match accepted {
                    Ok((tcp, _peer)) => {
                        connections.spawn(connection(
                            self.acceptor.clone(),
                            Arc::clone(&builders),
                            app.clone(),
                            tcp,
                        ));
                    }
                    // A connection reset before accept, or the process out of descriptors:
                    // pause briefly (so as not to spin) and keep accepting.
                    Err(_) => tokio::time::sleep(ACCEPT_ERROR_PAUSE).await,
                },
            }
        }
        connections.abort_all();
    }
}

/// One hyper builder per ALPN outcome, as the simulator does (no preface sniffing when the
/// client said which protocol it speaks).
struct Builders {
    auto: auto::Builder<TokioExecutor>,
    http1: auto::Builder<TokioExecutor>,
    http2: auto::Builder<TokioExecutor>,
}

impl Builders {
    fn new() -> Self {
        let auto = auto::Builder::new(TokioExecutor::new());
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

async fn connection(acceptor: TlsAcceptor, builders: Arc<Builders>, app: Router, tcp: TcpStream) {
    // Without TCP_NODELAY each fresh mTLS connection stalls on Nagle + delayed ACK.
    let _ = tcp.set_nodelay(true);
    let Ok(tls) = acceptor.accept(tcp).await else {
        return;
    };
    let builder = builders.for_alpn(tls.get_ref().1.alpn_protocol());
    // Errors here are the peer's (reset, malformed request): nothing to do but end.
    let _ = builder
        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
        .await;
}
