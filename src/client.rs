//! Client state: what one connection carries between commands, and the registry of all
//! connections that CLIENT LIST, CLIENT KILL and INFO clients read.

use crate::keyspace::Keyspace;
use crate::resp::Protocol;
use bytes::Bytes;
use futures_util::task::AtomicWaker;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

/// A MULTI in progress.
#[derive(Debug, Default)]
pub struct Multi {
    /// Commands queued for EXEC.
    pub queued: Vec<Vec<Bytes>>,
    /// Set when a command failed to queue: EXEC then answers EXECABORT.
    pub aborted: bool,
}

/// The keys a client WATCHes and the flag writers raise when one of them changes.
#[derive(Debug, Default)]
pub struct Watch {
    /// Raised by any write to a watched key.
    pub dirty: Arc<AtomicBool>,
    /// `(db, key)` for each watched key.
    pub keys: Vec<(usize, Bytes)>,
}

impl Watch {
    /// Removes every watch, from the keyspace and from this client.
    pub fn clear(&mut self, keyspace: &mut Keyspace) {
        for (db, key) in self.keys.drain(..) {
            keyspace.db(db).unwatch(&key, &self.dirty);
        }
        self.dirty.store(false, Ordering::Release);
    }

    /// Whether a watched key changed since WATCH.
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }
}

/// The state of one connection that commands read and change.
#[derive(Debug)]
pub struct ClientState {
    /// The unique, increasing client id (`CLIENT ID`).
    pub id: u64,
    /// The selected database.
    pub db: usize,
    /// The protocol chosen with HELLO.
    pub protocol: Protocol,
    /// The MULTI in progress, if any.
    pub multi: Option<Multi>,
    /// WATCHed keys.
    pub watch: Watch,
    /// Set by QUIT and by errors that end the connection: close once the reply is written.
    pub close_after_reply: bool,
    /// Set by SHUTDOWN: stop the server once the reply (if any) is written.
    pub shutdown_requested: bool,
    /// Set by CLIENT REPLY OFF / SKIP; replies are dropped while set.
    pub reply_off: bool,
    /// Replies still to drop after CLIENT REPLY SKIP: 2 when SKIP runs (its own reply and the
    /// next command's), counted down by [`crate::connection::run_command`].
    pub reply_skip: u8,
    /// Pub/Sub channels, patterns and shard channels this client is subscribed to.
    pub subscriptions: crate::pubsub::Subscriptions,
    /// The handle other clients see.
    pub handle: Arc<ClientHandle>,
    /// Left by a blocking command that found nothing; the connection turns it into a wait
    /// (see [`crate::blocking`]). Whether a client is blocked right now is
    /// [`crate::blocking::Blocking::is_blocked`].
    pub block_request: Option<crate::blocking::BlockRequest>,
    /// The command a blocked client re-runs when it differs from the one it sent (XREAD's `$`
    /// resolved to the ID it stood for); taken with [`ClientState::block_request`].
    pub block_args: Option<Vec<bytes::Bytes>>,
}

impl ClientState {
    /// Fresh state for a new connection.
    pub fn new(handle: Arc<ClientHandle>) -> Self {
        ClientState {
            id: handle.id,
            db: 0,
            protocol: Protocol::Resp2,
            multi: None,
            watch: Watch::default(),
            close_after_reply: false,
            shutdown_requested: false,
            reply_off: false,
            reply_skip: 0,
            subscriptions: crate::pubsub::Subscriptions::default(),
            handle,
            block_request: None,
            block_args: None,
        }
    }
}

/// What other connections may read about a client (CLIENT LIST / INFO) and how they can
/// end it (CLIENT KILL).
#[derive(Debug)]
pub struct ClientHandle {
    /// The client id.
    pub id: u64,
    /// The peer's address.
    pub addr: SocketAddr,
    /// The local address the client connected to.
    pub local_addr: SocketAddr,
    /// When the connection was accepted.
    pub created: Instant,
    /// Fields that change as the client runs commands.
    pub info: Mutex<ClientInfo>,
    /// Closes the connection (CLIENT KILL, an overflowed outbox); also wakes it at shutdown.
    pub kill: Kill,
    /// Pub/Sub messages waiting to be written; publishers append, the connection drains.
    /// `outbox.pending_bytes()` is the live `omem` of a subscriber.
    pub outbox: crate::pubsub::Outbox,
}

/// A flag other tasks set to wake the one connection task that polls it. Checking it is a
/// load while it is clear and re-registering a waker that is already there, cheap enough to do
/// around every read, where polling a `Notify` waiter takes a lock each time.
#[derive(Debug, Default)]
pub struct WakeFlag {
    set: AtomicBool,
    waker: AtomicWaker,
}

impl WakeFlag {
    /// Sets the flag and wakes the task polling it.
    pub fn set(&self) {
        self.set.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Clears the flag.
    pub fn clear(&self) {
        self.set.store(false, Ordering::Release);
    }

    /// Wakes the task polling the flag without setting it (to look at something else).
    pub fn wake(&self) {
        self.waker.wake();
    }

    /// Ready while the flag is set; otherwise `cx` is woken by the next [`WakeFlag::set`] or
    /// [`WakeFlag::wake`].
    pub fn poll(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.set.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        if self.set.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// A client's kill switch: a [`WakeFlag`] the RESP connection checks around every read, and
/// the `Notify` a WebSocket session awaits.
#[derive(Debug, Default)]
pub struct Kill {
    requested: WakeFlag,
    notify: Notify,
}

impl Kill {
    /// Asks the connection to close.
    pub fn notify_one(&self) {
        self.requested.set();
        self.notify.notify_one();
    }

    /// Resolves once a kill is requested (a permit is kept if nobody was waiting).
    pub fn notified(&self) -> Notified<'_> {
        self.notify.notified()
    }

    /// Wakes the connection without killing it, to look at the server's state (shutdown).
    pub fn wake(&self) {
        self.requested.wake();
    }

    /// Ready once a kill is requested; otherwise `cx` is woken by [`Kill::notify_one`] or
    /// [`Kill::wake`].
    pub fn poll_requested(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.requested.poll(cx)
    }
}

/// The changing part of a client's CLIENT LIST line.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// `CLIENT SETNAME`.
    pub name: Option<Bytes>,
    /// `CLIENT SETINFO LIB-NAME`.
    pub lib_name: Option<Bytes>,
    /// `CLIENT SETINFO LIB-VER`.
    pub lib_ver: Option<Bytes>,
    /// The selected database.
    pub db: usize,
    /// The protocol version (2 or 3).
    pub resp: i64,
    /// Commands queued in MULTI, or -1 outside MULTI.
    pub multi: i64,
    /// Number of watched keys.
    pub watch: usize,
    /// The last command's full name (`client|list`).
    pub last_command: &'static str,
    /// When the last command ran.
    pub last_interaction: Instant,
    /// Bytes waiting in the query buffer.
    pub query_buffer: usize,
    /// Bytes of replies not yet written to the socket.
    pub output_memory: usize,
    /// Channels subscribed with SUBSCRIBE (CLIENT LIST `sub`).
    pub sub: usize,
    /// Patterns subscribed with PSUBSCRIBE (CLIENT LIST `psub`).
    pub psub: usize,
    /// Shard channels subscribed with SSUBSCRIBE (CLIENT LIST `ssub`).
    pub ssub: usize,
    /// `CLIENT NO-EVICT ON` (CLIENT LIST flag `e`; Herald never evicts clients).
    pub no_evict: bool,
    /// `CLIENT NO-TOUCH ON` (CLIENT LIST flag `T`).
    pub no_touch: bool,
}

/// Every live connection, by id.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl ClientRegistry {
    /// Registers a new connection and returns its handle.
    pub fn register(&self, addr: SocketAddr, local_addr: SocketAddr) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = Arc::new(ClientHandle {
            id,
            addr,
            local_addr,
            created: Instant::now(),
            info: Mutex::new(ClientInfo {
                name: None,
                lib_name: None,
                lib_ver: None,
                db: 0,
                resp: 2,
                multi: -1,
                watch: 0,
                last_command: "NULL",
                last_interaction: Instant::now(),
                query_buffer: 0,
                output_memory: 0,
                sub: 0,
                psub: 0,
                ssub: 0,
                no_evict: false,
                no_touch: false,
            }),
            kill: Kill::default(),
            outbox: crate::pubsub::Outbox::new(),
        });
        self.clients.lock().insert(id, handle.clone());
        handle
    }

    /// Forgets a closed connection.
    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of every handle, in id order.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.clients.lock().values().cloned().collect()
    }

    /// The handle of client `id`.
    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.clients.lock().get(&id).cloned()
    }
}
