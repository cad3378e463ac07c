//! The tasks API end to end over HTTP on 127.0.0.1:0: every endpoint and error on SQLite and on
//! PostgreSQL (a fresh database per test), PostgreSQL row-level security, and a property test of
//! per-user isolation under random interleaved operations.

mod auth;
mod crud;
mod errors;
mod helpers;
mod isolation;
mod list_cache;
mod openapi;
mod rls;
mod round_trips;
