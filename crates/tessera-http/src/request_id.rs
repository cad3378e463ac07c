//! The request id: one per request, in its span ([`crate::access_log`]) and echoed in the
//! answer's `x-request-id`, so a user's report, the proxy's log and ours can be matched.
//!
//! An `x-request-id` the client sent is believed only from a peer the server trusts as a proxy
//! (the same trusted-proxy setting the client address is resolved with; the caller passes that
//! predicate in, this crate knows no configuration) and only when it is a short token: anyone
//! else could otherwise choose the id their requests are logged under, or write a megabyte of
//! it into every log line. Every other request gets a new UUID (tower-http's
//! `SetRequestIdLayer` with `MakeRequestUuid`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderValue;
use tower_http::request_id::{MakeRequestUuid, RequestId, SetRequestIdLayer};

/// The header the id is read from and echoed in.
pub const HEADER: &str = "x-request-id";

/// The longest id taken from a proxy (a UUID is 36 bytes; a W3C trace id 32).
const MAX_LEN: usize = 128;

/// Whether the socket peer is one of the trusted proxies.
pub type TrustsPeer = Arc<dyn Fn(IpAddr) -> bool + Send + Sync>;

/// The request-id layer: keeps an id still on the request (only a trusted proxy's survives
/// [`accept_from`]), else makes a UUID.
pub fn set_layer() -> SetRequestIdLayer<MakeRequestUuid> {
    SetRequestIdLayer::x_request_id(MakeRequestUuid)
}

/// Removes the client's `x-request-id` unless the peer is trusted (`trusts`) and the id is a
/// short visible-ASCII token.
pub fn accept_from(trusts: Option<TrustsPeer>) -> impl FnMut(Request) -> Request + Clone {
    move |mut request: Request| {
        let keep = request.headers().get(HEADER).is_some_and(|id| {
            well_formed(id)
                && trusts.as_ref().is_some_and(|trusts| {
                    request
                        .extensions()
                        .get::<ConnectInfo<SocketAddr>>()
                        .is_some_and(|peer| trusts(peer.0.ip().to_canonical()))
                })
        });
        if !keep {
            request.headers_mut().remove(HEADER);
        }
        request
    }
}

fn well_formed(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_LEN && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// The id the request was given (after [`set_layer`]).
pub fn of<B>(request: &axum::http::Request<B>) -> &str {
    request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn from(peer: [u8; 4], id: &str) -> Request {
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
    fn an_id_is_kept_only_from_a_trusted_proxy_and_only_when_it_is_a_short_token() {
        let mut accept = accept_from(proxy_is_10_0_0_1());
        let kept = accept(from([10, 0, 0, 1], "req-42"));
        assert_eq!(kept.headers()[HEADER], "req-42");
        let spoofed = accept(from([192, 0, 2, 7], "req-42"));
        assert!(!spoofed.headers().contains_key(HEADER));
        for bad in ["", "has space", &"x".repeat(MAX_LEN + 1)] {
            let refused = accept(from([10, 0, 0, 1], bad));
            assert!(!refused.headers().contains_key(HEADER), "{bad:?}");
        }
        let mut trusting_nobody = accept_from(None);
        let refused = trusting_nobody(from([10, 0, 0, 1], "req-42"));
        assert!(!refused.headers().contains_key(HEADER));
    }
}
