//! Replies as text: for tests that compare exact reply bytes but read better as strings.

use super::RawClient;

/// Sends a command made of `words` and returns the reply as text (lossy for readability).
pub async fn call(client: &mut RawClient, words: &[&str]) -> String {
    let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
    String::from_utf8_lossy(&client.call(&args).await).into_owned()
}
