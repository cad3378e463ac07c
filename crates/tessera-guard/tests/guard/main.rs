//! Behaviour of the guard, end to end through axum: every attack of the jwt_tool playbook and
//! RFC 8725 (JSON Web Token Best Current Practices), the seed's header handling and messages,
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
mod rfc9864;
mod token_cache;
