//! The agent's trigger: a small HTTP endpoint on loopback through which a harness, a script or
//! a person asks the agent to act as a sender, and reads what it did. Plain HTTP, JSON bodies,
//! no authentication: it only ever listens on a loopback address.
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `GET /health` | — | `{"status":"ok","unidade":…,"defeitos":[…],"particularidades":[…]}` |
//! | `POST /send` | [`SendBody`]: a sample (`fixture`) or a case folder (`pasta`) | [`SendReport`] |
//! | `POST /return` | [`ReturnRequest`] | [`SendReport`] |
//! | `POST /webhook` | [`WebhookRequest`]: the harness's own request, `acao` `enviar` or `devolver` | [`SendReport`] |
//! | `GET /processes` | — | every [`Record`](super::archive::Record) in the archive |
//! | `GET /activity?since=N` | — | the [`Logged`](super::Logged) events after `N` |
//!
//! Errors are `{"erro": text}`: 422 when a sender-side rule stopped the send (the text is the
//! SEI module's), 404 for an unknown sample or process, 400 for a malformed request (a body
//! that is not the JSON expected, a unit not in `REPOSITORIO/ESTRUTURA` form, a case folder
//! that cannot be imported or whose file does not match its declared hash or size, naming the
//! file), 502 when the platform refused or failed (its message), 500 for the agent's own
//! storage.
//!
//! A case folder (`pasta`) is read as a real system imports a case (see [`super::folder`]);
//! with `pasta` the large anexo a scenario asks for is already in it and `anexo_bytes` is only
//! informative, while with `fixture` `anexo_bytes` adds a generated signed PDF of that size.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{Agent, AgentError, ReturnRequest, SendReport, SendRequest};

/// The trigger could not start.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("o gatilho só escuta em loopback; {0} não é")]
    NotLoopback(SocketAddr),
    #[error("gatilho: {0}")]
    Io(#[from] std::io::Error),
}

impl AgentError {
    /// The trigger's HTTP status for this error.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            AgentError::NotSendable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AgentError::Sample(super::samples::SampleError::Unknown { .. })
            | AgentError::UnknownProcess(_) => StatusCode::NOT_FOUND,
            AgentError::BadRequest(_) | AgentError::Folder(_) => StatusCode::BAD_REQUEST,
            AgentError::Platform(_) => StatusCode::BAD_GATEWAY,
            AgentError::Sample(_) | AgentError::Archive(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AgentError {
    fn into_response(self) -> Response {
        (
            self.status(),
            Json(serde_json::json!({ "erro": crate::error::chain(&self) })),
        )
            .into_response()
    }
}

/// The body of `POST /send`: a sample by name or a case folder (`pasta` wins when both are
/// given), to `destino`, under `nup`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pasta: Option<PathBuf>,
    pub destino: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nup: Option<String>,
    /// With `fixture`: adds a signed PDF of this many bytes; with `pasta`: the size of the anexo
    /// already in the folder (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anexo_bytes: Option<u64>,
}

/// What a conformance harness posts to a webhook trigger, as it posts it (absent members may
/// also come as `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRequest {
    /// `enviar` or `devolver`.
    pub acao: String,
    /// The scenario asking; a return adds a despacho naming it.
    #[serde(default)]
    pub cenario: Option<String>,
    /// Sample name (sends without `pasta`).
    #[serde(default)]
    pub fixture: Option<String>,
    /// `REPOSITORIO/ESTRUTURA`.
    #[serde(default)]
    pub destino: Option<String>,
    /// The protocolo to send under, or of the process to return.
    #[serde(default)]
    pub nup: Option<String>,
    /// A case folder to send (see [`super::folder`]); absent on returns.
    #[serde(default)]
    pub pasta: Option<PathBuf>,
    /// Size of the large anexo already in `pasta` (informative).
    #[serde(default)]
    pub anexo_bytes: Option<u64>,
}

/// Sends a sample or a case folder, as `POST /send` asks.
///
/// # Errors
/// Neither `fixture` nor `pasta`; then as [`Agent::send`] and [`Agent::send_folder`].
pub async fn send(agent: &Agent, body: SendBody) -> Result<SendReport, AgentError> {
    match (body.pasta, body.fixture) {
        // The anexo is in the folder already: `anexo_bytes` only tells its size.
        (Some(pasta), _) => {
            agent
                .send_folder(&pasta, &body.destino, body.nup.as_deref())
                .await
        }
        (None, Some(fixture)) => {
            agent
                .send(&SendRequest {
                    fixture,
                    destino: body.destino,
                    nup: body.nup,
                    anexo_bytes: body.anexo_bytes,
                })
                .await
        }
        (None, None) => Err(AgentError::BadRequest(
            "informe fixture (amostra) ou pasta (processo.json ou documento.json e os arquivos)"
                .to_owned(),
        )),
    }
}

/// Does what a harness's webhook request asks: `enviar` sends (from `pasta` when given, else
/// `fixture`), `devolver` returns the process `nup` to `destino`.
///
/// # Errors
/// An unknown `acao`, a missing `destino` (send) or `nup` (return); then as [`send`] and
/// [`Agent::return_process`].
pub async fn act(agent: &Agent, request: WebhookRequest) -> Result<SendReport, AgentError> {
    let missing = |what: &str| AgentError::BadRequest(format!("{what} ausente do pedido"));
    match request.acao.as_str() {
        "enviar" => {
            let body = SendBody {
                fixture: request.fixture,
                pasta: request.pasta,
                destino: request.destino.ok_or_else(|| missing("destino"))?,
                nup: request.nup,
                anexo_bytes: request.anexo_bytes,
            };
            send(agent, body).await
        }
        "devolver" => {
            let despacho = request
                .cenario
                .map(|c| format!("Devolução pedida pelo cenário {c}."));
            agent
                .return_process(&ReturnRequest {
                    nup: request.nup.ok_or_else(|| missing("nup"))?,
                    destino: request.destino,
                    despacho,
                })
                .await
        }
        other => Err(AgentError::BadRequest(format!(
            "acao {other:?} desconhecida: use enviar ou devolver"
        ))),
    }
}

#[derive(Debug, Deserialize)]
struct Since {
    #[serde(default)]
    since: u64,
}

/// A JSON body read whatever its content type, so that a malformed one is a 400 with the
/// parser's words (axum's own extractor answers 415 or 422, and 422 means a sender-side rule).
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, AgentError> {
    serde_json::from_slice(body)
        .map_err(|e| AgentError::BadRequest(format!("corpo JSON inválido: {e}")))
}

/// The trigger's routes over an agent.
pub fn router(agent: Agent) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/send", post(send_route))
        .route("/return", post(return_route))
        .route("/webhook", post(webhook_route))
        .route("/processes", get(processes))
        .route("/activity", get(activity))
        .with_state(agent)
}

async fn health(State(agent): State<Agent>) -> impl IntoResponse {
    Json(serde_json::json!({
        "status": "ok",
        "unidade": agent.unit(),
        "defeitos": agent.defects(),
        "particularidades": agent.quirks(),
    }))
}

async fn send_route(
    State(agent): State<Agent>,
    body: Bytes,
) -> Result<Json<SendReport>, AgentError> {
    Ok(Json(send(&agent, parse(&body)?).await?))
}

async fn return_route(
    State(agent): State<Agent>,
    body: Bytes,
) -> Result<Json<SendReport>, AgentError> {
    Ok(Json(agent.return_process(&parse(&body)?).await?))
}

async fn webhook_route(
    State(agent): State<Agent>,
    body: Bytes,
) -> Result<Json<SendReport>, AgentError> {
    Ok(Json(act(&agent, parse(&body)?).await?))
}

async fn processes(State(agent): State<Agent>) -> impl IntoResponse {
    Json(agent.processes())
}

async fn activity(State(agent): State<Agent>, Query(since): Query<Since>) -> impl IntoResponse {
    Json(agent.activity(since.since))
}

/// Binds the trigger (loopback only) and returns its base URL with the server future, which
/// runs until `stop` turns true.
///
/// # Errors
/// A non-loopback address; the port cannot be bound.
pub async fn bind(
    agent: Agent,
    addr: SocketAddr,
    mut stop: watch::Receiver<bool>,
) -> Result<
    (
        String,
        impl std::future::Future<Output = std::io::Result<()>>,
    ),
    TriggerError,
> {
    if !addr.ip().is_loopback() {
        return Err(TriggerError::NotLoopback(addr));
    }
    let listener = TcpListener::bind(addr).await?;
    let url = format!("http://{}/", listener.local_addr()?);
    let server = async move {
        axum::serve(listener, router(agent))
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
    };
    Ok((url, server))
}
