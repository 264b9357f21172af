//! Failures the real platform shows but never on demand: slow answers, 5xx, dropped
//! connections, a pending feed that is down, a recibo de envio whose signature does not verify.
//!
//! A fault matches requests by calling SPE, method and a substring of the path (each optional);
//! it fires on every match or `times` times and then disappears. The control plane adds and
//! clears them; a reset clears them all.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

/// What a fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer after this many extra milliseconds.
    Latency { millis: u64 },
    /// Answer with the platform's error body and this status (default 503) instead of serving.
    Error {
        #[serde(default = "default_error_status")]
        status: u16,
    },
    /// Send the response head, then cut the connection before the body completes.
    DropConnection,
    /// `tramites/pendentes` and the long-poll host answer 503.
    FeedOutage,
    /// `recibo-de-envio` is served with a signature that does not verify.
    CorruptReciboDeEnvio,
    /// Component downloads (whole or parts) are served with their first byte changed: the
    /// recipient's hash check must catch it.
    CorruptComponent,
}

fn default_error_status() -> u16 {
    503
}

/// Which requests a fault applies to, and how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// Only requests from this SPE (`org-a`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spe: Option<String>,
    /// Only this HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Only paths containing this text (`tramites/pendentes`, `componentes-digitais`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_contains: Option<String>,
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Fire this many times, then disappear; every time when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

/// An active fault with its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveFault {
    pub id: u64,
    #[serde(flatten)]
    pub spec: FaultSpec,
}

/// The request a fault is matched against.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub spe: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
}

/// Paths that belong to the pending feed (for [`FaultKind::FeedOutage`]).
#[must_use]
pub fn is_feed_path(path: &str) -> bool {
    path.ends_with("/tramites/pendentes") || path.contains("/interoperabilidade/pendencias")
}

impl FaultSpec {
    fn matches(&self, t: Target<'_>) -> bool {
        let kind_applies = match self.kind {
            FaultKind::FeedOutage => is_feed_path(t.path),
            FaultKind::CorruptReciboDeEnvio => t.path.ends_with("/recibo-de-envio"),
            FaultKind::CorruptComponent => t.path.contains("/componentes-digitais"),
            _ => true,
        };
        kind_applies
            && self.spe.as_deref().is_none_or(|s| Some(s) == t.spe)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(t.method))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| t.path.contains(p))
    }
}

/// Told of the active faults and of the last id issued after every change, under the faults'
/// lock (so in order): what keeps them across restarts with `serve --data-dir`.
pub type FaultsObserver = Box<dyn Fn(&[ActiveFault], u64) + Send + Sync>;

#[derive(Default)]
struct Observer(Option<FaultsObserver>);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Observer" } else { "None" })
    }
}

/// The active faults.
#[derive(Debug, Default)]
pub struct Faults {
    /// Short std lock, never held across an await.
    active: Mutex<Vec<ActiveFault>>,
    next_id: AtomicU64,
    observer: Observer,
}

impl Faults {
    /// The faults a durable store kept (`last_id` the last id issued), and an observer told of
    /// every later change.
    #[must_use]
    pub fn restored(active: Vec<ActiveFault>, last_id: u64, observer: FaultsObserver) -> Self {
        let last_id = active.iter().map(|f| f.id).fold(last_id, u64::max);
        Faults {
            active: Mutex::new(active),
            next_id: AtomicU64::new(last_id),
            observer: Observer(Some(observer)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ActiveFault>> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn changed(&self, active: &[ActiveFault]) {
        if let Some(observer) = &self.observer.0 {
            observer(active, self.next_id.load(Ordering::Relaxed));
        }
    }

    /// Adds a fault; returns its id.
    pub fn add(&self, spec: FaultSpec) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut active = self.lock();
        active.push(ActiveFault { id, spec });
        self.changed(&active);
        id
    }

    #[must_use]
    pub fn list(&self) -> Vec<ActiveFault> {
        self.lock().clone()
    }

    /// Removes one fault; `false` when there was none with that id.
    pub fn remove(&self, id: u64) -> bool {
        let mut active = self.lock();
        let before = active.len();
        active.retain(|f| f.id != id);
        let removed = active.len() != before;
        if removed {
            self.changed(&active);
        }
        removed
    }

    pub fn clear(&self) {
        let mut active = self.lock();
        if !active.is_empty() {
            active.clear();
            self.changed(&active);
        }
    }

    /// The faults that fire for this request, counting down those limited in times.
    pub fn fire(&self, target: Target<'_>) -> Vec<FaultKind> {
        let mut active = self.lock();
        let mut fired = Vec::new();
        let mut counted = false;
        for fault in active.iter_mut().filter(|f| f.spec.matches(target)) {
            fired.push(fault.spec.kind.clone());
            if let Some(times) = fault.spec.times.as_mut() {
                *times = times.saturating_sub(1);
                counted = true;
            }
        }
        active.retain(|f| f.spec.times != Some(0));
        if counted {
            self.changed(&active);
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_and_counting_down() {
        let faults = Faults::default();
        let spec: FaultSpec = serde_json::from_str(
            r#"{"type":"error","spe":"org-b","path_contains":"tramites","times":2}"#,
        )
        .unwrap();
        assert_eq!(spec.kind, FaultKind::Error { status: 503 });
        let id = faults.add(spec);
        let other = Target {
            spe: Some("org-a"),
            method: "GET",
            path: "/interoperabilidade/rest/v3/tramites",
        };
        let hit = Target {
            spe: Some("org-b"),
            ..other
        };
        assert!(faults.fire(other).is_empty());
        assert_eq!(faults.fire(hit).len(), 1);
        assert_eq!(faults.fire(hit).len(), 1);
        assert!(faults.fire(hit).is_empty(), "gone after two");
        assert!(!faults.remove(id));
        faults.add(serde_json::from_str(r#"{"type":"feed_outage"}"#).unwrap());
        assert!(faults.fire(hit).is_empty(), "not a feed path");
        let feed = Target {
            path: "/interoperabilidade/rest/v3/tramites/pendentes",
            ..hit
        };
        assert_eq!(faults.fire(feed), [FaultKind::FeedOutage]);
        faults.clear();
        assert!(faults.list().is_empty());
    }
}
