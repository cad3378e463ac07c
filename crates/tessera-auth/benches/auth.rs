//! Micro-benchmarks of the auth server's per-request primitives: signing and verifying the
//! session cookie, and hashing and verifying passwords (Argon2id m=19 MiB t=2 p=1, Tessera's
//! default; Better Auth's scrypt N=2^14 r=16 p=1).
//!
//! `cargo bench -p tessera-auth --bench auth` (see BENCHMARKS.md). Nothing here asserts a speed.

use divan::{Bencher, black_box};
use tessera_auth::cookies;
use tessera_auth::domain::Password;
use tessera_auth::password::{HashFormat, PasswordHasher};
use tessera_auth::secret::Secret;

fn main() {
    divan::main();
}

/// A session token as Tessera and Better Auth generate them: 32 random alphanumerics.
const SESSION_TOKEN: &str = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6";
const COOKIE_NAME: &str = "better-auth.session_token";

fn secret() -> Secret {
    Secret::new("bench-secret-0123456789abcdef-0123456789")
}

/// The session cookie, from the token to the percent-encoded `value.signature`.
#[divan::bench]
fn cookie_sign(bencher: Bencher<'_, '_>) {
    let secret = secret();
    bencher.bench_local(|| {
        cookies::encode_value(&cookies::signed_value(&secret, black_box(SESSION_TOKEN)))
    });
}

/// What every cookie-authenticated request does before the session lookup: find the cookie in
/// the `Cookie` header, percent-decode it and check its HMAC.
#[divan::bench]
fn cookie_verify(bencher: Bencher<'_, '_>) {
    let secret = secret();
    let value = cookies::encode_value(&cookies::signed_value(&secret, SESSION_TOKEN));
    let header = format!("theme=dark; {COOKIE_NAME}={value}; other=1");
    bencher.bench_local(|| {
        let signed = cookies::find_cookie(black_box(&header), COOKIE_NAME).expect("the cookie");
        cookies::verify_signed([&secret], &signed).expect("a valid signature")
    });
}

mod password {
    use super::*;

    const PLAIN: &str = "correct horse battery staple";

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    }

    fn format(name: &str) -> HashFormat {
        name.parse().expect("argon2id or scrypt")
    }

    /// Hashing a new password (sign-up, password change), through the bounded blocking pool.
    #[divan::bench(args = ["argon2id", "scrypt"], sample_count = 20)]
    fn hash(bencher: Bencher<'_, '_>, name: &str) {
        let rt = runtime();
        let hasher = PasswordHasher::new(format(name), 1);
        let password = Password::candidate(PLAIN.to_owned());
        bencher.bench_local(|| rt.block_on(hasher.hash(&password)).expect("hashing"));
    }

    /// Checking a sign-in's password against a stored hash of that format.
    #[divan::bench(args = ["argon2id", "scrypt"], sample_count = 20)]
    fn verify(bencher: Bencher<'_, '_>, name: &str) {
        let rt = runtime();
        let hasher = PasswordHasher::new(format(name), 1);
        let password = Password::candidate(PLAIN.to_owned());
        let stored = rt.block_on(hasher.hash(&password)).expect("hashing");
        bencher.bench_local(|| {
            let verified = rt
                .block_on(hasher.verify(&password, Some(stored.clone())))
                .expect("verifying");
            assert!(verified.matches);
        });
    }
}
