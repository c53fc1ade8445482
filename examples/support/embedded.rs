//! Shared by the Rust examples: which server to talk to.

/// The URL the user gave, or else the URL of a Herald started in this process on an ephemeral
/// loopback port (announced on stdout), so an example runs with no server set up.
pub async fn server_url(given: Option<String>) -> String {
    if let Some(url) = given {
        return url;
    }
    let config = herald::Config { bind: vec!["127.0.0.1".into()], port: 0, ..Default::default() };
    let server = herald::Server::bind(config).await.expect("bind");
    let addr = server.local_addr().expect("address");
    tokio::spawn(server.run());
    println!("started Herald on {addr}");
    format!("redis://{addr}/")
}
