//! One client connection: read, parse, run, reply.
//!
//! Each read is parsed into as many complete commands as it holds; the whole batch runs under
//! one acquisition of the keyspace lock, and its replies leave in one write. A protocol error
//! is answered and then the connection closes, as Redis does; any other bad input gets an
//! error reply and the connection lives on.
//!
//! A blocking command that finds nothing (BLPOP on empty lists) stops the batch: the replies
//! so far are written, the commands after it stay queued, and the connection waits for its
//! wake-up (a reply served through [`crate::blocking`]), its timeout, CLIENT UNBLOCK, a kill
//! or shutdown; then it writes that reply and runs the rest. While blocked it still reads,
//! only to notice a peer that goes away (its wait is then removed without a trace).

use crate::client::{ClientHandle, ClientState};
use crate::cmd::{self, Ctx};
use crate::keyspace::Keyspace;
use crate::resp::{encode, ParserLimits, Protocol, Reply, RequestParser};
use crate::server::Shared;
use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::debug;

/// How much the read buffer grows by when it runs out of room.
const READ_CHUNK: usize = 16 * 1024;

/// A client connection and its state.
pub struct Connection {
    shared: Arc<Shared>,
    socket: TcpStream,
    parser: RequestParser,
    input: BytesMut,
    output: BytesMut,
    client: ClientState,
    /// Parsed commands not yet run: the rest of a batch stopped by a blocking command.
    pending: VecDeque<Vec<Bytes>>,
    /// A protocol error met while parsing, answered once `pending` has run.
    protocol_error: Option<Reply>,
    /// The wait of a blocked command, between the batch that blocked and its wake-up.
    blocked: Option<Blocked>,
    /// What the last batch must wait for before its replies go out (durable streams under
    /// `stream-fsync always`: the fsync of its records), taken under the keyspace lock and
    /// awaited after releasing it.
    durable: Option<crate::persist::Ticket>,
}

/// A command blocked on keys, waiting for its reply.
struct Blocked {
    /// Yields the reply when [`crate::blocking`] serves or unblocks the client.
    reply: tokio::sync::oneshot::Receiver<Reply>,
    /// When the wait times out; `None` for ever.
    deadline: Option<tokio::time::Instant>,
    /// The reply on timeout.
    timeout_reply: Reply,
}

/// What ended one round of waiting for input.
enum Wake {
    /// The socket's read.
    Read(std::io::Result<usize>),
    /// Idle for `timeout` seconds, or, while blocked, the command's own timeout.
    TimedOut,
    Signal(Signal),
    /// While blocked: the command's reply.
    Reply(Reply),
}

/// Which of a connection's [`Signals`] fired.
enum Signal {
    Killed,
    Shutdown,
    Outbox,
}

/// Polls what a connection waits for besides its socket: CLIENT KILL (or an overflowed
/// outbox), shutdown, and pub/sub messages in its outbox. Each is a flag and a registered waker
/// (see [`crate::client::Kill`]), cheap enough to check around every read; awaiting `Notify`
/// and watch futures there took a lock per wait each time.
fn poll_signals(handle: &ClientHandle, shared: &Shared, cx: &mut Context<'_>) -> Poll<Signal> {
    if handle.kill.poll_requested(cx).is_ready() {
        return Poll::Ready(Signal::Killed);
    }
    // After registering with `kill`, which shutdown wakes.
    if shared.is_stopping() {
        return Poll::Ready(Signal::Shutdown);
    }
    if handle.outbox.poll_queued(cx).is_ready() {
        return Poll::Ready(Signal::Outbox);
    }
    Poll::Pending
}

/// Whether `args` names a command flagged `blocking` (BLPOP, ...): only those may block the
/// connection; run inside EXEC they keep their non-blocking reply.
fn is_blocking_command(args: &[Bytes]) -> bool {
    matches!(cmd::resolve(args), cmd::Resolved::Command(spec) if spec.has_flag("blocking"))
}

/// Why a connection ended.
enum Close {
    /// The peer closed, QUIT, or a protocol error after its reply.
    Normal,
    /// An I/O error or a limit.
    Error(String),
}

impl Connection {
    /// Registers a freshly accepted socket as a client.
    pub fn new(shared: Arc<Shared>, socket: TcpStream, addr: SocketAddr, local_addr: SocketAddr) -> Self {
        let handle: Arc<ClientHandle> = shared.clients.register(addr, local_addr);
        let limits = ParserLimits { max_bulk_len: shared.config.read().proto_max_bulk_len };
        Connection {
            shared,
            socket,
            parser: RequestParser::new(limits),
            input: BytesMut::with_capacity(READ_CHUNK),
            // Grown by the first replies, then kept: an idle subscriber, which has written a few
            // bytes, holds a small block rather than the first page of a 16 KiB one.
            output: BytesMut::new(),
            client: ClientState::new(handle),
            pending: VecDeque::new(),
            protocol_error: None,
            blocked: None,
            durable: None,
        }
    }

    /// Serves the client until it leaves, is killed, or the server shuts down.
    pub async fn run(mut self) {
        let outcome = self.serve().await;
        if let Close::Error(reason) = outcome {
            debug!(client = self.client.id, "connection closed: {reason}");
        }
        {
            // Not a plain lock(): a long script may hold the keyspace, and a blocked runtime
            // thread could be the one that must answer its SCRIPT KILL.
            let shared = self.shared.clone();
            let mut keyspace = crate::scripting::busy::lock_keyspace_async(&shared).await;
            self.client.watch.clear(&mut keyspace);
            crate::blocking::unblock(&mut keyspace, self.client.id);
            crate::pubsub::unsubscribe_all(&self.shared, &mut self.client.subscriptions, self.client.id);
        }
        self.shared.clients.unregister(self.client.id);
        let _ = self.socket.shutdown().await;
    }

    async fn serve(&mut self) -> Close {
        // Armed the first time `timeout` applies, then moved only when it fires early or the
        // timeout shrank: resetting a timer on every read would cost more than the read.
        let mut idle = pin!(tokio::time::sleep(Duration::ZERO));
        let mut idle_armed = false;
        loop {
            let (timeout, query_limit, max_bulk_len) = {
                let config = self.shared.config.read();
                (config.timeout, config.client_query_buffer_limit, config.proto_max_bulk_len)
            };
            self.parser.set_limits(ParserLimits { max_bulk_len });
            let want = self.parser.pending_bulk_len().unwrap_or(0).max(READ_CHUNK);
            if self.input.capacity() - self.input.len() < READ_CHUNK {
                self.input.reserve(want);
            }
            // As in Redis, `timeout` never closes a subscriber (nor a blocked client).
            let idle_deadline = if timeout == 0 || self.client.subscriptions.is_active() {
                None
            } else {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
                if !idle_armed || idle.deadline() > deadline {
                    idle.as_mut().reset(deadline);
                    idle_armed = true;
                }
                Some(deadline)
            };
            let wake = {
                let mut read = pin!(self.socket.read_buf(&mut self.input));
                std::future::poll_fn(|cx| {
                    if let Poll::Ready(signal) = poll_signals(&self.client.handle, &self.shared, cx) {
                        return Poll::Ready(Wake::Signal(signal));
                    }
                    if let Some(deadline) = idle_deadline {
                        while idle.as_mut().poll(cx).is_ready() {
                            if tokio::time::Instant::now() >= deadline {
                                return Poll::Ready(Wake::TimedOut);
                            }
                            idle.as_mut().reset(deadline);
                        }
                    }
                    read.as_mut().poll(cx).map(Wake::Read)
                })
                .await
            };
            let read = match wake {
                Wake::Read(read) => read,
                Wake::Signal(Signal::Killed) => return Close::Error("killed".into()),
                Wake::Signal(Signal::Shutdown) => return Close::Normal,
                Wake::TimedOut => return Close::Error("idle timeout".into()),
                Wake::Signal(Signal::Outbox) => {
                    // Pub/sub messages are waiting: write them, then wait again.
                    if let Err(close) = self.deliver().await {
                        return close;
                    }
                    continue;
                }
                // Only a blocked command's wait yields a reply.
                Wake::Reply(_) => continue,
            };
            match read {
                Ok(0) => return Close::Normal,
                Ok(n) => {
                    self.shared.stats.total_net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => return Close::Error(e.to_string()),
            }
            if self.input.len() as u64 > query_limit {
                return Close::Error("query buffer limit reached".into());
            }
            if let Err(close) = self.run_batch().await {
                return close;
            }
            // A blocking command stopped the batch: wait for its reply, then run the rest.
            while let Some(blocked) = self.blocked.take() {
                if let Err(close) = self.wait_unblocked(blocked).await {
                    return close;
                }
                if let Err(close) = self.run_batch().await {
                    return close;
                }
            }
        }
    }

    /// Waits until the blocked command is served, times out, is unblocked, or the client goes
    /// away; appends its reply to the output buffer.
    async fn wait_unblocked(&mut self, blocked: Blocked) -> Result<(), Close> {
        let Blocked { mut reply, deadline, timeout_reply } = blocked;
        let query_limit = self.shared.config.read().client_query_buffer_limit;
        let timer = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending::<()>().await,
            }
        };
        let mut timer = pin!(timer);
        let answer = loop {
            if self.input.capacity() - self.input.len() < READ_CHUNK {
                self.input.reserve(READ_CHUNK);
            }
            let wake = {
                let mut read = pin!(self.socket.read_buf(&mut self.input));
                std::future::poll_fn(|cx| {
                    if let Poll::Ready(signal) = poll_signals(&self.client.handle, &self.shared, cx) {
                        return Poll::Ready(Wake::Signal(signal));
                    }
                    if let Poll::Ready(served) = Pin::new(&mut reply).poll(cx) {
                        return Poll::Ready(served.map_or(Wake::TimedOut, Wake::Reply));
                    }
                    if timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Wake::TimedOut);
                    }
                    read.as_mut().poll(cx).map(Wake::Read)
                })
                .await
            };
            match wake {
                Wake::Reply(answer) => break answer,
                Wake::TimedOut => {
                    let removed = crate::blocking::unblock(&mut self.shared.keyspace.lock(), self.client.id);
                    // Not blocked any more: it was served just now and the reply is waiting.
                    let served = if removed.is_none() { reply.try_recv().ok() } else { None };
                    break served.unwrap_or_else(|| timeout_reply.clone());
                }
                Wake::Read(Ok(0)) => return Err(Close::Normal),
                Wake::Read(Ok(n)) => {
                    self.shared.stats.total_net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    if self.input.len() as u64 > query_limit {
                        return Err(Close::Error("query buffer limit reached".into()));
                    }
                }
                Wake::Read(Err(e)) => return Err(Close::Error(e.to_string())),
                Wake::Signal(Signal::Killed) => return Err(Close::Error("killed".into())),
                Wake::Signal(Signal::Shutdown) => return Err(Close::Normal),
                Wake::Signal(Signal::Outbox) => self.deliver().await?,
            }
        };
        if answer.is_error() {
            self.shared.stats.total_error_replies.fetch_add(1, Ordering::Relaxed);
        }
        encode(&answer, self.client.protocol, &mut self.output);
        Ok(())
    }

    /// Writes the output buffer, giving up if the client is killed meanwhile (a peer that
    /// stopped reading must not pin the connection, e.g. when its outbox overflowed). Tries the
    /// socket directly first: a reply that fits in the socket's buffer needs no waiting.
    async fn write_output(&mut self) -> Result<(), Close> {
        if self.output.is_empty() {
            return Ok(());
        }
        let written = self.output.len();
        match self.socket.try_write(&self.output) {
            Ok(n) => self.output.advance(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(Close::Error(e.to_string())),
        }
        if !self.output.is_empty() {
            let mut write = pin!(self.socket.write_all(&self.output));
            let result = std::future::poll_fn(|cx| {
                if self.client.handle.kill.poll_requested(cx).is_ready() {
                    return Poll::Ready(Err(Close::Error("killed".into())));
                }
                write.as_mut().poll(cx).map_err(|e| Close::Error(e.to_string()))
            })
            .await;
            result?;
        }
        self.shared.stats.total_net_output_bytes.fetch_add(written as u64, Ordering::Relaxed);
        self.output.clear();
        Ok(())
    }

    /// Writes the pub/sub messages queued in the client's outbox, all in one write. Their bytes
    /// count against the output buffer limit until the socket took them.
    async fn deliver(&mut self) -> Result<(), Close> {
        let handle = self.client.handle.clone();
        let moved = handle.outbox.take_in_flight(&mut self.output);
        let result = self.write_output().await;
        handle.outbox.written(moved);
        if result.is_ok() {
            handle.info.lock().output_memory = handle.outbox.pending_bytes();
        }
        result
    }

    /// Runs the buffered commands and writes their replies. `Err` when the connection must
    /// end: a write failed, a protocol error, QUIT, or SHUTDOWN (which it also requests).
    async fn run_batch(&mut self) -> Result<(), Close> {
        let close = self.process_input();
        if let Some(ticket) = self.durable.take() {
            if ticket.wait().await.is_err() {
                // Never acknowledge a write that may not be on disk.
                return Err(Close::Error("durable stream write failed".into()));
            }
        }
        self.write_output().await?;
        if self.client.shutdown_requested {
            self.shared.request_shutdown();
            return Err(Close::Normal);
        }
        if close || self.client.close_after_reply {
            return Err(Close::Normal);
        }
        Ok(())
    }

    /// Parses and runs every complete command in the input buffer, appending replies to the
    /// output buffer. Returns true if the connection must close (protocol error).
    fn process_input(&mut self) -> bool {
        while self.protocol_error.is_none() {
            match self.parser.parse(&mut self.input) {
                Ok(Some(args)) => self.pending.push_back(args),
                Ok(None) => break,
                Err(e) => self.protocol_error = Some(Reply::error(e.message())),
            }
        }
        let mut last: Option<Vec<Bytes>> = None;
        if !self.pending.is_empty() {
            let shared = self.shared.clone();
            // A script holding the keyspace past busy-reply-threshold: answer -BUSY (or run
            // SCRIPT KILL / SHUTDOWN NOSAVE) without the lock instead of waiting for it.
            let Some(mut keyspace) = crate::scripting::busy::lock_keyspace_unless_busy(&shared) else {
                while let Some(args) = self.pending.pop_front() {
                    let reply = crate::scripting::busy::busy_reply(&shared, &mut self.client, &args);
                    self.encode_reply(&reply);
                    self.recycle(last.replace(args));
                    if self.client.shutdown_requested {
                        break;
                    }
                }
                return self.finish_batch(last);
            };
            let persisted_before = crate::persist::begin(&mut keyspace);
            // Messages queued before this batch go out before its replies.
            self.client.handle.outbox.take(&mut self.output);
            while let Some(args) = self.pending.pop_front() {
                keyspace.refresh_clock();
                let reply = run_command(&shared, &mut keyspace, &mut self.client, &args);
                let block_args = self.client.block_args.take();
                if let Some(request) = self.client.block_request.take() {
                    if is_blocking_command(&args) {
                        // Found nothing: wait instead of replying; the rest of the batch waits too.
                        let deadline = request.timeout.map(|t| tokio::time::Instant::now() + t);
                        let timeout_reply = request.timeout_reply.clone();
                        let db = self.client.db;
                        let rerun = block_args.unwrap_or_else(|| args.clone());
                        let receiver = crate::blocking::block(&mut keyspace, self.client.id, db, rerun, request);
                        self.blocked = Some(Blocked { reply: receiver, deadline, timeout_reply });
                        self.recycle(last.replace(args));
                        break;
                    }
                }
                // Replies are encoded as they are made, straight into the output buffer.
                if let Some(reply) = reply {
                    self.encode_reply(&reply);
                }
                publish_events(&shared, &mut keyspace);
                self.take_own_pushes();
                self.recycle(last.replace(args));
                if self.client.close_after_reply || self.client.shutdown_requested {
                    break;
                }
            }
            self.durable = crate::persist::ticket(&mut keyspace, persisted_before);
        }
        self.finish_batch(last)
    }

    /// Appends one command's reply to the output buffer, counting errors.
    fn encode_reply(&mut self, reply: &Reply) {
        if reply.is_error() {
            self.shared.stats.total_error_replies.fetch_add(1, Ordering::Relaxed);
        }
        encode(reply, self.client.protocol, &mut self.output);
    }

    /// Ends a batch: answers a pending protocol error and updates the client's info; returns
    /// true if the connection must close. `last` is the batch's last command.
    fn finish_batch(&mut self, last: Option<Vec<Bytes>>) -> bool {
        let mut closing = false;
        if self.blocked.is_none() {
            if let Some(error) = self.protocol_error.take() {
                self.shared.stats.total_error_replies.fetch_add(1, Ordering::Relaxed);
                encode(&error, self.client.protocol, &mut self.output);
                closing = true;
            }
        }
        self.update_info(last.as_ref());
        self.recycle(last);
        closing
    }

    /// Hands a finished command's argument vector back to the parser for reuse, so a command
    /// costs no allocation for its argument list.
    fn recycle(&mut self, args: Option<Vec<Bytes>>) {
        if let Some(args) = args {
            self.parser.recycle(args);
        }
    }

    /// Moves the pushes this client's own command caused (it published to a channel it is
    /// subscribed to, or raised a notification it listens to) right after that command's reply,
    /// as Redis 7.4 does. Also keeps the outbox's protocol in step with HELLO.
    fn take_own_pushes(&mut self) {
        let outbox = &self.client.handle.outbox;
        outbox.set_resp3(self.client.protocol == Protocol::Resp3);
        outbox.take(&mut self.output);
    }

    fn update_info(&mut self, last: Option<&Vec<Bytes>>) {
        let mut info = self.client.handle.info.lock();
        info.sub = self.client.subscriptions.channels.len();
        info.psub = self.client.subscriptions.patterns.len();
        info.ssub = self.client.subscriptions.shard_channels.len();
        info.output_memory = self.client.handle.outbox.pending_bytes();
        info.db = self.client.db;
        info.resp = self.client.protocol.version();
        info.multi = self.client.multi.as_ref().map_or(-1, |m| m.queued.len() as i64);
        info.watch = self.client.watch.keys.len();
        info.query_buffer = self.input.len();
        if let Some(args) = last {
            if let cmd::Resolved::Command(spec) = cmd::resolve(args) {
                info.last_command = spec.name;
            }
            info.last_interaction = Instant::now();
        }
    }
}

/// Runs one request for `client` with the keyspace locked. `None` when no reply is due.
pub fn run_command(shared: &Shared, keyspace: &mut Keyspace, client: &mut ClientState, args: &[Bytes]) -> Option<Reply> {
    // Commands record keyspace events only while the flags publish something. Read here, with
    // the keyspace locked, so every path that runs commands (connections, the gateway) sees a
    // change however it was made; CONFIG SET also updates it for the rest of an EXEC.
    keyspace.set_notifications(shared.config.read().notify_keyspace_events.enabled());
    let mut ctx = Ctx { keyspace, client, shared };
    let reply = cmd::dispatch(&mut ctx, args);
    // Serve clients blocked on keys this command made ready (after EXEC: after all of it).
    crate::blocking::serve_ready(ctx.keyspace);
    if ctx.client.reply_off {
        return None;
    }
    if ctx.client.reply_skip > 0 {
        // CLIENT REPLY SKIP: drop its own reply and the next command's.
        ctx.client.reply_skip -= 1;
        return None;
    }
    Some(reply)
}

/// Hands the events raised by the commands just run to the notification layer.
pub fn publish_events(shared: &Shared, keyspace: &mut Keyspace) {
    let events = keyspace.drain_events();
    let expired = events.iter().filter(|e| e.event == "expired").count();
    if expired > 0 {
        shared.stats.expired_keys.fetch_add(expired as u64, Ordering::Relaxed);
    }
    crate::pubsub::notify_events(shared, &events);
}
