//! The WebSocket gateway with a real WebSocket client: both encodings, the shared vectors,
//! stream resume without gap or duplicate, structured errors, origin and token checks,
//! oversize and malformed frames, and a slow client closed while others keep receiving.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use futures_util::{SinkExt, StreamExt};
use herald::gateway::token;
use herald::{Config, Server, Shared};
use redis::AsyncCommands;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A server with the gateway on; shut down on drop.
struct WsServer {
    addr: SocketAddr,
    ws: SocketAddr,
    shared: Arc<Shared>,
}

impl Drop for WsServer {
    fn drop(&mut self) {
        self.shared.request_shutdown();
    }
}

async fn start(adjust: impl Fn(&mut Config)) -> WsServer {
    // The gateway has no "pick a port" value (0 means off): take a free one, retrying if
    // another test grabbed it in between.
    for _ in 0..20 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut config = Config { bind: vec!["127.0.0.1".into()], port: 0, ..Config::default() };
        config.ws.port = port;
        adjust(&mut config);
        let Ok(server) = Server::bind(config).await else { continue };
        let addr = server.local_addr().unwrap();
        let ws = server.ws_local_addr().unwrap();
        let shared = server.shared();
        tokio::spawn(server.run());
        return WsServer { addr, ws, shared };
    }
    panic!("no free port for the gateway");
}

impl WsServer {
    async fn resp(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(format!("redis://{}/", self.addr)).unwrap();
        client.get_multiplexed_async_connection_with_config(&common::patient_config()).await.unwrap()
    }

    fn url(&self) -> String {
        format!("ws://{}/ws", self.ws)
    }

    async fn json(&self) -> Ws {
        Ws::connect(&self.url(), Some("herald.json"), &[]).await.unwrap()
    }

    async fn msgpack(&self) -> Ws {
        Ws::connect(&self.url(), Some("herald.msgpack"), &[]).await.unwrap()
    }
}

/// A WebSocket client that speaks one encoding and reads messages as JSON values.
struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    msgpack: bool,
    /// Events received while waiting for a reply.
    pending: std::collections::VecDeque<Value>,
}

impl Ws {
    async fn connect(url: &str, subprotocol: Option<&str>, headers: &[(&str, &str)]) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let mut request = url.into_client_request().unwrap();
        if let Some(subprotocol) = subprotocol {
            request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_str(subprotocol).unwrap());
        }
        for (name, value) in headers {
            let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap();
            request.headers_mut().insert(name, HeaderValue::from_str(value).unwrap());
        }
        let (stream, response) = tokio_tungstenite::connect_async(request).await?;
        if let Some(subprotocol) = subprotocol {
            assert_eq!(response.headers().get("sec-websocket-protocol").unwrap(), subprotocol);
        }
        Ok(Ws { stream, msgpack: subprotocol == Some("herald.msgpack"), pending: Default::default() })
    }

    async fn send(&mut self, value: &Value) {
        let message = if self.msgpack { Message::Binary(rmp_serde::to_vec_named(value).unwrap().into()) } else { Message::Text(value.to_string().into()) };
        self.stream.send(message).await.unwrap();
    }

    /// The next message, skipping pings; `None` when the connection ended.
    async fn next_raw(&mut self) -> Option<Message> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.stream.next()).await.expect("a message within 10 s");
            match message {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(message)) => return Some(message),
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The next data message, decoded.
    async fn recv(&mut self) -> Value {
        if let Some(value) = self.pending.pop_front() {
            return value;
        }
        match self.next_raw().await {
            Some(Message::Text(text)) => {
                assert!(!self.msgpack, "a text frame on a msgpack connection");
                serde_json::from_str(&text).unwrap()
            }
            Some(Message::Binary(bytes)) => {
                assert!(self.msgpack, "a binary frame on a json connection");
                rmp_serde::from_slice(&bytes).unwrap()
            }
            other => panic!("expected a data message, got {other:?}"),
        }
    }

    /// Sends a request and returns its reply; events met meanwhile are kept for `recv`.
    async fn request(&mut self, value: Value) -> Value {
        let id = value["id"].clone();
        self.send(&value).await;
        loop {
            let message = match self.next_raw().await {
                Some(Message::Text(text)) => serde_json::from_str::<Value>(&text).unwrap(),
                Some(Message::Binary(bytes)) => rmp_serde::from_slice::<Value>(&bytes).unwrap(),
                other => panic!("expected a reply, got {other:?}"),
            };
            if message["type"] == "reply" && message["id"] == id {
                return message;
            }
            self.pending.push_back(message);
        }
    }

    /// Reads until the connection closes; the close code, if a close frame came.
    async fn close_code(&mut self) -> Option<u16> {
        loop {
            match self.next_raw().await {
                Some(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Some(_) => continue,
                None => return None,
            }
        }
    }

    /// Collects `entries` events until `n` entries arrived; their IDs.
    async fn entry_ids(&mut self, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        while ids.len() < n {
            let event = self.recv().await;
            assert_eq!(event["type"], "entries", "{event}");
            for entry in event["entries"].as_array().unwrap() {
                ids.push(entry["id"].as_str().unwrap().to_string());
            }
        }
        ids
    }
}

async fn xadd(resp: &mut redis::aio::MultiplexedConnection, key: &str, field: &str, value: impl redis::ToRedisArgs) -> String {
    redis::cmd("XADD").arg(key).arg("*").arg(field).arg(value).query_async(resp).await.unwrap()
}

/// Replays protocol/vectors/conversation.json, which the JS client's tests replay too.
async fn replay_vectors(ws: &mut Ws) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/protocol/vectors/conversation.json")).unwrap();
    let vectors: Value = serde_json::from_str(&text).unwrap();
    for step in vectors["steps"].as_array().unwrap() {
        if let Some(send) = step.get("send") {
            ws.send(send).await;
        }
        let got = ws.recv().await;
        if let Some(expect) = step.get("expect") {
            assert_eq!(&got, expect, "step {step}");
        } else {
            assert_eq!(got["id"], step["expect_id"], "step {step}");
            assert_eq!(got["error"]["code"], step["expect_error_code"], "step {step}");
        }
    }
}

#[tokio::test]
async fn the_shared_vectors_replay_in_json() {
    let server = start(|_| {}).await;
    replay_vectors(&mut server.json().await).await;
}

#[tokio::test]
async fn the_shared_vectors_replay_in_msgpack() {
    let server = start(|_| {}).await;
    replay_vectors(&mut server.msgpack().await).await;
}

#[tokio::test]
async fn a_message_published_over_resp_reaches_subscribers_in_both_encodings() {
    let server = start(|_| {}).await;
    let mut json_client = server.json().await;
    let mut msgpack_client = server.msgpack().await;
    for ws in [&mut json_client, &mut msgpack_client] {
        let reply = ws.request(json!({"id": 1, "type": "subscribe", "channels": ["quotes"], "shard_channels": ["orders"]})).await;
        assert_eq!(reply["result"]["channels"], 1);
    }
    let mut resp = server.resp().await;
    let receivers: i64 = resp.publish("quotes", "ACME 10.5").await.unwrap();
    assert_eq!(receivers, 2);
    let receivers: i64 = redis::cmd("SPUBLISH").arg("orders").arg("o1").query_async(&mut resp).await.unwrap();
    assert_eq!(receivers, 2);
    for ws in [&mut json_client, &mut msgpack_client] {
        assert_eq!(ws.recv().await, json!({"type": "message", "channel": "quotes", "data": "ACME 10.5"}));
        assert_eq!(ws.recv().await, json!({"type": "smessage", "channel": "orders", "data": "o1"}));
    }
}

#[tokio::test]
async fn binary_payloads_arrive_as_msgpack_bin() {
    let server = start(|_| {}).await;
    let mut ws = server.msgpack().await;
    ws.request(json!({"id": 1, "type": "subscribe", "channels": ["bin"]})).await;
    let mut resp = server.resp().await;
    let _: i64 = resp.publish("bin", vec![0xffu8, 0x00, 0x80]).await.unwrap();
    let Some(Message::Binary(bytes)) = ws.next_raw().await else { panic!("expected a binary frame") };
    #[derive(serde::Deserialize)]
    struct Event {
        #[serde(with = "serde_bytes_compat")]
        data: Vec<u8>,
    }
    mod serde_bytes_compat {
        pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Vec<u8>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                    Ok(v.to_vec())
                }
            }
            d.deserialize_bytes(V)
        }
    }
    let event: Event = rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!(event.data, vec![0xff, 0x00, 0x80]);
}

#[tokio::test]
async fn a_resumed_follow_gets_exactly_the_missed_entries_then_the_live_tail() {
    let server = start(|_| {}).await;
    let mut resp = server.resp().await;
    let mut added = Vec::new();
    for i in 0..5 {
        let id: String = xadd(&mut resp, "ticks", "n", i).await;
        added.push(id);
    }
    let mut ws = server.json().await;
    let reply = ws.request(json!({"id": 1, "type": "follow", "stream": "ticks", "from": "0-0"})).await;
    assert_eq!(reply["result"]["from"], "0-0");
    assert_eq!(ws.entry_ids(5).await, added);
    // The client saw up to the third entry, then lost its connection.
    drop(ws);
    let last_seen = added[2].clone();
    for i in 5..8 {
        let id: String = xadd(&mut resp, "ticks", "n", i).await;
        added.push(id);
    }
    let mut ws = server.msgpack().await;
    ws.request(json!({"id": 2, "type": "follow", "stream": "ticks", "from": last_seen})).await;
    assert_eq!(ws.entry_ids(5).await, added[3..8].to_vec());
    let id: String = xadd(&mut resp, "ticks", "n", 8).await;
    assert_eq!(ws.entry_ids(1).await, vec![id.clone()]);
    // Nothing else: a ping's reply is the very next message.
    assert_eq!(ws.request(json!({"id": 3, "type": "ping"})).await["result"], "pong");
    assert!(ws.pending.is_empty(), "unexpected {:?}", ws.pending);
}

#[tokio::test]
async fn follow_from_dollar_delivers_only_new_entries_and_names_the_resume_point() {
    let server = start(|_| {}).await;
    let mut resp = server.resp().await;
    let old: String = xadd(&mut resp, "feed", "a", "1").await;
    let mut ws = server.json().await;
    let reply = ws.request(json!({"id": 1, "type": "follow", "stream": "feed"})).await;
    assert_eq!(reply["result"]["from"], old.as_str());
    let new: String = xadd(&mut resp, "feed", "a", "2").await;
    assert_eq!(ws.entry_ids(1).await, vec![new]);
}

#[tokio::test]
async fn a_large_backlog_is_delivered_in_order_without_closing_a_small_queue() {
    let server = start(|c| c.ws.send_queue = 2).await;
    let mut resp = server.resp().await;
    let mut pipe = redis::pipe();
    for i in 0..2000 {
        pipe.cmd("XADD").arg("big").arg(format!("{}-1", i + 1)).arg("i").arg(i).ignore();
    }
    let () = pipe.query_async(&mut resp).await.unwrap();
    let mut ws = server.json().await;
    ws.request(json!({"id": 1, "type": "follow", "stream": "big", "from": "0"})).await;
    let ids = ws.entry_ids(2000).await;
    let expected: Vec<String> = (0..2000).map(|i| format!("{}-1", i + 1)).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn bad_requests_get_structured_errors_and_the_connection_lives_on() {
    let server = start(|_| {}).await;
    let mut ws = server.json().await;
    ws.stream.send(Message::Text("{not json".into())).await.unwrap();
    let reply = ws.recv().await;
    assert_eq!(reply["id"], Value::Null);
    assert_eq!(reply["error"]["code"], "BADREQUEST");
    ws.send(&json!({"id": 7, "type": "publish", "channel": "c"})).await;
    let reply = ws.recv().await;
    assert_eq!(reply["id"], 7);
    assert_eq!(reply["error"]["code"], "BADREQUEST");
    // A binary frame on a JSON connection is read as MessagePack: garbage gets an error too.
    ws.stream.send(Message::Binary(vec![0xc1, 0x00].into())).await.unwrap();
    assert_eq!(ws.recv().await["error"]["code"], "BADREQUEST");
    let reply = ws.request(json!({"id": 8, "type": "command", "args": ["LPUSH", "l"]})).await;
    assert_eq!(reply["error"], json!({"code": "ERR", "message": "wrong number of arguments for 'lpush' command"}));
    let reply = ws.request(json!({"id": 9, "type": "command", "args": ["SET", "l", "x"]})).await;
    assert_eq!(reply["result"], "OK");
    let reply = ws.request(json!({"id": 10, "type": "command", "args": ["LPUSH", "l", "x"]})).await;
    assert_eq!(reply["error"]["code"], "WRONGTYPE");
    assert_eq!(ws.request(json!({"id": 11, "type": "ping"})).await["result"], "pong");
}

#[tokio::test]
async fn an_oversize_message_closes_with_1009() {
    let server = start(|c| c.ws.max_message_size = 4096).await;
    let mut ws = server.json().await;
    let big = "x".repeat(10_000);
    let _ = ws.stream.send(Message::Text(json!({"id": 1, "type": "publish", "channel": "c", "message": big}).to_string().into())).await;
    assert_eq!(ws.close_code().await, Some(1009));
}

#[tokio::test]
async fn origins_outside_the_allowed_list_are_refused_at_the_handshake() {
    let server = start(|c| c.ws.allowed_origins = vec!["https://good.example".into()]).await;
    let refused = Ws::connect(&server.url(), Some("herald.json"), &[("origin", "https://evil.example")]).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected a 403, got {:?}", other.map(|_| ())),
    }
    let mut ws = Ws::connect(&server.url(), Some("herald.json"), &[("origin", "https://good.example")]).await.unwrap();
    assert_eq!(ws.request(json!({"id": 1, "type": "ping"})).await["result"], "pong");
}

#[tokio::test]
async fn a_wrong_path_and_an_unknown_subprotocol_are_refused() {
    let server = start(|_| {}).await;
    let wrong_path = Ws::connect(&format!("ws://{}/other", server.ws), None, &[]).await;
    assert!(matches!(wrong_path, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 404));
    let wrong_protocol = Ws::connect(&server.url(), Some("chat.v9"), &[]).await;
    assert!(matches!(wrong_protocol, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 400));
}

#[tokio::test]
async fn a_token_is_required_and_limits_what_the_connection_may_use() {
    let server = start(|c| c.ws.token_secret = "s3cret".into()).await;
    let missing = Ws::connect(&server.url(), Some("herald.json"), &[]).await;
    assert!(matches!(missing, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401));
    let forged = token::mint(r#"{"sub":["*"]}"#, b"wrong");
    let refused = Ws::connect(&format!("{}?token={forged}", server.url()), Some("herald.json"), &[]).await;
    assert!(matches!(refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401));

    let minted = token::mint(r#"{"sub":["news.*"],"pub":["chat"],"streams":["ticks"]}"#, b"s3cret");
    let mut ws = Ws::connect(&format!("{}?token={minted}", server.url()), Some("herald.json"), &[]).await.unwrap();
    assert_eq!(ws.request(json!({"id": 1, "type": "subscribe", "channels": ["news.tech"]})).await["result"]["channels"], 1);
    assert_eq!(ws.request(json!({"id": 2, "type": "subscribe", "channels": ["admin"]})).await["error"]["code"], "FORBIDDEN");
    assert_eq!(ws.request(json!({"id": 3, "type": "publish", "channel": "chat", "message": "hi"})).await["result"], 0);
    assert_eq!(ws.request(json!({"id": 4, "type": "publish", "channel": "news.tech", "message": "x"})).await["error"]["code"], "FORBIDDEN");
    assert_eq!(ws.request(json!({"id": 5, "type": "follow", "stream": "ticks"})).await["result"]["from"], "0-0");
    assert_eq!(ws.request(json!({"id": 6, "type": "follow", "stream": "secrets"})).await["error"]["code"], "FORBIDDEN");
    assert_eq!(ws.request(json!({"id": 7, "type": "command", "args": ["GET", "k"]})).await["error"]["code"], "FORBIDDEN");
    // The Authorization header works too (for non-browser clients).
    let bearer = format!("Bearer {minted}");
    let mut ws = Ws::connect(&server.url(), Some("herald.json"), &[("authorization", &bearer)]).await.unwrap();
    assert_eq!(ws.request(json!({"id": 1, "type": "ping"})).await["result"], "pong");
}

#[tokio::test]
async fn connections_over_the_limit_are_refused_with_503() {
    let server = start(|c| c.ws.max_connections = 1).await;
    let mut first = server.json().await;
    let second = Ws::connect(&server.url(), Some("herald.json"), &[]).await;
    assert!(matches!(second, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 503));
    assert_eq!(first.request(json!({"id": 1, "type": "ping"})).await["result"], "pong");
}

#[tokio::test]
async fn a_slow_client_is_closed_while_others_keep_receiving() {
    let server = start(|c| c.ws.send_queue = 8).await;
    let mut slow = server.json().await;
    let mut fast = server.json().await;
    for ws in [&mut slow, &mut fast] {
        ws.request(json!({"id": 1, "type": "subscribe", "channels": ["firehose"]})).await;
    }
    // From here on the slow client reads nothing until the end.
    let payload = "p".repeat(64 * 1024);
    let fast_reader = tokio::spawn(async move {
        let mut received = 0usize;
        loop {
            let event = fast.recv().await;
            if event["data"] == "end" {
                return received;
            }
            received += 1;
        }
    });
    let mut resp = server.resp().await;
    let disconnections = || server.shared.stats.client_output_buffer_limit_disconnections.load(Ordering::Relaxed);
    // Publish until the slow client (which reads nothing) is dropped; bounded.
    let mut published = 0usize;
    while disconnections() == 0 {
        assert!(published < 20_000, "the slow client was never closed");
        let _: i64 = resp.publish("firehose", &payload).await.unwrap();
        published += 1;
    }
    let _: i64 = resp.publish("firehose", "end").await.unwrap();
    assert_eq!(fast_reader.await.unwrap(), published);
    // The slow client finds its stream ended, with 4001 if the close frame got through.
    let code = slow.close_code().await;
    assert!(code.is_none() || code == Some(4001), "{code:?}");
}

#[tokio::test]
async fn client_kill_closes_a_websocket_client_with_4002() {
    let server = start(|_| {}).await;
    let mut ws = server.json().await;
    let id = ws.request(json!({"id": 1, "type": "command", "args": ["PING"]})).await;
    assert_eq!(id["result"], "PONG");
    let mut resp = server.resp().await;
    let list: String = redis::cmd("CLIENT").arg("LIST").query_async(&mut resp).await.unwrap();
    let line = list.lines().find(|l| l.contains("lib-name=herald-ws")).expect("the gateway client is listed");
    let client_id = line.split(' ').find_map(|f| f.strip_prefix("id=")).unwrap().to_string();
    let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("ID").arg(client_id).query_async(&mut resp).await.unwrap();
    assert_eq!(killed, 1);
    assert_eq!(ws.close_code().await, Some(4002));
}

/// Upgrades a plain TCP connection by hand, for a client that never reads (and so never
/// answers a ping); returns the socket after the 101 response.
async fn raw_upgrade(ws: SocketAddr) -> TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = TcpStream::connect(ws).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {ws}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(socket.read(&mut byte).await.unwrap(), 1);
        response.push(byte[0]);
    }
    assert!(response.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&response));
    socket
}

/// Reads a raw socket to its end and returns the code of the close frame in it, if any.
async fn raw_close_code(mut socket: TcpStream) -> Option<u16> {
    use tokio::io::AsyncReadExt;
    let mut bytes = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut bytes)).await;
    // Unmasked server frames: walk them; a close frame is 0x88, length, 2-byte code.
    let mut at = 0;
    while at + 2 <= bytes.len() {
        let opcode = bytes[at] & 0x0f;
        let len = usize::from(bytes[at + 1] & 0x7f);
        let (len, header) = match len {
            126 => (usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]])), 4),
            127 => (u64::from_be_bytes(bytes[at + 2..at + 10].try_into().unwrap()) as usize, 10),
            n => (n, 2),
        };
        if opcode == 8 && len >= 2 {
            return Some(u16::from_be_bytes([bytes[at + header], bytes[at + header + 1]]));
        }
        at += header + len;
    }
    None
}

#[tokio::test]
async fn an_idle_client_is_closed_with_4000() {
    let server = start(|c| c.ws.idle_timeout = 1).await;
    let socket = raw_upgrade(server.ws).await;
    // The client answers no ping, so it goes idle and the server closes it.
    assert_eq!(raw_close_code(socket).await, Some(4000));
}

#[tokio::test]
async fn a_ping_gets_its_pong_and_a_close_is_answered_with_its_code() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start(|_| {}).await;
    let mut socket = raw_upgrade(server.ws).await;
    // Client frames are masked; a zero mask leaves the payload as it is.
    socket.write_all(&[0x89, 0x82, 0, 0, 0, 0, b'h', b'i']).await.unwrap();
    let mut pong = [0u8; 4];
    socket.read_exact(&mut pong).await.unwrap();
    assert_eq!(pong, [0x8a, 2, b'h', b'i'], "a final pong frame with the ping's payload");
    socket.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]).await.unwrap();
    assert_eq!(raw_close_code(socket).await, Some(1000));
}

/// Waits (bounded) until `n` clients wait on `key` in db 0.
async fn until_waiting(server: &WsServer, key: &str, n: usize) {
    for _ in 0..2000 {
        if server.shared.keyspace.lock().blocking.waiting_on(0, key.as_bytes()) == n {
            return;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("{n} waiters on {key} never showed up");
}

#[tokio::test]
async fn a_blocking_group_read_waits_for_new_entries_and_keeps_reply_order() {
    let server = start(|_| {}).await;
    let mut resp = server.resp().await;
    let _: () = redis::cmd("XGROUP").arg("CREATE").arg("jobs").arg("g").arg("$").arg("MKSTREAM").query_async(&mut resp).await.unwrap();
    for mut ws in [server.json().await, server.msgpack().await] {
        ws.send(&json!({"id": 1, "type": "group_read", "stream": "jobs", "group": "g", "consumer": "c", "block": 0})).await;
        // A request sent behind the blocked read is answered after it.
        ws.send(&json!({"id": 2, "type": "ping"})).await;
        until_waiting(&server, "jobs", 1).await;
        let id = xadd(&mut resp, "jobs", "task", "resize").await;
        let first = ws.recv().await;
        assert_eq!(first, json!({"type": "reply", "id": 1, "result": [{"id": id, "fields": {"task": "resize"}}]}));
        assert_eq!(ws.recv().await, json!({"type": "reply", "id": 2, "result": "pong"}));
        // The entry is pending for the consumer, as after XREADGROUP.
        let pending: Vec<redis::Value> = redis::cmd("XPENDING").arg("jobs").arg("g").query_async(&mut resp).await.unwrap();
        assert!(matches!(pending.first(), Some(redis::Value::Int(n)) if *n >= 1));
    }
}

#[tokio::test]
async fn a_blocking_group_read_does_not_stop_followed_streams() {
    let server = start(|_| {}).await;
    let mut resp = server.resp().await;
    let _: () = redis::cmd("XGROUP").arg("CREATE").arg("jobs").arg("g").arg("$").arg("MKSTREAM").query_async(&mut resp).await.unwrap();
    let mut ws = server.json().await;
    let followed = ws.request(json!({"id": 1, "type": "follow", "stream": "feed", "from": "0"})).await;
    assert_eq!(followed["result"]["from"], "0");
    ws.send(&json!({"id": 2, "type": "group_read", "stream": "jobs", "group": "g", "consumer": "c", "block": 0})).await;
    until_waiting(&server, "jobs", 1).await;
    until_waiting(&server, "feed", 1).await;
    let feed_id = xadd(&mut resp, "feed", "n", 1).await;
    assert_eq!(ws.entry_ids(1).await, vec![feed_id]);
    let job_id = xadd(&mut resp, "jobs", "n", 2).await;
    let reply = ws.recv().await;
    assert_eq!(reply["id"], 2);
    assert_eq!(reply["result"][0]["id"], job_id.as_str());
}

#[tokio::test]
async fn a_blocking_group_read_times_out_with_no_entries() {
    let server = start(|_| {}).await;
    let mut resp = server.resp().await;
    let _: () = redis::cmd("XGROUP").arg("CREATE").arg("jobs").arg("g").arg("$").arg("MKSTREAM").query_async(&mut resp).await.unwrap();
    let mut ws = server.msgpack().await;
    let reply = ws.request(json!({"id": 1, "type": "group_read", "stream": "jobs", "group": "g", "consumer": "c", "block": 20})).await;
    assert_eq!(reply, json!({"type": "reply", "id": 1, "result": []}));
    assert_eq!(server.shared.keyspace.lock().blocking.waiting_on(0, b"jobs"), 0, "the waiter is gone");
    // Without `block`, an empty read answers at once, as before.
    let reply = ws.request(json!({"id": 2, "type": "group_read", "stream": "jobs", "group": "g", "consumer": "c"})).await;
    assert_eq!(reply["result"], json!([]));
}

#[tokio::test]
async fn a_blocked_group_read_wakes_with_an_error_when_its_stream_is_deleted() {
    let server = start(|_| {}).await;
    let mut resp = server.resp().await;
    let _: () = redis::cmd("XGROUP").arg("CREATE").arg("jobs").arg("g").arg("$").arg("MKSTREAM").query_async(&mut resp).await.unwrap();
    let mut ws = server.json().await;
    ws.send(&json!({"id": 7, "type": "group_read", "stream": "jobs", "group": "g", "consumer": "c", "block": 0})).await;
    until_waiting(&server, "jobs", 1).await;
    let _: () = redis::cmd("DEL").arg("jobs").query_async(&mut resp).await.unwrap();
    let reply = ws.recv().await;
    assert_eq!(reply["id"], 7);
    assert_eq!(reply["error"]["code"], "NOGROUP", "{reply}");
}
