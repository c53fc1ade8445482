//! A white-box client for tests that need each command's keyspace events, not just its reply.

use bytes::Bytes;
use herald::client::ClientState;
use herald::connection::run_command;
use herald::resp::Reply;
use herald::Shared;
use std::net::SocketAddr;

/// A white-box client: runs commands directly and returns each reply with the keyspace events
/// it raised, as `(class, event, key)`.
pub struct Direct {
    client: ClientState,
}

impl Direct {
    /// Registers a client with `shared` that is not backed by a socket, and turns keyspace
    /// notifications on for every class: the keyspace records events only while
    /// `notify-keyspace-events` would publish them.
    pub fn new(shared: &Shared) -> Direct {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let mut direct = Direct { client: ClientState::new(shared.clients.register(addr, addr)) };
        let (reply, _) = direct.run(shared, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
        assert!(matches!(reply, Reply::Simple(_)), "CONFIG SET notify-keyspace-events failed: {reply:?}");
        direct
    }

    /// Runs one command under the keyspace lock; returns its reply and the events it raised.
    pub fn run(&mut self, shared: &Shared, args: &[&str]) -> (Reply, Vec<(char, &'static str, String)>) {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
        let mut keyspace = shared.keyspace.lock();
        keyspace.refresh_clock();
        keyspace.drain_events();
        let reply = run_command(shared, &mut keyspace, &mut self.client, &args).unwrap();
        let events = keyspace.drain_events().into_iter().map(|e| (e.class, e.event, String::from_utf8_lossy(&e.key).into_owned())).collect();
        (reply, events)
    }
}

/// An expected keyspace event, in the shape [`Direct::run`] returns.
pub fn ev(class: char, event: &'static str, key: &str) -> (char, &'static str, String) {
    (class, event, key.to_string())
}
