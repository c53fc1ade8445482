//! The `herald` binary: `herald [config-file] [--name value ...]`.

use herald::{Config, Server};
use tracing_subscriber::{prelude::*, reload, EnvFilter};

/// mimalloc instead of glibc's malloc: the request path allocates and frees small blocks all
/// the time (values, keys, reply frames, stream entries), and glibc's allocator was 8-30% of
/// the server's CPU in profiles (BENCHMARKS.md has the before/after numbers).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let config = match Config::from_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("herald: {e}");
            std::process::exit(1);
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(config.loglevel.filter()));
    // Behind a reload layer, so CONFIG SET loglevel takes effect at once.
    let (filter, reload_handle) = reload::Layer::new(filter);
    tracing_subscriber::registry().with(filter).with(tracing_subscriber::fmt::layer()).init();
    let _ = herald::config::LOG_LEVEL_HOOK.set(Box::new(move |level| {
        let _ = reload_handle.reload(EnvFilter::new(level.filter()));
    }));
    let server = match Server::bind(config).await {
        Ok(server) => server,
        Err(e) => {
            tracing::error!("could not start: {e}");
            std::process::exit(1);
        }
    };
    let shared = server.shared();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("Received shutdown signal");
        shared.request_shutdown();
    });
    server.run().await;
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
