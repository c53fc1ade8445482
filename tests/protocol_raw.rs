//! The request parser and reply encoder seen over a real socket.
mod common;

#[tokio::test]
async fn ping_answers_pong_in_multibulk_and_inline_form() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(raw.call(&[b"PING"]).await, b"+PONG\r\n");
    raw.send(b"PING\r\n").await;
    assert_eq!(raw.read_reply().await.unwrap(), b"+PONG\r\n");
}

#[tokio::test]
async fn a_protocol_error_is_answered_then_the_connection_closes() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.send(b"*1\r\n:1\r\n").await;
    assert_eq!(raw.read_reply().await.unwrap(), b"-ERR Protocol error: expected '$', got ':'\r\n");
    assert!(raw.is_closed().await);
}

#[tokio::test]
async fn an_unknown_command_gets_an_error_and_the_connection_lives_on() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(
        raw.call(&[b"NOPE", b"a", b"b"]).await,
        b"-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' \r\n"
    );
    assert_eq!(raw.call(&[b"GET"]).await, b"-ERR wrong number of arguments for 'get' command\r\n");
    assert_eq!(raw.call(&[b"PING"]).await, b"+PONG\r\n");
}
