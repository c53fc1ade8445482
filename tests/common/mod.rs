//! Shared test support: start Herald in-process on an ephemeral port and talk to it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

pub mod blocking;
pub mod direct;
pub mod keys;
pub mod scripting;
pub mod text;

use herald::{Config, Server, Shared};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A Herald server running inside the test's runtime; shut down on drop.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its shared state, for white-box checks.
    pub shared: Arc<Shared>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shared.request_shutdown();
    }
}

/// Starts a server with the default configuration on 127.0.0.1:0.
pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

/// Starts a server after `adjust` has changed its configuration.
pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
    let mut config = Config { bind: vec!["127.0.0.1".into()], port: 0, ..Config::default() };
    adjust(&mut config);
    let server = Server::bind(config).await.expect("bind");
    let addr = server.local_addr().expect("local addr");
    let shared = server.shared();
    tokio::spawn(server.run());
    // Durable streams recover on a thread of their own; tests start once they are loaded.
    shared.loaded().await;
    TestServer { addr, shared }
}

/// The `redis` crate's connection settings for tests. Its defaults give up on a reply after
/// 500 ms, a timing threshold that a loaded two-core CI machine crosses on big pipelines; tests
/// assert on replies, not on speed, so the limit is only a backstop against a hung test.
pub fn patient_config() -> redis::AsyncConnectionConfig {
    let backstop = Some(std::time::Duration::from_secs(120));
    redis::AsyncConnectionConfig::new().set_response_timeout(backstop).set_connection_timeout(backstop)
}

impl TestServer {
    /// A `redis` crate client (RESP2).
    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(format!("redis://{}/", self.addr)).unwrap();
        client.get_multiplexed_async_connection_with_config(&patient_config()).await.unwrap()
    }

    /// A `redis` crate client speaking RESP3.
    pub async fn client_resp3(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(format!("redis://{}/?protocol=resp3", self.addr)).unwrap();
        client.get_multiplexed_async_connection_with_config(&patient_config()).await.unwrap()
    }

    /// A raw socket for byte-level protocol tests.
    pub async fn raw(&self) -> RawClient {
        RawClient { stream: TcpStream::connect(self.addr).await.unwrap(), buffer: Vec::new() }
    }
}

/// A client that sends bytes and reads whole RESP replies as bytes.
pub struct RawClient {
    /// The socket.
    pub stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawClient {
    /// Connects to any RESP server.
    pub async fn connect(addr: SocketAddr) -> RawClient {
        RawClient { stream: TcpStream::connect(addr).await.unwrap(), buffer: Vec::new() }
    }

    /// Sends raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Sends a command as a multibulk.
    pub async fn send_command(&mut self, args: &[&[u8]]) {
        self.send(&encode_command(args)).await;
    }

    /// Reads the next complete reply, as its exact bytes. `None` if the server closed first.
    pub async fn read_reply(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(len) = frame_len(&self.buffer) {
                return Some(self.buffer.drain(..len).collect());
            }
            let mut chunk = [0u8; 16384];
            let n = self.stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a command and returns its reply's bytes.
    pub async fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send_command(args).await;
        self.read_reply().await.expect("server closed the connection")
    }

    /// Whether the server has closed the connection (reads to end of stream).
    pub async fn is_closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.stream.read_to_end(&mut rest).await.is_ok() && rest.is_empty() && self.buffer.is_empty()
    }
}

/// Encodes a command as a RESP multibulk.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The length of the first complete RESP2/RESP3 frame in `buf`, if there is one.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&buf[1..line_end]).ok()?;
    let after_line = line_end + 2;
    match buf.first()? {
        b'+' | b'-' | b':' | b',' | b'#' | b'_' | b'(' => Some(after_line),
        b'$' | b'=' | b'!' => {
            let len: i64 = line.parse().ok()?;
            if len < 0 {
                return Some(after_line);
            }
            let total = after_line + len as usize + 2;
            (buf.len() >= total).then_some(total)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let count: i64 = line.parse().ok()?;
            if count < 0 {
                return Some(after_line);
            }
            let items = if matches!(buf[0], b'%' | b'|') { count * 2 } else { count };
            let mut offset = after_line;
            for _ in 0..items {
                offset += frame_len(&buf[offset..])?;
            }
            Some(offset)
        }
        _ => None,
    }
}
