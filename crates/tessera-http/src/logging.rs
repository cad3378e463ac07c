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

use std::fmt::Write as _;
use std::io::IsTerminal as _;

use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::DefaultFields;
use tracing_subscriber::fmt::{FormattedFields, MakeWriter};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

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
    match format {
        LogFormat::Text => Box::new(
            tracing_subscriber::registry()
                .with(filter)
                .with((!ansi).then_some(RequestSpanFields))
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_writer(writer)
                        .with_ansi(ansi),
                ),
        ),
        LogFormat::Json => Box::new(
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(writer)
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
    }
}

/// Renders the request span's fields (`target: "request"`, [`crate::access_log`]) for the
/// colourless text formatter before it does, when every value prints as plain visible ASCII;
/// the formatter then reuses them (it formats a span's fields only when no layer before it
/// has), and writes the same bytes.
///
/// Why: tracing-subscriber's field formatter writes a field through three formatting arguments
/// and a string's `Debug` one character at a time; for the request span's id, method and path
/// that cost about 4,500 instructions a request (callgrind, BENCHMARKS.md "The edge, merged"),
/// most of the span's cost. Anything else (another span, a value to escape, colours) is left
/// to the formatter.
struct RequestSpanFields;

impl<S> Layer<S> for RequestSpanFields
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().target() != "request" {
            return;
        }
        let mut fields = PlainFields::default();
        attrs.record(&mut fields);
        if let (Some(text), Some(span)) = (fields.rendered(), ctx.span(id)) {
            span.extensions_mut()
                .insert(FormattedFields::<DefaultFields>::new(text));
        }
    }
}

/// Fields as `DefaultFields` writes them without colours — `name=value`, separated by one
/// space, a string in quotes, anything else as its `Debug` — or nothing, once a value or name
/// needs more than that (escaping, `message`, raw identifiers, errors).
struct PlainFields {
    text: String,
    refused: bool,
}

impl Default for PlainFields {
    fn default() -> Self {
        // Room for the request span's fields at once: growing the string field by field cost
        // more than writing them (callgrind).
        Self {
            text: String::with_capacity(160),
            refused: false,
        }
    }
}

impl PlainFields {
    fn rendered(self) -> Option<String> {
        (!self.refused).then_some(self.text)
    }

    /// Writes `name=`, or refuses a name the formatter prints differently.
    fn name(&mut self, field: &Field) -> bool {
        let name = field.name();
        if self.refused || name == "message" || name.starts_with("r#") || name.starts_with("log.") {
            self.refused = true;
            return false;
        }
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(name);
        self.text.push('=');
        true
    }
}

impl Visit for PlainFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if !crate::access_log::plain(value) {
            self.refused = true;
        } else if self.name(field) {
            self.text.push('"');
            self.text.push_str(value);
            self.text.push('"');
        }
    }

    fn record_error(&mut self, _: &Field, _: &(dyn std::error::Error + 'static)) {
        self.refused = true;
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if self.name(field) {
            let start = self.text.len();
            let written = write!(self.text, "{value:?}").is_ok();
            // Visible ASCII only: nothing the formatter would escape, no space to mislead.
            if !written || !self.text[start..].bytes().all(|b| b.is_ascii_graphic()) {
                self.refused = true;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::CapturedLog;

    /// What `subscriber` writes for an event in the span `make` opens, without the timestamp.
    fn line_in(
        subscriber: Box<dyn Subscriber + Send + Sync>,
        captured: &CapturedLog,
        make: impl FnOnce() -> tracing::Span,
    ) -> String {
        tracing::subscriber::with_default(subscriber, || {
            make().in_scope(|| tracing::info!(target: "http", status = 200));
        });
        captured.text().get(27..).unwrap_or_default().to_owned()
    }

    #[test]
    fn request_spans_are_written_exactly_as_the_formatter_alone_writes_them() {
        let spans: [(&str, &str, &str); 4] = [
            (
                "0b5e62d4-1f3a-4c2e-8000-00000000002a",
                "GET",
                "/api/u1/tasks",
            ),
            ("lb-\"7\"", "POST", "/a\\b"),
            ("", "DELETE", "/caf\u{e9}"),
            ("esc\u{1b}[31m", "GET", "/x"),
        ];
        for (id, method, path) in spans {
            let make =
                || tracing::info_span!(target: "request", "request", id, method = %method, path);
            let ours = CapturedLog::default();
            let with_layer = line_in(
                subscriber(LogFormat::Text, EnvFilter::new("info"), ours.clone(), false),
                &ours,
                make,
            );
            let theirs = CapturedLog::default();
            let alone = line_in(
                Box::new(
                    tracing_subscriber::fmt()
                        .with_env_filter(EnvFilter::new("info"))
                        .with_writer(theirs.clone())
                        .with_ansi(false)
                        .finish(),
                ),
                &theirs,
                make,
            );
            assert_eq!(with_layer, alone, "{id:?} {path:?}");
            assert!(alone.contains("request{"), "{alone}");
        }
    }

    #[test]
    fn only_fields_that_print_as_plain_ascii_are_rendered_ahead_of_the_formatter() {
        let render = |make: &dyn Fn(&mut PlainFields)| {
            let mut fields = PlainFields::default();
            make(&mut fields);
            fields.rendered()
        };
        struct Fields {
            id: Field,
            method: Field,
            message: Field,
        }
        let callsite = tracing::info_span!("probe", id = 0, method = 0, message = 0);
        let metadata = callsite.metadata().unwrap();
        let field = |name| metadata.fields().field(name).unwrap();
        let f = Fields {
            id: field("id"),
            method: field("method"),
            message: field("message"),
        };
        assert_eq!(
            render(&|p| {
                p.record_str(&f.id, "abc-1");
                p.record_debug(&f.method, &format_args!("{}", "GET"));
            }),
            Some(r#"id="abc-1" method=GET"#.to_owned())
        );
        assert_eq!(render(&|p| p.record_str(&f.id, "a\"b")), None);
        assert_eq!(render(&|p| p.record_debug(&f.method, &"two words")), None);
        assert_eq!(render(&|p| p.record_str(&f.message, "hello")), None);
    }
}
