//! Component bytes on disk, content-addressed, never whole in memory.
//!
//! Uploads stream into a staging file while they are hashed; an accepted component is renamed to
//! `blobs/<hex sha-256>`. Chunked uploads write each part at its offset into one staging file per
//! (ticket, hash). Downloads stream a byte range as base64 text in 3-byte-aligned chunks, so the
//! concatenation of the chunks is the base64 of the range.
//!
//! Bytes become readable ([`BlobStore::commit`]) *before* the platform is told about them, so
//! that nothing the feed shows can be missing here; the [`Committed`] guard then either keeps
//! them or, when the platform refused after all, removes what this upload added and no one else
//! holds. A [`Staged`] upload that is never committed removes itself when dropped.
//!
//! A component file is complete before it is renamed into `blobs/`, so a process killed at any
//! moment leaves either the whole file or none; a store opened to survive power cuts
//! ([`BlobStore::open_synced`]) also flushes each file and its folder before the platform hears
//! of it. The parts of a chunked upload the platform gave up on (cancelled, cancelled
//! automatically, reset) are removed through the [`PartsJanitor`], and whatever a stopped
//! process left in `staging/` is swept when the store is opened again
//! ([`BlobStore::sweep_staging`]).

use std::collections::HashMap;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

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

/// Bytes written to a staging file, with their hash and length. Dropped without
/// [`BlobStore::commit`], an upload's staging file is removed; an assembled chunked upload's
/// file stays, because its parts are the platform's record of that upload and may be corrected
/// and signalled again.
#[derive(Debug)]
pub struct Staged {
    path: PathBuf,
    pub hash: ComponentHash,
    pub len: u64,
    /// Whether dropping this removes the file; false once committed, and for assembled parts.
    owned: bool,
}

impl Staged {
    fn upload(path: PathBuf, hash: ComponentHash, len: u64) -> Self {
        Staged {
            path,
            hash,
            len,
            owned: true,
        }
    }
}

impl Staged {
    /// Removes the file off the runtime's threads (a large file can take a while to unlink).
    async fn remove(mut self) {
        if std::mem::take(&mut self.owned) {
            let _ = fs::remove_file(&self.path).await;
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.owned {
            // Only on the paths that give up on an upload; Drop cannot await.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A file being written that is not a [`Staged`] yet.
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Uploads of one hash between [`BlobStore::commit`] and the platform's answer.
#[derive(Debug)]
struct Pin {
    count: usize,
    /// The file did not exist when the first of these uploads committed: removing it when all
    /// of them are refused takes away only what they added.
    fresh: bool,
}

/// Bytes made readable by [`BlobStore::commit`], waiting for the platform's decision. Dropped
/// without a decision (a cancelled request), the bytes stay: a file too many is harmless, a file
/// too few is what this guard exists to prevent.
#[derive(Debug)]
#[must_use = "tell the store whether the platform kept the component"]
pub struct Committed<'a> {
    store: &'a BlobStore,
    hash: ComponentHash,
    decided: bool,
}

impl Committed<'_> {
    /// The platform accepted the component: the bytes are its from now on.
    pub fn keep(mut self) {
        self.decided = true;
        self.store.unpin(&self.hash, None);
    }

    /// The platform refused the component. Removes the file when this was the last upload of
    /// the hash in flight, the file was added by these uploads, and `still_held` (asked with no
    /// other commit of the hash able to start) says no trâmite holds the hash.
    pub fn abandon(mut self, still_held: impl FnOnce() -> bool) {
        self.decided = true;
        self.store.unpin(&self.hash, Some(Box::new(still_held)));
    }
}

impl Drop for Committed<'_> {
    fn drop(&mut self) {
        if !self.decided {
            self.store.unpin(&self.hash, None);
        }
    }
}

/// Where commits wait while a test holds them ([`BlobStore::hold_commits`]).
#[derive(Debug, Clone, Copy, Default)]
struct Gate {
    held: bool,
    waiting: usize,
}

/// Holds every commit before its bytes become readable, until released or dropped: the moment
/// between "staged and hashed" and "readable" made observable, for tests of what a fast reader
/// sees in between.
#[derive(Debug)]
pub struct CommitHold {
    gate: tokio::sync::watch::Sender<Gate>,
}

impl CommitHold {
    /// Resolves once `commits` commits are waiting at the hold.
    pub async fn reached(&self, commits: usize) {
        let mut gate = self.gate.subscribe();
        // The hold owns a sender, so the channel cannot close while this waits.
        let _ = gate.wait_for(|g| g.waiting >= commits).await;
    }

    /// Lets the held commits (and any later one) through.
    pub fn release(self) {}
}

impl Drop for CommitHold {
    fn drop(&mut self) {
        self.gate.send_modify(|g| g.held = false);
    }
}

/// The component store.
#[derive(Debug)]
pub struct BlobStore {
    root: PathBuf,
    /// Flush every file and its folder before the platform is told of it.
    synced: bool,
    /// Keeps a temporary root alive (and removes it) for the store's lifetime.
    _temporary: Option<tempfile::TempDir>,
    next_staging: AtomicU64,
    pins: Mutex<HashMap<ComponentHash, Pin>>,
    gate: tokio::sync::watch::Sender<Gate>,
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
        BlobStore::open_with(root, false)
    }

    /// A store in a folder that outlives the process and the machine: every component file,
    /// every part and their folders are flushed to the disk before the platform is told of
    /// them.
    ///
    /// # Errors
    /// When the folders cannot be created.
    pub fn open_synced(root: &Path) -> std::io::Result<Self> {
        BlobStore::open_with(root, true)
    }

    fn open_with(root: &Path, synced: bool) -> std::io::Result<Self> {
        std::fs::create_dir_all(root.join("blobs"))?;
        std::fs::create_dir_all(root.join("staging"))?;
        Ok(BlobStore {
            root: root.to_path_buf(),
            synced,
            _temporary: None,
            next_staging: AtomicU64::new(0),
            pins: Mutex::new(HashMap::new()),
            gate: tokio::sync::watch::channel(Gate::default()).0,
        })
    }

    fn blob_path(&self, hash: &ComponentHash) -> PathBuf {
        self.root.join("blobs").join(hex(hash))
    }

    fn staging_path(&self) -> PathBuf {
        let n = self.next_staging.fetch_add(1, Ordering::Relaxed);
        self.root.join("staging").join(format!("upload-{n}"))
    }

    fn parts_path(&self, ticket: Ticket, hash: &ComponentHash) -> PathBuf {
        self.root.join("staging").join(parts_name(ticket, hash))
    }

    /// What removes the assembly files of chunked uploads the platform gave up on.
    #[must_use]
    pub fn janitor(&self) -> PartsJanitor {
        PartsJanitor {
            staging: self.root.join("staging"),
        }
    }

    /// Removes what a stopped process left in `staging/`: whole uploads that were streaming
    /// (their requests died with it) and the assembly files of chunked uploads for which
    /// `live` (ticket, hash) is false. Called at start-up, before anything is served.
    ///
    /// # Errors
    /// When the folder cannot be read.
    pub fn sweep_staging(
        &self,
        live: impl Fn(Ticket, &ComponentHash) -> bool,
    ) -> std::io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(self.root.join("staging"))? {
            let entry = entry?;
            let name = entry.file_name();
            let keep = name
                .to_str()
                .and_then(parse_parts_name)
                .is_some_and(|(ticket, hash)| live(ticket, &hash));
            if !keep && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
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
        // Removed unless it becomes a `Staged`: an upload abandoned mid-stream (its request
        // dropped, its body failed or too large) leaves no file behind.
        let mut writing = RemoveOnDrop(Some(path));
        let mut hasher = ComponentHasher::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| BlobError::Body(e.to_string()))?;
            if hasher.len() + chunk.len() as u64 > limit {
                return Err(BlobError::TooLarge { limit });
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        let path = writing.0.take().unwrap_or_default();
        let len = hasher.len();
        Ok(Staged::upload(path, hasher.finish(), len))
    }

    /// Makes staged bytes readable as the component they hash to, before anyone is told about
    /// them; the guard carries the platform's decision back ([`Committed::keep`] or
    /// [`Committed::abandon`]). Bytes already stored under that hash (another trâmite's) are
    /// left as they are and the staged copy is dropped.
    ///
    /// # Errors
    /// I/O errors (the staged bytes are then removed, unless they are assembled parts).
    pub async fn commit(&self, mut staged: Staged) -> Result<Committed<'_>, BlobError> {
        let hash = staged.hash;
        let target = self.blob_path(&hash);
        {
            let mut pins = self.pins.lock().unwrap_or_else(PoisonError::into_inner);
            let pin = pins.entry(hash).or_insert(Pin {
                count: 0,
                fresh: false,
            });
            if pin.count == 0 {
                pin.fresh = !target.is_file();
            }
            pin.count += 1;
        }
        // From here on the pin is the guard's: every exit below goes through its Drop.
        let committed = Committed {
            store: self,
            hash,
            decided: false,
        };
        self.wait_at_gate().await;
        if fs::try_exists(&target).await? {
            staged.owned = true;
            staged.remove().await;
        } else {
            if self.synced {
                File::open(&staged.path).await?.sync_all().await?;
            }
            fs::rename(&staged.path, &target).await?;
            staged.owned = false;
            if self.synced {
                sync_folder(self.root.join("blobs")).await?;
            }
        }
        Ok(committed)
    }

    fn unpin(&self, hash: &ComponentHash, refused: Option<Box<dyn FnOnce() -> bool + '_>>) {
        let mut pins = self.pins.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(pin) = pins.get_mut(hash) else {
            return;
        };
        pin.count -= 1;
        if pin.count > 0 {
            return;
        }
        let fresh = pin.fresh;
        pins.remove(hash);
        if let Some(still_held) = refused {
            // Decided under the lock: a commit of the same hash cannot start between the look
            // and the removal, and none is in flight (the count is zero), so `still_held` sees
            // every trâmite that could hold these bytes.
            if fresh && !still_held() {
                let _ = std::fs::remove_file(self.blob_path(hash));
            }
        }
    }

    /// Holds every commit before its bytes become readable until the returned hold is released
    /// (for tests).
    pub fn hold_commits(&self) -> CommitHold {
        self.gate.send_modify(|g| g.held = true);
        CommitHold {
            gate: self.gate.clone(),
        }
    }

    async fn wait_at_gate(&self) {
        struct Waiting<'a>(&'a tokio::sync::watch::Sender<Gate>);
        impl Drop for Waiting<'_> {
            // Also when the request is dropped while it waits.
            fn drop(&mut self) {
                self.0.send_modify(|g| g.waiting -= 1);
            }
        }
        let mut gate = self.gate.subscribe();
        if !gate.borrow_and_update().held {
            return;
        }
        self.gate.send_modify(|g| g.waiting += 1);
        let _waiting = Waiting(&self.gate);
        let _ = gate.wait_for(|g| !g.held).await;
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
            if self.synced {
                out.sync_data().await?;
                sync_folder(self.root.join("staging")).await?;
            }
            Ok::<_, BlobError>(())
        }
        .await;
        staged.remove().await;
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
            owned: false,
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

/// Flushes a folder's entries (a rename or a new file in it) to the disk.
async fn sync_folder(folder: PathBuf) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || std::fs::File::open(folder)?.sync_all())
        .await
        .map_err(std::io::Error::other)?
}

fn hex(hash: &ComponentHash) -> String {
    hash.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// `parts-<ticket>-<hex sha-256>`: the assembly file of a chunked upload.
fn parts_name(ticket: Ticket, hash: &ComponentHash) -> String {
    format!("parts-{ticket}-{}", hex(hash))
}

/// The ticket and hash of an assembly file's name; `None` for any other name.
fn parse_parts_name(name: &str) -> Option<(Ticket, ComponentHash)> {
    let (ticket, hex) = name.strip_prefix("parts-")?.split_once('-')?;
    if ticket.is_empty() || !ticket.bytes().all(|b| b.is_ascii_digit()) || hex.len() != 64 {
        return None;
    }
    let ticket = Ticket(ticket.parse().ok()?);
    let mut digest = [0u8; 32];
    for (i, byte) in digest.iter_mut().enumerate() {
        let pair = hex.get(2 * i..2 * i + 2)?;
        if !pair.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some((ticket, ComponentHash::from_digest(digest)))
}

/// Removes the assembly files of chunked uploads: cheap to clone, usable from the platform
/// after a critical section that gave up on an upload.
#[derive(Debug, Clone)]
pub struct PartsJanitor {
    staging: PathBuf,
}

impl PartsJanitor {
    /// Removes the assembly file of (ticket, base64 hash), if any.
    pub fn discard(&self, ticket: Ticket, hash: &str) {
        if let Ok(hash) = ComponentHash::from_base64(hash) {
            let _ = std::fs::remove_file(self.staging.join(parts_name(ticket, &hash)));
        }
    }

    /// Removes every assembly file (a control-plane reset).
    pub fn discard_all(&self) {
        let Ok(entries) = std::fs::read_dir(&self.staging) else {
            return;
        };
        for entry in entries.flatten() {
            let is_parts = entry
                .file_name()
                .to_str()
                .is_some_and(|n| parse_parts_name(n).is_some());
            if is_parts {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pen_protocol::hash::hash_bytes;

    async fn staged(store: &BlobStore, bytes: &'static [u8]) -> Staged {
        let body = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
            Bytes::from_static(bytes),
        )]);
        store.stage(body, u64::MAX).await.unwrap()
    }

    fn staging_is_empty(store: &BlobStore) -> bool {
        std::fs::read_dir(store.root.join("staging"))
            .unwrap()
            .next()
            .is_none()
    }

    #[tokio::test]
    async fn staged_bytes_never_committed_leave_nothing() {
        let store = BlobStore::temporary().unwrap();
        drop(staged(&store, b"dropped").await);
        let failing =
            futures_util::stream::iter([Ok(Bytes::from_static(b"half")), Err("peer went away")]);
        assert!(store.stage(failing, u64::MAX).await.is_err());
        let large = futures_util::stream::iter([Ok::<_, &str>(Bytes::from_static(b"12345"))]);
        assert!(matches!(
            store.stage(large, 4).await,
            Err(BlobError::TooLarge { limit: 4 })
        ));
        assert!(staging_is_empty(&store));
    }

    #[tokio::test]
    async fn committed_bytes_are_readable_before_the_decision() {
        let store = BlobStore::temporary().unwrap();
        let committed = store.commit(staged(&store, b"abc").await).await.unwrap();
        assert!(store.contains(&hash_bytes(b"abc")));
        committed.keep();
        assert!(store.contains(&hash_bytes(b"abc")));
        assert!(staging_is_empty(&store));
    }

    #[tokio::test]
    async fn a_refusal_removes_only_what_it_added() {
        let store = BlobStore::temporary().unwrap();
        let hash = hash_bytes(b"abc");
        store
            .commit(staged(&store, b"abc").await)
            .await
            .unwrap()
            .abandon(|| false);
        assert!(!store.contains(&hash), "added by the refused upload");

        store
            .commit(staged(&store, b"abc").await)
            .await
            .unwrap()
            .keep();
        store
            .commit(staged(&store, b"abc").await)
            .await
            .unwrap()
            .abandon(|| false);
        assert!(store.contains(&hash), "there before the refused upload");
        assert!(staging_is_empty(&store));
    }

    #[tokio::test]
    async fn a_refusal_leaves_bytes_another_upload_of_the_hash_is_committing() {
        let store = BlobStore::temporary().unwrap();
        let hash = hash_bytes(b"abc");
        let refused = store.commit(staged(&store, b"abc").await).await.unwrap();
        let accepted = store.commit(staged(&store, b"abc").await).await.unwrap();
        refused.abandon(|| false);
        assert!(store.contains(&hash));
        accepted.keep();
        assert!(store.contains(&hash));

        // Both refused: the last one out removes the file, unless a trâmite holds it.
        let first = store.commit(staged(&store, b"xyz").await).await.unwrap();
        let second = store.commit(staged(&store, b"xyz").await).await.unwrap();
        first.abandon(|| false);
        second.abandon(|| true);
        assert!(store.contains(&hash_bytes(b"xyz")), "a trâmite holds it");
        let third = store.commit(staged(&store, b"123").await).await.unwrap();
        let fourth = store.commit(staged(&store, b"123").await).await.unwrap();
        third.abandon(|| false);
        fourth.abandon(|| false);
        assert!(!store.contains(&hash_bytes(b"123")));
    }

    #[tokio::test]
    async fn a_held_commit_is_not_readable_until_released() {
        let store = std::sync::Arc::new(BlobStore::temporary().unwrap());
        let hold = store.hold_commits();
        let committing = tokio::spawn({
            let store = store.clone();
            async move {
                let staged = staged(&store, b"held").await;
                store.commit(staged).await.map(Committed::keep)
            }
        });
        hold.reached(1).await;
        assert!(!store.contains(&hash_bytes(b"held")));
        hold.release();
        committing.await.unwrap().unwrap();
        assert!(store.contains(&hash_bytes(b"held")));
    }
}
