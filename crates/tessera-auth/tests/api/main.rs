//! Integration tests for the auth server, each run on SQLite and on PostgreSQL.

#[macro_use]
mod helpers;
mod account;
mod bad_input;
mod jwt;
mod origin;
mod session;
mod sign_in;
mod sign_up;
