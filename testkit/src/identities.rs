//! Who a test connects as: the committed test PKI's identities, as ready-made HTTPS clients
//! (reqwest) and raw rustls client configurations.
//!
//! Every client trusts the test CA (`certs/ca.pem`) and nothing else, so a test can never reach
//! a real server by mistake, and bypasses any proxy from the environment.
//!
//! These are test helpers: they panic, with a message saying what to do, when the committed
//! PKI is missing or does not name the identity.

use std::path::PathBuf;
use std::time::Duration;

use pen_protocol::registry::NegativeKind;
use pen_simulator::pki::Pki;

use crate::certs_dir;

/// How long a test client waits for a TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a test client waits for a whole request (override on the builder for long-polls).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An identity a test presents to the simulator.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TestIdentity {
    /// A registered organisation of the test PKI, by id (`"org-a"`, `"org-b"`, …).
    Org(String),
    /// Issued by the test CA with org-a's subject, but expired: refused in the handshake.
    Expired,
    /// Valid, with org-a's subject, issued by a CA the simulator does not trust: refused in
    /// the handshake.
    ForeignCa,
    /// Issued by the test CA and valid, registered for no SPE: passes TLS, refused by the API.
    Unregistered,
    /// No client certificate at all: refused in the handshake.
    NoClientCert,
    /// The control plane's administrator (not an SPE).
    Admin,
}

impl TestIdentity {
    /// `TestIdentity::Org(id)`.
    #[must_use]
    pub fn org(id: &str) -> Self {
        Self::Org(id.to_owned())
    }

    /// The identity's `identity.pem` (certificate + unencrypted key) in the committed PKI;
    /// `None` for [`NoClientCert`](Self::NoClientCert).
    ///
    /// # Panics
    /// When the PKI manifest cannot be read or does not list the identity.
    #[must_use]
    pub fn identity_pem_path(&self) -> Option<PathBuf> {
        let pki = test_pki();
        let manifest = pki.manifest();
        let relative = match self {
            Self::NoClientCert => return None,
            Self::Org(id) => {
                &manifest
                    .organisation(id)
                    .unwrap_or_else(|| panic!("organisation {id:?} is not in certs/manifest.json"))
                    .files
                    .identity_pem
            }
            Self::Admin => {
                &manifest
                    .admin
                    .as_ref()
                    .expect("certs/manifest.json has an admin identity (regenerate the PKI)")
                    .identity_pem
            }
            Self::Expired | Self::ForeignCa | Self::Unregistered => {
                let kind = self.negative_kind()?;
                &manifest
                    .negative
                    .iter()
                    .find(|n| n.kind == kind)
                    .unwrap_or_else(|| panic!("certs/manifest.json has no {kind:?} identity"))
                    .files
                    .identity_pem
            }
        };
        Some(pki.path(relative))
    }

    /// The bytes of [`identity_pem_path`](Self::identity_pem_path).
    ///
    /// # Panics
    /// As [`identity_pem_path`](Self::identity_pem_path), or when the file cannot be read.
    #[must_use]
    pub fn identity_pem(&self) -> Option<Vec<u8>> {
        self.identity_pem_path().map(|path| read(&path))
    }

    fn negative_kind(&self) -> Option<NegativeKind> {
        match self {
            Self::Expired => Some(NegativeKind::Expired),
            Self::ForeignCa => Some(NegativeKind::ForeignCa),
            Self::Unregistered => Some(NegativeKind::Unregistered),
            Self::Org(_) | Self::NoClientCert | Self::Admin => None,
        }
    }
}

/// The committed test PKI (`certs/`).
///
/// # Panics
/// When `certs/manifest.json` cannot be read (regenerate: see `certs/README.md`).
#[must_use]
pub fn test_pki() -> Pki {
    let dir = certs_dir();
    Pki::load(&dir).unwrap_or_else(|e| {
        panic!(
            "cannot load the test PKI from {}: {e} (regenerate: see certs/README.md)",
            dir.display()
        )
    })
}

/// A reqwest builder that trusts only the test CA, presents `identity`, and has the test
/// timeouts; add `.http1_only()`, another `.timeout(…)`, … before `build()`.
///
/// # Panics
/// When the PKI files cannot be read or parsed.
pub fn https_client_builder(identity: &TestIdentity) -> reqwest::ClientBuilder {
    let pki = test_pki();
    let ca_path = pki.path(&pki.manifest().ca);
    let ca = reqwest::Certificate::from_pem(&read(&ca_path))
        .unwrap_or_else(|e| panic!("{} is not a PEM certificate: {e}", ca_path.display()));
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT);
    if let Some(pem) = identity.identity_pem() {
        let identity = reqwest::Identity::from_pem(&pem)
            .unwrap_or_else(|e| panic!("the identity PEM of {identity:?} does not load: {e}"));
        builder = builder.identity(identity);
    }
    builder
}

/// An HTTPS client presenting `identity` (HTTP/2 when the server offers it by ALPN).
///
/// # Panics
/// See [`https_client_builder`]; also when reqwest cannot build the client.
#[must_use]
pub fn https_client(identity: &TestIdentity) -> reqwest::Client {
    build(https_client_builder(identity), identity)
}

/// [`https_client`] restricted to HTTP/1.1 (ALPN offers `http/1.1` only).
///
/// # Panics
/// See [`https_client`].
#[must_use]
pub fn https_client_http1(identity: &TestIdentity) -> reqwest::Client {
    build(https_client_builder(identity).http1_only(), identity)
}

fn build(builder: reqwest::ClientBuilder, identity: &TestIdentity) -> reqwest::Client {
    builder
        .build()
        .unwrap_or_else(|e| panic!("cannot build an HTTPS client for {identity:?}: {e}"))
}

/// A rustls client configuration trusting only the test CA and presenting `identity`, for
/// tests that speak TLS by hand. It offers no ALPN protocol; set `alpn_protocols` to ask for
/// `h2` or `http/1.1`.
///
/// # Panics
/// When the PKI files cannot be read or rustls refuses them.
#[must_use]
pub fn rustls_client_config(identity: &TestIdentity) -> rustls::ClientConfig {
    let pki = test_pki();
    let key = match identity {
        TestIdentity::NoClientCert => None,
        TestIdentity::Org(id) => Some(pki.organisation_identity(id)),
        other => other
            .negative_kind()
            .map(|kind| pki.negative_identity(kind)),
    };
    let key = key
        .transpose()
        .unwrap_or_else(|e| panic!("cannot read the identity {identity:?}: {e}"));
    pki.client_config(key)
        .unwrap_or_else(|e| panic!("cannot build a rustls client for {identity:?}: {e}"))
}

fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
