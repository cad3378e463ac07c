//! Integration tests for the auth server, each run on SQLite and on PostgreSQL.

#[macro_use]
mod helpers;
mod account;
mod attacks;
mod audit;
mod bad_input;
mod caching;
mod jwt;
mod keys;
mod origin;
mod rate_limit;
mod revocation;
mod rfc9864;
mod session;
mod sign_in;
mod sign_up;
