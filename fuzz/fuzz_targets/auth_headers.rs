//! `Cookie` and `Authorization` header parsing on both sides of Tessera.
//!
//! * The auth server's cookie path: `find_cookie` then `verify_signed`, as
//!   `AuthState::credential` runs them. Whatever verifies must carry a genuine HMAC of one of
//!   the configured secrets (after better-call's base64url→base64 normalisation).
//! * Round trips for arbitrary text as a session token: sign → `encode_value` → cookie header →
//!   `find_cookie` → `verify_signed` gives the token back under the right secret and nothing
//!   under another.
//! * The auth server's bearer parser itself (`session::bearer_session_token`, what
//!   `AuthState::credential` calls): a raw token, or a percent-decoded `token.signature` that
//!   must carry a genuine HMAC.
//! * The guard's `Authorization` parsing and verification (`Guard::authenticate`), HS256 mode.

#![no_main]

use std::sync::LazyLock;

use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;
use tessera_auth::cookies::{encode_value, find_cookie, signature, signed_value, verify_signed};
use tessera_auth::secret::Secret;
use tessera_auth::session::bearer_session_token;
use tessera_guard::Guard;

const COOKIE: &str = "better-auth.session_token";

static CURRENT: LazyLock<Secret> =
    LazyLock::new(|| Secret::new("tessera-fuzz-current-secret-0123456789abcdef"));
static OLDER: LazyLock<Secret> =
    LazyLock::new(|| Secret::new("tessera-fuzz-older-secret-0123456789abcdef"));
static OTHER: LazyLock<Secret> =
    LazyLock::new(|| Secret::new("tessera-fuzz-unrelated-secret-0123456789ab"));

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
});
static GUARD: LazyLock<Guard> = LazyLock::new(|| {
    Guard::hs256([b"tessera-fuzz-hs256-secret-0123456789abcdef".as_slice()])
        .expect("secret")
        .build()
});

/// `verify_signed` accepted `signed` as `token`: its signature must be one of our HMACs.
fn assert_genuine(signed: &str, token: &str) {
    let (value, sig) = signed
        .rsplit_once('.')
        .expect("a verified value has a signature");
    assert_eq!(value, token);
    let sig = sig.replace('-', "+").replace('_', "/");
    assert!(
        [&*CURRENT, &*OLDER]
            .into_iter()
            .any(|secret| signature(secret, token) == sig),
        "a value verified without a genuine signature"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let secrets = [&*CURRENT, &*OLDER];

    // The cookie path, as the auth server runs it.
    if let Some(value) = find_cookie(text, COOKIE)
        && let Some(token) = verify_signed(secrets, &value)
    {
        assert_genuine(&value, &token);
    }

    // Round trip of arbitrary text as a token, inside a header with neighbours.
    let signed = signed_value(&CURRENT, text);
    let header = format!("a=1; {COOKIE}={}; b=\"2\"", encode_value(&signed));
    assert_eq!(
        find_cookie(&header, COOKIE).as_deref(),
        Some(signed.as_str())
    );
    assert_eq!(verify_signed(secrets, &signed).as_deref(), Some(text));
    assert_eq!(verify_signed([&*OTHER], &signed), None);
    // The first cookie of a name wins: a planted later duplicate changes nothing.
    let planted = format!(
        "{header}; {COOKIE}={}",
        encode_value(&signed_value(&OTHER, "x"))
    );
    assert_eq!(
        find_cookie(&planted, COOKIE).as_deref(),
        Some(signed.as_str())
    );

    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value);

        // The auth server's own bearer parser: whatever it accepts is either a raw token
        // (no `.`) taken as sent, or `token.signature` carrying a genuine HMAC.
        if let Some(token) = bearer_session_token(&headers, secrets) {
            let (_, raw) = text.split_once(' ').expect("a bearer value has a scheme");
            let raw = raw.trim();
            if raw.contains('.') {
                let decoded = percent_decode_str(raw)
                    .decode_utf8()
                    .expect("a verified bearer value decodes");
                assert_genuine(&decoded, &token);
            } else {
                assert_eq!(token, raw);
            }
        }

        // The guard: `Authorization` parsing and verification never panic, and nothing the
        // fuzzer writes can authenticate (it cannot compute the HMAC).
        let verdict = RUNTIME.block_on(GUARD.authenticate(&headers));
        if let Ok(user) = verdict {
            assert!(!user.user_id().is_empty());
        }
    }
});
