//! Tessera's auth server: Better Auth 1.7's email-and-password, session, bearer and jwt
//! endpoints, byte-compatible on the wire and in the database, over SQLite or PostgreSQL.
//!
//! Build an [`AuthState`] from an [`AuthConfig`], a [`store::Store`] and a [`clock::Clock`],
//! then mount [`router`] at `/api/auth`.
#![forbid(unsafe_code)]

pub mod audit;
pub mod body;
pub mod clock;
pub mod common_passwords;
pub mod config;
pub mod cookies;
pub mod domain;
pub mod error;
pub mod features;
pub mod ids;
pub mod metrics;
pub mod origin;
pub mod password;
pub mod rate_limit;
pub mod revocation;
mod routes;
pub mod secret;
pub mod session;
mod state;
pub mod store;

pub use config::{AuthConfig, SessionPolicy};
pub use routes::router;
pub use state::{AuthApp, AuthState};
