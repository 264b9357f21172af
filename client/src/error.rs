//! What can go wrong talking to the platform, told apart the way an integrator needs: the TLS
//! layer (certificate, CA, handshake), the transport (connection, timeout), the platform's own
//! answer (`{codigoErro, mensagem, parametro}`), or a body that is not what the protocol says.

use std::error::Error as StdError;
use std::fmt::Write as _;

use pen_protocol::error::ErrorBody;
use thiserror::Error;

/// An error of the reference client.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The client identity could not be loaded.
    #[error("identidade do cliente: {0}")]
    Identity(String),
    /// The configuration (URL, CA) is not usable.
    #[error("configuração do cliente: {0}")]
    Config(String),
    /// The TLS layer refused: unknown CA, certificate refused by the server, handshake failure.
    #[error("falha de TLS: {message}")]
    Tls {
        message: String,
        source: reqwest::Error,
    },
    /// Connection refused or reset, timeout, or another transport failure.
    #[error("falha de transporte: {message}")]
    Transport {
        message: String,
        source: reqwest::Error,
    },
    /// The platform answered with its error body.
    #[error("o barramento respondeu {status}: {body}")]
    Platform { status: u16, body: ErrorBody },
    /// A non-2xx answer without a platform error body.
    #[error("resposta inesperada {status}: {text}")]
    UnexpectedStatus { status: u16, text: String },
    /// A 2xx answer whose body is not what the protocol says.
    #[error("resposta ilegível de {what}: {detail}")]
    Decode { what: String, detail: String },
    /// A receipt could not be built, signed or verified.
    #[error(transparent)]
    Receipt(#[from] pen_protocol::receipt::ReceiptError),
    /// Local file I/O (components read from or written to disk).
    #[error("arquivo local: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The platform's error body, when the platform answered with one.
    #[must_use]
    pub fn rejection(&self) -> Option<&ErrorBody> {
        match self {
            Error::Platform { body, .. } => Some(body),
            _ => None,
        }
    }

    /// The HTTP status of an answer, when there was one.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Platform { status, .. } | Error::UnexpectedStatus { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    #[must_use]
    pub fn is_tls(&self) -> bool {
        matches!(self, Error::Tls { .. })
    }

    #[must_use]
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Transport { source, .. } | Error::Tls { source, .. } => source.is_timeout(),
            _ => false,
        }
    }

    /// Sorts a reqwest error into TLS or transport, with the whole source chain in the message
    /// (reqwest's own `Display` prints only the outermost layer).
    pub(crate) fn from_reqwest(source: reqwest::Error) -> Self {
        let message = chain(&source);
        let mut tls = false;
        let mut next: Option<&(dyn StdError + 'static)> = Some(&source);
        while let Some(e) = next {
            tls |= e.downcast_ref::<rustls::Error>().is_some()
                || e.downcast_ref::<std::io::Error>()
                    .and_then(|io| io.get_ref())
                    .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
            next = e.source();
        }
        if tls {
            Error::Tls { message, source }
        } else {
            Error::Transport { message, source }
        }
    }
}

/// `outer → cause → root cause`.
#[must_use]
pub fn chain(error: &dyn StdError) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            let _ = write!(out, " → {text}");
        }
        next = cause.source();
    }
    out
}
