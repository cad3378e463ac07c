//! Process logging: one subscriber for the whole binary, off the request path.
//!
//! Lines are formatted on the request's thread but written by a background thread through a
//! bounded queue, so a slow or blocked stdout never stalls a request (under a flood the queue
//! drops lines rather than applying back-pressure to the server), a burst of lines at a time.
//! Colours only on a terminal.

use std::io::{BufWriter, IsTerminal as _};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// What is logged when `RUST_LOG` is unset: our events at `info`, sqlx's only from `warn`.
const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Installs the global subscriber; keep the guard alive until exit so queued lines are flushed.
pub fn init() -> WorkerGuard {
    // The writer thread drains the queue into this buffer and flushes it when the queue is
    // empty: one `write` per burst of lines instead of one per line.
    let stdout = BufWriter::with_capacity(64 * 1024, std::io::stdout());
    let (writer, guard) = tracing_appender::non_blocking(stdout);
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER)),
        )
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(writer)
        .init();
    guard
}
