//! The server's side of the WebSocket wire: frames it writes, the socket split it reads and
//! writes through, and the per-connection queue of bytes waiting for the socket.
//!
//! tokio-tungstenite does the handshake and reads (and validates) client frames. Everything
//! the server sends it frames itself: server-to-client frames are never masked (RFC 6455
//! §5.1), so a frame is a 2-10 byte header and the payload, and a published message's frame is
//! the same bytes for every subscriber of one encoding. The hub builds that frame once per
//! message ([`crate::pubsub::Format`]) and sessions copy it into their [`Output`] as a RESP
//! connection copies its shared push, so a burst of messages leaves in one write.
//!
//! After the handshake the write half of the socket is taken out of the tungstenite stream
//! ([`Gate::take_writer`]); tungstenite keeps reading. Its own writes from then on (the pong it
//! queues for a ping, the close frame it echoes) are discarded by [`Gate`], and the session
//! writes them instead ([`Opcode::Pong`], [`close_payload`]), so every byte on the wire comes
//! from one queue, in order.

use bytes::{BufMut, Bytes, BytesMut};
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// The frame types the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// A JSON message.
    Text = 0x1,
    /// A MessagePack message.
    Binary = 0x2,
    /// The closing handshake.
    Close = 0x8,
    /// Keep-alive probe.
    Ping = 0x9,
    /// Answer to a client's ping.
    Pong = 0xA,
}

/// Appends the header of a final, unmasked frame of `len` payload bytes.
pub fn put_header(out: &mut BytesMut, opcode: Opcode, len: usize) {
    out.put_u8(0x80 | opcode as u8);
    if len < 126 {
        out.put_u8(len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.put_u8(126);
        out.put_u16(len);
    } else {
        out.put_u8(127);
        out.put_u64(len as u64);
    }
}

/// One complete frame: header and `payload`.
pub fn frame(opcode: Opcode, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + 10);
    put_header(&mut out, opcode, payload.len());
    out.put_slice(payload);
    out.freeze()
}

/// The payload of a close frame: the code, big-endian, then the UTF-8 reason.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = Vec::with_capacity(2 + reason.len());
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(reason.as_bytes());
    payload
}

/// The socket as tungstenite sees it: reads go to the socket; writes go to it until the session
/// takes the write half ([`Gate::take_writer`]), and are discarded after that.
#[derive(Debug)]
pub struct Gate {
    read: OwnedReadHalf,
    write: Option<OwnedWriteHalf>,
}

impl Gate {
    /// Wraps an accepted socket for the handshake.
    pub fn new(socket: TcpStream) -> Gate {
        let (read, write) = socket.into_split();
        Gate { read, write: Some(write) }
    }

    /// Takes the write half (once, after the handshake).
    pub fn take_writer(&mut self) -> Option<OwnedWriteHalf> {
        self.write.take()
    }
}

impl AsyncRead for Gate {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

impl AsyncWrite for Gate {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.write.as_mut() {
            Some(write) => Pin::new(write).poll_write(cx, buf),
            None => Poll::Ready(Ok(buf.len())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.write.as_mut() {
            Some(write) => Pin::new(write).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.write.as_mut() {
            Some(write) => Pin::new(write).poll_shutdown(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}

/// A buffer kept after it drained is at most this big; a bigger one (a burst) is released, so
/// an idle connection holds little.
const KEEP_CAPACITY: usize = 4 * 1024;

/// Frames waiting for the socket, in order, and where each one ends (the send queue's length
/// in messages, and the boundary a close may cut at).
#[derive(Debug, Default)]
pub struct Output {
    buf: BytesMut,
    /// End offset of each queued frame, counted from the first byte ever queued.
    ends: VecDeque<u64>,
    /// Bytes ever written.
    written: u64,
    /// Where the last completely written frame ended (so the first queued frame has started on
    /// the wire when `written` is past it).
    done: u64,
}

impl Output {
    /// An empty queue.
    pub fn new() -> Output {
        Output::default()
    }

    /// Frames queued and not completely written.
    pub fn frames(&self) -> usize {
        self.ends.len()
    }

    /// Whether nothing waits for the socket.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Queues a frame of `payload`.
    pub fn push(&mut self, opcode: Opcode, payload: &[u8]) {
        self.buf.reserve(payload.len() + 10);
        put_header(&mut self.buf, opcode, payload.len());
        self.buf.put_slice(payload);
        self.end_frame();
    }

    /// Queues a complete frame built elsewhere (a published message's shared frame).
    pub fn push_framed(&mut self, frame: &[u8]) {
        self.buf.extend_from_slice(frame);
        self.end_frame();
    }

    fn end_frame(&mut self) {
        self.ends.push_back(self.written + self.buf.len() as u64);
    }

    /// Drops every frame not started on the wire yet (a frame partly written stays, so the
    /// stream stays well-formed): what a close does before its close frame.
    pub fn discard_unstarted(&mut self) {
        let keep = match self.ends.front() {
            Some(&end) if self.written > self.done => end - self.written,
            _ => 0,
        };
        self.buf.truncate(usize::try_from(keep).unwrap_or(usize::MAX));
        self.ends.truncate(usize::from(keep > 0));
    }

    /// Writes as much as the socket takes now without waiting. `Err` when the socket failed.
    pub fn write_now(&mut self, socket: &OwnedWriteHalf) -> io::Result<()> {
        while !self.buf.is_empty() {
            match socket.try_write(&self.buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn advance(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        bytes::Buf::advance(&mut self.buf, n);
        self.written += n as u64;
        while let Some(&end) = self.ends.front() {
            if end > self.written {
                break;
            }
            self.done = end;
            self.ends.pop_front();
        }
        if self.buf.is_empty() {
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf = BytesMut::new();
            }
            if self.ends.capacity() > 64 {
                self.ends = VecDeque::new();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_use_the_shortest_length_form() {
        for (len, header) in [(0usize, vec![0x81, 0]), (125, vec![0x81, 125]), (126, vec![0x81, 126, 0, 126]), (65_535, vec![0x81, 126, 0xff, 0xff]), (65_536, vec![0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0])] {
            let mut out = BytesMut::new();
            put_header(&mut out, Opcode::Text, len);
            assert_eq!(&out[..], &header[..], "length {len}");
        }
        assert_eq!(&frame(Opcode::Close, &close_payload(4001, "x"))[..], &[0x88, 3, 0x0f, 0xa1, b'x']);
    }

    #[test]
    fn the_queue_counts_frames_until_they_are_completely_written() {
        let mut output = Output::new();
        output.push(Opcode::Text, b"abc");
        output.push_framed(&frame(Opcode::Binary, b"defg"));
        assert_eq!(output.frames(), 2);
        output.advance(4);
        assert_eq!(output.frames(), 2, "one byte of the first frame is still queued");
        output.advance(1);
        assert_eq!(output.frames(), 1);
        output.advance(6);
        assert!(output.is_empty());
        assert_eq!(output.frames(), 0);
    }

    #[test]
    fn a_close_keeps_a_partly_written_frame_and_drops_the_rest() {
        let mut output = Output::new();
        output.push(Opcode::Text, b"abc");
        output.push(Opcode::Text, b"def");
        output.discard_unstarted();
        assert!(output.is_empty(), "nothing was on the wire yet");
        output.push(Opcode::Text, b"abc");
        output.push(Opcode::Text, b"def");
        output.advance(2);
        output.discard_unstarted();
        assert_eq!(&output.buf[..], b"abc", "the started frame is finished");
        assert_eq!(output.frames(), 1);
        output.advance(3);
        output.push(Opcode::Text, b"g");
        output.discard_unstarted();
        assert!(output.is_empty(), "a frame queued after complete ones has not started");
    }
}
