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
        let tls = is_tls_failure(&source);
        if tls {
            Error::Tls { message, source }
        } else {
            Error::Transport { message, source }
        }
    }
}

/// Whether an error chain comes from the TLS layer. rustls errors arrive wrapped in
/// `io::Error`s (whose `source()` skips the wrapped error, so they are unwrapped by hand) or,
/// over HTTP/2, already turned into text by the h2 crate (`received fatal alert: …`), which only
/// the message still tells.
fn is_tls_failure(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if is_tls_failure(inner) {
                    return true;
                }
            }
            let text = io.to_string();
            if io.kind() == std::io::ErrorKind::InvalidData
                && (text.contains("fatal alert")
                    || text.contains("peer certificate")
                    || text.contains("handshake"))
            {
                return true;
            }
        }
        next = e.source();
    }
    false
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
