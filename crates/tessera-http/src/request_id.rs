//! The request id: one per request, in its span ([`crate::access_log`]) and echoed in the
//! answer's `x-request-id`, so a user's report, the proxy's log and ours can be matched.
//!
//! An `x-request-id` the client sent is believed only from a peer the server trusts as a proxy
//! (the same trusted-proxy setting the client address is resolved with; the caller passes that
//! predicate in, this crate knows no configuration) and only when it is a short token: anyone
//! else could otherwise choose the id their requests are logged under, or write a megabyte of
//! it into every log line. Every other request gets a new id ([`new_id`]). The access-log layer
//! asks [`for_request`] once per request and echoes the answer.

use std::hash::BuildHasher as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Request};

/// The header the id is read from and echoed in.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest id taken from a proxy (a UUID is 36 bytes; a W3C trace id 32).
const MAX_LEN: usize = 128;

/// Whether the socket peer is one of the trusted proxies.
pub type TrustsPeer = Arc<dyn Fn(IpAddr) -> bool + Send + Sync>;

/// Ids shaped like a UUID v4 (36 characters, so log tooling that expects one is happy)
/// from a per-process random prefix and a counter.
///
/// Request ids need to be unique, not secret: nothing is authorised by one, and a trusted proxy
/// may choose them anyway. tower-http's `MakeRequestUuid` reads 16 bytes from the operating
/// system's random source for every request, a system call on the request path (measured
/// together with the access log and the log writer in BENCHMARKS.md, "tower-http edge,
/// measured", not on its own); [`new_id`] draws the randomness
/// drawn once per process (std's OS-seeded `RandomState`), 60 bits of it once the UUID version
/// bits are set, and the low 62 bits count requests, so ids never repeat within a process and
/// two processes' ids collide only if their prefixes do. The counter does show a client that
/// sees two of its ids how many requests the process answered in between: traffic volume, which
/// is not treated as secret.
pub fn new_id() -> HeaderValue {
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Hex digits and dashes are always a valid header value.
    HeaderValue::from_bytes(&format_id(*PREFIX, count))
        .unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// The per-process prefix (the UUID's first 8 bytes).
static PREFIX: LazyLock<u64> =
    LazyLock::new(|| std::collections::hash_map::RandomState::new().hash_one(std::process::id()));
/// Requests given an id so far.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `prefix` and `count` as a UUID v4's text: version nibble 4, variant bits `10`.
fn format_id(prefix: u64, count: u64) -> [u8; 36] {
    let high = (prefix & !0xf000) | 0x4000;
    let low = (count & (u64::MAX >> 2)) | (1 << 63);
    let bytes = (u128::from(high) << 64 | u128::from(low)).to_be_bytes();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [b'-'; 36];
    let mut at = 0;
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            at += 1;
        }
        text[at] = HEX[usize::from(byte >> 4)];
        text[at + 1] = HEX[usize::from(byte & 0xf)];
        at += 2;
    }
    text
}

/// The id `request` is logged under and answered with: the `x-request-id` it carries when the
/// peer is a trusted proxy (`trusts`) and the id a short visible-ASCII token, else a new one.
pub fn for_request<B>(request: &Request<B>, trusts: Option<&TrustsPeer>) -> HeaderValue {
    let sent = request.headers().get(HEADER).filter(|id| {
        well_formed(id)
            && trusts.is_some_and(|trusts| {
                request
                    .extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .is_some_and(|peer| trusts(peer.0.ip().to_canonical()))
            })
    });
    sent.cloned().unwrap_or_else(new_id)
}

fn well_formed(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_LEN && bytes.iter().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn from(peer: [u8; 4], id: &str) -> Request<Body> {
        let mut request = Request::builder()
            .header(HEADER, id)
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((peer, 4711))));
        request
    }

    fn proxy_is_10_0_0_1() -> Option<TrustsPeer> {
        Some(Arc::new(|ip| ip == IpAddr::from([10, 0, 0, 1])))
    }

    #[test]
    fn made_ids_are_uuid_v4_shaped_and_differ_in_the_counter() {
        let first = format_id(0x0123_4567_89ab_cdef, 0);
        assert_eq!(&first, b"01234567-89ab-4def-8000-000000000000");
        let next = format_id(0x0123_4567_89ab_cdef, 0xfff_ffff_ffff);
        assert_eq!(&next, b"01234567-89ab-4def-8000-0fffffffffff");
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 1000);
    }

    #[test]
    fn an_id_is_kept_only_from_a_trusted_proxy_and_only_when_it_is_a_short_token() {
        let proxy = proxy_is_10_0_0_1();
        let id = |peer, sent| for_request(&from(peer, sent), proxy.as_ref());
        assert_eq!(id([10, 0, 0, 1], "req-42"), "req-42");
        assert_ne!(id([192, 0, 2, 7], "req-42"), "req-42");
        for bad in ["", "has space", &"x".repeat(MAX_LEN + 1)] {
            let made = id([10, 0, 0, 1], bad);
            assert_eq!(made.len(), 36, "{bad:?} was kept");
        }
        let trusting_nobody = for_request(&from([10, 0, 0, 1], "req-42"), None);
        assert_ne!(trusting_nobody, "req-42");
    }
}
