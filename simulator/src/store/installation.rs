//! Everything a running simulator keeps, put together in one place: the platform over its store,
//! the component files, the control plane's faults; in memory, or in a data folder so that a
//! restart resumes where the last process stopped.

use std::path::Path;

use super::{AnyStore, Durability, SqliteStore, Store, StoreError};
use crate::blobs::BlobStore;
use crate::clock::SharedClock;
use crate::config::PlatformConfig;
use crate::faults::Faults;
use crate::platform::{Platform, PlatformSigner};
use crate::registry::Registry;

/// The platform, its component files and its faults.
#[derive(Debug)]
pub struct Installation {
    pub platform: Platform,
    pub blobs: BlobStore,
    pub faults: Faults,
}

impl Installation {
    /// In memory (`data_dir` `None`: component files in a temporary folder removed with the
    /// store), or durable in `data_dir` (created if missing), going on from what it holds.
    ///
    /// # Errors
    /// The data folder cannot be used: see [`SqliteStore::open`].
    pub fn open(
        data_dir: Option<&Path>,
        durability: Durability,
        config: PlatformConfig,
        registry: Registry,
        clock: SharedClock,
        signer: PlatformSigner,
    ) -> Result<Self, StoreError> {
        let Some(dir) = data_dir else {
            let blobs = BlobStore::temporary().map_err(|source| StoreError::Io {
                path: std::env::temp_dir(),
                source,
            })?;
            let store = AnyStore::Memory(Box::default());
            return Ok(Installation {
                platform: Platform::with_store(config, registry, clock, signer, store),
                blobs,
                faults: Faults::default(),
            });
        };
        let store = SqliteStore::open(dir, durability)?;
        let blobs = match durability {
            Durability::Process => BlobStore::open(dir),
            Durability::Machine => BlobStore::open_synced(dir),
        }
        .map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let (active, last_id) = store.saved_faults().unwrap_or_default();
        let keeper = store.clone();
        let faults = Faults::restored(
            active,
            last_id,
            Box::new(move |active, last_id| {
                if let Err(e) = keeper.save_faults(active, last_id) {
                    tracing::error!(error = %e, "the active faults could not be kept");
                }
            }),
        );
        let platform =
            Platform::with_store(config, registry, clock, signer, AnyStore::Sqlite(store));
        Ok(Installation {
            platform,
            blobs,
            faults,
        })
    }
}
