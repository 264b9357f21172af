//! Component bytes on disk, content-addressed, never whole in memory.
//!
//! Uploads stream into a staging file while they are hashed; an accepted component is renamed to
//! `blobs/<hex sha-256>`. Chunked uploads write each part at its offset into one staging file per
//! (ticket, hash). Downloads stream a byte range as base64 text in 3-byte-aligned chunks, so the
//! concatenation of the chunks is the base64 of the range.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use pen_protocol::hash::{ComponentHash, ComponentHasher};
use pen_protocol::ids::Ticket;
use pen_protocol::ranges::PartRange;
use thiserror::Error;
use tokio::fs::{self, File, OpenOptions};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};

/// Read size of downloads: a multiple of 3 so that every chunk but the last encodes to base64
/// without padding.
const DOWNLOAD_CHUNK: usize = 3 * 16 * 1024;

/// What can go wrong while moving component bytes.
#[derive(Debug, Error)]
pub enum BlobError {
    #[error("armazenamento de componentes: {0}")]
    Io(#[from] std::io::Error),
    #[error("o conteúdo excede o limite de {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("falha ao ler o corpo da requisição: {0}")]
    Body(String),
}

/// Bytes written to a staging file, with their hash and length.
#[derive(Debug)]
pub struct Staged {
    path: PathBuf,
    pub hash: ComponentHash,
    pub len: u64,
}

/// The component store.
#[derive(Debug)]
pub struct BlobStore {
    root: PathBuf,
    /// Keeps a temporary root alive (and removes it) for the store's lifetime.
    _temporary: Option<tempfile::TempDir>,
    next_staging: AtomicU64,
}

impl BlobStore {
    /// A store in a fresh temporary folder, removed when the store is dropped.
    ///
    /// # Errors
    /// When the folder cannot be created.
    pub fn temporary() -> std::io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("pen-simulator-")
            .tempdir()?;
        let mut store = BlobStore::open(dir.path())?;
        store._temporary = Some(dir);
        Ok(store)
    }

    /// A store in a folder that outlives the process.
    ///
    /// # Errors
    /// When the folders cannot be created.
    pub fn open(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root.join("blobs"))?;
        std::fs::create_dir_all(root.join("staging"))?;
        Ok(BlobStore {
            root: root.to_path_buf(),
            _temporary: None,
            next_staging: AtomicU64::new(0),
        })
    }

    fn blob_path(&self, hash: &ComponentHash) -> PathBuf {
        let hex: String = hash.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        self.root.join("blobs").join(hex)
    }

    fn staging_path(&self) -> PathBuf {
        let n = self.next_staging.fetch_add(1, Ordering::Relaxed);
        self.root.join("staging").join(format!("upload-{n}"))
    }

    fn parts_path(&self, ticket: Ticket, hash: &ComponentHash) -> PathBuf {
        let hex: String = hash.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        self.root
            .join("staging")
            .join(format!("parts-{ticket}-{hex}"))
    }

    /// Whether the platform holds these bytes.
    #[must_use]
    pub fn contains(&self, hash: &ComponentHash) -> bool {
        self.blob_path(hash).is_file()
    }

    /// Writes a body stream to a staging file, hashing it, refusing more than `limit` bytes.
    ///
    /// # Errors
    /// Body errors, I/O errors, and [`BlobError::TooLarge`].
    pub async fn stage<S, E>(&self, mut body: S, limit: u64) -> Result<Staged, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let path = self.staging_path();
        let mut file = File::create(&path).await?;
        let mut hasher = ComponentHasher::new();
        let outcome = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| BlobError::Body(e.to_string()))?;
                if hasher.len() + chunk.len() as u64 > limit {
                    return Err(BlobError::TooLarge { limit });
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
            Ok(())
        }
        .await;
        drop(file);
        if let Err(e) = outcome {
            let _ = fs::remove_file(&path).await;
            return Err(e);
        }
        let len = hasher.len();
        Ok(Staged {
            path,
            hash: hasher.finish(),
            len,
        })
    }

    /// Keeps staged bytes as the component they hash to.
    ///
    /// # Errors
    /// I/O errors.
    pub async fn commit(&self, staged: Staged) -> Result<(), BlobError> {
        fs::rename(&staged.path, self.blob_path(&staged.hash)).await?;
        Ok(())
    }

    /// Throws staged bytes away.
    pub async fn discard(&self, staged: Staged) {
        let _ = fs::remove_file(&staged.path).await;
    }

    /// Copies a staged part into the (ticket, hash) assembly file at its offset.
    ///
    /// # Errors
    /// I/O errors.
    pub async fn place_part(
        &self,
        ticket: Ticket,
        hash: &ComponentHash,
        range: PartRange,
        staged: Staged,
    ) -> Result<(), BlobError> {
        let target = self.parts_path(ticket, hash);
        let result = async {
            let mut out = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(false)
                .open(&target)
                .await?;
            out.seek(SeekFrom::Start(range.inicio)).await?;
            let mut input = File::open(&staged.path).await?;
            tokio::io::copy(&mut input, &mut out).await?;
            out.flush().await?;
            Ok::<_, BlobError>(())
        }
        .await;
        self.discard(staged).await;
        result
    }

    /// Hashes an assembled chunked upload (its first `size` bytes).
    ///
    /// # Errors
    /// I/O errors (a missing file means no part arrived).
    pub async fn assembled(
        &self,
        ticket: Ticket,
        hash: &ComponentHash,
        size: u64,
    ) -> Result<Staged, BlobError> {
        let path = self.parts_path(ticket, hash);
        if !fs::try_exists(&path).await? {
            // A zero-byte component has no parts to write; create it empty.
            File::create(&path).await?;
        }
        let file = File::open(&path).await?;
        let mut reader = file.take(size);
        let mut hasher = ComponentHasher::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buffer).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        let len = hasher.len();
        Ok(Staged {
            path,
            hash: hasher.finish(),
            len,
        })
    }

    /// A byte range of a component as a stream of base64 text chunks.
    ///
    /// # Errors
    /// When the component is not stored (purged, or never uploaded).
    pub async fn base64_range(
        &self,
        hash: &ComponentHash,
        range: PartRange,
    ) -> Result<impl Stream<Item = std::io::Result<Bytes>> + Send + 'static, BlobError> {
        let mut file = File::open(self.blob_path(hash)).await?;
        file.seek(SeekFrom::Start(range.inicio)).await?;
        let reader = file.take(range.len());
        Ok(futures_util::stream::try_unfold(
            reader,
            |mut reader| async move {
                let mut buffer = vec![0u8; DOWNLOAD_CHUNK];
                let mut filled = 0;
                while filled < buffer.len() {
                    let n = reader.read(&mut buffer[filled..]).await?;
                    if n == 0 {
                        break;
                    }
                    filled += n;
                }
                if filled == 0 {
                    return Ok(None);
                }
                Ok(Some((
                    Bytes::from(STANDARD.encode(&buffer[..filled])),
                    reader,
                )))
            },
        ))
    }
}
