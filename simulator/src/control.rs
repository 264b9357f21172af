//! The control plane: what a test (or the harness) does to the platform that no SPE can do —
//! reset it, register an SPE, read any trâmite, inject faults, move the clock, read the journal
//! and wait for an event. Documented with examples in `docs/control-plane.md`.
//!
//! It listens on its own address. On loopback it speaks plain HTTP: anything that can reach a
//! loopback port already runs on this machine with this user's rights, so the control plane
//! gives it nothing it could not do to the simulator's process anyway. Anywhere else (or on
//! request) it speaks mutual TLS and serves only the PKI's administrator identity
//! (`certs/admin/identity.pem`); every other certificate gets 403.
//!
//! "Anything on this machine" includes the user's web browser, which any web page can make send
//! requests to 127.0.0.1: a cross-site form could `POST /reset`, and a page on a name rebound
//! to 127.0.0.1 could read trâmites. So on loopback a request must be addressed to a loopback
//! name (`Host`), come from no page or a loopback one (`Origin`), and every body must be JSON
//! (`Content-Type: application/json`, which no form can send). Every refusal, of a guard, a
//! body, a query or a path, is `{"erro": …}` ([`ControlProblem`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http_body_util::BodyExt as _;
use pen_protocol::api::{EnvioDeDocumento, EnvioDeProcesso};
use pen_protocol::ids::Idt;
use pen_protocol::model::EstruturaOrganizacional;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::clock::ClockError;
use crate::faults::{FaultKind, FaultSpec};
use crate::http::AppState;
use crate::journal::JournalQuery;
use crate::platform::{PlatformError, Schema};
use crate::registry::Spe;
use crate::server::{EdgeLimits, PeerIdentity, Server};

/// Largest injection body (it carries its components inline, as base64).
pub const MAX_INJECT_BODY: usize = 256 * 1024 * 1024;

/// Largest body of every other control-plane request (an SPE, a fault, a clock move).
pub const MAX_BODY: usize = 1024 * 1024;

/// Longest latency a fault may add: five minutes, past any client's patience (the SEI module's
/// long-poll gives up after 300 s). `u64::MAX` used to be accepted and hang requests for ever.
pub const MAX_FAULT_LATENCY_MILLIS: u64 = 300_000;

/// Active faults at once.
pub const MAX_FAULTS: usize = 1000;

/// Longest `spe`, `method` or `path_contains` of a fault.
const MAX_FAULT_TEXT: usize = 1024;

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
        format!(
            "{scheme}://{}/control/",
            crate::server::reachable(self.addr)
        )
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
            Listener::Plain(server) => {
                let app = router(state).layer(axum::middleware::from_fn(loopback_only));
                server.serve(app, shutdown).await
            }
            Listener::Mutual { server, admin_sha1 } => {
                let admin_only = axum::middleware::from_fn(move |req: Request, next: Next| {
                    let allowed = req
                        .extensions()
                        .get::<PeerIdentity>()
                        .is_some_and(|p| p.sha1_fingerprint == admin_sha1);
                    async move {
                        if allowed {
                            next.run(req).await
                        } else {
                            ControlProblem::new(
                                StatusCode::FORBIDDEN,
                                "o plano de controle exige o certificado do administrador",
                            )
                            .into_response()
                        }
                    }
                });
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

// ---------------------------------------------------------------------- errors → HTTP

/// Why the control plane did not do what it was asked; the one place its refusals become HTTP.
#[derive(Debug, Error)]
pub enum ControlProblem {
    /// The control plane's own refusal: `{"erro": message}` with this status.
    #[error("{message}")]
    Refused { status: StatusCode, message: String },
    /// The platform refused (an injection): its own error body, 422.
    #[error(transparent)]
    Platform(#[from] PlatformError),
}

impl ControlProblem {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ControlProblem::Refused {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ControlProblem {
    fn into_response(self) -> Response {
        match self {
            ControlProblem::Refused { status, message } => {
                (status, Json(serde_json::json!({ "erro": message }))).into_response()
            }
            ControlProblem::Platform(e) => {
                (StatusCode::UNPROCESSABLE_ENTITY, Json(e.body())).into_response()
            }
        }
    }
}

type Answer = Result<Response, ControlProblem>;

// ---------------------------------------------------------------------- extractors

/// A JSON body of at most `MAX` bytes, or `{"erro"}` (413 beyond, 400 when it does not parse or
/// does not fit the type) instead of axum's plain text.
#[derive(Debug)]
pub struct JsonBody<T, const MAX: usize = MAX_BODY>(pub T);

impl<T: DeserializeOwned, S: Send + Sync, const MAX: usize> FromRequest<S> for JsonBody<T, MAX> {
    type Rejection = ControlProblem;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let body = http_body_util::Limited::new(req.into_body(), MAX);
        let bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(ControlProblem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("o corpo excede o limite de {MAX} bytes"),
                ));
            }
            Err(e) => {
                return Err(ControlProblem::bad_request(format!(
                    "o corpo não pôde ser lido: {e}"
                )))
            }
        };
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ControlProblem::bad_request(format!("JSON inválido: {e}")))
    }
}

/// Query parameters, or `{"erro"}` 400.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ControlProblem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::try_from_uri(&parts.uri)
            .map(|Query(params)| QueryParams(params))
            .map_err(|e| {
                // The deserializer's words ("limit: invalid digit…"), not axum's preamble.
                let detail = std::error::Error::source(&e)
                    .map_or_else(|| e.body_text(), ToString::to_string);
                ControlProblem::bad_request(format!("parâmetros inválidos: {detail}"))
            })
    }
}

/// Path parameters (an IDT, a fault id), or `{"erro"}` 400 naming the path.
#[derive(Debug)]
pub struct PathParams<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParams<T> {
    type Rejection = ControlProblem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::from_request_parts(parts, state)
            .await
            .map(|Path(params)| PathParams(params))
            .map_err(|_| {
                ControlProblem::bad_request(format!(
                    "caminho inválido: {} (esperado um número)",
                    parts.uri.path()
                ))
            })
    }
}

// ---------------------------------------------------------------------- guards

/// On the plain listener: requests addressed to a loopback name, from no web page or a loopback
/// one. A cross-site form (`Origin: https://evil.example`) and a DNS-rebound page
/// (`Host: evil.example:8444`) are refused with 403 before they reach a route.
async fn loopback_only(req: Request, next: Next) -> Response {
    match refused_by_loopback(req.headers(), req.uri()) {
        Some(problem) => problem.into_response(),
        None => next.run(req).await,
    }
}

fn refused_by_loopback(headers: &HeaderMap, uri: &axum::http::Uri) -> Option<ControlProblem> {
    // HTTP/1.1 names the host in `Host`; h2 in the `:authority` hyper puts in the URI.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(axum::http::uri::Authority::as_str));
    if !host.is_some_and(is_loopback_authority) {
        return Some(ControlProblem::new(
            StatusCode::FORBIDDEN,
            format!(
                "o plano de controle só atende pedidos endereçados a localhost, 127.0.0.1 ou [::1] (Host: {})",
                host.unwrap_or("ausente")
            ),
        ));
    }
    let origin = headers.get(header::ORIGIN)?;
    let loopback_page = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .is_some_and(|(scheme, authority)| {
            matches!(scheme, "http" | "https") && is_loopback_authority(authority)
        });
    (!loopback_page).then(|| {
        ControlProblem::new(
            StatusCode::FORBIDDEN,
            format!(
                "o plano de controle não atende páginas web de outra origem (Origin: {})",
                String::from_utf8_lossy(origin.as_bytes())
            ),
        )
    })
}

/// `localhost`, an address in 127.0.0.0/8 or `[::1]`, with or without a port.
fn is_loopback_authority(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, port)) if port.is_empty() || port.strip_prefix(':').is_some_and(is_port) => {
                return v6
                    .parse::<std::net::Ipv6Addr>()
                    .is_ok_and(|ip| ip.is_loopback());
            }
            _ => return false,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if is_port(port) => host,
            Some(_) => return false,
            None => authority,
        }
    };
    host.eq_ignore_ascii_case("localhost")
        || host.eq_ignore_ascii_case("localhost.")
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn is_port(digits: &str) -> bool {
    !digits.is_empty() && digits.len() <= 5 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Every body is JSON: a request that carries one (or names a type) must say
/// `application/json`, which an HTML form cannot. 415 otherwise.
async fn json_bodies_only(req: Request, next: Next) -> Response {
    use hyper::body::Body as _;
    let content_type = req.headers().get(header::CONTENT_TYPE);
    let is_json = content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    let has_body = !req.body().is_end_stream();
    if is_json || (content_type.is_none() && !has_body) {
        return next.run(req).await;
    }
    ControlProblem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "o corpo deve ser JSON, com Content-Type: application/json",
    )
    .into_response()
}

async fn not_found(req: Request) -> ControlProblem {
    ControlProblem::new(
        StatusCode::NOT_FOUND,
        format!(
            "{} {} não existe no plano de controle",
            req.method(),
            req.uri().path()
        ),
    )
}

async fn method_not_allowed(req: Request) -> ControlProblem {
    ControlProblem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "método {} não permitido em {}",
            req.method(),
            req.uri().path()
        ),
    )
}

// ---------------------------------------------------------------------- routes

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
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(json_bodies_only))
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

async fn register_spe(State(s): State<Arc<AppState>>, JsonBody(body): JsonBody<SpeView>) -> Answer {
    let spe = Spe {
        id: body.id,
        nome: body.nome,
        common_name: body.common_name,
        sha1_fingerprint: body.sha1_fingerprint.to_ascii_uppercase(),
        estruturas: body.estruturas.into_iter().collect(),
    };
    s.platform
        .register(spe)
        .map_err(|e| ControlProblem::new(StatusCode::CONFLICT, e.to_string()))?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"status": "ok"})),
    )
        .into_response())
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

async fn inspect(State(s): State<Arc<AppState>>, PathParams(idt): PathParams<u64>) -> Answer {
    let view = s.platform.inspect(Idt(idt)).ok_or_else(|| {
        ControlProblem::new(StatusCode::NOT_FOUND, format!("trâmite {idt} não existe"))
    })?;
    Ok(Json(view).into_response())
}

async fn list_faults(State(s): State<Arc<AppState>>) -> Response {
    Json(s.faults.list()).into_response()
}

/// A fault within bounds: a latency a client can outlast, an error status that is one, texts
/// of a sane length, a positive count, and not more than [`MAX_FAULTS`] at once.
fn check_fault(spec: &FaultSpec, active: usize) -> Result<(), ControlProblem> {
    match spec.kind {
        FaultKind::Latency { millis } if millis > MAX_FAULT_LATENCY_MILLIS => {
            return Err(ControlProblem::bad_request(format!(
                "latência de {millis} ms acima do máximo de {MAX_FAULT_LATENCY_MILLIS} ms"
            )));
        }
        FaultKind::Error { status } if !(400..=599).contains(&status) => {
            return Err(ControlProblem::bad_request(format!(
                "status {status} não é um status de erro (400 a 599)"
            )));
        }
        _ => {}
    }
    if spec.times == Some(0) {
        return Err(ControlProblem::bad_request("times deve ser ao menos 1"));
    }
    for (name, text) in [
        ("spe", &spec.spe),
        ("method", &spec.method),
        ("path_contains", &spec.path_contains),
    ] {
        if text.as_ref().is_some_and(|t| t.len() > MAX_FAULT_TEXT) {
            return Err(ControlProblem::bad_request(format!(
                "{name} excede {MAX_FAULT_TEXT} bytes"
            )));
        }
    }
    if active >= MAX_FAULTS {
        return Err(ControlProblem::new(
            StatusCode::CONFLICT,
            format!("já há {active} falhas ativas, o máximo: remova alguma antes"),
        ));
    }
    Ok(())
}

async fn add_fault(State(s): State<Arc<AppState>>, JsonBody(spec): JsonBody<FaultSpec>) -> Answer {
    check_fault(&spec, s.faults.list().len())?;
    let id = s.faults.add(spec);
    Ok((StatusCode::CREATED, Json(serde_json::json!({"id": id}))).into_response())
}

async fn clear_faults(State(s): State<Arc<AppState>>) -> Response {
    s.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn remove_fault(State(s): State<Arc<AppState>>, PathParams(id): PathParams<u64>) -> Answer {
    if s.faults.remove(id) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ControlProblem::new(
            StatusCode::NOT_FOUND,
            format!("falha {id} não existe"),
        ))
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

async fn advance(State(s): State<Arc<AppState>>, JsonBody(by): JsonBody<Advance>) -> Answer {
    // Saturated: anything near u64::MAX seconds is far past the clock's limit anyway.
    let seconds = by.days.saturating_mul(24 * 3600).saturating_add(by.seconds);
    s.platform
        .clock()
        .advance(Duration::from_secs(seconds))
        .map_err(|e| {
            let status = match e {
                ClockError::CannotJump => StatusCode::CONFLICT,
                ClockError::TooFar { .. } => StatusCode::BAD_REQUEST,
            };
            ControlProblem::new(status, e.to_string())
        })?;
    // Timers act at once, not at the next request.
    s.platform.tick();
    Ok(Json(now_json(&s)).into_response())
}

async fn journal(
    State(s): State<Arc<AppState>>,
    QueryParams(f): QueryParams<JournalQuery>,
) -> Response {
    let page = s
        .platform
        .journal()
        .since(f.after, f.limit.unwrap_or(1000), |e| f.matches(e));
    Json(page).into_response()
}

async fn wait(State(s): State<Arc<AppState>>, QueryParams(f): QueryParams<JournalQuery>) -> Answer {
    let timeout = Duration::from_millis(f.timeout_ms.unwrap_or(30_000)).min(MAX_WAIT);
    let entry = s
        .platform
        .journal()
        .wait_for(f.after, timeout, |e| f.matches(e))
        .await
        .ok_or_else(|| {
            ControlProblem::new(
                StatusCode::REQUEST_TIMEOUT,
                format!("nenhum evento em {} ms", timeout.as_millis()),
            )
        })?;
    Ok(Json(entry).into_response())
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

async fn inject(
    State(s): State<Arc<AppState>>,
    JsonBody(body): JsonBody<Injection, MAX_INJECT_BODY>,
) -> Answer {
    let spe = s
        .platform
        .registry(|r| r.spe(&body.as_spe).cloned())
        .ok_or_else(|| {
            ControlProblem::new(
                StatusCode::NOT_FOUND,
                format!("SPE {} não existe", body.as_spe),
            )
        })?;
    let schema = if body.validate {
        Schema::Enforced
    } else {
        Schema::Skipped
    };
    let (answer, ticket, requested) = match (body.processo, body.documento) {
        (Some(envio), None) => {
            let created = s.platform.open_processo_with(&spe, envio, schema)?;
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
            let created = s.platform.open_documento_with(&spe, envio, schema)?;
            let ticket = created.ticket_para_envio_de_componentes_digitais;
            let requested = hashes.into_iter().map(|h| (h, protocolo.clone())).collect();
            (
                serde_json::to_value(created).unwrap_or_default(),
                ticket,
                requested,
            )
        }
        _ => {
            return Err(ControlProblem::bad_request(
                "informe exatamente um de processo ou documento",
            ))
        }
    };
    let store_failed = |e: crate::blobs::BlobError| {
        ControlProblem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    };
    for (hash, protocolo) in requested {
        let Some(encoded) = body.componentes.get(&hash) else {
            continue;
        };
        let bytes = STANDARD.decode(encoded).map_err(|_| {
            ControlProblem::bad_request(format!("componente {hash} não está em base64"))
        })?;
        let chunk = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
            bytes::Bytes::from(bytes),
        )]);
        // Bounded by the body it came in.
        let staged = s.blobs.stage(chunk, u64::MAX).await.map_err(store_failed)?;
        let arrival = crate::intake::Arrival {
            spe: &spe,
            ticket,
            hash: &hash,
            protocolo: &protocolo,
        };
        match crate::intake::accept(&s.platform, &s.blobs, arrival, staged).await {
            Ok(()) => {}
            Err(crate::intake::IntakeError::Refused(e)) => return Err(e.into()),
            Err(crate::intake::IntakeError::Store(e)) => return Err(store_failed(e)),
        }
    }
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_authorities() {
        for yes in [
            "localhost",
            "LOCALHOST:8444",
            "localhost.:1",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:8444",
        ] {
            assert!(is_loopback_authority(yes), "{yes}");
        }
        for no in [
            "evil.example",
            "evil.example:8444",
            "localhost.evil.example",
            "10.0.0.5:8444",
            "0.0.0.0:8444",
            "[::2]:1",
            "[::1]x",
            "127.0.0.1:",
            "127.0.0.1:123456",
            "",
        ] {
            assert!(!is_loopback_authority(no), "{no}");
        }
    }

    #[test]
    fn faults_are_bounded() {
        let fault = |json: serde_json::Value| serde_json::from_value::<FaultSpec>(json).unwrap();
        let fine = fault(serde_json::json!({"type": "latency", "millis": 300_000}));
        assert!(check_fault(&fine, MAX_FAULTS - 1).is_ok());
        let refused = check_fault(&fine, MAX_FAULTS).unwrap_err();
        assert!(
            matches!(
                refused,
                ControlProblem::Refused {
                    status: StatusCode::CONFLICT,
                    ..
                }
            ),
            "{refused:?}"
        );
        let slow = fault(serde_json::json!({"type": "latency", "millis": u64::MAX}));
        assert!(check_fault(&slow, 0)
            .unwrap_err()
            .to_string()
            .contains("300000 ms"));
    }
}
