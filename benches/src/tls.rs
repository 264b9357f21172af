//! TLS configurations from the committed test PKI (`certs/`), identical on both sides of every
//! comparison: the baseline server and the simulator present the same server certificate and
//! require a client certificate issued by the same CA; the loader presents an organisation's
//! identity and trusts that CA only.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

use pen_simulator::pki::{Pki, PkiError};
use rustls_pki_types::ServerName;

/// The committed test PKI: `certs/` at the repository root.
#[must_use]
pub fn default_pki_dir() -> PathBuf {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .parent()
        .map_or_else(|| crate_dir.join("certs"), |root| root.join("certs"))
}

/// Loads the PKI manifest of `dir`.
///
/// # Errors
/// When `dir/manifest.json` cannot be read or decoded.
pub fn load_pki(dir: impl Into<PathBuf>) -> Result<Pki, PkiError> {
    Pki::load(dir)
}

/// The simulator's own server configuration (`[server, ca]` chain, client certificate required
/// and verified against the CA, ALPN `h2` and `http/1.1`), for the baseline server as well.
///
/// # Errors
/// Unreadable PKI files or material rustls refuses.
pub fn server_config(pki: &Pki) -> Result<Arc<rustls::ServerConfig>, PkiError> {
    pki.server_config().map(Arc::new)
}

/// Whether new connections may resume an earlier TLS session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resumption {
    /// rustls' default client session cache.
    Allowed,
    /// Every connection does a full handshake (what the new-connection mode measures).
    Disabled,
}

/// A client configuration presenting organisation `org` (`"org-b"`), trusting the PKI's CA only,
/// offering ALPN `http/1.1` (the loader speaks HTTP/1.1).
///
/// # Errors
/// Unknown organisation, unreadable files, or material rustls refuses.
pub fn client_config(
    pki: &Pki,
    org: &str,
    resumption: Resumption,
) -> Result<Arc<rustls::ClientConfig>, PkiError> {
    let mut config = pki.client_config(Some(pki.organisation_identity(org)?))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if resumption == Resumption::Disabled {
        config.resumption = rustls::client::Resumption::disabled();
    }
    Ok(Arc::new(config))
}

/// The name the loader checks the server certificate against: `127.0.0.1`, one of the SANs of
/// `certs/server/cert.pem`.
#[must_use]
pub fn loopback_server_name() -> ServerName<'static> {
    ServerName::IpAddress(Ipv4Addr::LOCALHOST.into())
}
