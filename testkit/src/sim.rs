//! A simulator for one test: the committed PKI, `127.0.0.1:0`, a manual clock, a temporary
//! component store, and an API client per identity that speaks raw REST v3 (the reference client
//! has its own crate; these tests must see exactly what crosses the wire).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use pen_protocol::error::ErrorBody;
use pen_simulator::clock::ManualClock;
use pen_simulator::config::PlatformConfig;
use pen_simulator::http::AppState;
use pen_simulator::runtime::{Simulator, SimulatorOptions};
use serde::de::DeserializeOwned;
use serde::Serialize;
use time::macros::datetime;
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::identities::{https_client, TestIdentity};

/// Where every test simulator's clock starts: 2025-06-01 13:00 UTC (10:00 in Brasília).
pub const START: OffsetDateTime = datetime!(2025-06-01 13:00 UTC);

/// A running simulator owned by one test; dropping it shuts the server down.
pub struct TestSimulator {
    pub base_url: String,
    /// `http://127.0.0.1:PORT/control/`: the control plane, always on in tests.
    pub control_url: String,
    pub clock: Arc<ManualClock>,
    pub state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for TestSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestSimulator")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Starts a simulator with the default (`strict`) configuration.
///
/// # Panics
/// When the committed PKI is missing or the port cannot be bound.
pub async fn spawn_simulator() -> TestSimulator {
    spawn_simulator_with(PlatformConfig::default()).await
}

/// Starts a simulator with a given configuration.
///
/// # Panics
/// When the committed PKI is missing or the port cannot be bound.
pub async fn spawn_simulator_with(config: PlatformConfig) -> TestSimulator {
    let clock = Arc::new(ManualClock::new(START));
    let mut options = SimulatorOptions::new(crate::certs_dir());
    options.config = config;
    options.clock = clock.clone();
    options.control_addr = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    let simulator = Simulator::bind(options)
        .await
        .expect("simulator starts with the committed PKI");
    let base_url = simulator.base_url();
    let control_url = simulator
        .control_url()
        .expect("the control plane was asked for");
    let state = simulator.state();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(simulator.run_until(async {
        let _ = stopped.await;
    }));
    TestSimulator {
        base_url,
        control_url,
        clock,
        state,
        stop: Some(stop),
    }
}

impl TestSimulator {
    /// An API client presenting an identity.
    #[must_use]
    pub fn api(&self, identity: &TestIdentity) -> Api {
        Api {
            http: https_client(identity),
            base: self.base_url.clone(),
        }
    }

    /// An API client for an organisation of the test PKI (`"org-a"`).
    #[must_use]
    pub fn org(&self, id: &str) -> Api {
        self.api(&TestIdentity::org(id))
    }

    /// A plain-HTTP client for the control plane, with its base URL.
    #[must_use]
    pub fn control(&self) -> Api {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a plain HTTP client builds");
        Api {
            http,
            base: self.control_url.clone(),
        }
    }

    /// The typed control-plane client (`pen_simulator::control_client`) the harness uses too:
    /// the journal, inspections and faults with the simulator's own types.
    ///
    /// # Panics
    /// When a plain HTTP client cannot be built.
    #[must_use]
    pub fn control_client(&self) -> pen_simulator::control_client::ControlClient {
        pen_simulator::control_client::ControlClient::plain(self.control_url.clone())
            .expect("a plain HTTP client builds")
    }

    /// Moves the platform's clock forward (timers react at once).
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

impl Drop for TestSimulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A REST v3 caller with one identity.
#[derive(Debug, Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON of a type, failing the test with the body when it is not.
    ///
    /// # Panics
    /// On a non-2xx status or a body of another shape.
    #[must_use]
    pub fn json<T: DeserializeOwned>(&self) -> T {
        assert!(
            (200..300).contains(&self.status),
            "expected success, got {} {}",
            self.status,
            self.text()
        );
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    /// The platform's error body.
    ///
    /// # Panics
    /// On a 2xx status or a body that is not an error body.
    #[must_use]
    pub fn error(&self) -> ErrorBody {
        assert!(
            self.status >= 400,
            "expected an error, got {} {}",
            self.status,
            self.text()
        );
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a 2xx status.
    ///
    /// # Panics
    /// Otherwise.
    pub fn ok(&self) {
        assert!(
            (200..300).contains(&self.status),
            "expected success, got {} {}",
            self.status,
            self.text()
        );
    }
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
        let response = request.send().await?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok(Reply {
            status,
            content_type,
            body: response.bytes().await?,
        })
    }

    /// `GET` a path relative to the base URL (`"tramites/pendentes?todas=1"`).
    ///
    /// # Errors
    /// Transport errors (TLS refusal, connection reset).
    pub async fn try_get(&self, path: &str) -> Result<Reply, reqwest::Error> {
        self.send(self.http.get(self.url(path))).await
    }

    /// # Panics
    /// On a transport error.
    pub async fn get(&self, path: &str) -> Reply {
        self.try_get(path)
            .await
            .expect("request reaches the simulator")
    }

    /// # Panics
    /// On a transport error.
    pub async fn post_json(&self, path: &str, body: &impl Serialize) -> Reply {
        self.send(self.http.post(self.url(path)).json(body))
            .await
            .expect("request reaches the simulator")
    }

    /// # Panics
    /// On a transport error.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let request = self
            .http
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        self.send(request)
            .await
            .expect("request reaches the simulator")
    }

    /// # Panics
    /// On a transport error.
    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.http.delete(self.url(path)))
            .await
            .expect("request reaches the simulator")
    }

    /// `PUT` the upload form as the SEI module sends it: `conteudo` (filename `conteudo.html`,
    /// `text/html` whatever the content), then `hashDoComponenteDigital` and `protocolo`.
    ///
    /// # Panics
    /// On a transport error.
    pub async fn put_component(
        &self,
        path: &str,
        conteudo: Vec<u8>,
        hash: &str,
        protocolo: &str,
    ) -> Reply {
        let part = reqwest::multipart::Part::bytes(conteudo)
            .file_name("conteudo.html")
            .mime_str("text/html")
            .expect("static MIME type");
        let form = reqwest::multipart::Form::new()
            .part("conteudo", part)
            .text("hashDoComponenteDigital", hash.to_owned())
            .text("protocolo", protocolo.to_owned());
        self.send(self.http.put(self.url(path)).multipart(form))
            .await
            .expect("request reaches the simulator")
    }

    /// The older form: only `conteudo` in the body, hash and protocol in the query string.
    ///
    /// # Panics
    /// On a transport error.
    pub async fn put_component_query(
        &self,
        path: &str,
        conteudo: Vec<u8>,
        hash: &str,
        protocolo: &str,
    ) -> Reply {
        let form = reqwest::multipart::Form::new().part(
            "conteudo",
            reqwest::multipart::Part::bytes(conteudo).file_name("conteudo.html"),
        );
        let request = self
            .http
            .put(self.url(path))
            .query(&[("hashDoComponenteDigital", hash), ("protocolo", protocolo)])
            .multipart(form);
        self.send(request)
            .await
            .expect("request reaches the simulator")
    }
}
