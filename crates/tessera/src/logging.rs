//! Process logging: one subscriber for the whole binary, off the request path.
//!
//! Lines are formatted on the request's thread but written by a background thread through a
//! bounded queue, a burst of lines per `write`, so a slow stdout does not stall requests; only a
//! stdout stuck long enough to fill the queue does, and no line is dropped.
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
    // Not lossy: a full queue (128 Ki lines, i.e. stdout stuck) makes the logging thread wait,
    // as a synchronous write would, rather than drop an `audit` line.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(stdout);
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER)),
        )
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(writer)
        .init();
    guard
}
