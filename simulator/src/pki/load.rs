//! Loading a generated PKI folder: the manifest, certificates and identity PEMs, the rustls
//! server and client configurations built from them, and the fingerprints that map a verified
//! certificate to its SPE. What the TLS edge and the runtime need; nothing here generates keys.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::digest;
use pen_protocol::registry::{NegativeKind, PkiManifest};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::PkiError;

/// Name of the manifest inside a PKI folder.
pub const MANIFEST_FILE: &str = "manifest.json";

fn read_file(path: &Path) -> Result<Vec<u8>, PkiError> {
    fs::read(path).map_err(|source| PkiError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })
}

/// SHA-1 of a certificate's DER, upper-case hex with colons (`openssl x509 -fingerprint -sha1`).
#[must_use]
pub fn sha1_fingerprint(der: &[u8]) -> String {
    colon_hex(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref())
}

/// SHA-256 of a certificate's DER, upper-case hex with colons (`openssl x509 -fingerprint -sha256`).
#[must_use]
pub fn sha256_fingerprint(der: &[u8]) -> String {
    colon_hex(digest::digest(&digest::SHA256, der).as_ref())
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Reads `dir/manifest.json`.
///
/// # Errors
/// [`PkiError::Io`] when the file cannot be read, [`PkiError::ManifestDecode`] when it is not a
/// [`PkiManifest`].
pub fn load_manifest(dir: &Path) -> Result<PkiManifest, PkiError> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = read_file(&path)?;
    serde_json::from_slice(&bytes).map_err(|source| PkiError::ManifestDecode { path, source })
}

/// The process-wide choice of crypto, passed explicitly to every rustls builder (nothing is
/// installed as the default provider).
#[must_use]
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A certificate chain (leaf first) and its private key, ready for rustls.
#[derive(Debug)]
pub struct Identity {
    pub cert_chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// Every certificate in a PEM file, in order.
///
/// # Errors
/// An unreadable file, bad PEM, or a file with no certificate.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    certificates_in(&read_file(path)?, path)
}

/// An identity PEM (certificates, leaf first, and an unencrypted private key; the
/// `identity.pem` layout, usable as `curl --cert`).
///
/// # Errors
/// An unreadable file, bad PEM, or a file missing the certificate or the key.
pub fn read_identity_pem(path: &Path) -> Result<Identity, PkiError> {
    let bytes = read_file(path)?;
    let cert_chain = certificates_in(&bytes, path)?;
    let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|source| match source {
        rustls_pki_types::pem::Error::NoItemsFound => PkiError::Missing {
            what: "unencrypted private key",
            path: path.to_path_buf(),
        },
        source => PkiError::Pem {
            what: "private key",
            path: path.to_path_buf(),
            source,
        },
    })?;
    Ok(Identity { cert_chain, key })
}

fn certificates_in(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| PkiError::Pem {
            what: "certificates",
            path: path.to_path_buf(),
            source,
        })?;
    if certs.is_empty() {
        return Err(PkiError::Missing {
            what: "certificate",
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The server side of mutual TLS: requires a client certificate chained to `ca` (anything
/// else fails the handshake), presents `[server leaf, ca]`, offers ALPN `h2` and `http/1.1`.
///
/// # Errors
/// A CA that rustls cannot use as a trust anchor, or a server key that does not fit its
/// certificate.
pub fn server_config(
    ca: &CertificateDer<'static>,
    server: Identity,
) -> Result<ServerConfig, PkiError> {
    let provider = crypto_provider();
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone())?;
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
    let mut chain = server.cert_chain;
    if chain.last() != Some(ca) {
        chain.push(ca.clone());
    }
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, server.key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A rustls client that trusts `ca` only and presents `identity` when given.
///
/// # Errors
/// A CA that rustls cannot use as a trust anchor, or a key that does not fit its certificate.
pub fn client_config(
    ca: &CertificateDer<'static>,
    identity: Option<Identity>,
) -> Result<ClientConfig, PkiError> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone())?;
    let builder = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    Ok(match identity {
        Some(identity) => builder.with_client_auth_cert(identity.cert_chain, identity.key)?,
        None => builder.with_no_client_auth(),
    })
}

/// A generated PKI folder and its manifest.
#[derive(Debug, Clone)]
pub struct Pki {
    dir: PathBuf,
    manifest: PkiManifest,
}

impl Pki {
    /// Reads the manifest of the PKI in `dir`.
    ///
    /// # Errors
    /// See [`load_manifest`].
    pub fn load(dir: impl Into<PathBuf>) -> Result<Self, PkiError> {
        let dir = dir.into();
        let manifest = load_manifest(&dir)?;
        Ok(Self { dir, manifest })
    }

    /// The PKI folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    #[must_use]
    pub fn manifest(&self) -> &PkiManifest {
        &self.manifest
    }

    /// A path the manifest records, resolved against the PKI folder.
    #[must_use]
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    /// The CA certificate (first certificate of the manifest's `ca` file).
    ///
    /// # Errors
    /// See [`read_certificates`].
    pub fn ca_certificate(&self) -> Result<CertificateDer<'static>, PkiError> {
        let path = self.path(&self.manifest.ca);
        read_certificates(&path)?
            .into_iter()
            .next()
            .ok_or(PkiError::Missing {
                what: "certificate",
                path,
            })
    }

    /// The simulator's TLS server identity.
    ///
    /// # Errors
    /// See [`read_identity_pem`].
    pub fn server_identity(&self) -> Result<Identity, PkiError> {
        read_identity_pem(&self.path(&self.manifest.server.identity_pem))
    }

    /// The rustls server configuration of the simulator (see [`server_config`]).
    ///
    /// # Errors
    /// Unreadable files, or material rustls refuses.
    pub fn server_config(&self) -> Result<ServerConfig, PkiError> {
        server_config(&self.ca_certificate()?, self.server_identity()?)
    }

    /// The client identity of an organisation (`org-a`).
    ///
    /// # Errors
    /// [`PkiError::UnknownOrganisation`], or see [`read_identity_pem`].
    pub fn organisation_identity(&self, id: &str) -> Result<Identity, PkiError> {
        let organisation = self
            .manifest
            .organisation(id)
            .ok_or_else(|| PkiError::UnknownOrganisation(id.to_owned()))?;
        read_identity_pem(&self.path(&organisation.files.identity_pem))
    }

    /// A negative identity by kind.
    ///
    /// # Errors
    /// [`PkiError::UnknownNegative`], or see [`read_identity_pem`].
    pub fn negative_identity(&self, kind: NegativeKind) -> Result<Identity, PkiError> {
        let negative = self
            .manifest
            .negative
            .iter()
            .find(|n| n.kind == kind)
            .ok_or(PkiError::UnknownNegative(kind))?;
        read_identity_pem(&self.path(&negative.files.identity_pem))
    }

    /// A rustls client trusting this PKI's CA only, presenting `identity` when given.
    ///
    /// # Errors
    /// See [`client_config`].
    pub fn client_config(&self, identity: Option<Identity>) -> Result<ClientConfig, PkiError> {
        client_config(&self.ca_certificate()?, identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_look_like_openssl() {
        assert_eq!(colon_hex(&[0x0a, 0xff, 0x00]), "0A:FF:00");
        assert_eq!(sha1_fingerprint(b"").len(), 20 * 3 - 1);
        assert_eq!(sha256_fingerprint(b"").len(), 32 * 3 - 1);
    }
}
