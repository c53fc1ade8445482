//! Replies as text: for tests that compare exact reply bytes but read better as strings.

use super::RawClient;

/// Sends a command made of `words` and returns the reply as text (lossy for readability).
pub async fn call(client: &mut RawClient, words: &[&str]) -> String {
    let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
    String::from_utf8_lossy(&client.call(&args).await).into_owned()
}

/// The payload of a bulk (`$`) or verbatim (`=`) reply, as text.
pub fn text_of(reply: &[u8]) -> String {
    let header_end = reply.windows(2).position(|w| w == b"\r\n").expect("a header line") + 2;
    let mut body = &reply[header_end..reply.len() - 2];
    if reply[0] == b'=' {
        body = &body[4..]; // "txt:"
    }
    String::from_utf8(body.to_vec()).unwrap()
}
