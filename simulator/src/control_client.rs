//! A typed client of the control plane ([`crate::control`]): what the conformance harness, its
//! load generator and the end-to-end tests use to read the journal, inspect trâmites, inject
//! faults and move the clock, with the simulator's own types on both sides of the wire.
//!
//! It speaks plain HTTP to a loopback control plane, or mutual TLS with the administrator
//! identity to one anywhere else ([`ControlClient::mutual_tls`]).

use std::time::Duration;

use pen_protocol::api::TramiteDeProcessoCriado;
use pen_protocol::error::ErrorBody;
use pen_protocol::ids::Idt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use time::OffsetDateTime;

use crate::control::{Advance, Injection, SpeView};
use crate::faults::{ActiveFault, FaultSpec};
use crate::journal::{Entry, JournalQuery, Page};
use crate::platform::Inspection;

/// What went wrong talking to the control plane.
#[derive(Debug, thiserror::Error)]
pub enum ControlClientError {
    /// Nobody answered (not started, wrong address) or the connection broke.
    #[error("plano de controle inacessível em {url}: {detail}")]
    Unreachable { url: String, detail: String },
    /// The control plane answered with an error (`{"erro": …}`).
    #[error("plano de controle {path}: {status} {message}")]
    Refused {
        path: String,
        status: u16,
        message: String,
    },
    /// The platform refused what the control plane was asked to do (an injection).
    #[error("a plataforma recusou {path}: {} - {}", .body.codigo_erro, .body.mensagem)]
    Platform { path: String, body: ErrorBody },
    /// An answer of another shape.
    #[error("plano de controle {path}: resposta inesperada: {detail}")]
    Decode { path: String, detail: String },
    /// The client could not be built (identity, CA).
    #[error("cliente do plano de controle: {0}")]
    Config(String),
}

type Result<T> = std::result::Result<T, ControlClientError>;

/// The control plane of one simulator.
#[derive(Debug, Clone)]
pub struct ControlClient {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/control/`.
    base: String,
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

impl ControlClient {
    /// A client of a plain-HTTP (loopback) control plane at `base_url` (`…/control/`).
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn plain(base_url: impl Into<String>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| ControlClientError::Config(chain(&e)))?;
        Ok(Self::with(http, base_url.into()))
    }

    /// A client of a mutual-TLS control plane: the PKI's CA and the administrator identity
    /// (certificate + key, PEM).
    ///
    /// # Errors
    /// An unreadable CA or identity.
    pub fn mutual_tls(
        base_url: impl Into<String>,
        ca_pem: &[u8],
        identity_pem: &[u8],
    ) -> Result<Self> {
        let ca = reqwest::Certificate::from_pem(ca_pem)
            .map_err(|e| ControlClientError::Config(chain(&e)))?;
        let identity = reqwest::Identity::from_pem(identity_pem)
            .map_err(|e| ControlClientError::Config(chain(&e)))?;
        let http = reqwest::Client::builder()
            .tls_certs_only([ca])
            .identity(identity)
            .no_proxy()
            .build()
            .map_err(|e| ControlClientError::Config(chain(&e)))?;
        Ok(Self::with(http, base_url.into()))
    }

    fn with(http: reqwest::Client, mut base: String) -> Self {
        if !base.ends_with('/') {
            base.push('/');
        }
        ControlClient { http, base }
    }

    /// The base URL (`…/control/`).
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        query: Option<&JournalQuery>,
        body: Option<Vec<u8>>,
    ) -> Result<Option<T>> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(query) = query {
            request = request.query(query);
        }
        if let Some(bytes) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ControlClientError::Unreachable {
                url: url.clone(),
                detail: chain(&e),
            })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| ControlClientError::Unreachable {
                url: url.clone(),
                detail: chain(&e),
            })?;
        if status == reqwest::StatusCode::REQUEST_TIMEOUT && path == "journal/wait" {
            return Ok(None);
        }
        if !status.is_success() {
            if let Ok(body) = serde_json::from_str::<ErrorBody>(&text) {
                return Err(ControlClientError::Platform {
                    path: path.to_owned(),
                    body,
                });
            }
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["erro"].as_str().map(str::to_owned))
                .unwrap_or(text);
            return Err(ControlClientError::Refused {
                path: path.to_owned(),
                status: status.as_u16(),
                message,
            });
        }
        if text.is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ControlClientError::Decode {
                path: path.to_owned(),
                detail: e.to_string(),
            })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(reqwest::Method::GET, path, None, None)
            .await?
            .ok_or_else(|| ControlClientError::Decode {
                path: path.to_owned(),
                detail: "resposta vazia".to_owned(),
            })
    }

    async fn send<B: Serialize>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Option<serde_json::Value>> {
        let bytes = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| ControlClientError::Config(e.to_string()))?;
        self.call(method, path, None, bytes).await
    }

    /// `GET health`: the control plane answers.
    ///
    /// # Errors
    /// Unreachable or not a control plane.
    pub async fn health(&self) -> Result<()> {
        self.get::<serde_json::Value>("health").await.map(drop)
    }

    /// `POST reset`: forgets every trâmite, fault and journal entry.
    ///
    /// # Errors
    /// As every call.
    pub async fn reset(&self) -> Result<()> {
        self.send::<()>(reqwest::Method::POST, "reset", None)
            .await
            .map(drop)
    }

    /// The registered SPEs.
    ///
    /// # Errors
    /// As every call.
    pub async fn spes(&self) -> Result<Vec<SpeView>> {
        self.get("spes").await
    }

    /// The registered SPE `id`, if any.
    ///
    /// # Errors
    /// As every call.
    pub async fn spe(&self, id: &str) -> Result<Option<SpeView>> {
        Ok(self.spes().await?.into_iter().find(|s| s.id == id))
    }

    /// Registers (or replaces, by id) an SPE.
    ///
    /// # Errors
    /// A structure unknown or answered for by another SPE; as every call.
    pub async fn register(&self, spe: &SpeView) -> Result<()> {
        self.send(reqwest::Method::POST, "spes", Some(spe))
            .await
            .map(drop)
    }

    /// Everything the platform knows of a trâmite; `None` when it does not exist.
    ///
    /// # Errors
    /// As every call.
    pub async fn inspect(&self, idt: Idt) -> Result<Option<Inspection>> {
        match self.get(&format!("tramites/{idt}")).await {
            Ok(view) => Ok(Some(view)),
            Err(ControlClientError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Adds a fault; returns its id.
    ///
    /// # Errors
    /// As every call.
    pub async fn add_fault(&self, fault: &FaultSpec) -> Result<u64> {
        let answer = self
            .send(reqwest::Method::POST, "faults", Some(fault))
            .await?
            .unwrap_or_default();
        answer["id"]
            .as_u64()
            .ok_or_else(|| ControlClientError::Decode {
                path: "faults".to_owned(),
                detail: answer.to_string(),
            })
    }

    /// The active faults.
    ///
    /// # Errors
    /// As every call.
    pub async fn faults(&self) -> Result<Vec<ActiveFault>> {
        self.get("faults").await
    }

    /// Removes every fault.
    ///
    /// # Errors
    /// As every call.
    pub async fn clear_faults(&self) -> Result<()> {
        self.send::<()>(reqwest::Method::DELETE, "faults", None)
            .await
            .map(drop)
    }

    /// The platform's clock.
    ///
    /// # Errors
    /// As every call.
    pub async fn now(&self) -> Result<OffsetDateTime> {
        let answer: serde_json::Value = self.get("clock").await?;
        answer["now"]
            .as_str()
            .and_then(|t| pen_protocol::datetime::parse(t).ok())
            .ok_or_else(|| ControlClientError::Decode {
                path: "clock".to_owned(),
                detail: answer.to_string(),
            })
    }

    /// Moves the platform's clock forward (timers act at once).
    ///
    /// # Errors
    /// A clock that cannot be moved; as every call.
    pub async fn advance(&self, by: Advance) -> Result<()> {
        self.send(reqwest::Method::POST, "clock/advance", Some(&by))
            .await
            .map(drop)
    }

    /// Journal entries matching `query`.
    ///
    /// # Errors
    /// As every call.
    pub async fn journal(&self, query: &JournalQuery) -> Result<Page> {
        self.call(reqwest::Method::GET, "journal", Some(query), None)
            .await?
            .ok_or_else(|| ControlClientError::Decode {
                path: "journal".to_owned(),
                detail: "resposta vazia".to_owned(),
            })
    }

    /// Every entry matching `query` (no page limit).
    ///
    /// # Errors
    /// As every call.
    pub async fn entries(&self, query: &JournalQuery) -> Result<Vec<Entry>> {
        let query = JournalQuery {
            limit: Some(usize::MAX >> 1),
            ..query.clone()
        };
        Ok(self.journal(&query).await?.entries)
    }

    /// The number of the newest entry (0 when none).
    ///
    /// # Errors
    /// As every call.
    pub async fn last_seq(&self) -> Result<u64> {
        let page = self
            .journal(&JournalQuery {
                limit: Some(0),
                ..JournalQuery::default()
            })
            .await?;
        Ok(page.total)
    }

    /// The first entry after `query.after` that matches, waiting up to `timeout` for it;
    /// `None` when it did not come.
    ///
    /// # Errors
    /// As every call.
    pub async fn wait(&self, query: &JournalQuery, timeout: Duration) -> Result<Option<Entry>> {
        if timeout.is_zero() {
            return Ok(self.entries(query).await?.into_iter().next());
        }
        // The server caps one wait at `control::MAX_WAIT`; longer waits are several.
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let slice = left.min(crate::control::MAX_WAIT);
            let query = JournalQuery {
                timeout_ms: Some(u64::try_from(slice.as_millis()).unwrap_or(u64::MAX).max(1)),
                ..query.clone()
            };
            let found: Option<Entry> = self
                .call(reqwest::Method::GET, "journal/wait", Some(&query), None)
                .await?;
            if found.is_some() || slice == left {
                return Ok(found);
            }
        }
    }

    /// Opens a trâmite as any SPE, past the schema unless asked, and uploads the components
    /// given inline.
    ///
    /// # Errors
    /// The platform's refusal ([`ControlClientError::Platform`]); as every call.
    pub async fn inject(&self, injection: &Injection) -> Result<serde_json::Value> {
        self.send(reqwest::Method::POST, "inject", Some(injection))
            .await?
            .ok_or_else(|| ControlClientError::Decode {
                path: "inject".to_owned(),
                detail: "resposta vazia".to_owned(),
            })
    }

    /// [`Self::inject`] of a process: the platform's open answer.
    ///
    /// # Errors
    /// As [`Self::inject`].
    pub async fn inject_processo(&self, injection: &Injection) -> Result<TramiteDeProcessoCriado> {
        let answer = self.inject(injection).await?;
        serde_json::from_value(answer).map_err(|e| ControlClientError::Decode {
            path: "inject".to_owned(),
            detail: e.to_string(),
        })
    }
}
