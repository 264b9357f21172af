//! Request and response bodies as the edge wraps them: a request body that must keep arriving
//! ([`TimedBody`]), and a response body that tells its connection a request is still in flight
//! until it is sent or dropped ([`InFlightBody`]).

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use thiserror::Error;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How fast a request body must arrive (see [`super::EdgeLimits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyPace {
    /// Longest silence between two chunks.
    pub idle: Duration,
    /// From this long after the request arrived, the body must have averaged `min_rate`.
    pub grace: Duration,
    /// Bytes per second, on average, once `grace` is over; 0 turns the rule off.
    pub min_rate: u64,
}

/// Why a request body was given up on. The text reaches the client inside the platform's
/// "Requisição inválida: …" body, so it is Portuguese.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BodyTimeout {
    #[error("o corpo da requisição parou de chegar: nada recebido em {} s", .idle.as_secs_f64())]
    Stalled { idle: Duration },
    #[error(
        "o corpo da requisição chega devagar demais: {received} bytes em {:.1} s (o mínimo é {min_rate} bytes/s em média, após {} s)",
        .elapsed.as_secs_f64(),
        .grace.as_secs_f64()
    )]
    TooSlow {
        received: u64,
        elapsed: Duration,
        min_rate: u64,
        grace: Duration,
    },
}

impl BodyTimeout {
    /// The timeout somewhere in an error's chain of sources (axum and multer wrap body errors
    /// in their own).
    #[must_use]
    pub fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyTimeout> {
        let mut current = Some(error);
        while let Some(e) = current {
            if let Some(timeout) = e.downcast_ref::<BodyTimeout>() {
                return Some(timeout);
            }
            current = e.source();
        }
        None
    }
}

/// A request body that fails with [`BodyTimeout`] when its client stops sending, or sends too
/// slowly to finish in any reasonable time (1 byte every 5 s, forever). The rule is Apache
/// `mod_reqtimeout`'s: the deadline is the grace period plus one second per `min_rate` bytes
/// received, and never more than `idle` after the last chunk. Timers only run while someone
/// reads the body: a handler that does not read it is not held up by it.
pub struct TimedBody<B> {
    inner: B,
    pace: BodyPace,
    arrived: Instant,
    last_chunk: Instant,
    received: u64,
    timer: Option<Pin<Box<Sleep>>>,
    failed: bool,
}

impl<B> TimedBody<B> {
    #[must_use]
    pub fn new(inner: B, pace: BodyPace) -> Self {
        let now = Instant::now();
        TimedBody {
            inner,
            pace,
            arrived: now,
            last_chunk: now,
            received: 0,
            timer: None,
            failed: false,
        }
    }

    /// When the body is late, and what to say then.
    fn deadline(&self) -> (Instant, BodyTimeout) {
        let stalled = (
            self.last_chunk + self.pace.idle,
            BodyTimeout::Stalled {
                idle: self.pace.idle,
            },
        );
        if self.pace.min_rate == 0 {
            return stalled;
        }
        // Saturated: a body of exabytes does not overflow the clock.
        let credit = Duration::from_millis(self.received.saturating_mul(1000) / self.pace.min_rate);
        let slow_at = self
            .arrived
            .checked_add(self.pace.grace.saturating_add(credit))
            .unwrap_or(stalled.0);
        if slow_at < stalled.0 {
            let slow = BodyTimeout::TooSlow {
                received: self.received,
                elapsed: slow_at - self.arrived,
                min_rate: self.pace.min_rate,
                grace: self.pace.grace,
            };
            (slow_at, slow)
        } else {
            stalled
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.received = self.received.saturating_add(data.len() as u64);
                    self.last_chunk = Instant::now();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let (at, timeout) = self.deadline();
                let timer = match &mut self.timer {
                    Some(timer) => {
                        if timer.deadline() != at {
                            timer.as_mut().reset(at);
                        }
                        timer
                    }
                    empty => empty.insert(Box::pin(tokio::time::sleep_until(at))),
                };
                if timer.as_mut().poll(cx).is_ready() {
                    self.failed = true;
                    return Poll::Ready(Some(Err(Box::new(timeout))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Requests of one connection still being answered; the connection is idle at zero.
pub type InFlight = Arc<watch::Sender<usize>>;

/// Counts one request as in flight from its arrival until its response body is sent or dropped
/// (a long download or a long-poll keeps its connection busy, not idle).
#[derive(Debug)]
pub struct InFlightGuard(InFlight);

impl InFlightGuard {
    #[must_use]
    pub fn begin(in_flight: &InFlight) -> Self {
        in_flight.send_modify(|n| *n += 1);
        InFlightGuard(Arc::clone(in_flight))
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// A response body carrying its request's [`InFlightGuard`].
pub struct InFlightBody<B> {
    inner: B,
    guard: Option<InFlightGuard>,
}

impl<B> InFlightBody<B> {
    #[must_use]
    pub fn new(inner: B, guard: InFlightGuard) -> Self {
        InFlightBody {
            inner,
            guard: Some(guard),
        }
    }
}

impl<B: Body + Unpin> Body for InFlightBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            // Sent (or failed): the request is over even if hyper keeps the body a while.
            self.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt as _;
    use http_body_util::{BodyExt as _, StreamBody};

    fn pace(idle_ms: u64, grace_ms: u64, min_rate: u64) -> BodyPace {
        BodyPace {
            idle: Duration::from_millis(idle_ms),
            grace: Duration::from_millis(grace_ms),
            min_rate,
        }
    }

    /// A body that sends `first` and then nothing, ever.
    fn trickle(first: &'static [u8]) -> impl Body<Data = Bytes, Error = std::io::Error> + Unpin {
        let chunks = futures_util::stream::iter([Ok(Frame::data(Bytes::from_static(first)))])
            .chain(futures_util::stream::pending());
        StreamBody::new(Box::pin(chunks))
    }

    // Short real timeouts: the timer under test is what the test waits for.
    #[tokio::test]
    async fn a_silent_body_fails_after_the_idle_timeout() {
        let started = Instant::now();
        let body = TimedBody::new(trickle(b"x"), pace(50, 0, 0));
        let error = body.collect().await.err().unwrap();
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(
            BodyTimeout::find(error.as_ref()),
            Some(&BodyTimeout::Stalled {
                idle: Duration::from_millis(50)
            })
        );
    }

    #[tokio::test]
    async fn a_trickle_fails_once_its_credit_runs_out() {
        // 100 bytes at 1,000 bytes/s after a 50 ms grace: late at 150 ms, long before idle.
        let started = Instant::now();
        let body = TimedBody::new(trickle(&[0; 100]), pace(60_000, 50, 1000));
        let error = body.collect().await.err().unwrap();
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(150) && elapsed < Duration::from_secs(30),
            "{elapsed:?}"
        );
        let timeout = BodyTimeout::find(error.as_ref()).unwrap();
        assert!(
            matches!(timeout, BodyTimeout::TooSlow { received: 100, .. }),
            "{timeout:?}"
        );
        let text = timeout.to_string();
        assert!(
            text.contains("100 bytes em") && text.contains("1000 bytes/s"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_body_that_arrives_is_passed_through() {
        let full = http_body_util::Full::new(Bytes::from_static(b"ok"));
        let body = TimedBody::new(full, pace(1, 0, 1));
        assert_eq!(body.collect().await.unwrap().to_bytes(), "ok");
    }

    #[test]
    fn the_in_flight_count_follows_the_response_body() {
        let (count, seen) = watch::channel(0);
        let count = Arc::new(count);
        let guard = InFlightGuard::begin(&count);
        assert_eq!(*seen.borrow(), 1);
        let body = InFlightBody::new(http_body_util::Empty::<Bytes>::new(), guard);
        drop(body);
        assert_eq!(*seen.borrow(), 0);
    }
}
