//! One client connection: read, parse, run, reply.
//!
//! Each read is parsed into as many complete commands as it holds; the whole batch runs under
//! one acquisition of the keyspace lock, and its replies leave in one write. A protocol error
//! is answered and then the connection closes, as Redis does; any other bad input gets an
//! error reply and the connection lives on.

use crate::client::{ClientHandle, ClientState};
use crate::cmd::{self, Ctx};
use crate::keyspace::Keyspace;
use crate::resp::{encode, ParserLimits, Protocol, Reply, RequestParser};
use crate::server::Shared;
use bytes::{Bytes, BytesMut};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
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
            output: BytesMut::with_capacity(READ_CHUNK),
            client: ClientState::new(handle),
        }
    }

    /// Serves the client until it leaves, is killed, or the server shuts down.
    pub async fn run(mut self) {
        let outcome = self.serve().await;
        if let Close::Error(reason) = outcome {
            debug!(client = self.client.id, "connection closed: {reason}");
        }
        {
            let mut keyspace = self.shared.keyspace.lock();
            self.client.watch.clear(&mut keyspace);
            crate::pubsub::unsubscribe_all(&self.shared, &mut self.client.subscriptions, self.client.id);
        }
        self.shared.clients.unregister(self.client.id);
        let _ = self.socket.shutdown().await;
    }

    async fn serve(&mut self) -> Close {
        let mut shutdown = self.shared.shutdown_signal();
        let handle = self.client.handle.clone();
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
            let idle_limit = async {
                if timeout == 0 {
                    std::future::pending::<()>().await;
                } else {
                    tokio::time::sleep(Duration::from_secs(timeout)).await;
                }
            };
            let read = tokio::select! {
                read = self.socket.read_buf(&mut self.input) => Some(read),
                _ = handle.kill.notified() => return Close::Error("killed".into()),
                _ = shutdown.wait_for(|stopping| *stopping) => return Close::Normal,
                _ = idle_limit => return Close::Error("idle timeout".into()),
                _ = handle.outbox.ready() => None,
            };
            let Some(read) = read else {
                // Pub/sub messages are waiting: write them, then wait again.
                if let Err(close) = self.deliver().await {
                    return close;
                }
                continue;
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
            let close = self.process_input();
            if let Err(close) = self.write_output().await {
                return close;
            }
            if self.client.shutdown_requested {
                self.shared.request_shutdown();
                return Close::Normal;
            }
            if close || self.client.close_after_reply {
                return Close::Normal;
            }
        }
    }

    /// Writes the output buffer, giving up if the client is killed meanwhile (a peer that
    /// stopped reading must not pin the connection, e.g. when its outbox overflowed).
    async fn write_output(&mut self) -> Result<(), Close> {
        if self.output.is_empty() {
            return Ok(());
        }
        let written = self.output.len();
        tokio::select! {
            result = self.socket.write_all(&self.output) => result.map_err(|e| Close::Error(e.to_string()))?,
            _ = self.client.handle.kill.notified() => return Err(Close::Error("killed".into())),
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

    /// Parses and runs every complete command in the input buffer, appending replies to the
    /// output buffer. Returns true if the connection must close (protocol error).
    fn process_input(&mut self) -> bool {
        let mut batch: Vec<Vec<Bytes>> = Vec::new();
        let mut protocol_error = None;
        loop {
            match self.parser.parse(&mut self.input) {
                Ok(Some(args)) => batch.push(args),
                Ok(None) => break,
                Err(e) => {
                    protocol_error = Some(e);
                    break;
                }
            }
        }
        let mut replies: Vec<(Reply, Protocol)> = Vec::with_capacity(batch.len());
        if !batch.is_empty() {
            let shared = self.shared.clone();
            let mut keyspace = shared.keyspace.lock();
            // Messages queued before this batch go out before its replies.
            self.client.handle.outbox.take(&mut self.output);
            for args in &batch {
                keyspace.refresh_clock();
                let reply = run_command(&shared, &mut keyspace, &mut self.client, args);
                if let Some(reply) = reply {
                    replies.push((reply, self.client.protocol));
                }
                publish_events(&shared, &mut keyspace);
                self.take_own_pushes(&mut replies);
                if self.client.close_after_reply || self.client.shutdown_requested {
                    break;
                }
            }
        }
        for (reply, protocol) in &replies {
            if let Reply::Error(_) = reply {
                self.shared.stats.total_error_replies.fetch_add(1, Ordering::Relaxed);
            }
            encode(reply, *protocol, &mut self.output);
        }
        if let Some(error) = &protocol_error {
            self.shared.stats.total_error_replies.fetch_add(1, Ordering::Relaxed);
            encode(&Reply::error(error.message()), self.client.protocol, &mut self.output);
        }
        self.update_info(batch.last());
        protocol_error.is_some()
    }

    /// Moves the pushes this client's own command caused (it published to a channel it is
    /// subscribed to, or raised a notification it listens to) right after that command's reply,
    /// as Redis 7.4 does. Also keeps the outbox's protocol in step with HELLO.
    fn take_own_pushes(&mut self, replies: &mut Vec<(Reply, Protocol)>) {
        let outbox = &self.client.handle.outbox;
        outbox.set_resp3(self.client.protocol == Protocol::Resp3);
        let mut own = BytesMut::new();
        if outbox.take(&mut own) > 0 {
            replies.push((Reply::Raw(own.freeze()), self.client.protocol));
        }
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
    let mut ctx = Ctx { keyspace, client, shared };
    let reply = cmd::dispatch(&mut ctx, args);
    if ctx.client.reply_off {
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
