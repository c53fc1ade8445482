//! The hub: who is subscribed to what, and fan-out of published messages.
//!
//! Channels and shard channels map a name to its subscribers. Patterns are indexed by their
//! literal prefix ([`crate::glob::literal_prefix`]): a channel can only match a pattern whose
//! prefix it starts with, so PUBLISH probes one hash lookup per distinct prefix length that is
//! at most the channel's length, and runs the glob matcher only on the patterns found there,
//! never on every pattern. (Patterns that start with a wildcard share the empty prefix and are
//! always candidates.)
//!
//! Every message is encoded at most once per [`Format`] in use (RESP2 array, RESP3 push, and
//! the WebSocket gateway's JSON and MessagePack events as complete WebSocket frames, see
//! [`crate::gateway::message`] and [`crate::gateway::wire`]) and
//! the same [`Bytes`] is queued on each subscriber's [`super::Outbox`].

use super::outbox::{Format, Offer};
use crate::client::ClientHandle;
use crate::config::BufferLimit;
use crate::glob;
use crate::resp::Protocol;
use bytes::{BufMut, Bytes, BytesMut};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The three subscription namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE / PUBLISH.
    Channel,
    /// PSUBSCRIBE: glob patterns matched against PUBLISH channels.
    Pattern,
    /// SSUBSCRIBE / SPUBLISH (cluster shard channels; one shard here).
    Shard,
}

type Subscribers = Vec<Arc<ClientHandle>>;

/// Every subscription on the server. Lock order: keyspace, then the hub, then an outbox.
#[derive(Debug, Default)]
pub struct Hub {
    /// Subscriptions; locked by (un)subscribe, publish and PUBSUB introspection.
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    channels: HashMap<Bytes, Subscribers>,
    shard_channels: HashMap<Bytes, Subscribers>,
    patterns: PatternIndex,
}

impl Inner {
    fn names(&mut self, kind: Kind) -> Option<&mut HashMap<Bytes, Subscribers>> {
        match kind {
            Kind::Channel => Some(&mut self.channels),
            Kind::Shard => Some(&mut self.shard_channels),
            Kind::Pattern => None,
        }
    }
}

/// Patterns grouped by literal prefix.
#[derive(Debug, Default)]
struct PatternIndex {
    /// Literal prefix -> the patterns that have it, each with its subscribers.
    by_prefix: HashMap<Bytes, Vec<(Bytes, Subscribers)>>,
    /// Prefix length -> how many keys of `by_prefix` have that length; PUBLISH probes only these.
    lengths: BTreeMap<usize, usize>,
    /// Distinct patterns (PUBSUB NUMPAT).
    count: usize,
}

impl PatternIndex {
    fn add(&mut self, pattern: Bytes, client: Arc<ClientHandle>) {
        let prefix = Bytes::copy_from_slice(glob::literal_prefix(&pattern));
        let prefix_len = prefix.len();
        let group = self.by_prefix.entry(prefix).or_insert_with(|| {
            *self.lengths.entry(prefix_len).or_insert(0) += 1;
            Vec::new()
        });
        match group.iter_mut().find(|(p, _)| *p == pattern) {
            Some((_, subscribers)) => subscribers.push(client),
            None => {
                group.push((pattern, vec![client]));
                self.count += 1;
            }
        }
    }

    fn remove(&mut self, pattern: &[u8], id: u64) -> bool {
        let prefix = glob::literal_prefix(pattern);
        let Some(group) = self.by_prefix.get_mut(prefix) else { return false };
        let Some(index) = group.iter().position(|(p, _)| p == pattern) else { return false };
        let Some((_, subscribers)) = group.get_mut(index) else { return false };
        let removed = remove_client(subscribers, id);
        if subscribers.is_empty() {
            group.swap_remove(index);
            self.count -= 1;
        }
        if group.is_empty() {
            self.by_prefix.remove(prefix);
            if let Some(n) = self.lengths.get_mut(&prefix.len()) {
                *n -= 1;
                if *n == 0 {
                    self.lengths.remove(&prefix.len());
                }
            }
        }
        removed
    }

    /// Calls `f` for every pattern matching `channel`, with its subscribers.
    fn for_each_match(&self, channel: &[u8], mut f: impl FnMut(&Bytes, &Subscribers)) {
        for &len in self.lengths.range(..=channel.len()).map(|(len, _)| len) {
            let Some(prefix) = channel.get(..len) else { continue };
            let Some(group) = self.by_prefix.get(prefix) else { continue };
            for (pattern, subscribers) in group {
                if glob::matches(pattern, channel) {
                    f(pattern, subscribers);
                }
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = &(Bytes, Subscribers)> {
        self.by_prefix.values().flatten()
    }
}

fn remove_client(subscribers: &mut Subscribers, id: u64) -> bool {
    match subscribers.iter().position(|c| c.id == id) {
        Some(index) => {
            subscribers.swap_remove(index);
            true
        }
        None => false,
    }
}

/// A message's frame in each protocol, encoded on first use.
struct Frames<'a> {
    parts: &'a [&'a [u8]],
    /// The message encoded in each [`Format`], made on first use.
    encoded: [Option<Bytes>; Format::COUNT],
}

impl<'a> Frames<'a> {
    fn new(parts: &'a [&'a [u8]]) -> Self {
        Frames { parts, encoded: Default::default() }
    }

    fn get(&mut self, format: Format) -> &Bytes {
        let parts = self.parts;
        // `Format` has COUNT variants numbered from 0, so the index is in range.
        #[allow(clippy::indexing_slicing)]
        self.encoded[format as usize].get_or_insert_with(|| match format {
            Format::Resp2 => encode_push(parts, Protocol::Resp2),
            Format::Resp3 => encode_push(parts, Protocol::Resp3),
            Format::Json => crate::gateway::message::encode_pubsub(crate::gateway::message::Encoding::Json, parts),
            Format::MsgPack => crate::gateway::message::encode_pubsub(crate::gateway::message::Encoding::MsgPack, parts),
        })
    }
}

/// Encodes `parts` as one push (a RESP2 array or a RESP3 `>` frame) of bulk strings.
///
/// Written straight into one buffer, the same bytes `encode(&Reply::Push(..))` gives, without
/// first copying every part into a `Reply` of its own.
pub fn encode_push(parts: &[&[u8]], protocol: Protocol) -> Bytes {
    let mut out = BytesMut::with_capacity(16 + parts.iter().map(|p| p.len() + 16).sum::<usize>());
    out.put_u8(if protocol == Protocol::Resp3 { b'>' } else { b'*' });
    out.put_slice(itoa::Buffer::new().format(parts.len()).as_bytes());
    out.put_slice(b"\r\n");
    for part in parts {
        out.put_u8(b'$');
        out.put_slice(itoa::Buffer::new().format(part.len()).as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(part);
        out.put_slice(b"\r\n");
    }
    out.freeze()
}

/// Where fan-out sends frames: the limit to enforce and the counter of dropped clients.
struct Fanout<'a> {
    limit: BufferLimit,
    dropped: &'a AtomicU64,
    now: Instant,
    receivers: usize,
}

impl Fanout<'_> {
    fn send(&mut self, subscribers: &Subscribers, frames: &mut Frames<'_>) {
        for client in subscribers {
            let frame = frames.get(client.outbox.format());
            if client.outbox.offer(frame, self.limit, self.now) == Offer::Overflowed {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                client.kill.notify_one();
            }
            self.receivers += 1;
        }
    }
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Hub {
        Hub::default()
    }

    /// Adds `client` to `name`'s subscribers. The caller has checked, in the client's own
    /// [`super::Subscriptions`], that it was not subscribed yet.
    pub fn subscribe(&self, kind: Kind, name: Bytes, client: &Arc<ClientHandle>) {
        let mut inner = self.inner.lock();
        match inner.names(kind) {
            Some(names) => names.entry(name).or_default().push(client.clone()),
            None => inner.patterns.add(name, client.clone()),
        }
    }

    /// Removes client `id` from `name`'s subscribers; whether it was there.
    pub fn unsubscribe(&self, kind: Kind, name: &[u8], id: u64) -> bool {
        let mut inner = self.inner.lock();
        match inner.names(kind) {
            Some(names) => {
                let Some(subscribers) = names.get_mut(name) else { return false };
                let removed = remove_client(subscribers, id);
                if subscribers.is_empty() {
                    names.remove(name);
                }
                removed
            }
            None => inner.patterns.remove(name, id),
        }
    }

    /// PUBLISH: queues `message` for the subscribers of `channel` and of every matching pattern.
    /// Returns how many deliveries were made (a client matching twice counts twice). Clients
    /// pushed over `limit` are told to disconnect and counted in `dropped`.
    pub fn publish(&self, channel: &[u8], message: &[u8], limit: BufferLimit, dropped: &AtomicU64) -> usize {
        let inner = self.inner.lock();
        let mut fanout = Fanout { limit, dropped, now: Instant::now(), receivers: 0 };
        if let Some(subscribers) = inner.channels.get(channel) {
            let parts: [&[u8]; 3] = [b"message", channel, message];
            fanout.send(subscribers, &mut Frames::new(&parts));
        }
        inner.patterns.for_each_match(channel, |pattern, subscribers| {
            let parts: [&[u8]; 4] = [b"pmessage", pattern, channel, message];
            fanout.send(subscribers, &mut Frames::new(&parts));
        });
        fanout.receivers
    }

    /// SPUBLISH: queues `message` for the subscribers of shard channel `channel`.
    pub fn spublish(&self, channel: &[u8], message: &[u8], limit: BufferLimit, dropped: &AtomicU64) -> usize {
        let inner = self.inner.lock();
        let mut fanout = Fanout { limit, dropped, now: Instant::now(), receivers: 0 };
        if let Some(subscribers) = inner.shard_channels.get(channel) {
            let parts: [&[u8]; 3] = [b"smessage", channel, message];
            fanout.send(subscribers, &mut Frames::new(&parts));
        }
        fanout.receivers
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS: active names matching `pattern` (all without one),
    /// sorted.
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let mut inner = self.inner.lock();
        let Some(names) = inner.names(kind) else { return Vec::new() };
        let mut found: Vec<Bytes> = names.keys().filter(|name| pattern.is_none_or(|p| glob::matches(p, name))).cloned().collect();
        found.sort();
        found
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB: subscribers of one name.
    pub fn numsub(&self, kind: Kind, name: &[u8]) -> usize {
        let mut inner = self.inner.lock();
        match inner.names(kind) {
            Some(names) => names.get(name).map_or(0, Vec::len),
            None => inner.patterns.iter().filter(|(p, _)| p == name).map(|(_, s)| s.len()).sum(),
        }
    }

    /// Channels with at least one subscriber (INFO `pubsub_channels`).
    pub fn channel_count(&self) -> usize {
        self.inner.lock().channels.len()
    }

    /// Distinct subscribed patterns (INFO `pubsub_patterns`, PUBSUB NUMPAT).
    pub fn pattern_count(&self) -> usize {
        self.inner.lock().patterns.count
    }

    /// Shard channels with at least one subscriber (INFO `pubsubshard_channels`).
    pub fn shard_channel_count(&self) -> usize {
        self.inner.lock().shard_channels.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientRegistry;
    use crate::resp::{encode, Reply};

    fn client(registry: &ClientRegistry) -> Arc<ClientHandle> {
        let addr = "127.0.0.1:1".parse().unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 1)));
        registry.register(addr, addr)
    }

    fn no_limit() -> BufferLimit {
        BufferLimit { hard: 0, soft: 0, soft_seconds: 0 }
    }

    #[test]
    fn publish_counts_channel_and_pattern_receivers() {
        let registry = ClientRegistry::default();
        let hub = Hub::new();
        let (a, b) = (client(&registry), client(&registry));
        hub.subscribe(Kind::Channel, Bytes::from_static(b"news.tech"), &a);
        hub.subscribe(Kind::Pattern, Bytes::from_static(b"news.*"), &a);
        hub.subscribe(Kind::Pattern, Bytes::from_static(b"*tech"), &b);
        hub.subscribe(Kind::Pattern, Bytes::from_static(b"sport.*"), &b);
        let dropped = AtomicU64::new(0);
        assert_eq!(hub.publish(b"news.tech", b"hi", no_limit(), &dropped), 3);
        assert_eq!(hub.publish(b"news", b"hi", no_limit(), &dropped), 0);
        assert_eq!(hub.pattern_count(), 3);
        assert!(hub.unsubscribe(Kind::Pattern, b"news.*", a.id));
        assert!(!hub.unsubscribe(Kind::Pattern, b"news.*", a.id));
        assert_eq!(hub.publish(b"news.tech", b"hi", no_limit(), &dropped), 2);
        assert_eq!(hub.pattern_count(), 2);
    }

    #[test]
    fn a_message_is_encoded_once_per_format_and_the_bytes_are_shared() {
        let registry = ClientRegistry::default();
        let hub = Hub::new();
        let formats = [Format::Json, Format::Json, Format::MsgPack, Format::MsgPack, Format::Resp2, Format::Resp2];
        let clients: Vec<_> = formats.iter().map(|_| client(&registry)).collect();
        for (c, format) in clients.iter().zip(formats) {
            c.outbox.set_format(format);
            hub.subscribe(Kind::Channel, Bytes::from_static(b"quotes"), c);
        }
        let dropped = AtomicU64::new(0);
        assert_eq!(hub.publish(b"quotes", b"ACME 10", no_limit(), &dropped), 6);
        let frames: Vec<Bytes> = clients
            .iter()
            .map(|c| {
                let mut out = Vec::new();
                c.outbox.drain_frames(|frame| out.push(frame.clone()));
                assert_eq!(out.len(), 1);
                out.pop().unwrap_or_default()
            })
            .collect();
        let [json_a, json_b, pack_a, pack_b, resp_a, resp_b] = &frames[..] else { panic!("six frames") };
        let json = br#"{"type":"message","channel":"quotes","data":"ACME 10"}"#;
        assert_eq!(json_a[..2], [0x81, json.len() as u8], "a final text frame, unmasked");
        assert_eq!(&json_a[2..], json);
        assert_eq!(json_a.as_ptr(), json_b.as_ptr(), "one JSON encoding for every JSON subscriber");
        assert_eq!(pack_a.as_ptr(), pack_b.as_ptr(), "one MessagePack encoding");
        assert_eq!(resp_a.as_ptr(), resp_b.as_ptr(), "one RESP2 encoding");
        assert_eq!(pack_a.first(), Some(&0x82), "a final binary frame");
        assert_eq!(pack_a.get(2), Some(&0x83), "a MessagePack map of three");
        assert_eq!(&resp_a[..], b"*3\r\n$7\r\nmessage\r\n$6\r\nquotes\r\n$7\r\nACME 10\r\n");
    }

    #[test]
    fn subscribing_over_resp3_keeps_a_gateway_format() {
        let registry = ClientRegistry::default();
        let c = client(&registry);
        c.outbox.set_format(Format::MsgPack);
        c.outbox.set_resp3(true);
        assert_eq!(c.outbox.format(), Format::MsgPack);
        c.outbox.set_format(Format::Resp2);
        c.outbox.set_resp3(true);
        assert_eq!(c.outbox.format(), Format::Resp3);
    }

    #[test]
    fn encode_push_writes_what_the_reply_encoder_writes() {
        let parts: [&[u8]; 4] = [b"pmessage", b"n*", b"news", b""];
        for protocol in [Protocol::Resp2, Protocol::Resp3] {
            let mut expected = BytesMut::new();
            encode(&Reply::Push(parts.iter().map(Reply::bulk).collect()), protocol, &mut expected);
            assert_eq!(encode_push(&parts, protocol), expected.freeze());
        }
    }

    #[test]
    fn patterns_sharing_a_prefix_are_removed_cleanly() {
        let registry = ClientRegistry::default();
        let hub = Hub::new();
        let a = client(&registry);
        hub.subscribe(Kind::Pattern, Bytes::from_static(b"a.*"), &a);
        hub.subscribe(Kind::Pattern, Bytes::from_static(b"a.?"), &a);
        assert!(hub.unsubscribe(Kind::Pattern, b"a.*", a.id));
        assert!(hub.unsubscribe(Kind::Pattern, b"a.?", a.id));
        assert_eq!(hub.pattern_count(), 0);
        assert!(hub.inner.lock().patterns.lengths.is_empty());
    }
}
