//! A log writer that batches: request threads append lines to a buffer, one background thread
//! writes the buffer out at most every [`BATCH_WINDOW`].
//!
//! Why not tracing-appender's non-blocking writer (a channel with a thread blocked on it, which
//! this replaced and then replaced back): under load every line wakes the writer, a futex call
//! and two context switches per request on a busy core. Measured (BENCHMARKS.md, "tower-http
//! edge, measured"): the formatter and tracing-appender's wake-ups together cost the tower-http
//! edge 16,000–17,000 instructions and about 2.5–3 µs of CPU per request (its `RUST_LOG=warn`
//! rows against `info`); with this writer and the hand-formatted access line half the CPU gap
//! to the old edge is won back. Here the
//! writer is woken only when a line lands in an empty buffer, then waits out the window so the
//! lines of the next few milliseconds go out in one `write`. Nothing is dropped while the process
//! runs: a buffer that reaches [`MAX_PENDING`] (the output is stuck) makes writers wait, as a
//! synchronous write would, so audit lines are never lost to a slow stdout. At exit the guard
//! waits at most [`EXIT_WAIT`] for the queue to drain, so a stuck stdout cannot keep the process
//! from stopping; lines still queued then, or logged after the guard is gone, are lost.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the writer collects lines after the first one before writing them out.
const BATCH_WINDOW: Duration = Duration::from_millis(10);
/// Bytes queued before appending lines waits for the writer.
const MAX_PENDING: usize = 4 * 1024 * 1024;
/// How long the guard waits at exit for queued lines to be written.
const EXIT_WAIT: Duration = Duration::from_secs(1);
/// A batch buffer grown past this by a burst is given back rather than kept.
const KEPT_CAPACITY: usize = 256 * 1024;

/// The cloneable handle the subscriber writes through.
#[derive(Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

/// Flushes what is queued and stops the writer thread when dropped; keep it until exit.
#[must_use = "dropping the guard stops the log writer"]
pub struct FlushOnDrop {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<Pending>,
    /// Signalled when lines land in an empty buffer, and at shutdown.
    has_lines: Condvar,
    /// Signalled when the writer took the buffer, and when it stopped.
    has_room: Condvar,
}

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    writer_idle: bool,
    closed: bool,
    /// The writer thread has written everything and ended.
    finished: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock cannot leave `Pending` half-changed in a way that
        // matters (at worst a line is cut short), so logging goes on.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Starts the writer thread over `out`.
pub fn spawn(out: impl Write + Send + 'static) -> io::Result<(BatchedWriter, FlushOnDrop)> {
    let shared = Arc::new(Shared {
        state: Mutex::new(Pending::default()),
        has_lines: Condvar::new(),
        has_room: Condvar::new(),
    });
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn({
            let shared = Arc::clone(&shared);
            move || write_batches(&shared, out)
        })?;
    Ok((
        BatchedWriter {
            shared: Arc::clone(&shared),
        },
        FlushOnDrop {
            shared,
            thread: Some(thread),
        },
    ))
}

fn write_batches(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let mut pending = shared.lock();
        while pending.lines.is_empty() && !pending.closed {
            pending.writer_idle = true;
            pending = shared
                .has_lines
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        pending.writer_idle = false;
        if pending.closed && pending.lines.is_empty() {
            pending.finished = true;
            drop(pending);
            shared.has_room.notify_all();
            return;
        }
        if !pending.closed {
            // Let the next lines join this batch.
            drop(pending);
            std::thread::sleep(BATCH_WINDOW);
            pending = shared.lock();
        }
        std::mem::swap(&mut batch, &mut pending.lines);
        drop(pending);
        shared.has_room.notify_all();
        // Nowhere to report a failing stdout: the lines are lost, the process goes on.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        if batch.capacity() > KEPT_CAPACITY {
            batch = Vec::new();
        }
    }
}

impl BatchedWriter {
    /// Queues `line` (whole lines only: batches are written as they are).
    pub fn append(&self, line: &[u8]) {
        let mut pending = self.shared.lock();
        while pending.lines.len() >= MAX_PENDING && !pending.closed {
            pending = self
                .shared
                .has_room
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        pending.lines.extend_from_slice(line);
        // Only an idle writer needs waking; notifying costs a system call even with no waiter.
        let wake = std::mem::take(&mut pending.writer_idle);
        drop(pending);
        if wake {
            self.shared.has_lines.notify_one();
        }
    }
}

impl Write for BatchedWriter {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        let mut pending = self.shared.lock();
        pending.closed = true;
        self.shared.has_lines.notify_one();
        self.shared.has_room.notify_all();
        let deadline = std::time::Instant::now() + EXIT_WAIT;
        while !pending.finished {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                // The output is stuck: leave the thread behind rather than hang the exit.
                return;
            }
            pending = self
                .shared
                .has_room
                .wait_timeout(pending, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        drop(pending);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output that records each `write` it gets, and can hold writes until released.
    #[derive(Clone, Default)]
    struct Output {
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
        gate: Arc<(Mutex<bool>, Condvar)>,
        gated: bool,
    }

    impl Output {
        fn stuck() -> Self {
            Self {
                gated: true,
                ..Self::default()
            }
        }
        fn release(&self) {
            *self.gate.0.lock().unwrap() = true;
            self.gate.1.notify_all();
        }
        fn text(&self) -> String {
            String::from_utf8(self.writes.lock().unwrap().concat()).unwrap()
        }
        fn count(&self) -> usize {
            self.writes.lock().unwrap().len()
        }
    }

    impl Write for Output {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.gated {
                let mut released = self.gate.0.lock().unwrap();
                while !*released {
                    released = self.gate.1.wait(released).unwrap();
                }
            }
            self.writes.lock().unwrap().push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn queued(guard: &FlushOnDrop) -> usize {
        guard.shared.lock().lines.len()
    }

    #[test]
    fn every_line_is_written_in_order_by_the_time_the_guard_is_dropped() {
        let out = Output::default();
        let (writer, guard) = spawn(out.clone()).unwrap();
        for i in 0..1000 {
            writer
                .make_writer()
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
        drop(guard);
        let expected: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(out.text(), expected);
    }

    #[test]
    fn lines_queued_while_a_write_is_in_flight_go_out_in_one_write() {
        let out = Output::stuck();
        let (writer, guard) = spawn(out.clone()).unwrap();
        writer.make_writer().write_all(b"first\n").unwrap();
        // Once the writer has taken the first line, its write is stuck.
        while queued(&guard) > 0 {
            std::thread::yield_now();
        }
        for _ in 0..999 {
            writer.make_writer().write_all(b"queued\n").unwrap();
        }
        out.release();
        drop(guard);
        assert_eq!(out.count(), 2);
        assert_eq!(out.text().lines().count(), 1000);
    }

    #[test]
    fn dropping_the_guard_does_not_wait_forever_for_a_stuck_output() {
        let out = Output::stuck();
        let (writer, guard) = spawn(out.clone()).unwrap();
        writer.make_writer().write_all(b"never written\n").unwrap();
        // Returns after EXIT_WAIT although the write never completes.
        drop(guard);
        assert_eq!(out.count(), 0);
        out.release();
    }

    #[test]
    fn a_full_queue_makes_the_caller_wait_instead_of_dropping_lines() {
        let out = Output::stuck();
        let (writer, guard) = spawn(out.clone()).unwrap();
        let line = vec![b'x'; 1024];
        let producer = std::thread::spawn(move || {
            // Three queues' worth: more than fits while the output is stuck.
            for _ in 0..3 * MAX_PENDING / line.len() {
                writer.make_writer().write_all(&line).unwrap();
            }
        });
        // The output is stuck, so the producer fills the queue; then it has to wait.
        while queued(&guard) < MAX_PENDING {
            std::thread::yield_now();
        }
        assert!(
            !producer.is_finished(),
            "the producer waits while the queue is full"
        );
        assert!(queued(&guard) < MAX_PENDING + 1024);
        out.release();
        producer.join().unwrap();
        drop(guard);
        assert_eq!(out.text().len(), 3 * MAX_PENDING);
    }
}
