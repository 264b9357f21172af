//! The control plane: what a test (or the harness) does to the platform that no SPE can do —
//! reset it, register an SPE, read any trâmite, inject faults, move the clock, read the journal
//! and wait for an event. Documented with examples in `docs/control-plane.md`.
//!
//! It listens on its own address. On loopback it speaks plain HTTP: anything that can reach a
//! loopback port already runs on this machine with this user's rights, so the control plane
//! gives it nothing it could not do to the simulator's process anyway. Anywhere else (or on
//! request) it speaks mutual TLS and serves only the PKI's administrator identity
//! (`certs/admin/identity.pem`); every other certificate gets 403.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pen_protocol::api::{EnvioDeDocumento, EnvioDeProcesso};
use pen_protocol::ids::Idt;
use pen_protocol::model::EstruturaOrganizacional;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::clock::ClockError;
use crate::faults::FaultSpec;
use crate::http::AppState;
use crate::journal::JournalQuery;
use crate::platform::Schema;
use crate::registry::Spe;
use crate::server::{EdgeLimits, PeerIdentity, Server};

/// Largest control-plane body (an injection carries its components inline).
pub const MAX_INJECT_BODY: usize = 256 * 1024 * 1024;

/// Longest wait-for-event.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// Why the control plane cannot listen.
#[derive(Debug, Error)]
pub enum ControlError {
    #[error("the control plane on {0} needs mutual TLS, and the PKI has no administrator identity (regenerate it with `pen-simulator certs init`)")]
    NoAdminIdentity(SocketAddr),
    #[error("the control plane's TLS configuration: {0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// How the control plane is reached.
pub enum Transport {
    /// Plain HTTP; for loopback.
    Plain,
    /// Mutual TLS with this server configuration; only the certificate with this SHA-1 is served.
    MutualTls {
        tls: Arc<rustls::ServerConfig>,
        admin_sha1: String,
    },
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Plain => f.write_str("Plain"),
            Transport::MutualTls { admin_sha1, .. } => f
                .debug_struct("MutualTls")
                .field("admin_sha1", admin_sha1)
                .finish(),
        }
    }
}

enum Listener {
    Plain(Server),
    Mutual { server: Server, admin_sha1: String },
}

/// A bound control-plane listener.
pub struct ControlPlane {
    listener: Listener,
    addr: SocketAddr,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ControlPlane {
    /// Binds the control plane (port 0 allowed). Off loopback the caller must ask for
    /// [`Transport::MutualTls`] (see [`needs_mutual_tls`]).
    ///
    /// # Errors
    /// Bind errors.
    pub async fn bind(addr: SocketAddr, transport: Transport) -> Result<Self, ControlError> {
        let bind_error = |source| ControlError::Bind { addr, source };
        let (listener, addr) = match transport {
            Transport::Plain => {
                let server = Server::bind_plain(addr).await.map_err(bind_error)?;
                let local = server.local_addr();
                (Listener::Plain(server), local)
            }
            Transport::MutualTls { tls, admin_sha1 } => {
                let server = Server::bind(addr, tls).await.map_err(bind_error)?;
                let local = server.local_addr();
                (Listener::Mutual { server, admin_sha1 }, local)
            }
        };
        Ok(ControlPlane { listener, addr })
    }

    /// The edge's limits on this listener (connections, idle, header and body timeouts), the
    /// same as the REST listener's by default.
    #[must_use]
    pub fn with_limits(mut self, limits: EdgeLimits) -> Self {
        self.listener = match self.listener {
            Listener::Plain(server) => Listener::Plain(server.with_limits(limits)),
            Listener::Mutual { server, admin_sha1 } => Listener::Mutual {
                server: server.with_limits(limits),
                admin_sha1,
            },
        };
        self
    }

    /// `http://127.0.0.1:PORT/control/`, or `https://…` over mutual TLS.
    #[must_use]
    pub fn base_url(&self) -> String {
        let scheme = match self.listener {
            Listener::Plain(_) => "http",
            Listener::Mutual { .. } => "https",
        };
        format!("{scheme}://{}/control/", self.addr)
    }

    /// Serves until `shutdown` resolves.
    ///
    /// # Errors
    /// Listener errors.
    pub async fn serve(
        self,
        state: Arc<AppState>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        match self.listener {
            Listener::Plain(server) => server.serve(router(state), shutdown).await,
            Listener::Mutual { server, admin_sha1 } => {
                let admin_only = axum::middleware::from_fn(
                    move |req: axum::extract::Request, next: axum::middleware::Next| {
                        let allowed = req
                            .extensions()
                            .get::<PeerIdentity>()
                            .is_some_and(|p| p.sha1_fingerprint == admin_sha1);
                        async move {
                            if allowed {
                                next.run(req).await
                            } else {
                                problem(
                                    StatusCode::FORBIDDEN,
                                    "o plano de controle exige o certificado do administrador",
                                )
                            }
                        }
                    },
                );
                server
                    .serve(router(state).layer(admin_only), shutdown)
                    .await
            }
        }
    }
}

/// Whether the control plane must speak mutual TLS at this address.
#[must_use]
pub fn needs_mutual_tls(addr: SocketAddr, forced: bool) -> bool {
    forced || !addr.ip().is_loopback()
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "erro": message.into() }))).into_response()
}

/// The control-plane routes under `/control`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/control/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/control/reset", post(reset))
        .route("/control/spes", get(list_spes).post(register_spe))
        .route("/control/tramites/{idt}", get(inspect))
        .route(
            "/control/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/control/faults/{id}", delete(remove_fault))
        .route("/control/clock", get(clock))
        .route("/control/clock/advance", post(advance))
        .route("/control/journal", get(journal))
        .route("/control/journal/wait", get(wait))
        .route("/control/inject", post(inject))
        // Injected components travel inline as base64.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_INJECT_BODY))
        .with_state(state)
}

async fn reset(State(s): State<Arc<AppState>>) -> Response {
    s.platform.reset();
    s.faults.clear();
    Json(serde_json::json!({"status": "ok"})).into_response()
}

/// A registered SPE as the control plane lists and registers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeView {
    pub id: String,
    pub nome: String,
    pub common_name: String,
    /// SHA-1 of the certificate DER, upper-case hex with colons.
    pub sha1_fingerprint: String,
    pub estruturas: Vec<EstruturaOrganizacional>,
}

async fn register_spe(State(s): State<Arc<AppState>>, Json(body): Json<SpeView>) -> Response {
    let spe = Spe {
        id: body.id,
        nome: body.nome,
        common_name: body.common_name,
        sha1_fingerprint: body.sha1_fingerprint.to_ascii_uppercase(),
        estruturas: body.estruturas.into_iter().collect(),
    };
    match s.platform.register(spe) {
        Ok(()) => (
            StatusCode::CREATED,
            Json(serde_json::json!({"status": "ok"})),
        )
            .into_response(),
        Err(e) => problem(StatusCode::CONFLICT, e.to_string()),
    }
}

async fn list_spes(State(s): State<Arc<AppState>>) -> Response {
    let spes: Vec<SpeView> = s.platform.registry(|r| {
        r.spes()
            .iter()
            .map(|spe| SpeView {
                id: spe.id.clone(),
                nome: spe.nome.clone(),
                common_name: spe.common_name.clone(),
                sha1_fingerprint: spe.sha1_fingerprint.clone(),
                estruturas: spe.estruturas.iter().cloned().collect(),
            })
            .collect()
    });
    Json(spes).into_response()
}

async fn inspect(State(s): State<Arc<AppState>>, Path(idt): Path<u64>) -> Response {
    match s.platform.inspect(Idt(idt)) {
        Some(view) => Json(view).into_response(),
        None => problem(StatusCode::NOT_FOUND, format!("trâmite {idt} não existe")),
    }
}

async fn list_faults(State(s): State<Arc<AppState>>) -> Response {
    Json(s.faults.list()).into_response()
}

async fn add_fault(State(s): State<Arc<AppState>>, Json(spec): Json<FaultSpec>) -> Response {
    let id = s.faults.add(spec);
    (StatusCode::CREATED, Json(serde_json::json!({"id": id}))).into_response()
}

async fn clear_faults(State(s): State<Arc<AppState>>) -> Response {
    s.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn remove_fault(State(s): State<Arc<AppState>>, Path(id): Path<u64>) -> Response {
    if s.faults.remove(id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        problem(StatusCode::NOT_FOUND, format!("falha {id} não existe"))
    }
}

fn now_json(s: &AppState) -> serde_json::Value {
    let now = s.platform.clock().now();
    serde_json::json!({ "now": pen_protocol::datetime::format_receipt_date(now) })
}

async fn clock(State(s): State<Arc<AppState>>) -> Response {
    Json(now_json(&s)).into_response()
}

/// `POST /control/clock/advance`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advance {
    #[serde(default)]
    pub seconds: u64,
    #[serde(default)]
    pub days: u64,
}

async fn advance(State(s): State<Arc<AppState>>, Json(by): Json<Advance>) -> Response {
    // Saturated: anything near u64::MAX seconds is far past the clock's limit anyway.
    let seconds = by.days.saturating_mul(24 * 3600).saturating_add(by.seconds);
    match s.platform.clock().advance(Duration::from_secs(seconds)) {
        Ok(()) => {}
        Err(e @ ClockError::CannotJump) => return problem(StatusCode::CONFLICT, e.to_string()),
        Err(e @ ClockError::TooFar { .. }) => {
            return problem(StatusCode::BAD_REQUEST, e.to_string())
        }
    }
    // Timers act at once, not at the next request.
    s.platform.tick();
    Json(now_json(&s)).into_response()
}

async fn journal(State(s): State<Arc<AppState>>, Query(f): Query<JournalQuery>) -> Response {
    let page = s
        .platform
        .journal()
        .since(f.after, f.limit.unwrap_or(1000), |e| f.matches(e));
    Json(page).into_response()
}

async fn wait(State(s): State<Arc<AppState>>, Query(f): Query<JournalQuery>) -> Response {
    let timeout = Duration::from_millis(f.timeout_ms.unwrap_or(30_000)).min(MAX_WAIT);
    match s
        .platform
        .journal()
        .wait_for(f.after, timeout, |e| f.matches(e))
        .await
    {
        Some(entry) => Json(entry).into_response(),
        None => problem(
            StatusCode::REQUEST_TIMEOUT,
            format!("nenhum evento em {} ms", timeout.as_millis()),
        ),
    }
}

/// `POST /control/inject`: open a trâmite as any SPE, past the schema validation when asked, and
/// upload the components given inline — what the harness uses to send a system under test what
/// no correct sender would.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Injection {
    /// The SPE the trâmite comes from (`org-b`).
    #[serde(rename = "as")]
    pub as_spe: String,
    /// Check the schema as the REST call would (default `false`: injection is for what it refuses).
    #[serde(default)]
    pub validate: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processo: Option<EnvioDeProcesso>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documento: Option<EnvioDeDocumento>,
    /// Component bytes by hash, base64: uploaded at once when requested.
    #[serde(default)]
    pub componentes: std::collections::BTreeMap<String, String>,
}

async fn inject(State(s): State<Arc<AppState>>, Json(body): Json<Injection>) -> Response {
    let Some(spe) = s.platform.registry(|r| r.spe(&body.as_spe).cloned()) else {
        return problem(
            StatusCode::NOT_FOUND,
            format!("SPE {} não existe", body.as_spe),
        );
    };
    let schema = if body.validate {
        Schema::Enforced
    } else {
        Schema::Skipped
    };
    let (answer, ticket, requested) = match (body.processo, body.documento) {
        (Some(envio), None) => match s.platform.open_processo_with(&spe, envio, schema) {
            Ok(created) => {
                let requested: Vec<(String, String)> = created
                    .processos_com_componentes_digitais_solicitados
                    .first()
                    .map(|first| {
                        first
                            .hashes
                            .iter()
                            .map(|h| (h.clone(), first.protocolo.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                let ticket = created.ticket_para_envio_de_componentes_digitais;
                (
                    serde_json::to_value(created).unwrap_or_default(),
                    ticket,
                    requested,
                )
            }
            Err(e) => return (StatusCode::UNPROCESSABLE_ENTITY, Json(e.body())).into_response(),
        },
        (None, Some(envio)) => {
            let protocolo = envio
                .documento
                .protocolo
                .as_ref()
                .map(|p| p.0.clone())
                .unwrap_or_default();
            let hashes: Vec<String> = envio
                .documento
                .componentes_digitais
                .iter()
                .filter_map(|c| c.hash_conteudo().map(str::to_owned))
                .collect();
            match s.platform.open_documento_with(&spe, envio, schema) {
                Ok(created) => {
                    let ticket = created.ticket_para_envio_de_componentes_digitais;
                    let requested = hashes.into_iter().map(|h| (h, protocolo.clone())).collect();
                    (
                        serde_json::to_value(created).unwrap_or_default(),
                        ticket,
                        requested,
                    )
                }
                Err(e) => {
                    return (StatusCode::UNPROCESSABLE_ENTITY, Json(e.body())).into_response()
                }
            }
        }
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "informe exatamente um de processo ou documento",
            )
        }
    };
    for (hash, protocolo) in requested {
        let Some(encoded) = body.componentes.get(&hash) else {
            continue;
        };
        let Ok(bytes) = STANDARD.decode(encoded) else {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("componente {hash} não está em base64"),
            );
        };
        let chunk = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
            bytes::Bytes::from(bytes),
        )]);
        let staged = match s.blobs.stage(chunk, u64::MAX).await {
            Ok(staged) => staged,
            Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
        let arrival = crate::intake::Arrival {
            spe: &spe,
            ticket,
            hash: &hash,
            protocolo: &protocolo,
        };
        match crate::intake::accept(&s.platform, &s.blobs, arrival, staged).await {
            Ok(()) => {}
            Err(crate::intake::IntakeError::Refused(e)) => {
                return (StatusCode::UNPROCESSABLE_ENTITY, Json(e.body())).into_response()
            }
            Err(crate::intake::IntakeError::Store(e)) => {
                return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
        }
    }
    (StatusCode::CREATED, Json(answer)).into_response()
}
