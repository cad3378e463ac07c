//! Process logging: one subscriber for the whole binary, written off the request path.
//!
//! Lines are formatted on the request's thread and written by tracing-appender's background
//! thread, so a slow stdout does not slow requests down. The writer is lossless
//! (`.lossy(false)`): when the queue is full (stdout stuck) logging waits, as a synchronous
//! write would, so no audit or access line is dropped. Two formats ([`LogFormat`]): text, with
//! colours on a terminal, and one JSON object per line for log shippers, the request span's
//! fields (its id) in each.

use std::io::IsTerminal as _;

use tracing::Subscriber;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Lines queued for the writer thread before logging waits for it. tracing-appender's default
/// (128 000) preallocates and touches a few MiB of channel slots at start-up; 8 192 lines is
/// still several seconds of access lines at the benchmark's rates.
const QUEUED_LINES: usize = 8192;

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

/// Installs the global subscriber over stdout; keep the guard alive until exit so queued lines
/// are flushed.
///
/// # Errors
/// When a global subscriber is already installed.
pub fn init(format: LogFormat) -> Result<WorkerGuard, tracing::subscriber::SetGlobalDefaultError> {
    let ansi = std::io::stdout().is_terminal();
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("log-writer")
        .finish(std::io::stdout());
    tracing::subscriber::set_global_default(subscriber(format, filter_from_env(), writer, ansi))?;
    Ok(guard)
}
