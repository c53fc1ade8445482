//! One WebSocket connection: requests in, replies and events out.
//!
//! The session is a client like any RESP connection: it registers in the client registry, owns
//! a [`ClientState`] (RESP3, so replies keep their types), and runs every request as commands
//! through [`run_command`] under the keyspace lock, one request at a time.
//!
//! Outgoing frames go through a bounded queue (`ws-send-queue` frames, [`Output`]) that the
//! session task itself writes to the socket, without waiting: whatever the socket takes now
//! leaves at once, the rest when it is writable again, many frames per write. Pub/sub messages
//! arrive already framed by the hub (one frame per message and encoding, shared by every
//! subscriber, see [`super::wire`]) and are copied in as a RESP connection copies its pushes.
//! The session never waits for room for pub/sub messages: a client whose queue is full is
//! closed with [`close::TOO_SLOW`], so one slow reader never slows the publisher or other
//! subscribers. Followed streams are different: they are read in batches only when the queue
//! has room, so a long catch-up is paced by the client instead of closing it.
//!
//! # Following a stream without gap or duplicate
//! For each followed stream the session remembers the last ID it delivered. It runs
//! `XREAD COUNT n BLOCK 0 STREAMS k.. id..` from those IDs; entries found are delivered and the
//! IDs advance; when nothing is found, the same command blocks through [`crate::blocking`]
//! under the same keyspace lock, exactly as a RESP client's XREAD BLOCK does, so no entry can
//! be added between the read and the wait. When the wait is served the session delivers the
//! entries and reads again from the new IDs. A client resuming after a reconnect passes the
//! last ID it saw as `from`, and gets exactly what came after it.
//!
//! # Blocking group reads
//! A `group_read` with `block` runs `XREADGROUP ... BLOCK ms`; when it finds nothing it waits
//! through [`crate::blocking`] like a RESP client's, under the id `client id | GROUP_WAITER`
//! so that it can wait while the followed streams wait under the client id. Requests read
//! meanwhile are kept (decoded, in order) and run once it is answered, so replies keep
//! request order; pub/sub messages and followed entries keep flowing.

use super::close;
use super::message::{self, answer, Body, Data, Encoding, Entry, ErrorBody, Id, Names, Outgoing, Value};
use super::token::Grants;
use super::wire::{self, Gate, Opcode, Output};
use crate::client::ClientState;
use crate::cmd;
use crate::config::WsConfig;
use crate::connection::{publish_events, run_command};
use crate::pubsub::Format;
use crate::resp::{Protocol, Reply};
use crate::server::Shared;
use bytes::Bytes;
use futures_util::StreamExt;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// Most requests a client may queue behind a blocked `group_read`; one more closes it as too
/// slow (it is not reading its replies, or is flooding).
const MAX_DEFERRED: usize = 1024;

/// The bit that turns a session's client id into the id its blocked `group_read` waits under
/// in [`crate::blocking`], so it can wait while the followed streams wait under the client id.
const GROUP_WAITER: u64 = 1 << 63;

/// Most entries per stream in one `entries` event.
const FOLLOW_BATCH: usize = 256;

/// Commands the generic `command` message refuses besides those flagged `blocking` or
/// `admin`: they would change the session's own state behind its back (subscriptions,
/// transactions, protocol, reply mode) or need a dedicated message.
const REFUSED: &[&str] = &[
    "subscribe",
    "unsubscribe",
    "psubscribe",
    "punsubscribe",
    "ssubscribe",
    "sunsubscribe",
    "multi",
    "exec",
    "discard",
    "watch",
    "unwatch",
    "hello",
    "reset",
    "quit",
    "auth",
    "client",
    "select",
    "monitor",
    "shutdown",
];

/// The read side of the connection: tungstenite reads and validates client frames.
type Source = WebSocketStream<Gate>;

/// How a session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Send a close frame with this code and reason.
    Close(u16, &'static str),
    /// The peer closed first with this code (if any): answer with the same code.
    Echo(Option<u16>),
    /// The peer is gone.
    Gone,
}

/// How a request was answered.
enum Answer {
    /// A result built here.
    Value(Value),
    /// A command's reply as it is.
    Reply(Reply),
    /// A `group_read` that found nothing and now waits ([`Session::group_wait`]).
    Blocked,
}

/// A `group_read` blocked like `XREADGROUP BLOCK`.
struct GroupWait {
    /// The request's id, for its reply.
    id: Option<Id>,
    /// Yields the XREADGROUP reply once served.
    reply: oneshot::Receiver<Reply>,
    /// When it gives up (`None`: never).
    deadline: Option<tokio::time::Instant>,
}

/// A request read while a `group_read` was blocked: decoded, or why it could not be.
type Deferred = Result<(Option<Id>, Body), (Option<Id>, String)>;

/// One WebSocket client.
pub struct Session {
    shared: Arc<Shared>,
    client: ClientState,
    encoding: Encoding,
    /// What the handshake token allows; `None` without a token (everything).
    grants: Option<Grants>,
    send_queue: usize,
    idle_timeout: u64,
    /// Followed streams and the last ID delivered from each.
    follows: BTreeMap<Bytes, Bytes>,
    /// The blocked XREAD of the followed streams, when they had nothing new.
    follow_wait: Option<oneshot::Receiver<Reply>>,
    /// Whether the followed streams must be read (again).
    pump: bool,
    /// The blocked `group_read`, if any; later requests wait in `deferred` so that replies
    /// keep request order.
    group_wait: Option<GroupWait>,
    /// Requests that arrived while a `group_read` was blocked, oldest first.
    deferred: VecDeque<Deferred>,
}

fn args(words: &[&[u8]]) -> Vec<Bytes> {
    words.iter().map(|w| Bytes::copy_from_slice(w)).collect()
}

fn forbidden(what: &str, name: &str) -> ErrorBody {
    ErrorBody::new("FORBIDDEN", format!("the token does not allow {what} '{name}'"))
}

/// Whether `id` is a stream ID a client may pass as `from`: `ms` or `ms-seq`.
fn valid_id(id: &str) -> bool {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    !ms.is_empty() && !seq.is_empty() && ms.parse::<u64>().is_ok() && seq.parse::<u64>().is_ok()
}

/// Entries as a reply value: `[{id, fields: {f: v}}]`.
fn entries_value(entries: Vec<Entry>) -> Value {
    Value::Array(
        entries
            .into_iter()
            .map(|e| {
                let fields = match e.fields {
                    None => Value::Null,
                    Some(fields) => Value::Map(fields.into_iter().map(|(f, v)| (Value::Str(f), Value::Str(v))).collect()),
                };
                Value::Map(vec![(Value::Str(Data::from("id")), Value::Str(Data::from(e.id.as_str()))), (Value::Str(Data::from("fields")), fields)])
            })
            .collect(),
    )
}

impl Session {
    /// Registers the client for a freshly upgraded connection.
    pub fn new(shared: Arc<Shared>, addr: SocketAddr, local_addr: SocketAddr, encoding: Encoding, grants: Option<Grants>, config: &WsConfig) -> Session {
        let handle = shared.clients.register(addr, local_addr);
        handle.info.lock().lib_name = Some(Bytes::from_static(b"herald-ws"));
        // Publishers encode this session's messages as gateway events (SUBSCRIBE's RESP3 does
        // not override it: see `Outbox::set_resp3`).
        handle.outbox.set_format(match encoding {
            Encoding::Json => Format::Json,
            Encoding::MsgPack => Format::MsgPack,
        });
        let mut client = ClientState::new(handle);
        client.protocol = Protocol::Resp3;
        Session {
            shared,
            client,
            encoding,
            grants,
            send_queue: config.send_queue.max(1),
            idle_timeout: config.idle_timeout,
            follows: BTreeMap::new(),
            follow_wait: None,
            pump: false,
            group_wait: None,
            deferred: VecDeque::new(),
        }
    }

    /// Serves the connection until either side closes it, then forgets the client.
    pub async fn run(mut self, mut stream: Source) {
        if let Some(writer) = stream.get_mut().take_writer() {
            let mut output = Output::new();
            let end = self.serve(&mut stream, &writer, &mut output).await;
            finish(writer, output, end).await;
        }
        {
            let mut keyspace = self.shared.keyspace.lock();
            self.client.watch.clear(&mut keyspace);
            crate::blocking::unblock(&mut keyspace, self.client.id);
            crate::blocking::unblock(&mut keyspace, self.client.id | GROUP_WAITER);
            crate::pubsub::unsubscribe_all(&self.shared, &mut self.client.subscriptions, self.client.id);
        }
        self.shared.clients.unregister(self.client.id);
    }

    async fn serve(&mut self, source: &mut Source, writer: &OwnedWriteHalf, output: &mut Output) -> End {
        let handle = self.client.handle.clone();
        let mut shutdown = self.shared.shutdown_signal();
        let idle = (self.idle_timeout > 0).then(|| Duration::from_secs(self.idle_timeout));
        let ping_every = idle.map_or(Duration::from_secs(30), |d| (d / 3).max(Duration::from_millis(100)));
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        let mut last_seen = Instant::now();
        loop {
            let mut wait = self.follow_wait.take();
            let waiting = wait.is_some();
            let served = async {
                match wait.as_mut() {
                    Some(receiver) => receiver.await,
                    None => std::future::pending().await,
                }
            };
            let mut group = self.group_wait.take();
            let group_waiting = group.is_some();
            let group_served = async {
                match group.as_mut() {
                    Some(GroupWait { reply, deadline: Some(deadline), .. }) => tokio::time::timeout_at(*deadline, reply).await.ok().and_then(Result::ok),
                    Some(GroupWait { reply, deadline: None, .. }) => reply.await.ok(),
                    None => std::future::pending().await,
                }
            };
            let pump = self.pump && output.frames() < self.send_queue;
            let unwritten = !output.is_empty();
            let step = tokio::select! {
                biased;
                _ = handle.kill.notified() => {
                    return if handle.outbox.overflowed() { End::Close(close::TOO_SLOW, "too slow") } else { End::Close(close::KILLED, "killed") };
                }
                _ = shutdown.wait_for(|stopping| *stopping) => return End::Close(close::GOING_AWAY, "server shutting down"),
                writable = writer.writable(), if unwritten => match writable {
                    Ok(()) => Step::Writable,
                    Err(_) => return End::Gone,
                },
                frame = source.next() => {
                    last_seen = Instant::now();
                    Step::Frame(frame)
                }
                served = served, if waiting => Step::Served(served.ok()),
                reply = group_served, if group_waiting => Step::GroupServed(reply),
                _ = handle.outbox.ready() => Step::Outbox,
                () = std::future::ready(()), if pump => Step::Pump,
                _ = ticker.tick() => Step::Tick,
            };
            if !matches!(step, Step::GroupServed(_)) {
                self.group_wait = group.take();
            }
            let result = match step {
                Step::GroupServed(reply) => {
                    self.follow_wait = wait;
                    match group {
                        Some(group) => self.group_served(group, reply, output),
                        None => Ok(()),
                    }
                }
                Step::Frame(frame) => {
                    self.follow_wait = wait;
                    self.on_frame(frame, output)
                }
                Step::Served(reply) => {
                    self.pump = true;
                    match reply {
                        Some(reply) => self.deliver_entries(&reply, output),
                        None => Ok(()),
                    }
                }
                Step::Outbox => {
                    self.follow_wait = wait;
                    self.deliver_pubsub(output)
                }
                Step::Pump => {
                    drop(wait);
                    self.pump_streams(output)
                }
                Step::Writable => {
                    self.follow_wait = wait;
                    Ok(())
                }
                Step::Tick => {
                    self.follow_wait = wait;
                    if idle.is_some_and(|idle| last_seen.elapsed() > idle) {
                        return End::Close(close::IDLE, "idle timeout");
                    }
                    self.queue(output, Opcode::Ping, &[])
                }
            };
            if let Err(end) = result {
                return end;
            }
            if output.write_now(writer).is_err() {
                return End::Gone;
            }
        }
    }

    /// Queues one frame without waiting: a full queue means the client is too slow.
    fn queue(&self, output: &mut Output, opcode: Opcode, payload: &[u8]) -> Result<(), End> {
        if output.frames() >= self.send_queue {
            return Err(self.too_slow());
        }
        output.push(opcode, payload);
        Ok(())
    }

    /// Counts a client closed for not reading; the end to give it.
    fn too_slow(&self) -> End {
        self.shared.stats.client_output_buffer_limit_disconnections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        End::Close(close::TOO_SLOW, "too slow")
    }

    /// The frame type this session's messages go in.
    fn opcode(&self) -> Opcode {
        match self.encoding {
            Encoding::Json => Opcode::Text,
            Encoding::MsgPack => Opcode::Binary,
        }
    }

    fn frame(&self, out: &Outgoing) -> Result<Vec<u8>, End> {
        message::encode(self.encoding, out).map_err(|_| End::Close(close::INTERNAL, "encoding failed"))
    }

    fn send(&self, output: &mut Output, out: &Outgoing) -> Result<(), End> {
        let payload = match self.frame(out) {
            Ok(payload) => payload,
            // A result that cannot be encoded (a map with array keys in JSON) is an error reply.
            Err(_) => match out {
                Outgoing::Reply { id, .. } => self.frame(&Outgoing::error(id.clone(), ErrorBody::new("ERR", "the reply cannot be encoded")))?,
                _ => return Ok(()),
            },
        };
        self.queue(output, self.opcode(), &payload)
    }

    fn on_frame(&mut self, frame: Option<Result<Message, WsError>>, output: &mut Output) -> Result<(), End> {
        let message = match frame {
            None => return Err(End::Gone),
            Some(Ok(message)) => message,
            Some(Err(WsError::Capacity(_))) => return Err(End::Close(close::TOO_BIG, "message too big")),
            Some(Err(WsError::Protocol(_) | WsError::Utf8(_))) => return Err(End::Close(close::PROTOCOL, "protocol error")),
            Some(Err(_)) => return Err(End::Gone),
        };
        let decoded = match &message {
            Message::Text(text) => message::decode(Encoding::Json, text.as_bytes()),
            Message::Binary(bytes) => message::decode(Encoding::MsgPack, bytes),
            Message::Close(frame) => return Err(End::Echo(frame.as_ref().map(|f| u16::from(f.code)))),
            // tungstenite's own pong went nowhere (see `wire::Gate`): answer here, in order.
            Message::Ping(data) => {
                output.push(Opcode::Pong, data);
                return Ok(());
            }
            Message::Pong(_) | Message::Frame(_) => return Ok(()),
        };
        let request = decoded.map_err(|e| (e.id, e.message));
        if self.group_wait.is_some() {
            if self.deferred.len() >= MAX_DEFERRED {
                return Err(End::Close(close::TOO_SLOW, "too many requests behind a blocked read"));
            }
            self.deferred.push_back(request);
            return Ok(());
        }
        self.handle_request(request, output)
    }

    /// Answers one request, unless it blocks (a `group_read` with `block`).
    fn handle_request(&mut self, request: Deferred, output: &mut Output) -> Result<(), End> {
        let out = match request {
            Ok((id, body)) => match self.request(id, body) {
                Some(out) => out,
                None => return Ok(()),
            },
            Err((id, message)) => Outgoing::error(id, ErrorBody::new("BADREQUEST", message)),
        };
        self.send(output, &out)
    }

    /// Replies to the blocked `group_read` (entries, or `[]` on timeout), then runs the requests
    /// that waited behind it.
    fn group_served(&mut self, group: GroupWait, reply: Option<Reply>, output: &mut Output) -> Result<(), End> {
        let reply = match reply {
            Some(reply) => reply,
            None => {
                let mut keyspace = self.shared.keyspace.lock();
                let waiting = crate::blocking::unblock(&mut keyspace, self.client.id | GROUP_WAITER);
                drop(keyspace);
                let mut receiver = group.reply;
                match (waiting, receiver.try_recv()) {
                    // Served just as the time ran out: the entries are in the channel.
                    (None, Ok(reply)) => reply,
                    _ => Reply::NullArray,
                }
            }
        };
        let out = match self.group_reply(reply) {
            Answer::Value(value) => Outgoing::ok(group.id, value),
            Answer::Reply(reply) => answer(group.id, reply),
            Answer::Blocked => return Ok(()),
        };
        self.send(output, &out)?;
        while self.group_wait.is_none() {
            let Some(request) = self.deferred.pop_front() else { break };
            self.handle_request(request, output)?;
        }
        Ok(())
    }

    /// An XREADGROUP reply as a `group_read` result: its entries (`[]` for a null), or the error.
    fn group_reply(&self, reply: Reply) -> Answer {
        if reply.is_error() {
            return Answer::Reply(reply);
        }
        let entries = message::streams_from_reply(&reply).into_iter().flat_map(|(_, entries)| entries).collect();
        Answer::Value(entries_value(entries))
    }

    /// Runs one command for this client under the keyspace lock.
    fn run_one(&mut self, args: &[Bytes]) -> Reply {
        let shared = self.shared.clone();
        let mut keyspace = shared.keyspace.lock();
        keyspace.refresh_clock();
        let reply = run_command(&shared, &mut keyspace, &mut self.client, args).unwrap_or(Reply::Null);
        self.client.block_request = None;
        self.client.block_args = None;
        publish_events(&shared, &mut keyspace);
        reply
    }

    /// Runs a blocking command (XREADGROUP BLOCK) for this client: its reply, or `None` when it
    /// found nothing and now waits in [`Session::group_wait`]. As for a RESP client, the wait
    /// is registered under the same keyspace lock as the read that found nothing.
    fn run_blocking(&mut self, command: &[Bytes]) -> Option<Reply> {
        let shared = self.shared.clone();
        let mut keyspace = shared.keyspace.lock();
        keyspace.refresh_clock();
        let reply = run_command(&shared, &mut keyspace, &mut self.client, command).unwrap_or(Reply::Null);
        let request = self.client.block_request.take();
        let rerun = self.client.block_args.take().unwrap_or_else(|| command.to_vec());
        let blocked = match request {
            Some(request) if matches!(reply, Reply::NullArray | Reply::Null) => {
                let deadline = request.timeout.map(|t| tokio::time::Instant::now() + t);
                let db = self.client.db;
                let receiver = crate::blocking::block(&mut keyspace, self.client.id | GROUP_WAITER, db, rerun, request);
                self.group_wait = Some(GroupWait { id: None, reply: receiver, deadline });
                true
            }
            _ => false,
        };
        publish_events(&shared, &mut keyspace);
        (!blocked).then_some(reply)
    }

    fn check_stream(&self, stream: &str) -> Result<(), ErrorBody> {
        match &self.grants {
            Some(grants) if !grants.may_use_stream(stream.as_bytes()) => Err(forbidden("stream", stream)),
            _ => Ok(()),
        }
    }

    /// Runs a request; `None` when it blocked (its reply comes when it is served).
    fn request(&mut self, id: Option<Id>, body: Body) -> Option<Outgoing> {
        match self.request_body(body) {
            Ok(Answer::Value(value)) => Some(Outgoing::ok(id, value)),
            Ok(Answer::Reply(reply)) => Some(answer(id, reply)),
            Ok(Answer::Blocked) => {
                if let Some(group) = self.group_wait.as_mut() {
                    group.id = id;
                }
                None
            }
            Err(error) => Some(Outgoing::error(id, error)),
        }
    }

    /// Runs a request: `Ok(Answer::Value(value))` for a result built here, `Ok(Answer::Reply(reply))` for a
    /// command's reply as it is, `Err` for a refusal.
    fn request_body(&mut self, body: Body) -> Result<Answer, ErrorBody> {
        match body {
            Body::Ping => Ok(Answer::Value(Value::Str(Data::from("pong")))),
            Body::Subscribe(names) => self.subscribe(names, true),
            Body::Unsubscribe(names) => self.subscribe(names, false),
            Body::Publish { channel, message, shard } => {
                if let Some(grants) = &self.grants {
                    if !grants.may_publish(channel.as_bytes()) {
                        return Err(forbidden("publishing to", &channel));
                    }
                }
                let verb: &[u8] = if shard { b"SPUBLISH" } else { b"PUBLISH" };
                Ok(Answer::Reply(self.run_one(&[Bytes::from_static(verb), Bytes::from(channel), message.0])))
            }
            Body::Follow { stream, from } => self.follow(stream, from),
            Body::Unfollow { stream } => {
                let was = self.follows.remove(stream.as_bytes()).is_some();
                self.unblock_follow();
                Ok(Answer::Value(Value::Bool(was)))
            }
            Body::GroupRead { stream, group, consumer, count, from, noack, block } => {
                self.check_stream(&stream)?;
                let mut command = args(&[b"XREADGROUP", b"GROUP", group.as_bytes(), consumer.as_bytes()]);
                if let Some(count) = count {
                    command.push(Bytes::from_static(b"COUNT"));
                    command.push(Bytes::from(count.to_string()));
                }
                if let Some(block) = block {
                    command.push(Bytes::from_static(b"BLOCK"));
                    command.push(Bytes::from(block.to_string()));
                }
                if noack {
                    command.push(Bytes::from_static(b"NOACK"));
                }
                command.push(Bytes::from_static(b"STREAMS"));
                command.push(Bytes::from(stream));
                command.push(Bytes::from(from.unwrap_or_else(|| ">".into())));
                let reply = if block.is_some() { self.run_blocking(&command) } else { Some(self.run_one(&command)) };
                Ok(reply.map_or(Answer::Blocked, |reply| self.group_reply(reply)))
            }
            Body::Ack { stream, group, ids } => {
                self.check_stream(&stream)?;
                let mut command = args(&[b"XACK", stream.as_bytes(), group.as_bytes()]);
                command.extend(ids.into_iter().map(Bytes::from));
                Ok(Answer::Reply(self.run_one(&command)))
            }
            Body::Claim { stream, group, consumer, min_idle_ms, ids, start, count } => {
                self.check_stream(&stream)?;
                let idle = min_idle_ms.to_string();
                if ids.is_empty() {
                    let start = start.unwrap_or_else(|| "0-0".into());
                    let mut command = args(&[b"XAUTOCLAIM", stream.as_bytes(), group.as_bytes(), consumer.as_bytes(), idle.as_bytes(), start.as_bytes()]);
                    if let Some(count) = count {
                        command.push(Bytes::from_static(b"COUNT"));
                        command.push(Bytes::from(count.to_string()));
                    }
                    let reply = self.run_one(&command);
                    let Reply::Array(parts) = &reply else { return Ok(Answer::Reply(reply)) };
                    let next = match parts.first() {
                        Some(Reply::Bulk(next)) => Value::Str(Data(next.clone())),
                        _ => Value::Null,
                    };
                    let entries = parts.get(1).map(message::entries_from_reply).unwrap_or_default();
                    let deleted = parts.get(2).cloned().map_or(Value::Array(Vec::new()), Value::from_reply);
                    Ok(Answer::Value(Value::Map(vec![
                        (Value::Str(Data::from("next")), next),
                        (Value::Str(Data::from("entries")), entries_value(entries)),
                        (Value::Str(Data::from("deleted")), deleted),
                    ])))
                } else {
                    let mut command = args(&[b"XCLAIM", stream.as_bytes(), group.as_bytes(), consumer.as_bytes(), idle.as_bytes()]);
                    command.extend(ids.into_iter().map(Bytes::from));
                    let reply = self.run_one(&command);
                    if reply.is_error() {
                        return Ok(Answer::Reply(reply));
                    }
                    Ok(Answer::Value(entries_value(message::entries_from_reply(&reply))))
                }
            }
            Body::Command { args } => {
                if self.grants.is_some() {
                    return Err(ErrorBody::new("FORBIDDEN", "a connection with a token may not run commands"));
                }
                let command: Vec<Bytes> = args.into_iter().map(|a| a.0).collect();
                if let cmd::Resolved::Command(spec) = cmd::resolve(&command) {
                    let name = String::from_utf8_lossy(command.first().map_or(&b""[..], |n| &n[..])).to_ascii_lowercase();
                    if spec.has_flag("blocking") || spec.has_flag("admin") || REFUSED.contains(&name.as_str()) {
                        return Err(ErrorBody::new("FORBIDDEN", format!("'{name}' is not available over WebSocket")));
                    }
                }
                Ok(Answer::Reply(self.run_one(&command)))
            }
        }
    }

    fn subscribe(&mut self, names: Names, on: bool) -> Result<Answer, ErrorBody> {
        if on {
            if let Some(grants) = &self.grants {
                for name in names.channels.iter().chain(&names.shard_channels) {
                    if !grants.may_subscribe(name.as_bytes()) {
                        return Err(forbidden("channel", name));
                    }
                }
                for pattern in &names.patterns {
                    if !grants.may_psubscribe(pattern.as_bytes()) {
                        return Err(forbidden("pattern", pattern));
                    }
                }
            }
        }
        let everything = !on && names.is_empty();
        let groups: [(&[u8], &[u8], Vec<String>); 3] = [
            (b"SUBSCRIBE", b"UNSUBSCRIBE", names.channels),
            (b"PSUBSCRIBE", b"PUNSUBSCRIBE", names.patterns),
            (b"SSUBSCRIBE", b"SUNSUBSCRIBE", names.shard_channels),
        ];
        for (subscribe, unsubscribe, list) in groups {
            if list.is_empty() && !everything {
                continue;
            }
            let mut command = vec![Bytes::from_static(if on { subscribe } else { unsubscribe })];
            command.extend(list.into_iter().map(Bytes::from));
            let reply = self.run_one(&command);
            if reply.is_error() {
                return Ok(Answer::Reply(reply));
            }
        }
        let subs = &self.client.subscriptions;
        let count = |n: usize| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
        Ok(Answer::Value(Value::Map(vec![
            (Value::Str(Data::from("channels")), count(subs.channels.len())),
            (Value::Str(Data::from("patterns")), count(subs.patterns.len())),
            (Value::Str(Data::from("shard_channels")), count(subs.shard_channels.len())),
        ])))
    }

    fn follow(&mut self, stream: String, from: Option<String>) -> Result<Answer, ErrorBody> {
        self.check_stream(&stream)?;
        let from = match from.as_deref() {
            None | Some("$") => {
                // After the current last entry: look it up now, so a resume can name it.
                let reply = self.run_one(&args(&[b"XREVRANGE", stream.as_bytes(), b"+", b"-", b"COUNT", b"1"]));
                if reply.is_error() {
                    return Ok(Answer::Reply(reply));
                }
                message::entries_from_reply(&reply).into_iter().next().map_or_else(|| "0-0".to_string(), |e| e.id)
            }
            Some(id) if valid_id(id) => id.to_string(),
            Some(id) => return Err(ErrorBody::new("ERR", format!("Invalid stream ID specified as stream command argument: {id}"))),
        };
        self.follows.insert(Bytes::from(stream.clone()), Bytes::from(from.clone()));
        self.unblock_follow();
        Ok(Answer::Value(Value::Map(vec![(Value::Str(Data::from("stream")), Value::Str(Data::from(stream.as_str()))), (Value::Str(Data::from("from")), Value::Str(Data::from(from.as_str())))])))
    }

    /// Drops the blocked read of the followed streams; the next pump reads them again.
    fn unblock_follow(&mut self) {
        if self.follow_wait.take().is_some() {
            crate::blocking::unblock(&mut self.shared.keyspace.lock(), self.client.id);
        }
        self.pump = !self.follows.is_empty();
    }

    /// Reads the followed streams from their last delivered IDs; blocks when there is nothing.
    /// Called only while the send queue has room.
    fn pump_streams(&mut self, output: &mut Output) -> Result<(), End> {
        self.pump = false;
        if self.follows.is_empty() {
            return Ok(());
        }
        let mut command = args(&[b"XREAD", b"COUNT"]);
        command.push(Bytes::from(FOLLOW_BATCH.to_string()));
        command.extend(args(&[b"BLOCK", b"0", b"STREAMS"]));
        command.extend(self.follows.keys().cloned());
        command.extend(self.follows.values().cloned());
        let reply = {
            let shared = self.shared.clone();
            let mut keyspace = shared.keyspace.lock();
            keyspace.refresh_clock();
            crate::blocking::unblock(&mut keyspace, self.client.id);
            let reply = run_command(&shared, &mut keyspace, &mut self.client, &command).unwrap_or(Reply::Null);
            let request = self.client.block_request.take();
            let rerun = self.client.block_args.take().unwrap_or_else(|| command.clone());
            if let Some(request) = request {
                if matches!(reply, Reply::NullArray | Reply::Null) {
                    let db = self.client.db;
                    self.follow_wait = Some(crate::blocking::block(&mut keyspace, self.client.id, db, rerun, request));
                }
            }
            publish_events(&shared, &mut keyspace);
            reply
        };
        if let Reply::Error(text) = &reply {
            // The followed keys cannot be read (one holds another type): stop following them.
            self.follows.clear();
            return self.send(output, &Outgoing::error(None, ErrorBody::from_redis(text)));
        }
        if self.follow_wait.is_none() {
            self.pump = true;
        }
        self.deliver_entries(&reply, output)
    }

    /// Sends the entries of an XREAD reply as `entries` events and advances the followed IDs.
    fn deliver_entries(&mut self, reply: &Reply, output: &mut Output) -> Result<(), End> {
        for (stream, entries) in message::streams_from_reply(reply) {
            let Some(last) = entries.last() else { continue };
            let Some(slot) = self.follows.get_mut(&stream) else { continue };
            *slot = Bytes::from(last.id.clone());
            let payload = self.frame(&Outgoing::Entries { stream: Data(stream), entries })?;
            self.queue(output, self.opcode(), &payload)?;
        }
        Ok(())
    }

    /// Moves the pub/sub messages waiting in the outbox to the send queue. The hub queued them
    /// as complete frames in this session's encoding, the same bytes for every subscriber of
    /// that encoding: they are copied in, nothing is encoded here.
    fn deliver_pubsub(&mut self, output: &mut Output) -> Result<(), End> {
        let mut full = false;
        let send_queue = self.send_queue;
        self.client.handle.outbox.drain_frames(|frame| {
            if frame.is_empty() || full {
                return;
            }
            if output.frames() >= send_queue {
                full = true;
            } else {
                output.push_framed(frame);
            }
        });
        if full {
            return Err(self.too_slow());
        }
        Ok(())
    }
}

/// What woke the session.
enum Step {
    Frame(Option<Result<Message, WsError>>),
    Served(Option<Reply>),
    /// The blocked `group_read` got its reply, or (`None`) timed out.
    GroupServed(Option<Reply>),
    Outbox,
    /// The send queue has room and the followed streams want reading.
    Pump,
    /// The socket takes more of the send queue.
    Writable,
    Tick,
}

/// Ends the connection: drops the frames not started yet, sends the close frame if there is
/// one, and closes the socket (bounded: a peer that stopped reading cannot hold the task).
async fn finish(mut writer: OwnedWriteHalf, mut output: Output, end: End) {
    output.discard_unstarted();
    match end {
        End::Close(code, reason) => output.push(Opcode::Close, &wire::close_payload(code, reason)),
        End::Echo(Some(code)) => output.push(Opcode::Close, &code.to_be_bytes()),
        End::Echo(None) => output.push(Opcode::Close, &[]),
        End::Gone => {}
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while !output.is_empty() {
            writer.writable().await?;
            output.write_now(&writer)?;
        }
        writer.shutdown().await
    })
    .await;
}
