//! Component intake: the one way staged bytes become a component the platform holds, shared by
//! the REST whole upload, the end of a chunked upload and the control plane's injection.
//!
//! The order is the point. Accepting the last component of a trâmite moves it to situação 2,
//! which puts it in the recipient's feed, and a recipient long-polling the feed downloads the
//! instant it appears; so the bytes are made readable first and the platform is told second.
//! Checking before committing keeps refused uploads (wrong hash, wrong size, unknown ticket) out
//! of the store altogether; an acceptance refused after the commit (the trâmite moved in
//! between) takes back only what this upload added and no trâmite holds
//! ([`Committed::abandon`](crate::blobs::Committed::abandon)).

use pen_protocol::ids::Ticket;
use thiserror::Error;

use crate::blobs::{BlobError, BlobStore, Staged};
use crate::platform::{Platform, PlatformError};
use crate::registry::Spe;

/// Why staged bytes did not become a component.
#[derive(Debug, Error)]
pub enum IntakeError {
    /// The platform refused them. An upload's staged bytes are removed; assembled parts stay,
    /// so that a corrected part and a new end-of-parts signal can follow.
    #[error("{0}")]
    Refused(PlatformError),
    /// The component store failed.
    #[error(transparent)]
    Store(#[from] BlobError),
}

/// One component arriving under a ticket: who sends it, and the hash and protocol it is
/// declared under.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    pub spe: &'a Spe,
    pub ticket: Ticket,
    pub hash: &'a str,
    pub protocolo: &'a str,
}

/// Checks staged bytes against what the platform expects, makes them readable, then has the
/// platform accept them. On any error the staged bytes are not left behind.
///
/// # Errors
/// [`IntakeError::Refused`] with the platform's answer; [`IntakeError::Store`] for I/O.
pub async fn accept(
    platform: &Platform,
    blobs: &BlobStore,
    arrival: Arrival<'_>,
    staged: Staged,
) -> Result<(), IntakeError> {
    let Arrival {
        spe,
        ticket,
        hash,
        protocolo,
    } = arrival;
    let (computed, len) = (staged.hash, staged.len);
    platform
        .check_component(spe, ticket, hash, protocolo, computed, len)
        .map_err(IntakeError::Refused)?;
    let committed = blobs.commit(staged).await?;
    match platform.accept_component(spe, ticket, hash, protocolo, computed, len) {
        Ok(()) => {
            committed.keep();
            Ok(())
        }
        Err(refused) => {
            committed.abandon(|| platform.holds_component(&computed));
            Err(IntakeError::Refused(refused))
        }
    }
}
