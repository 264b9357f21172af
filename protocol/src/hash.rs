//! Component hashes: standard base64 (padded, 44 characters) of the SHA-256 of the exact bytes.
//!
//! [`ComponentHasher`] is incremental so that a component of any size is hashed while it streams,
//! never held whole in memory.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use aws_lc_rs::digest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use thiserror::Error;

/// The algorithm name the schema puts next to a component hash.
pub const ALGORITMO: &str = "SHA256";

/// A SHA-256 digest of a component.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentHash([u8; 32]);

/// A text that is not base64 of 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("hash de componente digital inválido (esperado base64 de 32 bytes): {0:?}")]
pub struct HashError(pub String);

impl ComponentHash {
    #[must_use]
    pub fn from_digest(bytes: [u8; 32]) -> Self {
        ComponentHash(bytes)
    }

    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The wire form.
    #[must_use]
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Reads the wire form.
    ///
    /// # Errors
    /// [`HashError`] unless the text is standard base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, HashError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| HashError(text.to_owned()))?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map(ComponentHash)
            .map_err(|_| HashError(text.to_owned()))
    }
}

impl fmt::Display for ComponentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for ComponentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ComponentHash({})", self.to_base64())
    }
}

impl FromStr for ComponentHash {
    type Err = HashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ComponentHash::from_base64(s)
    }
}

/// Incremental SHA-256 that also counts the bytes it saw.
#[derive(Clone)]
pub struct ComponentHasher {
    context: digest::Context,
    len: u64,
}

impl fmt::Debug for ComponentHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComponentHasher")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Default for ComponentHasher {
    fn default() -> Self {
        ComponentHasher::new()
    }
}

impl ComponentHasher {
    #[must_use]
    pub fn new() -> Self {
        ComponentHasher {
            context: digest::Context::new(&digest::SHA256),
            len: 0,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.context.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Bytes hashed so far.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[must_use]
    pub fn finish(self) -> ComponentHash {
        let digest = self.context.finish();
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        ComponentHash(out)
    }
}

/// Hash of a byte slice.
#[must_use]
pub fn hash_bytes(bytes: &[u8]) -> ComponentHash {
    let mut hasher = ComponentHasher::new();
    hasher.update(bytes);
    hasher.finish()
}

/// Hash and length of everything a reader yields, in 64 KiB steps.
///
/// # Errors
/// Any error of the reader.
pub fn hash_reader(mut reader: impl Read) -> io::Result<(ComponentHash, u64)> {
    let mut hasher = ComponentHasher::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buffer[..n]);
    }
    let len = hasher.len();
    Ok((hasher.finish(), len))
}
