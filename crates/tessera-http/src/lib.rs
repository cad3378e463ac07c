//! HTTP plumbing shared by `tessera serve` and `tessera api`, and by nothing else in Tessera:
//! the hardened HTTP/1.1 server ([`server`]), what every request meets before routing
//! ([`edge`], [`cors`]), the access log and process logging ([`logging`]), and the origin
//! parsing and matching both servers' CORS policies start from ([`origin`]).
//!
//! It depends on no other Tessera crate, so a resource server built on it carries none of the
//! auth server.
#![forbid(unsafe_code)]

pub mod access_log;
pub mod cors;
pub mod edge;
mod log_writer;
pub mod logging;
pub mod origin;
pub mod server;

pub use access_log::AccessLog;
pub use cors::Cors;
pub use edge::Edge;
pub use origin::{origin_matches, origin_of};
pub use server::{Bound, ConnectionLimits, shutdown_signal};
