//! Tessera's database module, shared by the auth server and the tasks API.
//!
//! It owns the one copy of what both stores need below their SQL: opening a [`Database`] (a
//! SQLite or PostgreSQL pool with the options Tessera runs with), running each crate's
//! [`Migrations`] against it, the [`StoreError`] every store call returns, and [`DbTime`],
//! dates encoded the way Better Auth stores them. The composition root opens one
//! [`Database`] and hands clones of it to every store.
//!
//! With the `testing` feature, [`testing`] makes the databases every crate's tests run on;
//! with `metrics`, [`metrics`] is the pool's gauge.
#![forbid(unsafe_code)]

mod connect;
mod error;
#[cfg(feature = "metrics")]
pub mod metrics;
mod migrate;
#[cfg(feature = "testing")]
pub mod testing;
mod time;

pub use connect::{Database, connect};
pub use error::{StoreError, StoreResult};
pub use migrate::{Migrations, SqliteColumn, applied, migrate};
pub use time::DbTime;
