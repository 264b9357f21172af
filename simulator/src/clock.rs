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
//!
//! No clock ever reports an instant past [`LATEST`], and none can be moved past it: `time`'s
//! calendar ends in year 9999 and its arithmetic panics beyond, so an unbounded advance (or a
//! huge `--time-scale`) would make every later request panic where the platform adds a deadline
//! to "now".

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use thiserror::Error;
use time::macros::datetime;
use time::OffsetDateTime;
use tokio::sync::watch;

/// The latest instant a clock reports or can be moved to. Far beyond any test or demo, and a
/// thousand years short of the end of `time`'s calendar, so that the platform's own arithmetic
/// on "now" (an automatic-cancellation deadline days or years ahead) cannot overflow.
pub const LATEST: OffsetDateTime = datetime!(9000-01-01 0:00 UTC);

/// The fastest a [`ScaledClock`] runs (`--time-scale`): a million times the wall clock, eleven
/// simulated days per second. Faster would reach [`LATEST`] within hours of wall time.
pub const MAX_TIME_SCALE: f64 = 1_000_000.0;

/// Why a clock did not move.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClockError {
    /// A clock that only flows (the wall clock, an accelerated one).
    #[error("este relógio não pode ser adiantado")]
    CannotJump,
    /// The move would take the clock past [`LATEST`].
    #[error(
        "adiantar o relógio em {seconds} segundos o levaria além de {}, o máximo (agora: {})",
        pen_protocol::datetime::format_receipt_date(LATEST),
        pen_protocol::datetime::format_receipt_date(*.now)
    )]
    TooFar {
        /// Where the clock stands.
        now: OffsetDateTime,
        /// The requested move, in seconds (saturated at `u64::MAX`).
        seconds: u64,
    },
}

/// `at + by`, or [`LATEST`] when that lies beyond it (or beyond `time`'s calendar).
#[must_use]
pub fn saturating_add(at: OffsetDateTime, by: Duration) -> OffsetDateTime {
    time::Duration::try_from(by)
        .ok()
        .and_then(|by| at.checked_add(by))
        .map_or(LATEST, |later| later.min(LATEST))
}

/// `Ok` when `at + by` stays within [`LATEST`].
fn check_within(at: OffsetDateTime, by: Duration) -> Result<(), ClockError> {
    let fits = time::Duration::try_from(by)
        .ok()
        .and_then(|by| at.checked_add(by))
        .is_some_and(|later| later <= LATEST);
    if fits {
        Ok(())
    } else {
        Err(ClockError::TooFar {
            now: at,
            seconds: by.as_secs(),
        })
    }
}

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;

    /// A receiver that changes whenever the clock jumps (manual advance). Clocks that only flow
    /// never signal.
    fn subscribe(&self) -> watch::Receiver<u64>;

    /// Jumps forward, if this clock can (the control plane's "advance the clock").
    ///
    /// # Errors
    /// [`ClockError::CannotJump`] for clocks that only flow; [`ClockError::TooFar`] when the move
    /// would pass [`LATEST`] (the clock is then left where it was).
    fn advance(&self, by: Duration) -> Result<(), ClockError> {
        let _ = by;
        Err(ClockError::CannotJump)
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

    /// Moves the clock forward (at most to [`LATEST`]) and wakes every timer.
    pub fn advance(&self, by: Duration) {
        {
            let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
            *now = saturating_add(*now, by);
        }
        self.jumps.send_modify(|n| *n += 1);
    }

    /// Sets the clock to an instant (forwards or backwards, at most [`LATEST`]) and wakes every
    /// timer.
    pub fn set(&self, to: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to.min(LATEST);
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

    fn advance(&self, by: Duration) -> Result<(), ClockError> {
        {
            let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
            check_within(*now, by)?;
            *now = saturating_add(*now, by);
        }
        self.jumps.send_modify(|n| *n += 1);
        Ok(())
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
        let offset = *self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        saturating_add(self.base.now(), offset)
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.jumps.subscribe()
    }

    fn advance(&self, by: Duration) -> Result<(), ClockError> {
        {
            let mut offset = self.offset.lock().unwrap_or_else(PoisonError::into_inner);
            let now = saturating_add(self.base.now(), *offset);
            check_within(now, by)?;
            *offset = offset.saturating_add(by);
        }
        self.jumps.send_modify(|n| *n += 1);
        Ok(())
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
    /// `scale` below 1 slows time down; non-finite or non-positive values mean 1, values above
    /// [`MAX_TIME_SCALE`] mean that maximum (the command line refuses both).
    #[must_use]
    pub fn new(scale: f64) -> Self {
        ScaledClock::starting_at(OffsetDateTime::now_utc(), Instant::now(), scale)
    }

    /// A scaled clock that read `origin` at the monotonic instant `started`.
    #[must_use]
    pub fn starting_at(origin: OffsetDateTime, started: Instant, scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale.min(MAX_TIME_SCALE)
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
        // Saturates where the calendar ends instead of panicking, however long it has run.
        let elapsed = Duration::try_from_secs_f64(elapsed).unwrap_or(Duration::MAX);
        saturating_add(self.origin, elapsed)
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
        assert_eq!(clock.advance(Duration::from_secs(3600)), Ok(()));
        assert_eq!(clock.now(), datetime!(2025-06-01 14:00 UTC));
        assert!(jumps.has_changed().unwrap());
        assert_eq!(
            SystemClock::new().advance(Duration::from_secs(1)),
            Err(ClockError::CannotJump),
            "a flowing clock cannot jump"
        );
    }

    /// `POST control/clock/advance {"days": 3000000}` used to make every later `now()` panic.
    #[test]
    fn no_clock_moves_or_reads_past_the_latest_instant() {
        let days = |n: u64| Duration::from_secs(n * 24 * 3600);
        let start = datetime!(2025-06-01 13:00 UTC);
        let manual = Arc::new(ManualClock::new(start));
        let offset = OffsetClock::new(manual.clone());
        for clock in [&offset as &dyn Clock, manual.as_ref() as &dyn Clock] {
            let jumps = clock.subscribe();
            for by in [days(3_000_000), Duration::MAX] {
                let refused = clock.advance(by).unwrap_err();
                assert!(
                    matches!(refused, ClockError::TooFar { now, .. } if now == start),
                    "{refused:?}"
                );
                assert!(
                    refused.to_string().contains("9000-01-01T00:00:00.000Z"),
                    "{refused}"
                );
            }
            assert_eq!(clock.now(), start, "a refused move leaves the clock alone");
            assert!(!jumps.has_changed().unwrap(), "and wakes no timer");
        }
        // Up to the limit itself is fine; a second beyond is not.
        let to_latest = Duration::try_from(LATEST - start).unwrap();
        assert_eq!(offset.advance(to_latest), Ok(()));
        assert_eq!(offset.now(), LATEST);
        assert!(offset.advance(Duration::from_secs(1)).is_err());
        // The test clock's own moves saturate instead of panicking.
        manual.advance(Duration::MAX);
        assert_eq!(manual.now(), LATEST);
        assert_eq!(
            offset.now(),
            LATEST,
            "base and offset together saturate too"
        );
    }

    /// `--time-scale 1e12` used to overflow the first `now()` after a few seconds.
    #[test]
    fn a_scaled_clock_saturates_instead_of_overflowing() {
        let origin = datetime!(2025-06-01 13:00 UTC);
        let started = Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .unwrap();
        assert_eq!(ScaledClock::new(1e12).scale(), MAX_TIME_SCALE);
        assert_eq!(ScaledClock::new(f64::INFINITY).scale(), 1.0);
        // A library caller can still build a clock at the maximum for an hour: 114 years on.
        let clock = ScaledClock::starting_at(origin, started, MAX_TIME_SCALE);
        assert!(clock.now() > origin + time::Duration::days(365 * 100));
        assert!(clock.now() <= LATEST);
        // And one that ran for a century at that rate stops at the end of the calendar.
        let long_ago = Instant::now().checked_sub(Duration::from_secs(50_000_000));
        if let Some(long_ago) = long_ago {
            let clock = ScaledClock::starting_at(origin, long_ago, MAX_TIME_SCALE);
            assert_eq!(clock.now(), LATEST);
        }
        assert_eq!(saturating_add(origin, Duration::MAX), LATEST);
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
