//! The test PKI: a CA, the simulator's TLS server identity, the platform's signing identity,
//! one client identity per organisation (SPE) and a few identities that must be refused.
//!
//! Two halves: generation (`generate.rs`, rcgen: the `certs init` side) and loading
//! (`load.rs`). [`generate()`] writes the files and returns the
//! [`PkiManifest`](pen_protocol::registry::PkiManifest) it also writes to `manifest.json`;
//! [`Pki`] reads a generated folder back and builds the rustls configurations the simulator and
//! the tests use. The TLS edge and the runtime use the loading half only; generation is for
//! `certs init` and the harness's setup. Nothing here installs a process-wide crypto provider:
//! every configuration is built with [`crypto_provider`] explicitly.
//!
//! # Layout written by [`generate()`] (paths relative to the folder, as the manifest records them)
//! - `ca.pem`, `ca-key.pem` — the CA certificate and its PKCS#8 key (test PKI: the key is
//!   committed so that extra identities can be issued).
//! - `server/identity.pem`, `server/cert.pem` — TLS server (SANs `localhost`, `127.0.0.1`, `::1`,
//!   and [`GenerateOptions::server_names`] / [`GenerateOptions::server_ips`]).
//! - `platform/identity.pem`, `platform/cert.pem` — the platform's signing identity (recibos).
//! - `admin/identity.pem`, `admin/cert.pem` — the control plane's administrator (mutual TLS).
//! - `orgs/<id>/identity.pem`, `cert.pem`, `identity.p12`, `identity-encrypted.pem` — one client
//!   identity per organisation.
//! - `negative/{expired,foreign-ca,unregistered}/identity.pem`, `cert.pem`, and
//!   `negative/foreign-ca/ca.pem` (the foreign CA's certificate; its key is not kept).
//! - `manifest.json`.

use std::io;
use std::path::PathBuf;

use pen_protocol::registry::NegativeKind;
use time::OffsetDateTime;

mod generate;
pub(crate) mod load;

pub use generate::{
    fixture_organisations, generate, is_valid_server_name, negative_id, GenerateOptions,
    ADMIN_COMMON_NAME, CA_COMMON_NAME, CA_FILE, CA_KEY_FILE, DEFAULT_PASSWORD,
    DEFAULT_VALIDITY_DAYS, FOREIGN_CA_FILE, MANIFEST_VERSION, PLATFORM_COMMON_NAME,
    SERVER_COMMON_NAME, UNREGISTERED_COMMON_NAME,
};
pub use load::{
    client_config, crypto_provider, load_manifest, read_certificates, read_identity_pem,
    server_config, sha1_fingerprint, sha256_fingerprint, Identity, Pki, MANIFEST_FILE,
};

/// What can go wrong while generating or loading the test PKI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("organisation id {0:?} cannot name a folder: use lower-case ASCII letters, digits, '-' and '_'")]
    InvalidOrganisationId(String),
    #[error("organisation {0:?} is listed more than once")]
    DuplicateOrganisation(String),
    #[error("organisation {id:?} has an empty common name")]
    EmptyCommonName { id: String },
    #[error("common name {common_name:?} of organisation {id:?} is already taken{}", if *.reserved { " (reserved for the unregistered identity)" } else { "" })]
    DuplicateCommonName {
        id: String,
        common_name: String,
        reserved: bool,
    },
    #[error("{0:?} cannot name the server in a certificate: use a host name (letters, digits, '-' and '.', e.g. pen-simulator) or pass an address as an IP")]
    InvalidServerName(String),
    #[error("validity must be at least one day")]
    ZeroValidity,
    #[error("a validity of {days} days from {now} falls outside the supported dates")]
    DateOutOfRange { now: OffsetDateTime, days: u32 },
    #[error("cannot format {0} as RFC 3339")]
    DateFormat(OffsetDateTime, #[source] time::error::Format),
    #[error("the system random number generator failed")]
    Random(#[source] aws_lc_rs::error::Unspecified),
    #[error("cannot issue {what}")]
    Certificate {
        what: String,
        #[source]
        source: rcgen::Error,
    },
    #[error("cannot encrypt the private key of {what}")]
    KeyEncryption {
        what: String,
        #[source]
        source: pkcs8::Error,
    },
    #[error("cannot set up PBES2 parameters for {what}")]
    Pbes2 {
        what: String,
        #[source]
        source: pkcs8::pkcs5::Error,
    },
    #[error("cannot encode {what} as PEM")]
    PemEncode {
        what: String,
        #[source]
        source: pkcs8::der::Error,
    },
    #[error("cannot build the PKCS#12 file of {what}")]
    Pkcs12 {
        what: String,
        #[source]
        source: p12_keystore::error::Error,
    },
    #[error("cannot encode the manifest")]
    ManifestEncode(#[source] serde_json::Error),
    #[error("{} is not a valid PKI manifest", path.display())]
    ManifestDecode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the fixture organisations do not parse")]
    Fixtures(#[source] serde_json::Error),
    #[error("cannot read {what} from {}", path.display())]
    Pem {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("{} holds no {what}", path.display())]
    Missing { what: &'static str, path: PathBuf },
    #[error("organisation {0:?} is not in the PKI manifest")]
    UnknownOrganisation(String),
    #[error("the PKI manifest has no {0:?} identity")]
    UnknownNegative(NegativeKind),
    #[error("cannot build the client certificate verifier")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("cannot build the TLS configuration")]
    Tls(#[from] rustls::Error),
}
