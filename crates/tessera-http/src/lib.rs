//! HTTP plumbing shared by `tessera serve` and `tessera api`, and by nothing else in Tessera:
//! the hardened HTTP/1.1 server ([`server`]), what every request meets before routing
//! ([`edge`]: tower-http's layers, configured), the request id ([`request_id`]), the span and
//! access line of each request ([`access_log`]), process logging ([`logging`], through the batching writer [`log_writer`]), per-request metrics ([`metrics`]), and the origin
//! parsing and matching both servers' CORS policies start from ([`origin`]).
//!
//! It depends on no other Tessera crate, so a resource server built on it carries none of the
//! auth server.
#![forbid(unsafe_code)]

pub mod access_log;
pub mod edge;
pub mod log_writer;
pub mod logging;
pub mod metrics;
pub mod origin;
pub mod request_id;
pub mod server;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use edge::{Edge, cors};
pub use logging::LogFormat;
pub use metrics::HttpMetrics;
pub use origin::{origin_matches, origin_of};
pub use server::{Background, Bound, ConnectionLimits, ListenError, shutdown_signal};
