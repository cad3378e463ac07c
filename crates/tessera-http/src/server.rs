//! The HTTP/1.1 server `tessera serve` and `tessera api` both run: hyper with a timer, so slow
//! and silent clients are cut off, a cap on open connections, and an accept loop that backs off
//! when the process runs out of file descriptors instead of stalling or spinning.
//!
//! What bounds each way a client could hold a connection (settings in [`ConnectionLimits`]):
//! - headers sent slowly, or never: hyper's header-read timeout, which also runs while a
//!   kept-alive connection waits for its next request;
//! - a body sent slowly: a timeout between two of its pieces, and the handler timeout around
//!   the whole request (tower-http's `RequestBodyTimeoutLayer` and `TimeoutLayer`, in [`Edge`]);
//! - a body sent in bulk: the edge's body limit (`RequestBodyLimitLayer`);
//! - an answer never read, or a connection left silent: the idle timeout ([`Activity`]);
//! - many connections at once: a semaphore, taken before `accept`, so the surplus waits in the
//!   kernel's listen queue rather than costing a descriptor each.
//!
//! HTTP/1.1 only, as with `axum::serve` before: no HTTP/2 stack (and its own attack surface) to
//! carry; the TLS-terminating proxy in front speaks HTTP/2 to browsers.

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt as _;

use crate::edge::Edge;

/// How long the accept loop waits after an error that is not the client's (out of file
/// descriptors, out of memory) before trying again: long enough not to spin on a limit that
/// holds, short enough to answer again soon after descriptors free up.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(200);

/// How long a client may take over each part of a connection, and how many may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// To send a request's headers, from when the connection is ready for one.
    pub header_read_timeout: Duration,
    /// With no byte moving while no request is being handled.
    pub idle_timeout: Duration,
    /// Between two pieces of a request body.
    pub body_timeout: Duration,
    /// From a request's headers to its answer's headers (its body read included): then 503.
    pub handler_timeout: Duration,
    /// A request body's bytes: beyond, 413 before any handler. A backstop above every route's
    /// own limit, which answers first with its own, more precise, 413.
    pub max_body_bytes: usize,
    /// Connections open at once; further clients wait in the listen queue.
    pub max_connections: u32,
    /// After shutdown begins, how long new connections are still accepted and served (while
    /// `/readyz` already answers 503, so the load balancer takes the instance out first).
    pub shutdown_drain: Duration,
    /// After the drain, how long the requests in flight may take to finish before their
    /// connections are closed.
    pub shutdown_grace: Duration,
}

/// Why the listener could not be bound or stopped serving: the HTTP plumbing's error type.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The address could not be bound.
    #[error("binding {addr}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why (in use, not local, no permission).
        #[source]
        source: io::Error,
    },
    /// The listener itself failed while serving (never a client's fault).
    #[error("serving")]
    Serve(#[source] io::Error),
}

impl ListenError {
    /// A stable machine code, one per variant.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Bind { .. } => "HTTP_BIND_FAILED",
            Self::Serve(_) => "HTTP_SERVE_FAILED",
        }
    }
}

/// A listener bound to its address with the service it will serve: what a server is between
/// start-up (which must know the port, e.g. after binding port 0) and [`Self::run`].
pub struct Bound {
    listener: TcpListener,
    edge: Edge,
    limits: ConnectionLimits,
}

impl Bound {
    /// Binds `addr` for `edge`, to be served within `limits`.
    ///
    /// # Errors
    /// When the address cannot be bound (in use, not local, no permission).
    pub async fn bind(
        addr: std::net::SocketAddr,
        edge: Edge,
        limits: ConnectionLimits,
    ) -> Result<Self, ListenError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ListenError::Bind { addr, source })?;
        Ok(Self {
            listener,
            edge,
            limits,
        })
    }

    /// The bound address (the port the system chose, when asked for port 0).
    ///
    /// # Errors
    /// When the socket cannot say (it is gone).
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves; see [`serve`].
    ///
    /// # Errors
    /// Only when the listener itself is unusable.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ListenError> {
        serve(self.listener, self.edge, &self.limits, shutdown)
            .await
            .map_err(ListenError::Serve)
    }

    /// Serves `name` (a side listener, such as the metrics one) in a task of its own until
    /// [`Background::stop`].
    pub fn spawn(self, name: &'static str) -> Background {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(self.run(async {
            let _ = stopped.await;
        }));
        Background { name, stop, task }
    }
}

/// A listener serving in the background ([`Bound::spawn`]).
#[derive(Debug)]
pub struct Background {
    name: &'static str,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), ListenError>>,
}

impl Background {
    /// Stops it once its requests in flight are done; a failure or panic is logged, not
    /// returned: a side listener's end must not hide how the main one ended.
    pub async fn stop(self) {
        drop(self.stop);
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::error!(error = %err, listener = self.name, "a listener failed")
            }
            Err(err) => tracing::error!(error = %err, listener = self.name, "a listener panicked"),
        }
    }
}

/// Serves `edge` on `listener` within the `limits` until `shutdown` resolves, goes on serving
/// for the shutdown drain, then stops accepting, lets every open connection finish its request
/// within the shutdown grace, closes those still busy then, and returns.
///
/// # Errors
/// Never for a client's fault; only when the listener itself is unusable.
pub async fn serve(
    listener: TcpListener,
    edge: Edge,
    limits: &ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let edge = edge.into_service(limits);
    let idle_timeout = limits.idle_timeout;
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let graceful = GracefulShutdown::new();
    // Set when the shutdown grace is over: the connections still open then are closed.
    let (grace_over, grace_over_rx) = watch::channel(false);
    let drain = limits.shutdown_drain;
    let mut shutdown = pin!(async move {
        shutdown.await;
        // Balancers poll readiness every few seconds: clients they still send meanwhile are
        // served rather than refused.
        tracing::info!(
            drain_ms = drain.as_millis(),
            "shutting down: serving out the drain"
        );
        tokio::time::sleep(drain).await;
        tracing::info!("shutting down: no new connections; finishing the requests in flight");
    });
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.map_err(io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    on_accept_error(&err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let activity = Arc::new(Activity::new());
        let service = {
            let activity = Arc::clone(&activity);
            let edge = edge.clone();
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let handling = activity.handling();
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(ConnectInfo(peer));
                let answer = edge.clone().oneshot(request);
                async move {
                    let answer = answer.await;
                    drop(handling);
                    answer
                }
            })
        };
        let io = TokioIo::new(Watched {
            stream,
            activity: Arc::clone(&activity),
        });
        let connection = graceful.watch(http.serve_connection(io, service));
        let mut grace_over = grace_over_rx.clone();
        tokio::spawn(async move {
            tokio::select! {
                // Hyper's errors here are the client's doing (a reset, a header timeout).
                result = connection => if let Err(err) = result {
                    tracing::debug!(error = %err, %peer, "connection ended with an error");
                },
                () = activity.stalled(idle_timeout) => {
                    tracing::debug!(%peer, "closing a connection idle for the idle timeout");
                }
                _ = grace_over.wait_for(|over| *over) => {
                    tracing::warn!(%peer, "closing a connection still busy when the shutdown grace ended");
                }
            }
            drop(slot);
        });
    }
    // Stop accepting: new clients are refused at once. Connections between requests close;
    // those with a request in flight finish it, within the grace.
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        let _ = grace_over.send(true);
    }
    Ok(())
}

/// An error from `accept`: a client that gave up before it was accepted is simply skipped;
/// anything else (EMFILE, ENFILE, ENOBUFS, ENOMEM) will not go away on the next call, so wait
/// a moment rather than spin, and keep going: descriptors free up as connections close.
async fn on_accept_error(err: &io::Error) {
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::warn!(error = %err, "accept error; backing off");
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}

/// When a connection last moved a byte, and how many of its requests are being handled: a
/// handler may think for a while without I/O (the handler timeout bounds that), so only a
/// connection with no request in hand counts as idle.
struct Activity {
    opened: Instant,
    /// Milliseconds after `opened` of the last byte read or written.
    last: AtomicU64,
    handling: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            last: AtomicU64::new(0),
            handling: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let now = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    /// Marks a request as being handled until the returned guard drops.
    fn handling(self: &Arc<Self>) -> Handling {
        self.handling.fetch_add(1, Ordering::Relaxed);
        Handling(Arc::clone(self))
    }

    /// Resolves once the connection has been idle for `limit`.
    async fn stalled(&self, limit: Duration) {
        loop {
            let last = self.opened + Duration::from_millis(self.last.load(Ordering::Relaxed));
            let deadline = last + limit;
            if Instant::now() < deadline {
                tokio::time::sleep_until(deadline).await;
            } else if self.handling.load(Ordering::Relaxed) == 0 {
                return;
            } else {
                // A request's end counts as activity (see `Handling`): look again later.
                tokio::time::sleep(limit).await;
            }
        }
    }
}

/// A request being handled; its end counts as activity.
struct Handling(Arc<Activity>);

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.touch();
        self.0.handling.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The client's socket, noting in [`Activity`] every time bytes move.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Resolves on Ctrl-C or SIGTERM, for graceful shutdown.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
