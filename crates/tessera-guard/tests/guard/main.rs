//! Behaviour of the guard, end to end through axum: every attack of jwt_tool 2.2.7's playbook and
//! RFC 8725 §3, the seed's header handling and messages,
//! ownership checks, and the remote JWKS cache against a real HTTP server on 127.0.0.1:0.

mod algorithms;
mod attacks;
mod claims;
mod extraction;
mod header;
mod helpers;
mod in_process;
mod playbook;
#[cfg(feature = "remote")]
mod remote;
mod revocation;
mod token_cache;
