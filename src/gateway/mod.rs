//! The WebSocket gateway: browsers talk to Herald over WebSocket, running the same command
//! layer as RESP clients. It never touches the keyspace itself: each connection has its own
//! [`crate::client::ClientState`], runs commands with [`crate::connection::run_command`],
//! receives pub/sub messages through its client's [`crate::pubsub::Outbox`] like any
//! subscriber, and follows streams through [`crate::blocking`] like a blocked `XREAD`.
//!
//! `protocol/websocket.md` is the specification: the handshake (path `/ws`, subprotocols
//! `herald.json` and `herald.msgpack`, origin and token checks), every message in both
//! encodings, and the close codes.
//!
//! # Layout
//! - [`message`]: requests, replies and events; JSON and MessagePack encodings; replies to values.
//! - [`session`]: one connection: its request loop, subscriptions, followed streams, send queue.
//! - [`token`]: HMAC-SHA256 bearer tokens and what they grant.
//! - [`wire`]: the frames the server writes, and the socket split between tungstenite (the
//!   handshake, reading) and the session (every write).
//! - this file: the listener and the handshake.

pub mod message;
pub mod session;
pub mod token;
pub mod wire;

use crate::server::Shared;
use message::Encoding;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::debug;

/// Bytes of tungstenite's read buffer per connection (see `handle`).
const READ_BUFFER: usize = 1024;

/// The only path the gateway answers on.
pub const PATH: &str = "/ws";

/// Close codes the server sends, by reason (see `protocol/websocket.md`).
pub mod close {
    /// The client closed, or the server ends the session normally.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A text frame that is not UTF-8, or another WebSocket protocol violation.
    pub const PROTOCOL: u16 = 1002;
    /// A message or frame larger than `ws-max-message-size`.
    pub const TOO_BIG: u16 = 1009;
    /// An internal error.
    pub const INTERNAL: u16 = 1011;
    /// No frame from the client for `ws-idle-timeout` seconds.
    pub const IDLE: u16 = 4000;
    /// The client did not read fast enough: its send queue (`ws-send-queue`) or its pub/sub
    /// output buffer (`client-output-buffer-limit pubsub`) filled up.
    pub const TOO_SLOW: u16 = 4001;
    /// Closed by `CLIENT KILL`.
    pub const KILLED: u16 = 4002;
}

/// Gateway-wide state: the live connection count.
#[derive(Debug, Default)]
pub struct Gateway {
    connections: AtomicUsize,
}

/// Counts one connection while it lives.
struct Slot(Arc<Gateway>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Accepts WebSocket connections on `listener` until shutdown.
pub async fn accept_loop(shared: Arc<Shared>, gateway: Arc<Gateway>, listener: TcpListener) {
    let mut stop = shared.shutdown_signal();
    while let Some((socket, addr)) = crate::server::accept_next(&listener, &mut stop).await {
        let _ = socket.set_nodelay(true);
        let slot = Slot(gateway.clone());
        let count = gateway.connections.fetch_add(1, Ordering::Relaxed) + 1;
        let shared = shared.clone();
        tokio::spawn(async move {
            handle(shared, socket, addr, count).await;
            drop(slot);
        });
    }
}

/// What the handshake decided.
struct Accepted {
    encoding: Encoding,
    grants: Option<token::Grants>,
}

/// Checks a handshake request: path, connection limit, origin, token, subprotocol. On success
/// returns the response headers to add (the chosen subprotocol) and what was accepted.
fn check(request: &Request, config: &crate::config::WsConfig, count: usize, now: u64) -> Result<(Option<Encoding>, Option<token::Grants>), (StatusCode, String)> {
    if request.uri().path() != PATH {
        return Err((StatusCode::NOT_FOUND, format!("the gateway answers on {PATH} only")));
    }
    if count > config.max_connections {
        return Err((StatusCode::SERVICE_UNAVAILABLE, "too many WebSocket connections".into()));
    }
    if let Some(origin) = request.headers().get("origin") {
        let origin = origin.to_str().unwrap_or("");
        let allowed = config.allowed_origins.is_empty() || config.allowed_origins.iter().any(|o| o == "*" || o.eq_ignore_ascii_case(origin));
        if !allowed {
            return Err((StatusCode::FORBIDDEN, format!("origin {origin} is not allowed")));
        }
    }
    let grants = if config.token_secret.is_empty() {
        None
    } else {
        let from_header = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        let from_query = request.uri().query().and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("token=")));
        let Some(bearer) = from_header.or(from_query) else {
            return Err((StatusCode::UNAUTHORIZED, "a token is required".into()));
        };
        match token::verify(bearer, config.token_secret.as_bytes(), now) {
            Ok(grants) => Some(grants),
            Err(e) => return Err((StatusCode::UNAUTHORIZED, format!("token refused: {e:?}"))),
        }
    };
    let offered: Vec<&str> = request
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let encoding = if offered.is_empty() {
        None
    } else {
        match offered.iter().find_map(|name| Encoding::from_subprotocol(name)) {
            Some(encoding) => Some(encoding),
            None => return Err((StatusCode::BAD_REQUEST, "no supported subprotocol (herald.json, herald.msgpack)".into())),
        }
    };
    Ok((encoding, grants))
}

async fn handle(shared: Arc<Shared>, socket: TcpStream, addr: SocketAddr, count: usize) {
    let Ok(local_addr) = socket.local_addr() else { return };
    let config = shared.config.read().ws.clone();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut accepted: Option<Accepted> = None;
    // The refusal type is tungstenite's; its size is not ours to choose.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, mut response: Response| -> Result<Response, ErrorResponse> {
        match check(request, &config, count, now) {
            Ok((encoding, grants)) => {
                if let Some(encoding) = encoding {
                    response.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static(encoding.subprotocol()));
                }
                accepted = Some(Accepted { encoding: encoding.unwrap_or(Encoding::Json), grants });
                Ok(response)
            }
            Err((status, text)) => {
                let mut refusal = ErrorResponse::new(Some(text));
                *refusal.status_mut() = status;
                Err(refusal)
            }
        }
    };
    // Small buffers: tungstenite's defaults (128 KiB to read, 128 KiB to batch writes) would
    // cost every idle connection ~140 KiB. Requests are small, and tungstenite zero-fills the
    // whole read buffer on its first read, so it is 1 KiB (a bigger frame reserves its own
    // length); tungstenite writes nothing after the handshake (see `wire`).
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_message_size))
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0);
    let handshake = tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::accept_hdr_async_with_config(wire::Gate::new(socket), callback, Some(ws_config))).await;
    let stream = match handshake {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            debug!("websocket handshake from {addr} refused: {e}");
            return;
        }
        Err(_) => return,
    };
    let Some(accepted) = accepted else { return };
    shared.stats.total_connections_received.fetch_add(1, Ordering::Relaxed);
    let session = session::Session::new(shared, addr, local_addr, accepted.encoding, accepted.grants, &config);
    session.run(stream).await;
}
