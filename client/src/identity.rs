//! Who the client is: a certificate chain and its private key, loaded the ways integrators hold
//! them — one PEM with certificate and key (`curl --cert`), the same with the key encrypted under
//! a password (SEI's `SenhaCertificado`), or a PKCS#12 file (converted in-process: reqwest's
//! rustls backend only takes PEM).

use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
use pkcs8::der::pem::PemLabel as _;
use pkcs8::EncryptedPrivateKeyInfoRef;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;

/// A client identity.
#[derive(Clone)]
pub struct Identity {
    /// Leaf first.
    chain: Vec<CertificateDer<'static>>,
    /// PKCS#8 DER (or PKCS#1 for an RSA key given that way).
    key: Vec<u8>,
    key_label: &'static str,
}

impl std::fmt::Debug for Identity {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

fn pem_block(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

impl Identity {
    /// Certificate chain and unencrypted private key from one PEM text.
    ///
    /// # Errors
    /// [`Error::Identity`] when there is no certificate or no usable key.
    pub fn from_pem(pem: &[u8]) -> Result<Self, Error> {
        let chain = certificates(pem)?;
        let key = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|e| Error::Identity(format!("chave privada: {e}")))?;
        let (key, key_label) = match key {
            PrivateKeyDer::Pkcs8(k) => (k.secret_pkcs8_der().to_vec(), "PRIVATE KEY"),
            PrivateKeyDer::Pkcs1(k) => (k.secret_pkcs1_der().to_vec(), "RSA PRIVATE KEY"),
            PrivateKeyDer::Sec1(k) => (k.secret_sec1_der().to_vec(), "EC PRIVATE KEY"),
            _ => {
                return Err(Error::Identity(
                    "formato de chave privada não suportado".to_owned(),
                ))
            }
        };
        Ok(Identity {
            chain,
            key,
            key_label,
        })
    }

    /// Certificate chain and an `ENCRYPTED PRIVATE KEY` (PKCS#8, PBES2) from one PEM text.
    ///
    /// # Errors
    /// [`Error::Identity`] when the key is missing, or the password is wrong.
    pub fn from_encrypted_pem(pem: &[u8], password: &str) -> Result<Self, Error> {
        let chain = certificates(pem)?;
        let text =
            std::str::from_utf8(pem).map_err(|_| Error::Identity("PEM não é texto".to_owned()))?;
        let begin = format!("-----BEGIN {}-----", EncryptedPrivateKeyInfoRef::PEM_LABEL);
        let start = text
            .find(&begin)
            .ok_or_else(|| Error::Identity("PEM sem ENCRYPTED PRIVATE KEY".to_owned()))?;
        let (_, document) = pkcs8::der::Document::from_pem(&text[start..])
            .map_err(|e| Error::Identity(format!("chave cifrada ilegível: {e}")))?;
        let encrypted = EncryptedPrivateKeyInfoRef::try_from(document.as_bytes())
            .map_err(|e| Error::Identity(format!("chave cifrada ilegível: {e}")))?;
        let key = encrypted
            .decrypt(password)
            .map_err(|_| Error::Identity("senha do certificado incorreta".to_owned()))?;
        Ok(Identity {
            chain,
            key: key.as_bytes().to_vec(),
            key_label: "PRIVATE KEY",
        })
    }

    /// Key and chain from a PKCS#12 (`.p12`/`.pfx`).
    ///
    /// # Errors
    /// [`Error::Identity`] when the file does not open with the password or holds no key.
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Self, Error> {
        let store = KeyStore::from_pkcs12(der, password, Pkcs12ImportPolicy::Relaxed)
            .map_err(|e| Error::Identity(format!("PKCS#12: {e}")))?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or_else(|| Error::Identity("PKCS#12 sem chave privada".to_owned()))?;
        let certs = chain
            .certs()
            .iter()
            .map(|c| CertificateDer::from(c.as_der().to_vec()))
            .collect::<Vec<_>>();
        if certs.is_empty() {
            return Err(Error::Identity("PKCS#12 sem certificado".to_owned()));
        }
        Ok(Identity {
            chain: certs,
            key: chain.key().as_der().to_vec(),
            key_label: "PRIVATE KEY",
        })
    }

    /// The leaf certificate (DER).
    #[must_use]
    pub fn certificate_der(&self) -> &[u8] {
        self.chain.first().map_or(&[], |c| c.as_ref())
    }

    /// The private key (DER), for signing receipts.
    #[must_use]
    pub fn key_der(&self) -> &[u8] {
        &self.key
    }

    /// The signer of recibos de conclusão: the SPE signs with its mTLS key.
    ///
    /// # Errors
    /// When the key is not RSA.
    pub fn receipt_signer(&self) -> Result<pen_protocol::receipt::ReceiptSigner, Error> {
        pen_protocol::receipt::ReceiptSigner::from_der(&self.key).map_err(Error::Receipt)
    }

    /// Certificate chain followed by the key, as one PEM (what reqwest's rustls backend takes).
    #[must_use]
    pub fn to_pem(&self) -> String {
        let mut out: String = self
            .chain
            .iter()
            .map(|c| pem_block("CERTIFICATE", c.as_ref()))
            .collect();
        out.push_str(&pem_block(self.key_label, &self.key));
        out
    }
}

fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Identity(format!("certificado: {e}")))?;
    if chain.is_empty() {
        return Err(Error::Identity("nenhum certificado no PEM".to_owned()));
    }
    Ok(chain)
}
