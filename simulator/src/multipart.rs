//! Upload bodies as the multipart parser can read them safely.
//!
//! multer 3.1.0 (axum's multipart parser) looks for the form's first boundary in what it has
//! buffered; when the boundary is not there yet it reads the body once more and, if that read
//! reaches the end of the body, answers "incomplete multipart stream" without looking at what
//! the same read brought in (rwf2/multer#70, unreleased). Over HTTP/2 a request is dispatched on
//! its HEADERS frame, so the handler's first read of the body can come before any DATA frame
//! has arrived, and the second read, a moment later, can find every DATA frame and END_STREAM:
//! a complete, well-formed upload is then refused with 400 and codigoErro 9109. Over HTTP/1.1
//! the body is read by the connection's own task, so nothing arrives between the two reads.
//!
//! [`settled`] hands the parser a body that never reports its end in the same read as data:
//! after data, the end waits for the next read, by which time the parser has looked at that
//! data. Same bytes, same chunks, same errors; one extra wake-up per request.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use futures_util::Stream;

/// `body`, with its end held back one read whenever it would come right after data.
pub fn settled(body: Body) -> Body {
    Body::from_stream(EndAfterPause::new(body.into_data_stream()))
}

/// Where the stream is, as seen by the reads of its consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing was returned since the consumer last got `Pending`.
    Quiet,
    /// Data was returned since the consumer last got `Pending`.
    Flowing,
    /// The inner stream ended right after data; the consumer got `Pending` and is told next.
    Ending,
    Ended,
}

/// A stream whose end is only ever returned to a read that starts with it: a consumer that reads
/// until `Pending` or the end, looks at what it has, and reads again, always looks at the last
/// data before it sees the end.
#[derive(Debug)]
pub struct EndAfterPause<S> {
    inner: S,
    phase: Phase,
}

impl<S> EndAfterPause<S> {
    pub fn new(inner: S) -> Self {
        EndAfterPause {
            inner,
            phase: Phase::Quiet,
        }
    }
}

impl<S: Stream + Unpin> Stream for EndAfterPause<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        match self.phase {
            Phase::Ended => return Poll::Ready(None),
            Phase::Ending => {
                self.phase = Phase::Ended;
                return Poll::Ready(None);
            }
            Phase::Quiet | Phase::Flowing => {}
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(item)) => {
                self.phase = Phase::Flowing;
                Poll::Ready(Some(item))
            }
            Poll::Ready(None) if self.phase == Phase::Flowing => {
                self.phase = Phase::Ending;
                // Nothing else will wake the consumer: the inner stream is done.
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Poll::Ready(None) => {
                self.phase = Phase::Ended;
                Poll::Ready(None)
            }
            Poll::Pending => {
                self.phase = Phase::Quiet;
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::{FromRequest, Multipart};
    use bytes::Bytes;

    const BOUNDARY: &str = "5e06e066107c0e24-46bbf0e52a129ea2";

    /// An upload form chunked as reqwest sends it, one DATA frame per piece.
    fn form_chunks() -> Vec<Bytes> {
        let mut chunks = Vec::new();
        for (name, file, value) in [
            ("conteudo", true, "INFORMAÇÃO Nº 7/2025"),
            ("hashDoComponenteDigital", false, "39OHab8+kOKXG5c5/EM6Lz6"),
            ("protocolo", false, "00394.000075/2025-00"),
        ] {
            chunks.push(Bytes::from(format!("--{BOUNDARY}\r\n")));
            let disposition = if file {
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"conteudo.html\"\r\nContent-Type: text/html\r\n\r\n")
            } else {
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n")
            };
            chunks.push(Bytes::from(disposition));
            chunks.push(Bytes::from(value.to_owned()));
            chunks.push(Bytes::from_static(b"\r\n"));
        }
        chunks.push(Bytes::from(format!("--{BOUNDARY}--\r\n")));
        chunks
    }

    /// Replays chunks, answering `Pending` (and waking at once) before chunk `i` when bit `i` of
    /// `pauses` is set and before the end when bit `chunks.len()` is: the arrival orders an
    /// HTTP/2 body can have. Bit 0 is the handler reading before the first DATA frame.
    struct Arrivals {
        chunks: Vec<Bytes>,
        pauses: u32,
        next: usize,
        paused: bool,
    }

    impl Stream for Arrivals {
        type Item = Result<Bytes, std::io::Error>;

        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            let at = self.next;
            if !self.paused && self.pauses & (1 << at) != 0 {
                self.paused = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.paused = false;
            let Some(chunk) = self.chunks.get(at).cloned() else {
                return Poll::Ready(None);
            };
            self.next += 1;
            Poll::Ready(Some(Ok(chunk)))
        }
    }

    fn arrivals(pauses: u32) -> Body {
        Body::from_stream(Arrivals {
            chunks: form_chunks(),
            pauses,
            next: 0,
            paused: false,
        })
    }

    /// The fields as the upload handler reads them (`conteudo` as a stream, the others by
    /// chunk), or the parser's error.
    async fn fields(body: Body) -> Result<Vec<(String, String)>, String> {
        let request = axum::http::Request::builder()
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .map_err(|e| e.to_string())?;
        let mut form = Multipart::from_request(request, &())
            .await
            .map_err(|e| e.body_text())?;
        let mut out = Vec::new();
        while let Some(mut field) = form.next_field().await.map_err(|e| e.body_text())? {
            let name = field.name().unwrap_or_default().to_owned();
            let mut value = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| e.body_text())? {
                value.extend_from_slice(&chunk);
            }
            out.push((name, String::from_utf8_lossy(&value).into_owned()));
        }
        Ok(out)
    }

    fn expected() -> Vec<(String, String)> {
        [
            ("conteudo", "INFORMAÇÃO Nº 7/2025"),
            ("hashDoComponenteDigital", "39OHab8+kOKXG5c5/EM6Lz6"),
            ("protocolo", "00394.000075/2025-00"),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .to_vec()
    }

    #[tokio::test]
    async fn a_form_that_arrives_whole_after_the_first_read_parses() {
        // Read before any DATA frame, then every frame and END_STREAM at once.
        assert_eq!(fields(settled(arrivals(1))).await, Ok(expected()));
    }

    #[tokio::test]
    async fn multer_alone_still_refuses_that_form() {
        // When this starts passing, multer reads such bodies itself and `settled` can go.
        assert_eq!(
            fields(arrivals(1)).await,
            Err("incomplete multipart stream".to_owned()),
        );
    }

    #[tokio::test]
    async fn every_arrival_order_parses() {
        let orders = 1u32 << (form_chunks().len() + 1);
        for pauses in 0..orders {
            assert_eq!(
                fields(settled(arrivals(pauses))).await,
                Ok(expected()),
                "pauses {pauses:b}"
            );
        }
    }

    #[tokio::test]
    async fn a_truncated_form_is_still_incomplete() {
        let mut chunks = form_chunks();
        chunks.truncate(chunks.len() - 3);
        for pauses in [0, 1, 1 << chunks.len()] {
            let body = Body::from_stream(Arrivals {
                chunks: chunks.clone(),
                pauses,
                next: 0,
                paused: false,
            });
            assert!(fields(settled(body)).await.is_err(), "pauses {pauses:b}");
        }
    }
}
