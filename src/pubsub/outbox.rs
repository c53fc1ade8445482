//! A subscriber's outbox: messages waiting for its connection to write them, bounded by
//! `client-output-buffer-limit pubsub`.
//!
//! Publishers append pre-encoded frames (shared [`Bytes`], so a message fanned out to a thousand
//! subscribers is one allocation) and never wait: an append is O(1) under a short lock. The
//! connection task wakes on [`Outbox::poll_queued`] (a WebSocket session on [`Outbox::ready`]),
//! takes everything queued and writes it in one batch. Bytes count against the limit from the
//! moment they are queued until the socket accepted them, so a subscriber that stops reading
//! reaches the limit and is dropped instead of growing memory.

use crate::config::BufferLimit;
use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use crate::client::WakeFlag;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// What happened to an offered frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Queued for the connection to write.
    Queued,
    /// This frame pushed the client over its limit: the outbox is now closed and emptied, and
    /// the caller must disconnect the client.
    Overflowed,
    /// The outbox overflowed earlier; the frame was dropped.
    Closed,
}

/// How a subscriber's pub/sub messages are encoded: the publisher encodes each message once
/// per format in use and queues the same bytes for every subscriber of that format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A RESP2 array of bulk strings.
    Resp2 = 0,
    /// A RESP3 push.
    Resp3 = 1,
    /// A WebSocket gateway event in JSON: a complete text frame, header included.
    Json = 2,
    /// A WebSocket gateway event in MessagePack: a complete binary frame, header included.
    MsgPack = 3,
}

impl Format {
    /// How many formats there are (for per-format caches).
    pub const COUNT: usize = 4;

    fn from_u8(value: u8) -> Format {
        match value {
            1 => Format::Resp3,
            2 => Format::Json,
            3 => Format::MsgPack,
            _ => Format::Resp2,
        }
    }

    /// Whether frames of this format go to a WebSocket session (one message per frame) rather
    /// than a RESP connection (a byte stream).
    pub fn is_gateway(self) -> bool {
        matches!(self, Format::Json | Format::MsgPack)
    }
}

/// The per-client queue of pub/sub frames.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Frames and accounting; held only to append or to take.
    state: Mutex<State>,
    /// Bytes queued or being written (CLIENT LIST `omem`), readable without the lock.
    pending: AtomicUsize,
    /// The [`Format`] publishers encode this client's messages in.
    format: AtomicU8,
    /// Woken when the queue goes from empty to non-empty (a WebSocket session waits on it).
    ready: Notify,
    /// Set when frames are queued, for the RESP connection to check around every read.
    nonempty: WakeFlag,
}

#[derive(Debug, Default)]
struct State {
    frames: Vec<Bytes>,
    /// Bytes in `frames`.
    queued: usize,
    /// Bytes taken by the connection but not yet written.
    in_flight: usize,
    /// When the buffer first went over the soft limit (reset when it drops under).
    soft_since: Option<Instant>,
    overflowed: bool,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Appends `frame` unless that takes the client over `limit` (hard limit, or soft limit for
    /// longer than its seconds; 0 disables either).
    pub fn offer(&self, frame: &Bytes, limit: BufferLimit, now: Instant) -> Offer {
        let mut state = self.state.lock();
        if state.overflowed {
            return Offer::Closed;
        }
        let total = (state.queued + state.in_flight + frame.len()) as u64;
        let over_hard = limit.hard > 0 && total > limit.hard;
        let over_soft = limit.soft > 0 && total > limit.soft;
        let soft_expired = if over_soft {
            match state.soft_since {
                None => {
                    state.soft_since = Some(now);
                    false
                }
                Some(since) => now.saturating_duration_since(since) > Duration::from_secs(limit.soft_seconds),
            }
        } else {
            state.soft_since = None;
            false
        };
        if over_hard || soft_expired {
            state.overflowed = true;
            state.frames = Vec::new();
            state.queued = 0;
            self.nonempty.clear();
            self.pending.store(state.in_flight, Ordering::Relaxed);
            return Offer::Overflowed;
        }
        let was_empty = state.frames.is_empty();
        state.frames.push(frame.clone());
        state.queued += frame.len();
        self.pending.store(state.queued + state.in_flight, Ordering::Relaxed);
        drop(state);
        if was_empty {
            self.ready.notify_one();
            // A drain between the unlock and this only makes the connection look for nothing.
            self.nonempty.set();
        }
        Offer::Queued
    }

    /// Moves every queued frame to the end of `out`; the bytes count as in flight until
    /// [`Outbox::written`]. Returns how many bytes moved.
    pub fn take_in_flight(&self, out: &mut BytesMut) -> usize {
        let mut state = self.state.lock();
        let moved = self.drain(&mut state, out);
        state.in_flight += moved;
        moved
    }

    /// Moves every queued frame to the end of `out`, which the caller writes right away with
    /// the command replies it belongs with.
    pub fn take(&self, out: &mut BytesMut) -> usize {
        if self.pending.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        let mut state = self.state.lock();
        let moved = self.drain(&mut state, out);
        self.pending.store(state.in_flight, Ordering::Relaxed);
        moved
    }

    /// Hands every queued frame, one message each, to `each` (under the outbox's lock, so
    /// `each` only copies), then empties the queue: what a WebSocket session uses, since it
    /// counts its send queue in messages. Returns how many bytes were taken.
    pub fn drain_frames(&self, mut each: impl FnMut(&Bytes)) -> usize {
        if self.pending.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        let mut state = self.state.lock();
        let moved = state.queued;
        for frame in state.frames.drain(..) {
            each(&frame);
        }
        state.queued = 0;
        self.nonempty.clear();
        self.pending.store(state.in_flight, Ordering::Relaxed);
        moved
    }

    fn drain(&self, state: &mut State, out: &mut BytesMut) -> usize {
        let moved = state.queued;
        out.reserve(moved);
        for frame in state.frames.drain(..) {
            out.extend_from_slice(&frame);
        }
        state.queued = 0;
        self.nonempty.clear();
        moved
    }

    /// Records that `bytes` taken with [`Outbox::take_in_flight`] reached the socket.
    pub fn written(&self, bytes: usize) {
        let mut state = self.state.lock();
        state.in_flight = state.in_flight.saturating_sub(bytes);
        self.pending.store(state.queued + state.in_flight, Ordering::Relaxed);
    }

    /// Bytes queued or being written: the client's pub/sub output memory.
    pub fn pending_bytes(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Whether frames are waiting to be taken.
    pub fn has_queued(&self) -> bool {
        !self.state.lock().frames.is_empty()
    }

    /// Whether the outbox overflowed (the client is being disconnected).
    pub fn overflowed(&self) -> bool {
        self.state.lock().overflowed
    }

    /// Sets the RESP protocol publishers encode this client's messages for. A WebSocket
    /// session's gateway format is kept: its commands run as RESP3 but it wants gateway events.
    pub fn set_resp3(&self, resp3: bool) {
        let wanted = if resp3 { Format::Resp3 } else { Format::Resp2 } as u8;
        let _ = self.format.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| (!Format::from_u8(current).is_gateway()).then_some(wanted));
    }

    /// Whether publishers should send RESP3 push frames.
    pub fn is_resp3(&self) -> bool {
        self.format() == Format::Resp3
    }

    /// Sets the format publishers encode this client's messages in.
    pub fn set_format(&self, format: Format) {
        self.format.store(format as u8, Ordering::Relaxed);
    }

    /// The format publishers encode this client's messages in.
    pub fn format(&self) -> Format {
        Format::from_u8(self.format.load(Ordering::Relaxed))
    }

    /// Resolves when frames may be waiting (a permit is kept if nobody was waiting).
    pub async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Ready while frames are queued; otherwise `cx` is woken when one is. Cheaper than
    /// [`Outbox::ready`] to check on every read: a load, and a waker that is already there.
    pub fn poll_queued(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.nonempty.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(hard: u64, soft: u64, soft_seconds: u64) -> BufferLimit {
        BufferLimit { hard, soft, soft_seconds }
    }

    #[test]
    fn the_hard_limit_counts_bytes_in_flight_and_closes_the_outbox() {
        let outbox = Outbox::new();
        let frame = Bytes::from_static(b"0123456789");
        let now = Instant::now();
        assert_eq!(outbox.offer(&frame, limit(25, 0, 0), now), Offer::Queued);
        let mut out = BytesMut::new();
        assert_eq!(outbox.take_in_flight(&mut out), 10);
        assert_eq!(outbox.offer(&frame, limit(25, 0, 0), now), Offer::Queued);
        assert_eq!(outbox.pending_bytes(), 20);
        assert_eq!(outbox.offer(&frame, limit(25, 0, 0), now), Offer::Overflowed);
        assert_eq!(outbox.offer(&frame, limit(25, 0, 0), now), Offer::Closed);
        assert!(!outbox.has_queued());
    }

    #[test]
    fn the_soft_limit_allows_a_burst_shorter_than_its_seconds() {
        let outbox = Outbox::new();
        let frame = Bytes::from_static(b"0123456789");
        let start = Instant::now();
        assert_eq!(outbox.offer(&frame, limit(0, 5, 2), start), Offer::Queued);
        assert_eq!(outbox.offer(&frame, limit(0, 5, 2), start + Duration::from_secs(1)), Offer::Queued);
        let mut out = BytesMut::new();
        let moved = outbox.take_in_flight(&mut out);
        outbox.written(moved);
        assert_eq!(outbox.pending_bytes(), 0);
        // Under the soft limit again: the clock restarts.
        assert_eq!(outbox.offer(&Bytes::from_static(b"1"), limit(0, 5, 2), start + Duration::from_secs(2)), Offer::Queued);
        assert_eq!(outbox.offer(&frame, limit(0, 5, 2), start + Duration::from_secs(3)), Offer::Queued);
        assert_eq!(outbox.offer(&frame, limit(0, 5, 2), start + Duration::from_secs(6)), Offer::Overflowed);
    }
}
