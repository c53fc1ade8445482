//! Herald: a message broker that speaks the Redis protocol.
//!
//! # Layout
//! - [`resp`]: the wire protocol only: a resumable request parser and a RESP2/RESP3 encoder.
//! - [`keyspace`]: the shared databases and their values; pure data operations with typed
//!   results, reused by every front end.
//! - [`cmd`]: the command table and one module per command family (parse, run, reply).
//! - [`connection`]: one client: buffers, batching, state between commands.
//! - [`client`]: per-client state and the registry behind CLIENT LIST / KILL.
//! - [`blocking`]: clients blocked on keys (BLPOP, ...): keys signalled ready by writers,
//!   waiters served in FIFO order after each command, timeouts, CLIENT UNBLOCK.
//! - [`config`], [`server`]: typed configuration; listeners, background tasks, shutdown.
//! - [`pubsub`]: channels, patterns (prefix-indexed), shard channels, keyspace notifications,
//!   and each subscriber's bounded outbox.
//! - [`gateway`]: the WebSocket gateway: browsers subscribe, publish and follow streams
//!   through the same command layer, in JSON or MessagePack (`protocol/websocket.md`).
//! - [`persist`]: durable streams: segment files (`protocol/segments.md`), the writer and its
//!   sync policy, recovery; file I/O behind a trait so tests can simulate crashes.
//! - [`glob`]: Redis's glob matcher, shared by KEYS, SCAN and pattern subscriptions.
//! - [`scripting`]: the Lua interpreter behind EVAL and SCRIPT: sandbox, `redis` API,
//!   conversions, script cache, time limit.

pub mod blocking;
pub mod client;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod gateway;
pub mod glob;
pub mod keyspace;
pub mod persist;
pub mod pubsub;
pub mod resp;
pub mod scripting;
pub mod server;

pub use config::Config;
pub use server::{Server, Shared};
