//! The access log: one line per request — method, path, status, latency; never headers, never
//! the query string (it can carry tokens), never bodies.
//!
//! The line is the one `tracing::info!(target: "http", …)` prints through the process's fmt
//! subscriber (`2026-11-27T14:25:51.899314Z  INFO http: method=GET path=/api/me status=200
//! latency_us=12`), but formatted by hand and handed straight to the batching writer: going
//! through tracing's formatter (field visitors, `fmt::Write`, styles, the timestamp) was a sixth
//! of a cached request's CPU time in the server. On a terminal, where colours matter more than
//! microseconds, the line goes through tracing. Either way `RUST_LOG` decides whether it is
//! written (`RUST_LOG=warn` or `http=off` turns it off).

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{Method, StatusCode};

use crate::log_writer::BatchedWriter;

/// Where access lines go.
#[derive(Clone)]
pub enum AccessLog {
    /// Formatted here, written by the batching writer (logs to a file or a pipe).
    Batched(BatchedWriter),
    /// Through the tracing subscriber, with its colours (logs to a terminal).
    Tracing,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Batched(_) => "AccessLog::Batched",
            Self::Tracing => "AccessLog::Tracing",
        })
    }
}

thread_local! {
    /// This thread's line, reused from one request to the next.
    static LINE: RefCell<Line> = RefCell::new(Line::default());
}

impl AccessLog {
    /// Logs one answered request.
    pub fn record(&self, method: &Method, path: &str, status: StatusCode, latency: Duration) {
        if !tracing::enabled!(target: "http", tracing::Level::INFO) {
            return;
        }
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        match self {
            Self::Batched(writer) => LINE.with_borrow_mut(|line| {
                line.format(SystemTime::now(), method, path, status, latency_us);
                writer.append(&line.bytes);
            }),
            Self::Tracing => tracing::info!(
                target: "http",
                %method,
                %path,
                status = status.as_u16(),
                latency_us,
            ),
        }
    }
}

/// A line being formatted, and the date and time (to the second) it last began with.
struct Line {
    bytes: Vec<u8>,
    second: Option<u64>,
    date_time: String,
}

impl Default for Line {
    fn default() -> Self {
        Self {
            bytes: Vec::with_capacity(128),
            second: None,
            date_time: String::new(),
        }
    }
}

impl Line {
    fn format(
        &mut self,
        now: SystemTime,
        method: &Method,
        path: &str,
        status: StatusCode,
        latency_us: u64,
    ) {
        let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let second = since_epoch.as_secs();
        if self.second != Some(second) {
            // Once a second per thread: the calendar is the slow part of a timestamp.
            self.date_time = i64::try_from(second)
                .ok()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string();
            self.second = Some(second);
        }
        let mut numbers = itoa::Buffer::new();
        let bytes = &mut self.bytes;
        bytes.clear();
        bytes.extend_from_slice(self.date_time.as_bytes());
        bytes.push(b'.');
        push_micros(bytes, since_epoch.subsec_micros());
        bytes.extend_from_slice(b"Z  INFO http: method=");
        bytes.extend_from_slice(method.as_str().as_bytes());
        bytes.extend_from_slice(b" path=");
        bytes.extend_from_slice(path.as_bytes());
        bytes.extend_from_slice(b" status=");
        bytes.extend_from_slice(numbers.format(status.as_u16()).as_bytes());
        bytes.extend_from_slice(b" latency_us=");
        bytes.extend_from_slice(numbers.format(latency_us).as_bytes());
        bytes.push(b'\n');
    }
}

/// Six digits, zero-padded.
fn push_micros(bytes: &mut Vec<u8>, micros: u32) {
    let mut digits = [b'0'; 6];
    let mut rest = micros;
    for digit in digits.iter_mut().rev() {
        // `rest % 10` is below 10: it always fits.
        *digit = b'0' + u8::try_from(rest % 10).unwrap_or_default();
        rest /= 10;
    }
    bytes.extend_from_slice(&digits);
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// What a tracing subscriber writes, kept for the test to read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn line(now: SystemTime, method: &Method, path: &str, status: u16, latency_us: u64) -> String {
        let mut line = Line::default();
        let status = StatusCode::from_u16(status).unwrap();
        line.format(now, method, path, status, latency_us);
        String::from_utf8(line.bytes).unwrap()
    }

    #[test]
    fn the_line_has_the_time_to_the_microsecond_and_the_four_fields() {
        let now = UNIX_EPOCH + Duration::from_micros(1_795_530_351_000_042);
        assert_eq!(
            line(now, &Method::GET, "/api/me", 200, 12),
            "2026-11-24T14:25:51.000042Z  INFO http: method=GET path=/api/me status=200 latency_us=12\n"
        );
    }

    #[test]
    fn a_new_second_gets_a_new_date_and_time() {
        let mut line = Line::default();
        let first = UNIX_EPOCH + Duration::from_micros(1_795_530_351_999_999);
        let second = first + Duration::from_micros(1);
        line.format(first, &Method::POST, "/x", StatusCode::OK, 1);
        assert!(line.bytes.starts_with(b"2026-11-24T14:25:51.999999Z"));
        line.format(second, &Method::POST, "/x", StatusCode::OK, 1);
        assert!(line.bytes.starts_with(b"2026-11-24T14:25:52.000000Z"));
    }

    #[test]
    fn the_line_is_the_one_tracing_writes_for_the_same_event() {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer({
                let captured = captured.clone();
                move || captured.clone()
            })
            .finish();
        let (method, path, status, latency_us) = (Method::DELETE, "/api/u1/tasks/7", 404, 1234);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "http", %method, %path, status, latency_us);
        });
        let traced = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let ours = line(SystemTime::now(), &method, path, status, latency_us);
        // Everything after the timestamp (`2026-11-27T14:25:51.899314Z`, 27 bytes) is the same.
        assert_eq!(traced.get(27..), ours.get(27..), "{traced:?} vs {ours:?}");
    }

    #[test]
    fn micros_are_six_digits_zero_padded() {
        for (micros, text) in [
            (0, "000000"),
            (7, "000007"),
            (123_456, "123456"),
            (999_999, "999999"),
        ] {
            let mut bytes = Vec::new();
            push_micros(&mut bytes, micros);
            assert_eq!(bytes, text.as_bytes());
        }
    }
}
