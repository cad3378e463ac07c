//! Integration tests for the auth server, each run on SQLite and on PostgreSQL.

// `on_both_backends!`, shared with the other crates' tests.
#[macro_use]
extern crate tessera_db;

mod account;
mod attacks;
mod audit;
mod bad_input;
mod caching;
mod change_email;
mod client_address;
mod delete_user;
mod email_verification;
mod helpers;
mod jwt;
mod keys;
mod load_shedding;
mod no_store;
mod origin;
mod passkey;
mod password_attempts;
mod password_reset;
mod rate_limit;
mod revocation;
mod rfc9864;
mod round_trips;
mod session;
mod sign_in;
mod sign_up;
mod social;
mod token_storage;
mod two_factor;
