//! Signed receipts (`model-receipts-soap.md` §3): the canonical text and its RSA signature.
//!
//! The signed bytes are the XML text of `<recibo>` (recipient's recibo de conclusão) or
//! `<reciboDeEnvio>` (platform's recibo de envio) with no whitespace between tags, no XML
//! declaration and no namespaces; elements in schema order (IDT, NRE, date, hashes); one
//! `<hashDoComponenteDigital>` per hash, sorted byte-wise ascending (`+` < `/` < digits < `=` <
//! upper < lower case). The signature is RSASSA-PKCS1-v1_5 with SHA-256 over the UTF-8 bytes,
//! base64 encoded, and travels as `hashDaAssinatura`.
//!
//! Only the date and the signature travel with `POST …/recibo`: the verifier rebuilds the text
//! from its own IDT, NRE and hash list, so the text must be reproducible to the byte.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair, UnparsedPublicKey};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::PrivateKeyDer;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::datetime;
use crate::ids::{Idt, Nre};

/// What can go wrong building, parsing, signing or verifying a receipt.
#[derive(Debug, Error)]
pub enum ReceiptError {
    #[error("texto de recibo inválido: {0}")]
    Text(String),
    #[error("chave privada inválida: {0}")]
    Key(String),
    #[error("certificado inválido: {0}")]
    Certificate(String),
    #[error("a assinatura não está em base64")]
    SignatureEncoding,
    #[error("assinatura do recibo não confere com o certificado do signatário")]
    BadSignature,
    #[error("falha ao assinar o recibo")]
    Signing,
    #[error(transparent)]
    Date(#[from] datetime::DateError),
}

/// Sorts hashes the way the text requires (byte-wise, ascending) and drops empty ones.
#[must_use]
pub fn sorted_hashes<S: AsRef<str>>(hashes: &[S]) -> Vec<String> {
    let mut out: Vec<String> = hashes
        .iter()
        .map(|h| h.as_ref().to_owned())
        .filter(|h| !h.is_empty())
        .collect();
    out.sort_unstable();
    out
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "recibo")]
struct ReciboXml {
    #[serde(rename = "IDT")]
    idt: u64,
    #[serde(rename = "NRE")]
    nre: String,
    #[serde(rename = "dataDeRecebimento")]
    data: String,
    #[serde(rename = "hashDoComponenteDigital", default)]
    hashes: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "reciboDeEnvio")]
struct ReciboDeEnvioXml {
    #[serde(rename = "IDT")]
    idt: u64,
    #[serde(rename = "NRE")]
    nre: String,
    #[serde(
        rename = "dataDeRecebimentoDoUltimoComponenteDigital",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    data: Option<String>,
    #[serde(rename = "hashDoComponenteDigital", default)]
    hashes: Vec<String>,
}

fn to_xml<T: Serialize>(value: &T) -> String {
    // Serialising plain strings and integers into a String cannot fail; an empty text would
    // only make every signature check fail, never pass one.
    quick_xml::se::to_string(value).unwrap_or_default()
}

/// The recibo de conclusão do trâmite, signed by the recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReciboDeConclusao {
    pub idt: Idt,
    pub nre: Nre,
    /// Exactly the string the recipient posts as `dataDeRecebimento`.
    pub data_de_recebimento: String,
    /// The components transferred in this trâmite (any order; the text sorts them).
    pub hashes: Vec<String>,
}

impl ReciboDeConclusao {
    /// The exact bytes that are signed.
    #[must_use]
    pub fn canonical_text(&self) -> String {
        to_xml(&ReciboXml {
            idt: self.idt.0,
            nre: self.nre.to_string(),
            data: self.data_de_recebimento.clone(),
            hashes: sorted_hashes(&self.hashes),
        })
    }

    /// The same receipt with the date re-rendered as UTC `YYYY-MM-DDTHH:MM:SS.mmmZ`, the form
    /// the real platform is believed to rebuild (strict verification).
    ///
    /// # Errors
    /// When the date is in no accepted format.
    pub fn with_canonical_date(&self) -> Result<Self, ReceiptError> {
        let instant = datetime::parse(&self.data_de_recebimento)?;
        Ok(ReciboDeConclusao {
            data_de_recebimento: datetime::format_receipt_date(instant),
            ..self.clone()
        })
    }

    /// Reads a receipt text back (hashes in the order written).
    ///
    /// # Errors
    /// [`ReceiptError::Text`] when the text is not a `<recibo>`.
    pub fn parse(text: &str) -> Result<Self, ReceiptError> {
        let xml: ReciboXml =
            quick_xml::de::from_str(text).map_err(|e| ReceiptError::Text(e.to_string()))?;
        Ok(ReciboDeConclusao {
            idt: Idt(xml.idt),
            nre: Nre::parse(&xml.nre).map_err(|e| ReceiptError::Text(e.to_string()))?,
            data_de_recebimento: xml.data,
            hashes: xml.hashes,
        })
    }

    /// Signs the canonical text.
    ///
    /// # Errors
    /// [`ReceiptError::Signing`] if the key cannot sign.
    pub fn sign(&self, signer: &ReceiptSigner) -> Result<String, ReceiptError> {
        signer.sign(&self.canonical_text())
    }

    /// Verifies a base64 signature over the canonical text with the signer's certificate.
    ///
    /// # Errors
    /// [`ReceiptError::BadSignature`] and friends.
    pub fn verify(
        &self,
        certificate_der: &[u8],
        signature_base64: &str,
    ) -> Result<(), ReceiptError> {
        verify(certificate_der, &self.canonical_text(), signature_base64)
    }
}

/// The recibo de envio, signed by the platform once every requested component arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReciboDeEnvioTexto {
    pub idt: Idt,
    pub nre: Nre,
    pub data_do_ultimo_componente: Option<String>,
    pub hashes: Vec<String>,
}

impl ReciboDeEnvioTexto {
    /// The exact bytes that are signed.
    #[must_use]
    pub fn canonical_text(&self) -> String {
        to_xml(&ReciboDeEnvioXml {
            idt: self.idt.0,
            nre: self.nre.to_string(),
            data: self.data_do_ultimo_componente.clone(),
            hashes: sorted_hashes(&self.hashes),
        })
    }

    /// Reads a receipt text back.
    ///
    /// # Errors
    /// [`ReceiptError::Text`] when the text is not a `<reciboDeEnvio>`.
    pub fn parse(text: &str) -> Result<Self, ReceiptError> {
        let xml: ReciboDeEnvioXml =
            quick_xml::de::from_str(text).map_err(|e| ReceiptError::Text(e.to_string()))?;
        Ok(ReciboDeEnvioTexto {
            idt: Idt(xml.idt),
            nre: Nre::parse(&xml.nre).map_err(|e| ReceiptError::Text(e.to_string()))?,
            data_do_ultimo_componente: xml.data,
            hashes: xml.hashes,
        })
    }
}

/// An RSA private key that signs receipts (the SPE's mTLS key, or the platform's own).
pub struct ReceiptSigner {
    key: RsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field("modulus_bits", &(self.key.public_modulus_len() * 8))
            .finish()
    }
}

impl ReceiptSigner {
    /// From a PKCS#8 or PKCS#1 DER RSA key.
    ///
    /// # Errors
    /// [`ReceiptError::Key`] unless it is an RSA key aws-lc-rs accepts.
    pub fn from_der(der: &[u8]) -> Result<Self, ReceiptError> {
        let key = RsaKeyPair::from_pkcs8(der)
            .or_else(|_| RsaKeyPair::from_der(der))
            .map_err(|e| ReceiptError::Key(e.to_string()))?;
        Ok(ReceiptSigner {
            key,
            rng: SystemRandom::new(),
        })
    }

    /// From the first private key of a PEM text (an identity PEM holds certificate and key).
    ///
    /// # Errors
    /// [`ReceiptError::Key`] when there is no usable unencrypted RSA key.
    pub fn from_pem(pem: &[u8]) -> Result<Self, ReceiptError> {
        let key =
            PrivateKeyDer::from_pem_slice(pem).map_err(|e| ReceiptError::Key(e.to_string()))?;
        ReceiptSigner::from_der(key.secret_der())
    }

    /// The public key (PKCS#1 `RSAPublicKey` DER).
    #[must_use]
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    /// RSASSA-PKCS1-v1_5 / SHA-256 over the UTF-8 bytes of `text`, base64.
    ///
    /// # Errors
    /// [`ReceiptError::Signing`] if aws-lc-rs refuses.
    pub fn sign(&self, text: &str) -> Result<String, ReceiptError> {
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &self.rng,
                text.as_bytes(),
                &mut signature,
            )
            .map_err(|_| ReceiptError::Signing)?;
        Ok(STANDARD.encode(signature))
    }
}

/// The RSA public key (PKCS#1 DER) inside a certificate.
///
/// # Errors
/// [`ReceiptError::Certificate`] when the DER is not an X.509 certificate.
pub fn public_key_of_certificate(certificate_der: &[u8]) -> Result<Vec<u8>, ReceiptError> {
    let (_, cert) = x509_parser::parse_x509_certificate(certificate_der)
        .map_err(|e| ReceiptError::Certificate(e.to_string()))?;
    Ok(cert.public_key().subject_public_key.data.to_vec())
}

/// Verifies a base64 RSA-PKCS1-SHA256 signature over `text` with the key in a certificate.
///
/// # Errors
/// [`ReceiptError::BadSignature`] when it does not verify; encoding and certificate errors.
pub fn verify(
    certificate_der: &[u8],
    text: &str,
    signature_base64: &str,
) -> Result<(), ReceiptError> {
    let public_key = public_key_of_certificate(certificate_der)?;
    verify_with_public_key(&public_key, text, signature_base64)
}

/// Verifies with a PKCS#1 `RSAPublicKey` DER directly.
///
/// # Errors
/// As [`verify`].
pub fn verify_with_public_key(
    public_key: &[u8],
    text: &str,
    signature_base64: &str,
) -> Result<(), ReceiptError> {
    let signature = STANDARD
        .decode(signature_base64.trim())
        .map_err(|_| ReceiptError::SignatureEncoding)?;
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public_key)
        .verify(text.as_bytes(), &signature)
        .map_err(|_| ReceiptError::BadSignature)
}

impl From<&crate::api::ReciboDeEnvio> for ReciboDeEnvioTexto {
    fn from(r: &crate::api::ReciboDeEnvio) -> Self {
        ReciboDeEnvioTexto {
            idt: r.idt,
            nre: r.nre.clone(),
            data_do_ultimo_componente: r.data_de_recebimento_do_ultimo_componente_digital.clone(),
            hashes: r.hashes_dos_componentes_digitais.clone(),
        }
    }
}

impl From<&crate::api::ReciboDeTramite> for ReciboDeConclusao {
    fn from(r: &crate::api::ReciboDeTramite) -> Self {
        ReciboDeConclusao {
            idt: r.idt,
            nre: r.nre.clone(),
            data_de_recebimento: r.data_de_recebimento.clone(),
            hashes: r.hashes_dos_componentes_digitais.clone(),
        }
    }
}

/// The base64 DER certificate a receipt travels with.
fn certificate_of(cadeia: &str) -> Result<Vec<u8>, ReceiptError> {
    STANDARD
        .decode(cadeia.trim())
        .map_err(|e| ReceiptError::Certificate(format!("cadeiaDoCertificado não é base64: {e}")))
}

impl crate::api::ConteudoDoReciboDeEnvio {
    /// Verifies the platform's signature with the certificate the receipt carries.
    ///
    /// # Errors
    /// [`ReceiptError::BadSignature`] and friends.
    pub fn verify(&self) -> Result<(), ReceiptError> {
        let texto = ReciboDeEnvioTexto::from(&self.recibo_de_envio);
        verify(
            &certificate_of(&self.cadeia_do_certificado)?,
            &texto.canonical_text(),
            &self.hash_da_assinatura,
        )
    }
}

impl crate::api::ConteudoDoReciboDeTramite {
    /// Verifies the recipient's signature with the certificate the receipt carries.
    ///
    /// # Errors
    /// [`ReceiptError::BadSignature`] and friends.
    pub fn verify(&self) -> Result<(), ReceiptError> {
        ReciboDeConclusao::from(&self.recibo).verify(
            &certificate_of(&self.cadeia_do_certificado)?,
            &self.hash_da_assinatura,
        )
    }
}
