//! Putting the pieces together: the test PKI, the registry, the platform, the component store and
//! the mTLS listener, plus the timer that lets automatic cancellation happen when nobody calls.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject as _;
use thiserror::Error;

use crate::clock::{SharedClock, SystemClock};
use crate::config::PlatformConfig;
use crate::control::{ControlError, ControlPlane, Transport};
use crate::http::{router, AppState};
use crate::pki::load::Pki;
use crate::pki::PkiError;
use crate::platform::PlatformSigner;
use crate::registry::{Registry, RegistryError};
use crate::server::{EdgeLimits, HandshakeFailure, HandshakeObserver, Server};
use crate::store::{Durability, Installation, StoreError};

/// Why the simulator could not start.
#[derive(Debug, Error)]
pub enum StartError {
    #[error("test PKI: {0}")]
    Pki(#[from] PkiError),
    #[error("registry: {0}")]
    Registry(#[from] RegistryError),
    #[error("platform signing key: {0}")]
    Signer(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("component store: {0}")]
    Blobs(std::io::Error),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("control plane: {0}")]
    Control(#[from] ControlError),
}

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimulatorOptions {
    /// Folder of the test PKI (`certs/` in the repository).
    pub pki_dir: PathBuf,
    pub addr: SocketAddr,
    pub config: PlatformConfig,
    pub clock: SharedClock,
    /// The data folder (state database, journal, component files; restart resumes from it); in
    /// memory, with component files in a temporary folder, when `None`.
    pub data_dir: Option<PathBuf>,
    /// The control plane's address; off when `None`.
    pub control_addr: Option<SocketAddr>,
    /// Serve the control plane over mutual TLS (administrator identity only) even on loopback;
    /// always the case off loopback.
    pub control_mtls: bool,
    /// What every listener allows each client (connections, timeouts, body pace).
    pub edge: EdgeLimits,
    /// A second mutual-TLS listener whose root is the pendências long-poll service, as the
    /// real platform's pendências host (`PEN.WebServicePendencias = https://HOST:PORT/`); off
    /// when `None`. The REST listener serves it at `/interoperabilidade/pendencias/` either way.
    pub pendencias_addr: Option<SocketAddr>,
}

impl SimulatorOptions {
    /// The committed PKI in `pki_dir`, loopback port 0, the default (`strict`) profile, the
    /// system clock.
    #[must_use]
    pub fn new(pki_dir: impl Into<PathBuf>) -> Self {
        SimulatorOptions {
            pki_dir: pki_dir.into(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            config: PlatformConfig::default(),
            clock: Arc::new(SystemClock::new()),
            data_dir: None,
            control_addr: None,
            control_mtls: false,
            edge: EdgeLimits::default(),
            pendencias_addr: None,
        }
    }
}

/// A bound, not yet running, simulator.
pub struct Simulator {
    server: Server,
    pendencias: Option<Server>,
    control: Option<ControlPlane>,
    state: Arc<AppState>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.server.local_addr())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Loads everything and binds the listener (port 0 allowed).
    ///
    /// # Errors
    /// [`StartError`] for each thing that can be missing or wrong.
    pub async fn bind(options: SimulatorOptions) -> Result<Self, StartError> {
        let pki = Pki::load(&options.pki_dir)?;
        let registry = Registry::from_fixtures(pki.manifest())?;
        let platform_pem = std::fs::read(pki.path(&pki.manifest().platform.identity_pem))
            .map_err(|e| StartError::Signer(e.to_string()))?;
        let signer = pen_protocol::receipt::ReceiptSigner::from_pem(&platform_pem)
            .map_err(|e| StartError::Signer(e.to_string()))?;
        let certificate_der = rustls_pki_types::CertificateDer::from_pem_slice(&platform_pem)
            .map_err(|e| StartError::Signer(e.to_string()))?
            .to_vec();
        // In memory, or going on from what the data folder holds.
        let Installation {
            platform,
            blobs,
            faults,
        } = Installation::open(
            options.data_dir.as_deref(),
            Durability::default(),
            options.config,
            registry,
            options.clock,
            PlatformSigner {
                signer,
                certificate_der,
            },
        )?;
        let tls = Arc::new(pki.server_config()?);
        let server = Server::bind(options.addr, Arc::clone(&tls))
            .await
            .map_err(|source| StartError::Bind {
                addr: options.addr,
                source,
            })?
            .with_limits(options.edge);
        let (journal, clock) = (platform.journal().clone(), platform.clock().clone());
        let observer: HandshakeObserver = Arc::new(move |failure: HandshakeFailure| {
            let event = crate::journal::Event::HandshakeRefused {
                peer: failure.peer.to_string(),
                reason: failure.reason,
            };
            journal.record(clock.now(), event);
        });
        let server = server.with_handshake_observer(Arc::clone(&observer));
        let pendencias = match options.pendencias_addr {
            Some(addr) => Some(
                Server::bind(addr, tls)
                    .await
                    .map_err(|source| StartError::Bind { addr, source })?
                    .with_limits(options.edge)
                    .with_handshake_observer(observer),
            ),
            None => None,
        };
        let control = match options.control_addr {
            Some(addr) => {
                let transport = if crate::control::needs_mutual_tls(addr, options.control_mtls) {
                    let admin = pki
                        .manifest()
                        .admin
                        .as_ref()
                        .ok_or(ControlError::NoAdminIdentity(addr))?;
                    let tls = pki
                        .server_config()
                        .map_err(|e| ControlError::Tls(e.to_string()))?;
                    Transport::MutualTls {
                        tls: Arc::new(tls),
                        admin_sha1: admin.sha1_fingerprint.clone(),
                    }
                } else {
                    Transport::Plain
                };
                Some(
                    ControlPlane::bind(addr, transport)
                        .await?
                        .with_limits(options.edge),
                )
            }
            None => None,
        };
        Ok(Simulator {
            server,
            pendencias,
            control,
            state: Arc::new(AppState {
                platform,
                blobs,
                faults,
            }),
        })
    }

    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// `https://127.0.0.1:PORT/interoperabilidade/rest/v3/` (a loopback address when bound to
    /// an unspecified one, `0.0.0.0`).
    #[must_use]
    pub fn base_url(&self) -> String {
        format!(
            "https://{}{}",
            crate::server::reachable(self.local_addr()),
            pen_protocol::BASE_PATH
        )
    }

    /// `https://127.0.0.1:PORT/`, the pendências host, when its listener is on.
    #[must_use]
    pub fn pendencias_url(&self) -> Option<String> {
        self.pendencias
            .as_ref()
            .map(|server| format!("https://{}/", crate::server::reachable(server.local_addr())))
    }

    /// `http://127.0.0.1:PORT/control/` when the control plane is on.
    #[must_use]
    pub fn control_url(&self) -> Option<String> {
        self.control.as_ref().map(ControlPlane::base_url)
    }

    /// How many connections the REST listener has open now, and a way to wait for a change.
    #[must_use]
    pub fn open_connections(&self) -> tokio::sync::watch::Receiver<usize> {
        self.server.open_connections()
    }

    /// The shared state (platform and component store).
    #[must_use]
    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves.
    ///
    /// # Errors
    /// Listener errors that cannot be retried.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_timer, timer_stopped) = tokio::sync::watch::channel(false);
        let timer = tokio::spawn(run_timer(self.state.clone(), timer_stopped));
        let control = self.control.map(|plane| {
            let mut stopped = stop_timer.subscribe();
            tokio::spawn(plane.serve(self.state.clone(), async move {
                let _ = stopped.changed().await;
            }))
        });
        let pendencias = self.pendencias.map(|server| {
            let mut stopped = stop_timer.subscribe();
            let app = crate::http::pendencias_router(self.state.clone());
            server.spawn(app, async move {
                let _ = stopped.changed().await;
            })
        });
        let app = router(self.state.clone());
        let result = self.server.serve(app, shutdown).await;
        let _ = stop_timer.send(true);
        let _ = timer.await;
        if let Some(control) = control {
            let _ = control.await;
        }
        if let Some(pendencias) = pendencias {
            let _ = pendencias.await;
        }
        result
    }
}

/// Lets the platform's automatic cancellation act without a request: at once when a manual clock
/// jumps, otherwise once a (real) second, which is O(1) when nothing is due.
async fn run_timer(state: Arc<AppState>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut jumps = state.platform.clock().subscribe();
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    let mut clock_signals = true;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            changed = jumps.changed(), if clock_signals => {
                // A clock that can no longer signal leaves the periodic tick only.
                clock_signals = changed.is_ok();
            }
            _ = stop.changed() => return,
        }
        state.platform.tick();
    }
}
