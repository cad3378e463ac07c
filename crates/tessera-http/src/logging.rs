//! Process logging: one subscriber for the whole binary, off the request path.
//!
//! Lines are formatted on the request's thread and written by a background thread in batches
//! ([`crate::log_writer`]), so neither a slow stdout nor a write per line slows requests down;
//! only a stdout stuck long enough to fill the queue does, and no line is dropped.
//! Colours only on a terminal.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::access_log::AccessLog;
use crate::log_writer::{self, FlushOnDrop};

/// What is logged when `RUST_LOG` is unset: our events at `info`, sqlx's only from `warn`.
const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Installs the global subscriber; keep the guard alive until exit so queued lines are flushed.
/// Also returns where the access log goes ([`AccessLog`]).
///
/// # Errors
/// When the writer thread cannot be started.
pub fn init() -> std::io::Result<(FlushOnDrop, AccessLog)> {
    let (writer, guard) = log_writer::spawn(std::io::stdout())?;
    let terminal = std::io::stdout().is_terminal();
    let access_log = if terminal {
        AccessLog::Tracing
    } else {
        AccessLog::Batched(writer.clone())
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER)),
        )
        .with_ansi(terminal)
        .with_writer(writer)
        .init();
    Ok((guard, access_log))
}
