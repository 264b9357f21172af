//! Where the simulator's time comes from.
//!
//! Every timestamp the platform writes and every timer it runs (automatic cancellation after days
//! of inactivity) reads a [`Clock`], never the system time directly, so that tests can move days
//! in microseconds and a demo can run a week in minutes.
//!
//! - [`SystemClock`] — wall-clock time.
//! - [`ManualClock`] — stands still until [`ManualClock::advance`] or [`ManualClock::set`].
//! - [`ScaledClock`] — wall-clock time accelerated by a factor (`--time-scale`).
//! - [`OffsetClock`] — any clock moved forward on request (the control plane's clock advance).
//!
//! Clocks notify subscribers when they jump ([`Clock::subscribe`]), so that timers re-evaluate at
//! once instead of polling.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::watch;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;

    /// A receiver that changes whenever the clock jumps (manual advance). Clocks that only flow
    /// never signal.
    fn subscribe(&self) -> watch::Receiver<u64>;

    /// Jumps forward, if this clock can (the control plane's "advance the clock"); `false` for
    /// clocks that only flow.
    fn advance(&self, by: Duration) -> bool {
        let _ = by;
        false
    }
}

/// Shared handle to a clock.
pub type SharedClock = Arc<dyn Clock>;

/// Wall-clock time.
#[derive(Debug)]
pub struct SystemClock {
    /// Kept only so that [`Clock::subscribe`] can hand out receivers; never sent on.
    jumps: watch::Sender<u64>,
}

impl SystemClock {
    #[must_use]
    pub fn new() -> Self {
        SystemClock {
            jumps: watch::channel(0).0,
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.jumps.subscribe()
    }
}

/// A clock that only moves when told to. Tests use it for "8 days later" without waiting.
#[derive(Debug)]
pub struct ManualClock {
    /// A short std lock: read and written in a few instructions, never across an await.
    now: Mutex<OffsetDateTime>,
    jumps: watch::Sender<u64>,
}

impl ManualClock {
    #[must_use]
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock {
            now: Mutex::new(start),
            jumps: watch::channel(0).0,
        }
    }

    /// Moves the clock forward and wakes every timer.
    pub fn advance(&self, by: Duration) {
        {
            let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
            *now += by;
        }
        self.jumps.send_modify(|n| *n += 1);
    }

    /// Sets the clock to an instant (forwards or backwards) and wakes every timer.
    pub fn set(&self, to: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
        self.jumps.send_modify(|n| *n += 1);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.jumps.subscribe()
    }

    fn advance(&self, by: Duration) -> bool {
        ManualClock::advance(self, by);
        true
    }
}

/// Any clock plus an offset that can only grow: a running simulator whose clock the control
/// plane can move forward ("9 days later") while time keeps flowing.
#[derive(Debug)]
pub struct OffsetClock {
    base: SharedClock,
    /// Short std lock, never held across an await.
    offset: Mutex<Duration>,
    jumps: watch::Sender<u64>,
}

impl OffsetClock {
    #[must_use]
    pub fn new(base: SharedClock) -> Self {
        OffsetClock {
            base,
            offset: Mutex::new(Duration::ZERO),
            jumps: watch::channel(0).0,
        }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> OffsetDateTime {
        self.base.now() + *self.offset.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.jumps.subscribe()
    }

    fn advance(&self, by: Duration) -> bool {
        *self.offset.lock().unwrap_or_else(PoisonError::into_inner) += by;
        self.jumps.send_modify(|n| *n += 1);
        true
    }
}

/// Wall-clock time running `scale` times faster from the moment the clock was made.
#[derive(Debug)]
pub struct ScaledClock {
    origin: OffsetDateTime,
    started: Instant,
    scale: f64,
    jumps: watch::Sender<u64>,
}

impl ScaledClock {
    /// `scale` below 1 slows time down; non-finite or non-positive values mean 1.
    #[must_use]
    pub fn new(scale: f64) -> Self {
        ScaledClock::starting_at(OffsetDateTime::now_utc(), Instant::now(), scale)
    }

    /// A scaled clock that read `origin` at the monotonic instant `started`.
    #[must_use]
    pub fn starting_at(origin: OffsetDateTime, started: Instant, scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        ScaledClock {
            origin,
            started,
            scale,
            jumps: watch::channel(0).0,
        }
    }

    #[must_use]
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> OffsetDateTime {
        let elapsed = self.started.elapsed().as_secs_f64() * self.scale;
        self.origin + Duration::from_secs_f64(elapsed.min(1e15))
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.jumps.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn manual_clock_moves_only_when_told_and_signals_jumps() {
        let clock = ManualClock::new(datetime!(2025-06-01 13:00 UTC));
        let mut jumps = clock.subscribe();
        assert_eq!(clock.now(), datetime!(2025-06-01 13:00 UTC));
        clock.advance(Duration::from_secs(9 * 24 * 3600));
        assert_eq!(clock.now(), datetime!(2025-06-10 13:00 UTC));
        assert!(jumps.has_changed().unwrap());
        jumps.mark_unchanged();
        clock.set(datetime!(2025-01-01 0:00 UTC));
        assert!(jumps.has_changed().unwrap());
        assert_eq!(clock.now(), datetime!(2025-01-01 0:00 UTC));
    }

    #[test]
    fn offset_clock_jumps_forward_on_request() {
        let base: SharedClock = Arc::new(ManualClock::new(datetime!(2025-06-01 13:00 UTC)));
        let clock = OffsetClock::new(base);
        let jumps = clock.subscribe();
        assert!(clock.advance(Duration::from_secs(3600)));
        assert_eq!(clock.now(), datetime!(2025-06-01 14:00 UTC));
        assert!(jumps.has_changed().unwrap());
        assert!(
            !SystemClock::new().advance(Duration::from_secs(1)),
            "a flowing clock cannot jump"
        );
    }

    #[test]
    fn scaled_clock_runs_faster_than_the_wall() {
        // Started two real seconds ago at one hour per second: two hours have passed.
        let origin = datetime!(2025-06-01 13:00 UTC);
        let started = Instant::now().checked_sub(Duration::from_secs(2)).unwrap();
        let clock = ScaledClock::starting_at(origin, started, 3600.0);
        let elapsed = clock.now() - origin;
        assert!(
            elapsed >= time::Duration::hours(2) && elapsed < time::Duration::hours(3),
            "{elapsed}"
        );
        assert_eq!(ScaledClock::new(-1.0).scale(), 1.0);
    }
}
