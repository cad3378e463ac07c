//! Process logging: one subscriber for the whole binary, written off the request path.
//!
//! Lines are formatted on the request's thread and written by a background thread
//! ([`crate::log_writer`]: batched, woken only when a line lands in an empty buffer), so a slow
//! stdout does not slow requests down. The writer is lossless: when the queue is full (stdout
//! stuck) logging waits, as a synchronous write would, so no audit or access line is dropped.
//! It replaced tracing-appender's non-blocking writer, which wakes its thread for every line:
//! see [`init`] for the measurement. Two formats ([`LogFormat`]): text, with
//! colours on a terminal, and one JSON object per line for log shippers, the request span's
//! fields (its id) in each.

use std::io::IsTerminal as _;

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::log_writer::{self, FlushOnDrop};

/// What is logged when `RUST_LOG` is unset: our events at `info`, sqlx's only from `warn`.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `2026-11-27T14:25:51.899314Z  INFO request{id=… method=GET path=/api/me}: http: status=200 latency_us=12`.
    #[default]
    Text,
    /// `{"timestamp":…,"level":"INFO","fields":{"status":200,…},"target":"http","span":{"id":…}}`.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    /// `text` or `json`, in any case.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(format!("{raw:?} is neither text nor json")),
        }
    }
}

/// The subscriber writing `format` lines through `writer`, filtered by `filter`; colours only
/// when `ansi` (and never in JSON). [`init`] installs it over stdout; tests inject a writer.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.with_ansi(ansi).finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
    }
}

/// `RUST_LOG`, or [`DEFAULT_FILTER`] when it is unset or does not parse.
pub fn filter_from_env() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

/// Why the process logger could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The writer thread could not be started.
    #[error("starting the log writer thread")]
    Spawn(#[source] std::io::Error),
    /// Another global subscriber is already installed.
    #[error("a global subscriber is already installed")]
    AlreadyInstalled(#[source] tracing::subscriber::SetGlobalDefaultError),
}

impl LoggingError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Spawn(_) => "log_writer_spawn",
            Self::AlreadyInstalled(_) => "logger_already_installed",
        }
    }
}

/// Installs the global subscriber over stdout, written through the batching writer; keep the
/// guard alive until exit so queued lines are flushed.
///
/// The batching writer, not tracing-appender's non-blocking one (a thread woken per line):
/// measured in BENCHMARKS.md, "tower-http edge, measured" (callgrind instructions per request
/// and CPU µs, before and after).
///
/// # Errors
/// When the writer thread cannot start, or a global subscriber is already installed.
pub fn init(format: LogFormat) -> Result<FlushOnDrop, LoggingError> {
    let ansi = std::io::stdout().is_terminal();
    let (writer, guard) = log_writer::spawn(std::io::stdout()).map_err(LoggingError::Spawn)?;
    if format == LogFormat::Text && !ansi {
        crate::access_log::format_by_hand_into(writer.clone());
    }
    tracing::subscriber::set_global_default(subscriber(format, filter_from_env(), writer, ansi))
        .map_err(LoggingError::AlreadyInstalled)?;
    Ok(guard)
}
