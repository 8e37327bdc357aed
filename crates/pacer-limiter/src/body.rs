//! Body types of the proxy: replay buffers, oversized streams, and response
//! bodies that hold their in-flight slot until they are finished.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::shared::Slot;
use bytes::{Bytes, BytesMut};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};

/// Errors carried by proxied bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type on both sides of the proxy.
pub(crate) type ProxyBody = BoxBody<Bytes, BoxError>;

/// A complete in-memory body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A client's request body after trying to buffer it.
pub(crate) enum RequestBody {
    /// Fully read: can be sent again on every retry.
    Replayable(Bytes),
    /// Larger than the cap: what was read so far, then the rest of the
    /// stream. It can be sent once, so the request is not retried.
    Streaming(PrefixedBody),
}

impl RequestBody {
    /// Reads `body` into memory unless it turns out larger than `cap` bytes.
    /// Bodies that announce a larger `Content-Length` are not read at all.
    pub(crate) async fn read(
        mut body: Incoming,
        content_length: Option<u64>,
        cap: usize,
    ) -> Result<Self, hyper::Error> {
        let cap_u64 = u64::try_from(cap).unwrap_or(u64::MAX);
        if content_length.is_some_and(|len| len > cap_u64) {
            return Ok(Self::Streaming(PrefixedBody::new(VecDeque::new(), body)));
        }
        let mut chunks = VecDeque::new();
        let mut total = 0usize;
        while let Some(frame) = body.frame().await {
            // Trailers are dropped: almost no API client sends them, and a
            // replayable body must be plain bytes.
            if let Ok(data) = frame?.into_data() {
                total = total.saturating_add(data.len());
                chunks.push_back(data);
                if total > cap {
                    return Ok(Self::Streaming(PrefixedBody::new(chunks, body)));
                }
            }
        }
        let mut all = BytesMut::with_capacity(total);
        for chunk in chunks {
            all.extend_from_slice(&chunk);
        }
        Ok(Self::Replayable(all.freeze()))
    }
}

/// Chunks already read, followed by the unread rest of a request body.
pub(crate) struct PrefixedBody {
    prefix: VecDeque<Bytes>,
    prefix_len: u64,
    rest: Incoming,
}

impl PrefixedBody {
    fn new(prefix: VecDeque<Bytes>, rest: Incoming) -> Self {
        let prefix_len = prefix.iter().map(|c| c.len() as u64).sum();
        Self {
            prefix,
            prefix_len,
            rest,
        }
    }
}

impl Body for PrefixedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if let Some(chunk) = self.prefix.pop_front() {
            self.prefix_len -= chunk.len() as u64;
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_empty() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + self.prefix_len);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + self.prefix_len);
        }
        hint
    }
}

/// An upstream response body streamed to the client; the attempt's
/// in-flight slot is released when the body ends, fails or is dropped, so
/// the cap counts requests until their answer is fully delivered.
pub(crate) struct PermitBody {
    inner: Incoming,
    permit: Option<Slot>,
}

impl PermitBody {
    pub(crate) fn new(inner: Incoming, permit: Slot) -> Self {
        let permit = (!inner.is_end_stream()).then_some(permit);
        Self { inner, permit }
    }
}

impl Body for PermitBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let finished = match &polled {
            Poll::Ready(None | Some(Err(_))) => true,
            Poll::Ready(Some(Ok(_))) => self.inner.is_end_stream(),
            Poll::Pending => false,
        };
        if finished {
            self.permit = None;
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

/// Reads up to `limit` bytes of a refused response, so the connection can
/// go back to the pool and the refusal can still be passed on if no retry
/// fits; a longer body just closes it (`None`).
pub(crate) async fn drain(mut body: Incoming, limit: usize) -> Option<Bytes> {
    let mut kept = BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame.ok()?.data_ref() {
            if kept.len() + data.len() > limit {
                return None;
            }
            kept.extend_from_slice(data);
        }
    }
    Some(kept.freeze())
}
