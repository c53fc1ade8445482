//! The server: shared state, listeners, the accept loop, background tasks and shutdown.

use crate::client::ClientRegistry;
use crate::config::Config;
use crate::connection::Connection;
use crate::keyspace::{expire, Keyspace};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::{info, warn};

/// Per-command call statistics (`INFO commandstats`).
#[derive(Debug, Default, Clone, Copy)]
pub struct CallStats {
    /// Number of calls.
    pub calls: u64,
    /// Total time spent, in microseconds.
    pub usec: u64,
    /// Calls that replied with an error.
    pub failed_calls: u64,
    /// Calls rejected before running (unknown command, arity, ...).
    pub rejected_calls: u64,
}

/// Server-wide counters for INFO.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted.
    pub total_connections_received: AtomicU64,
    /// Commands run.
    pub total_commands_processed: AtomicU64,
    /// Connections refused by `maxclients`.
    pub rejected_connections: AtomicU64,
    /// Keys removed because they expired.
    pub expired_keys: AtomicU64,
    /// Successful key lookups by read commands.
    pub keyspace_hits: AtomicU64,
    /// Failed key lookups by read commands.
    pub keyspace_misses: AtomicU64,
    /// Errors replied, all kinds.
    pub total_error_replies: AtomicU64,
    /// Bytes read from clients.
    pub total_net_input_bytes: AtomicU64,
    /// Bytes written to clients.
    pub total_net_output_bytes: AtomicU64,
    /// Clients disconnected for exceeding `client-output-buffer-limit`
    /// (INFO `client_output_buffer_limit_disconnections`).
    pub client_output_buffer_limit_disconnections: AtomicU64,
    /// Per-command statistics, by full command name. Hashed with foldhash, not SipHash: it is
    /// updated on every command, and its keys are the table's own names, never client input.
    pub commands: Mutex<HashMap<&'static str, CallStats, foldhash::fast::FixedState>>,
}

impl Stats {
    /// Records one command call.
    pub fn record_call(&self, name: &'static str, elapsed: Duration, failed: bool) {
        self.total_commands_processed.fetch_add(1, Ordering::Relaxed);
        let mut commands = self.commands.lock();
        let entry = commands.entry(name).or_default();
        entry.calls += 1;
        entry.usec += u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        if failed {
            entry.failed_calls += 1;
        }
    }

    /// Records a command rejected before it ran.
    pub fn record_rejected(&self, name: Option<&'static str>) {
        if let Some(name) = name {
            self.commands.lock().entry(name).or_default().rejected_calls += 1;
        }
    }

    /// Records a key lookup by a read command.
    pub fn record_lookup(&self, hit: bool) {
        let counter = if hit { &self.keyspace_hits } else { &self.keyspace_misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// State every connection shares.
#[derive(Debug)]
pub struct Shared {
    /// The keyspace. Held for one command, or one pipelined batch, or one EXEC; never across
    /// an `.await`.
    pub keyspace: Mutex<Keyspace>,
    /// The configuration; CONFIG SET writes it.
    pub config: RwLock<Config>,
    /// Every connection.
    pub clients: ClientRegistry,
    /// Pub/Sub subscriptions and fan-out; locked after the keyspace when both are needed.
    pub pubsub: crate::pubsub::Hub,
    /// Counters for INFO.
    pub stats: Stats,
    /// When the server started.
    pub started: Instant,
    /// A random id for this run (`run_id` in INFO).
    pub run_id: String,
    /// The port actually bound (differs from the config when it asked for port 0).
    pub tcp_port: AtomicU64,
    /// The Lua interpreter, the script cache and the running script's busy state.
    pub scripting: crate::scripting::Scripting,
    shutdown: watch::Sender<bool>,
    /// Set with `shutdown`, for connections to check around every read without a lock.
    stopping: AtomicBool,
    /// Whether durable streams are still being recovered: commands without the `loading`
    /// flag are refused with `-LOADING` meanwhile, as Redis does while it loads its data.
    loading: watch::Sender<bool>,
}

impl Shared {
    /// Asks the server to stop: listeners close and every connection ends.
    pub fn request_shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.shutdown.send_replace(true);
        // Connections see `stopping` when they wake (one registered after this sees it first).
        for client in self.clients.all() {
            client.kill.wake();
        }
    }

    /// Whether shutdown was requested.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// A receiver that turns `true` when shutdown is requested.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Whether the dataset (durable streams) is still loading.
    pub fn is_loading(&self) -> bool {
        *self.loading.borrow()
    }

    /// Sets the loading state (the recovery thread clears it; tests and embedders may set it).
    pub fn set_loading(&self, loading: bool) {
        self.loading.send_replace(loading);
    }

    /// Waits until the dataset has loaded (returns at once if it has).
    pub async fn loaded(&self) {
        let mut rx = self.loading.subscribe();
        let _ = rx.wait_for(|loading| !*loading).await;
    }
}

/// A bound, not yet running server.
pub struct Server {
    shared: Arc<Shared>,
    listeners: Vec<TcpListener>,
    /// The WebSocket gateway's listeners (empty when `ws-port` is 0).
    ws_listeners: Vec<TcpListener>,
}

impl Server {
    /// Binds every address in `config.bind` (a leading `-` marks an address that may fail,
    /// as in redis.conf). With port 0 the first listener picks a free port and the rest reuse it.
    pub async fn bind(config: Config) -> io::Result<Server> {
        let mut listeners = Vec::new();
        let mut port = config.port;
        for address in &config.bind {
            let (optional, host) = match address.strip_prefix('-') {
                Some(host) => (true, host),
                None => (false, address.as_str()),
            };
            let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
            match TcpListener::bind(format!("{host}:{port}")).await {
                Ok(listener) => {
                    if port == 0 {
                        port = listener.local_addr()?.port();
                    }
                    listeners.push(listener);
                }
                Err(e) if optional => warn!("could not bind optional address {host}: {e}"),
                Err(e) => return Err(e),
            }
        }
        if listeners.is_empty() {
            return Err(io::Error::new(io::ErrorKind::AddrNotAvailable, "no address to listen on"));
        }
        let ws_listeners = bind_ws(&config).await?;
        let (shutdown, _) = watch::channel(false);
        let mut keyspace = Keyspace::new(config.databases);
        keyspace.set_notifications(config.notify_keyspace_events.enabled());
        // Durable streams are rebuilt by a thread of their own while clients may already
        // connect (they get `-LOADING` until it is done, as from Redis loading its files).
        let recovery = crate::persist::recovery_job(&config)?;
        let loading = watch::channel(recovery.is_some()).0;
        let shared = Arc::new(Shared {
            keyspace: Mutex::new(keyspace),
            config: RwLock::new(config),
            clients: ClientRegistry::default(),
            pubsub: crate::pubsub::Hub::new(),
            stats: Stats::default(),
            started: Instant::now(),
            run_id: (0..40).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect(),
            tcp_port: AtomicU64::new(u64::from(port)),
            scripting: crate::scripting::Scripting::new(),
            shutdown,
            stopping: AtomicBool::new(false),
            loading,
        });
        if let Some(job) = recovery {
            let loader = shared.clone();
            std::thread::Builder::new().name("herald-recovery".into()).spawn(move || load_durable_streams(&loader, job))?;
        }
        Ok(Server { shared, listeners, ws_listeners })
    }

    /// The first listener's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listeners.first().ok_or_else(|| io::Error::other("no listener"))?.local_addr()
    }

    /// The WebSocket gateway's first listener's address, if `ws-port` is set.
    pub fn ws_local_addr(&self) -> Option<SocketAddr> {
        self.ws_listeners.first().and_then(|l| l.local_addr().ok())
    }

    /// The shared state, for tests and embedding.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Serves clients until shutdown is requested (SHUTDOWN, or [`Shared::request_shutdown`]).
    pub async fn run(self) {
        let Server { shared, listeners, ws_listeners } = self;
        for listener in &listeners {
            if let Ok(addr) = listener.local_addr() {
                info!("Ready to accept connections tcp on {addr}");
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(expiry_loop(shared.clone()));
        for listener in listeners {
            tasks.spawn(accept_loop(shared.clone(), listener));
        }
        let gateway = Arc::new(crate::gateway::Gateway::default());
        for listener in ws_listeners {
            if let Ok(addr) = listener.local_addr() {
                info!("Ready to accept WebSocket connections on ws://{addr}{}", crate::gateway::PATH);
            }
            tasks.spawn(crate::gateway::accept_loop(shared.clone(), gateway.clone(), listener));
        }
        let mut stop = shared.shutdown_signal();
        let _ = stop.wait_for(|stopping| *stopping).await;
        info!("Shutting down");
        tasks.shutdown().await;
        // Everything queued for durable streams is written and synced before exit.
        crate::persist::stop(&shared.keyspace);
        // Give connections a moment to see the signal and close their sockets.
        let deadline = Instant::now() + Duration::from_secs(2);
        while !shared.clients.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Runs the recovery of durable streams (see [`crate::persist::prepare`]) without the keyspace
/// lock, then puts them in place under it, applies any durability settings CONFIG SET changed
/// meanwhile, and ends the loading state. A failed recovery stops the server: serving without
/// the durable data would lose it at the next write.
fn load_durable_streams(shared: &Shared, job: crate::persist::RecoveryJob) {
    match job.run() {
        Ok(prepared) => {
            let mut keyspace = shared.keyspace.lock();
            crate::persist::install(&mut keyspace, prepared);
            let config = shared.config.read();
            if let Err(e) = crate::persist::configure(&mut keyspace, &config) {
                warn!("durable streams: {e}");
            }
            // Under the keyspace lock, so a CONFIG SET either ran before (and was applied just
            // now) or runs after, no longer loading.
            shared.set_loading(false);
        }
        Err(e) => {
            tracing::error!("durable streams: recovery failed: {e}; shutting down");
            shared.request_shutdown();
            shared.set_loading(false);
        }
    }
}

/// Binds the WebSocket gateway's addresses (`ws-bind`, else `bind`) on `ws-port`; none when
/// the port is 0.
async fn bind_ws(config: &Config) -> io::Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    if config.ws.port == 0 {
        return Ok(listeners);
    }
    let addresses = if config.ws.bind.is_empty() { &config.bind } else { &config.ws.bind };
    for address in addresses {
        let (optional, host) = match address.strip_prefix('-') {
            Some(host) => (true, host),
            None => (false, address.as_str()),
        };
        let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
        match TcpListener::bind(format!("{host}:{}", config.ws.port)).await {
            Ok(listener) => listeners.push(listener),
            Err(e) if optional => warn!("could not bind optional WebSocket address {host}: {e}"),
            Err(e) => return Err(e),
        }
    }
    Ok(listeners)
}

/// Waits for the next connection on `listener`, or `None` once shutdown is requested. A failed
/// accept (out of file descriptors and the like) is logged and retried after a short back-off
/// instead of spinning.
pub async fn accept_next(listener: &TcpListener, stop: &mut watch::Receiver<bool>) -> Option<(TcpStream, SocketAddr)> {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stopping| *stopping) => return None,
        };
        match accepted {
            Ok(pair) => return Some(pair),
            Err(e) => {
                warn!("accept failed on {:?}: {e}", listener.local_addr().ok());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut stop = shared.shutdown_signal();
    while let Some((socket, addr)) = accept_next(&listener, &mut stop).await {
        shared.stats.total_connections_received.fetch_add(1, Ordering::Relaxed);
        let maxclients = shared.config.read().maxclients;
        if shared.clients.len() >= maxclients {
            shared.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(reject(socket));
            continue;
        }
        let _ = socket.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(local_addr) = socket.local_addr() else { return };
            let connection = Connection::new(shared, socket, addr, local_addr);
            connection.run().await;
        });
    }
}

async fn reject(mut socket: TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = socket.write_all(b"-ERR max number of clients reached\r\n").await;
    let _ = socket.shutdown().await;
}

/// Runs the active expiry cycle `hz` times a second.
async fn expiry_loop(shared: Arc<Shared>) {
    loop {
        let hz = shared.config.read().hz.max(1);
        tokio::time::sleep(Duration::from_millis(1000 / u64::from(hz))).await;
        loop {
            let removed = {
                // While a script holds the keyspace, skip the cycle rather than block a
                // runtime thread that connections need to answer -BUSY and SCRIPT KILL.
                let Some(mut keyspace) = shared.keyspace.try_lock_for(Duration::from_millis(10)) else { break };
                keyspace.refresh_clock();
                let removed = expire::run_cycle(&mut keyspace);
                // An expired durable stream is logged as deleted now, not at the next command.
                crate::persist::collect(&mut keyspace);
                crate::connection::publish_events(&shared, &mut keyspace);
                removed
            };
            if removed < expire::CYCLE_BUDGET {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
}
