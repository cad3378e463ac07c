//! Attacker-supplied text the auth server parses outside tokens: e-mail addresses and
//! redirect targets (`callbackURL` and friends, docs/better-auth-protocol.md §5).
//!
//! * `Email::parse` is idempotent, lower-cases, and yields ASCII only.
//! * Open redirects: a callback the server accepts, resolved by a browser (WHATWG URL parsing,
//!   which the `url` crate implements) against any page of the site, lands on a trusted origin.
//!   This is the property Better Auth's CVE-2024-56734 / CVE-2025-27143 / CVE-2025-71403 broke.
//! * Origin matching (exact and `*` patterns) never panics.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tessera_auth::domain::Email;
use tessera_auth::origin::{TrustedOrigins, is_safe_relative_path, origin_of};
use url::Url;

const BASE: &str = "https://app.fuzz.test";

static TRUSTED: LazyLock<TrustedOrigins> = LazyLock::new(|| {
    TrustedOrigins::new(
        BASE,
        &["http://localhost:3001".into(), "https://*.fuzz.test".into()],
    )
});

/// Pages a redirect could be resolved against.
static PAGES: LazyLock<[Url; 2]> = LazyLock::new(|| {
    [
        Url::parse("https://app.fuzz.test/").expect("url"),
        Url::parse("https://app.fuzz.test/a/b/c?x=1#frag").expect("url"),
    ]
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Some(email) = Email::parse(text) {
        assert!(email.as_str().is_ascii());
        assert_eq!(email.as_str(), text.to_lowercase());
        assert_eq!(Email::parse(email.as_str()), Some(email.clone()));
    }

    if TRUSTED.allows_callback(text) {
        for page in PAGES.iter() {
            let landed = page.join(text).expect("an accepted callback resolves");
            let origin = landed.origin().ascii_serialization();
            assert!(
                TRUSTED.contains(&origin),
                "{text:?} from {page} lands on {landed} (origin {origin})"
            );
        }
    }
    if is_safe_relative_path(text) {
        let landed = PAGES[1].join(text).expect("a safe path resolves");
        assert_eq!(
            landed.origin().ascii_serialization(),
            BASE,
            "{text:?} left the site"
        );
    }

    if let Some(origin) = origin_of(text) {
        let _ = TRUSTED.contains(&origin);
    }
    let _ = TRUSTED.contains(text);
});
