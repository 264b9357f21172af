//! Following the pending feed and dispatching each pendência by what it asks of the caller
//! (`rest-v3.md` §2.5, §6.1 steps 9–11, §6.2 step 1).
//!
//! The feed lists every trâmite that waits for the caller, again and again until its situação
//! changes. So the follower keeps what it is working on (never the same trâmite twice at once),
//! what it finished (a pendência handled is not handled again, even if the platform keeps listing
//! it), and what failed (retried after a pause, not in a tight loop). With nothing new to start it
//! waits for a task to finish, a retry to fall due, or the poll interval, never spinning on a
//! long-poll that answers at once.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use pen_protocol::api::Pendencia;
use pen_protocol::ids::Idt;
use pen_protocol::situacao::Situacao;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::api::Client;
use crate::error::Error;

/// What a pendência asks of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// `2`, `3`, `4` (recipient): receive it (or finish receiving it).
    Receive(Idt),
    /// `5` (sender): the recipient concluded; fetch its recibo de conclusão.
    ConclusionReceipt(Idt),
    /// `8` (sender): the recipient refused; read why and acknowledge.
    Refused(Idt),
    /// `1` (sender): components still to upload (an interrupted send, a reproduction).
    Upload(Idt),
    /// Anything else the platform lists.
    Other(Pendencia),
}

impl From<Pendencia> for Pending {
    fn from(p: Pendencia) -> Self {
        match p.status {
            Situacao::ComponentesEnviadosRemetente
            | Situacao::MetadadosRecebidoDestinatario
            | Situacao::ComponentesRecebidosDestinatario => Pending::Receive(p.idt),
            Situacao::ReciboEnviadoDestinatario => Pending::ConclusionReceipt(p.idt),
            Situacao::Recusado => Pending::Refused(p.idt),
            Situacao::Iniciado => Pending::Upload(p.idt),
            _ => Pending::Other(p),
        }
    }
}

/// What became of a dispatched pendência.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Handled (or deliberately left alone): not dispatched again while it stays listed.
    Done,
    /// Not handled this time (the platform or the network failed): dispatched again after
    /// [`FollowOptions::retry_after`].
    RetryLater,
}

/// The caller's side of the feed.
pub trait Dispatch: Send + Sync + 'static {
    /// Handles one pendência.
    fn dispatch(&self, pendencia: Pendencia) -> impl Future<Output = Outcome> + Send;

    /// The feed itself failed (it is read again after the poll interval).
    fn feed_error(&self, _error: &Error) {}
}

/// How to read the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedMode {
    /// `GET tramites/pendentes` every `interval`.
    Poll,
    /// `GET tramites/pendentes?aguardar=N`: the platform holds the call until something waits.
    LongPoll { seconds: u64 },
}

/// How to follow the feed.
#[derive(Debug, Clone, Copy)]
pub struct FollowOptions {
    pub mode: FeedMode,
    /// Between polls, and after a feed error.
    pub interval: Duration,
    /// Pendências handled at the same time.
    pub concurrency: usize,
    /// Pause before a pendência whose handling failed is dispatched again.
    pub retry_after: Duration,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            mode: FeedMode::LongPoll { seconds: 30 },
            interval: Duration::from_secs(2),
            concurrency: 8,
            retry_after: Duration::from_secs(2),
        }
    }
}

/// A long-poll that comes back empty sooner than this did not wait: the platform does not
/// support `aguardar`, so the follower paces itself with the poll interval instead.
const LONG_POLL_FLOOR: Duration = Duration::from_millis(500);

/// Follows the feed until `stop` turns true, then waits for the pendências in hand.
pub async fn follow<D: Dispatch>(
    client: Client,
    dispatcher: Arc<D>,
    options: FollowOptions,
    mut stop: watch::Receiver<bool>,
) {
    let mut tasks: JoinSet<(Pendencia, Outcome)> = JoinSet::new();
    let mut in_flight: HashSet<Idt> = HashSet::new();
    let mut handled: HashSet<Pendencia> = HashSet::new();
    let mut retry_at: HashMap<Pendencia, Instant> = HashMap::new();
    let concurrency = options.concurrency.max(1);
    loop {
        if *stop.borrow() {
            break;
        }
        let asked = Instant::now();
        let fetched = tokio::select! {
            _ = stop.changed() => break,
            r = fetch(&client, options.mode) => r,
        };
        while let Some(done) = tasks.try_join_next() {
            settle(&done, &mut in_flight, &mut handled, &mut retry_at, options);
        }
        let list = match fetched {
            Ok(list) => list,
            Err(e) => {
                dispatcher.feed_error(&e);
                if pause(&mut stop, options.interval).await {
                    break;
                }
                continue;
            }
        };
        // What is no longer listed cannot come back under the same situação.
        let listed: HashSet<Pendencia> = list.iter().copied().collect();
        handled.retain(|p| listed.contains(p));
        retry_at.retain(|p, _| listed.contains(p));
        let now = Instant::now();
        let mut started = 0usize;
        for pendencia in &list {
            if in_flight.len() >= concurrency {
                break;
            }
            let due = retry_at.get(pendencia).is_none_or(|at| *at <= now);
            if in_flight.contains(&pendencia.idt) || handled.contains(pendencia) || !due {
                continue;
            }
            in_flight.insert(pendencia.idt);
            retry_at.remove(pendencia);
            let (dispatcher, pendencia) = (dispatcher.clone(), *pendencia);
            tasks.spawn(async move { (pendencia, dispatcher.dispatch(pendencia).await) });
            started += 1;
        }
        if started > 0 {
            continue;
        }
        let empty_and_waited = list.is_empty()
            && matches!(options.mode, FeedMode::LongPoll { .. })
            && asked.elapsed() >= LONG_POLL_FLOOR;
        if empty_and_waited {
            continue;
        }
        // Nothing new: wait for a task, a retry falling due, or the interval.
        let next_retry = retry_at.values().min().copied();
        let wake = next_retry.map_or(now + options.interval, |at| at.min(now + options.interval));
        tokio::select! {
            _ = stop.changed() => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                settle(&done, &mut in_flight, &mut handled, &mut retry_at, options);
            }
            () = tokio::time::sleep_until(wake) => {}
        }
    }
    while let Some(done) = tasks.join_next().await {
        settle(&done, &mut in_flight, &mut handled, &mut retry_at, options);
    }
}

async fn fetch(client: &Client, mode: FeedMode) -> Result<Vec<Pendencia>, Error> {
    match mode {
        FeedMode::Poll => client.pending(true).await,
        FeedMode::LongPoll { seconds } => client.wait_pending(seconds).await,
    }
}

/// Waits `interval` unless asked to stop first; true when stopping.
async fn pause(stop: &mut watch::Receiver<bool>, interval: Duration) -> bool {
    tokio::select! {
        _ = stop.changed() => true,
        () = tokio::time::sleep(interval) => *stop.borrow(),
    }
}

fn settle(
    done: &Result<(Pendencia, Outcome), tokio::task::JoinError>,
    in_flight: &mut HashSet<Idt>,
    handled: &mut HashSet<Pendencia>,
    retry_at: &mut HashMap<Pendencia, Instant>,
    options: FollowOptions,
) {
    // A task that panicked or was cancelled leaves its trâmite in flight for good: the caller's
    // bug should not turn into a hot loop over the same pendência.
    let Ok((pendencia, outcome)) = *done else {
        return;
    };
    in_flight.remove(&pendencia.idt);
    match outcome {
        Outcome::Done => {
            handled.insert(pendencia);
        }
        Outcome::RetryLater => {
            retry_at.insert(pendencia, Instant::now() + options.retry_after);
        }
    }
}
