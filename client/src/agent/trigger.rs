//! The agent's trigger: a small HTTP endpoint on loopback through which a harness, a script or
//! a person asks the agent to act as a sender, and reads what it did. Plain HTTP, JSON bodies,
//! no authentication: it only ever listens on a loopback address.
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `GET /health` | — | `{"status":"ok","unidade":…,"defeitos":[…]}` |
//! | `POST /send` | [`SendRequest`] | [`SendReport`](super::SendReport) |
//! | `POST /return` | [`ReturnRequest`] | [`SendReport`](super::SendReport) |
//! | `GET /processes` | — | every [`Record`](super::archive::Record) in the archive |
//! | `GET /activity?since=N` | — | the [`Logged`](super::Logged) events after `N` |
//!
//! Errors are `{"erro": text}` with 422 when a sender-side rule stopped the send (the text is
//! the SEI module's), 404 for an unknown sample or process, 400 for a malformed request, 502
//! when the platform refused or failed, 500 for the agent's own storage.

use std::net::SocketAddr;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{Agent, AgentError, ReturnRequest, SendRequest};

/// The trigger could not start.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("o gatilho só escuta em loopback; {0} não é")]
    NotLoopback(SocketAddr),
    #[error("gatilho: {0}")]
    Io(#[from] std::io::Error),
}

impl IntoResponse for AgentError {
    fn into_response(self) -> Response {
        let status = match &self {
            AgentError::NotSendable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AgentError::Sample(super::samples::SampleError::Unknown { .. })
            | AgentError::UnknownProcess(_) => StatusCode::NOT_FOUND,
            AgentError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AgentError::Platform(_) => StatusCode::BAD_GATEWAY,
            AgentError::Sample(_) | AgentError::Archive(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (
            status,
            Json(serde_json::json!({ "erro": crate::error::chain(&self) })),
        )
            .into_response()
    }
}

#[derive(Debug, Deserialize)]
struct Since {
    #[serde(default)]
    since: u64,
}

/// The trigger's routes over an agent.
pub fn router(agent: Agent) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/send", post(send))
        .route("/return", post(return_process))
        .route("/processes", get(processes))
        .route("/activity", get(activity))
        .with_state(agent)
}

async fn health(State(agent): State<Agent>) -> impl IntoResponse {
    Json(serde_json::json!({
        "status": "ok",
        "unidade": agent.unit(),
        "defeitos": agent.defects(),
    }))
}

async fn send(
    State(agent): State<Agent>,
    Json(request): Json<SendRequest>,
) -> Result<impl IntoResponse, AgentError> {
    Ok(Json(agent.send(&request).await?))
}

async fn return_process(
    State(agent): State<Agent>,
    Json(request): Json<ReturnRequest>,
) -> Result<impl IntoResponse, AgentError> {
    Ok(Json(agent.return_process(&request).await?))
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
