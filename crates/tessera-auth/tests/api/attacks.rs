//! Attacks on the auth server itself (issue 6, item 7), each on SQLite and PostgreSQL:
//! session fixation, user enumeration, the jwt_tool attack playbook (jwt_tool 2.2.7) aimed
//! at the session endpoints, CSRF cases `origin.rs` does not cover, and property tests for the
//! cookie codec. docs/security.md maps these tests to ASVS requirements.

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Value, json};
use tessera_auth::cookies::{encode_value, signed_value};
use tessera_auth::secret::Secret;

use crate::helpers::*;

const COOKIE: &str = "better-auth.session_token";

/// A response with every header kept in order, for byte-for-byte comparisons.
#[derive(Debug, PartialEq, Eq)]
struct Raw {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Raw {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Everything but `Date`, which only says when the answer was sent.
    fn without_date(&self) -> Raw {
        Raw {
            status: self.status,
            headers: self
                .headers
                .iter()
                .filter(|(name, _)| name != "date")
                .cloned()
                .collect(),
            body: self.body.clone(),
        }
    }
}

/// Sends a request with arbitrary header bytes (no Origin added: each test says what it sends).
async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &[u8])],
) -> Raw {
    let mut request = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    for (name, value) in headers {
        request = request.header(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    let body = response.bytes().await.unwrap_or_default().to_vec();
    Raw {
        status,
        headers,
        body,
    }
}

/// `better-auth.session_token=<value>` with the value signed by the server's own secret.
fn signed_cookie(token: &str) -> String {
    format!(
        "{COOKIE}={}",
        encode_value(&signed_value(&Secret::new(SECRET), token))
    )
}

/// A JWT-shaped token with the given header and payload and an HS256 tag under `secret`.
fn hs256_jwt(secret: &[u8], header: &Value, payload: &Value) -> String {
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

/// Asserts that presenting `credential` (as a Bearer value and as the session cookie) to the
/// session endpoints yields no session and no server error.
async fn assert_no_session_with(app: &TestApp, label: &str, credential: &[u8]) {
    let bearer = [b"Bearer ".as_slice(), credential].concat();
    let cookie = [COOKIE.as_bytes(), b"=", credential].concat();
    for (carrier, header) in [("authorization", bearer), ("cookie", cookie)] {
        for path in ["/get-session", "/token", "/list-sessions"] {
            let resp = raw(app, Method::GET, path, None, &[(carrier, &header)]).await;
            assert!(
                resp.status < 500,
                "{label} in {carrier} of {path}: {} {}",
                resp.status,
                resp.text()
            );
            if path == "/get-session" {
                // 431 is hyper refusing an oversized header outright: also no session.
                assert!(
                    (resp.status == 200 && resp.text() == "null") || resp.status == 431,
                    "{label} in {carrier} of {path} gave a session: {} {}",
                    resp.status,
                    resp.text()
                );
                let jwt = resp.headers.iter().any(|(name, _)| name == "set-auth-jwt");
                assert!(!jwt, "{label}: a JWT was minted");
            } else {
                assert!(
                    resp.status == 401 || resp.status == 431,
                    "{label} in {carrier} of {path}: {} {}",
                    resp.status,
                    resp.text()
                );
            }
        }
    }
}

on_both_backends! {
    async fn a_session_token_planted_before_sign_in_is_never_kept(app) {
        let victim = app.sign_up().await;
        let attacker = app.sign_up().await;
        let planted_tokens = [
            // An unsigned value of the attacker's choosing.
            ("unsigned", format!("{COOKIE}=attacker-chosen-session-token-0001")),
            // Validly signed (as if the secret had leaked) but naming no session.
            ("signed, nonexistent", signed_cookie("AttackerChosenSessionToken000002")),
            // The attacker's own live session, planted in the victim's browser.
            ("attacker's live session", attacker.cookie.clone()),
        ];
        for (label, planted) in planted_tokens {
            let planted_token = planted.split_once('=').unwrap().1.split('.').next().unwrap().to_owned();
            for (path, body) in [
                ("/sign-in/email", json!({"email": victim.email, "password": PASSWORD})),
                (
                    "/sign-up/email",
                    json!({"name": "New", "email": format!("new-{}@example.com", tessera_auth::ids::generate_id(8).to_lowercase()), "password": PASSWORD}),
                ),
            ] {
                let resp = app.send(Method::POST, path, Some(body), Some(&planted), &[]).await;
                assert_eq!(resp.status, 200, "{label} {path}: {}", resp.text);
                let issued = resp.body["token"].as_str().unwrap().to_owned();
                assert_ne!(issued, planted_token, "{label} {path}: the planted token was kept");
                assert_eq!(issued.len(), 32);
                let set_cookie = resp.set_cookie(COOKIE).expect("a new session cookie");
                assert!(set_cookie.starts_with(&signed_cookie(&issued)), "{label} {path}: {set_cookie}");
                assert_eq!(resp.header("set-auth-token"), Some(signed_value(&Secret::new(SECRET), &issued).as_str()));
                // The new session belongs to whoever signed in, never to the planted token.
                let session = app.state.store.find_session(&issued).await.unwrap().expect("stored");
                assert_eq!(session.1.id, resp.body["user"]["id"].as_str().unwrap());
            }
            // Afterwards the planted value is still nobody's session, or still only the attacker's.
            let after = app.send(Method::GET, "/get-session", None, Some(&planted), &[]).await;
            if label == "attacker's live session" {
                assert_eq!(after.body["user"]["id"], attacker.id.as_str(), "the attacker's cookie never becomes the victim's");
            } else {
                assert_eq!(after.text, "null", "{label}");
                assert!(app.state.store.find_session(&planted_token).await.unwrap().is_none(), "{label}");
            }
        }
    }

    async fn a_wrong_password_and_an_unknown_email_get_byte_identical_answers(app) {
        let user = app.sign_up().await;
        let attempt = |email: String| {
            let app = &app;
            async move {
                raw(app, Method::POST, "/sign-in/email", Some(json!({"email": email, "password": "not the password"})), &[("user-agent", b"probe")]).await
            }
        };
        let wrong_password = attempt(user.email.clone()).await;
        let unknown_email = attempt("nobody-here@example.com".into()).await;
        assert_eq!(wrong_password.status, 401);
        assert_eq!(wrong_password.without_date(), unknown_email.without_date(), "status, headers and body must not tell the two apart");
        // Same for a differently cased address of a real account, and a malformed-but-long password.
        let upper = attempt(user.email.to_uppercase()).await;
        assert_eq!(upper.without_date(), unknown_email.without_date());

        // The per-account throttle keys on the submitted address whether or not it has an
        // account, so it gives nothing away either: after ten failures both are refused alike.
        for _ in 1..10 {
            attempt(user.email.clone()).await;
            attempt("nobody-here@example.com".into()).await;
        }
        let limited_real = attempt(user.email.clone()).await;
        let limited_unknown = attempt("nobody-here@example.com".into()).await;
        assert_eq!(limited_real.status, 429, "{}", limited_real.text());
        assert_eq!(limited_real.without_date(), limited_unknown.without_date());
    }

    async fn sign_up_with_a_taken_email_answers_as_the_contract_says(app) {
        // docs/better-auth-protocol.md §1.5 (autoSignIn on, no email verification): 422. This
        // reveals that the address has an account; docs/security.md records it.
        let user = app.sign_up().await;
        for email in [user.email.clone(), user.email.to_uppercase()] {
            let resp = app.post("/sign-up/email", json!({"name": "X", "email": email, "password": "another password 1"})).await;
            assert_eq!((resp.status, resp.code()), (422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"));
            assert!(resp.set_cookies().is_empty());
        }
        // Nothing was created or changed: the original password still signs in, the new one does not.
        assert_eq!(app.post("/sign-in/email", json!({"email": user.email, "password": PASSWORD})).await.status, 200);
        assert_eq!(app.post("/sign-in/email", json!({"email": user.email, "password": "another password 1"})).await.status, 401);
    }

    async fn the_jwt_playbook_against_the_session_endpoints_never_yields_a_session(app) {
        let user = app.sign_up().await;
        let jwt = app.get_as(&user, "/token").await.body["token"].as_str().unwrap().to_owned();
        let session_id = app.get_as(&user, "/get-session").await.body["session"]["id"].as_str().unwrap().to_owned();
        let claims = json!({"sub": user.id, "id": user.id, "sid": session_id, "email": user.email, "exp": app.clock_now() + 900});
        let b64 = |text: &str| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
        };
        let none_token = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&claims.to_string()));
        let mut cases: Vec<(String, Vec<u8>)> = vec![
            // A genuine access token is not a session credential.
            ("the server's own JWT".into(), jwt.clone().into_bytes()),
            ("alg none".into(), none_token.clone().into_bytes()),
            ("alg none, signature segment dropped".into(), none_token.trim_end_matches('.').as_bytes().to_vec()),
            // HS256 over the claims with the server's own secret, the empty key, and the JWT's signature reused.
            ("HS256 with the server secret".into(), hs256_jwt(SECRET.as_bytes(), &json!({"alg": "HS256", "typ": "JWT"}), &claims).into_bytes()),
            ("HS256 with an empty key".into(), hs256_jwt(b"", &json!({"alg": "HS256"}), &claims).into_bytes()),
            ("HS256 with kid injection".into(), hs256_jwt(b"", &json!({"alg": "HS256", "kid": "../../../../dev/null"}), &claims).into_bytes()),
            ("payload swapped under a real signature".into(), {
                let parts: Vec<&str> = jwt.split('.').collect();
                format!("{}.{}.{}", parts[0], b64(&claims.to_string()), parts[2]).into_bytes()
            }),
            // The session token itself with a forged or truncated signature.
            ("token with a forged signature".into(), signed_value(&Secret::new("not-the-server-secret-0123456789abcdef"), &user.token).into_bytes()),
            ("token with a truncated signature".into(), {
                let signed = signed_value(&Secret::new(SECRET), &user.token);
                signed.as_bytes()[..signed.len() - 4].to_vec()
            }),
            ("session id instead of token".into(), session_id.clone().into_bytes()),
            // Garbage.
            ("empty".into(), Vec::new()),
            ("dots".into(), b"...".to_vec()),
            ("percent soup".into(), b"%%%25%zz%".to_vec()),
            ("quotes".into(), b"\"\"".to_vec()),
            ("non-UTF-8 bytes".into(), b"\xff\xfe\xfd.\x80".to_vec()),
            ("SQL".into(), b"' OR '1'='1".to_vec()),
            ("a JSON object".into(), br#"{"token":"x"}"#.to_vec()),
            // Oversized values: just past the 8 KiB token cap, and far past it.
            ("8 KiB + 1".into(), vec![b'A'; 8 * 1024 + 1]),
            ("64 KiB".into(), vec![b'A'; 64 * 1024]),
            ("64 KiB with a valid-looking signature".into(), {
                let long = "A".repeat(64 * 1024);
                signed_value(&Secret::new("forged-forged-forged-forged-forged-0"), &long).into_bytes()
            }),
        ];
        cases.push(("a JWT carrying the session token as sid".into(), hs256_jwt(SECRET.as_bytes(), &json!({"alg": "HS256"}), &json!({"sub": user.id, "sid": user.token, "exp": app.clock_now() + 900})).into_bytes()));
        for (label, credential) in &cases {
            assert_no_session_with(&app, label, credential).await;
        }
        // The real session still works after all that.
        assert_eq!(app.get_as(&user, "/get-session").await.body["user"]["id"], user.id.as_str());
    }

    async fn cookie_posts_from_untrusted_origins_are_refused_on_every_state_changing_endpoint(app) {
        // origin.rs covers a missing Origin, one evil Origin, the trusted frontend and the
        // same-origin `null` case; this adds every endpoint, look-alike origins, and Referer.
        let user = app.sign_up().await;
        let second = app.sign_in(&user.email, PASSWORD).await;
        let endpoints: [(&str, Value); 7] = [
            ("/sign-out", json!({})),
            ("/revoke-session", json!({"token": second.token})),
            ("/revoke-sessions", json!({})),
            ("/revoke-other-sessions", json!({})),
            ("/change-password", json!({"currentPassword": PASSWORD, "newPassword": "hijacked password 1", "revokeOtherSessions": true})),
            ("/update-user", json!({"name": "Hijacked"})),
            ("/sign-in/email", json!({"email": user.email, "password": PASSWORD})),
        ];
        let refusals: [(&str, &[u8], &str); 12] = [
            ("origin", b"http://evil.example", "INVALID_ORIGIN"),
            ("origin", b"http://localhost:3000.evil.example", "INVALID_ORIGIN"),
            ("origin", b"http://localhost:30001", "INVALID_ORIGIN"),
            ("origin", b"https://localhost:3000", "INVALID_ORIGIN"),
            ("origin", b"http://evil.example/http://localhost:3000", "INVALID_ORIGIN"),
            ("origin", b"null", "MISSING_OR_NULL_ORIGIN"),
            ("origin", b"", "INVALID_ORIGIN"),
            // Without Origin, Referer is the fallback.
            ("referer", b"http://evil.example/page", "INVALID_ORIGIN"),
            ("referer", b"http://localhost:3000@evil.example/", "INVALID_ORIGIN"),
            ("referer", b"http://localhost.evil.example:3000/", "INVALID_ORIGIN"),
            // Not a URL at all (a port of "3000.evil.example"): no origin to trust.
            ("referer", b"http://localhost:3000.evil.example/", "MISSING_OR_NULL_ORIGIN"),
            ("sec-fetch-site", b"cross-site", "MISSING_OR_NULL_ORIGIN"),
        ];
        for (path, body) in &endpoints {
            for (name, value, code) in refusals {
                let resp = raw(&app, Method::POST, path, Some(body.clone()), &[("cookie", user.cookie.as_bytes()), (name, value)]).await;
                let got: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
                assert_eq!(
                    (resp.status, got["code"].as_str().unwrap_or("")),
                    (403, code),
                    "{path} with {name}: {}",
                    String::from_utf8_lossy(value)
                );
            }
        }
        // Nothing changed: both sessions live, the name and the password are the same.
        let session = app.get_as(&user, "/get-session").await;
        assert_eq!(session.body["user"]["name"], "Test User");
        assert!(app.get_as(&second, "/get-session").await.body.is_object());
        assert_eq!(app.post("/sign-in/email", json!({"email": user.email, "password": PASSWORD})).await.status, 200);
        // A trusted Referer is accepted when Origin is absent (older browsers, some navigations).
        let trusted = raw(&app, Method::POST, "/update-user", Some(json!({"name": "Renamed"})), &[("cookie", user.cookie.as_bytes()), ("referer", format!("{FRONTEND}/settings").as_bytes())]).await;
        assert_eq!(trusted.status, 200, "{}", trusted.text());
        // A trusted Origin wins over an untrusted Referer, and the reverse is refused.
        let both = raw(&app, Method::POST, "/update-user", Some(json!({"name": "Renamed"})), &[("cookie", user.cookie.as_bytes()), ("origin", ORIGIN.as_bytes()), ("referer", b"http://evil.example/")]).await;
        assert_eq!(both.status, 200);
        let reverse = raw(&app, Method::POST, "/update-user", Some(json!({"name": "Hijacked"})), &[("cookie", user.cookie.as_bytes()), ("origin", b"http://evil.example"), ("referer", format!("{ORIGIN}/").as_bytes())]).await;
        assert_eq!(reverse.status, 403);
    }

    async fn a_password_is_compared_whole_never_truncated_or_case_folded(app) {
        // ASVS 4.0.3 2.1.3/2.1.4, 5.0.0 6.2.8: any printable Unicode, spaces kept, no
        // truncation (bcrypt's 72 bytes), no case folding.
        let email = format!("long-{}@example.com", tessera_auth::ids::generate_id(8).to_lowercase());
        let password = format!("Correct horse  battery 😀 {}", "x".repeat(90));
        assert!(password.encode_utf16().count() <= 128);
        let resp = app.post("/sign-up/email", json!({"name": "L", "email": email, "password": password})).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        let prefix: String = password.chars().take(72).collect();
        for wrong in [prefix.as_str(), &password.to_lowercase(), &password.to_uppercase(), &password.replace("  ", " "), password.trim_end_matches('x')] {
            let resp = app.post("/sign-in/email", json!({"email": email, "password": wrong})).await;
            assert_eq!(resp.status, 401, "{wrong:?}");
        }
        assert_eq!(app.post("/sign-in/email", json!({"email": email, "password": password})).await.status, 200);
    }

    async fn a_session_token_in_the_url_is_never_a_credential(app) {
        // ASVS 4.0.3 3.1.1: session tokens only travel in the cookie or the Authorization header.
        let user = app.sign_up().await;
        let signed = encode_value(&signed_value(&Secret::new(SECRET), &user.token));
        for query in ["token", "session_token", "better-auth.session_token", "sessionToken", "access_token"] {
            for value in [user.token.as_str(), signed.as_str()] {
                let resp = app.get(&format!("/get-session?{query}={value}")).await;
                assert_eq!(resp.text, "null", "?{query}=");
                assert_eq!(app.get(&format!("/token?{query}={value}")).await.status, 401);
            }
        }
    }

    async fn login_csrf_without_cookies_is_refused_from_untrusted_pages(app) {
        // A page on another site fetching sign-in in the background (no cookies yet) would sign
        // the victim into the attacker's account; browsers mark such requests with Sec-Fetch-*
        // and Origin.
        let user = app.sign_up().await;
        let body = json!({"email": user.email, "password": PASSWORD});
        for headers in [
            vec![("sec-fetch-site", b"cross-site".as_slice()), ("sec-fetch-mode", b"cors".as_slice()), ("origin", b"http://evil.example".as_slice())],
            vec![("sec-fetch-site", b"cross-site".as_slice()), ("sec-fetch-mode", b"no-cors".as_slice())],
            vec![("origin", b"null".as_slice())],
            vec![("referer", b"http://evil.example/login".as_slice())],
        ] {
            let resp = raw(&app, Method::POST, "/sign-in/email", Some(body.clone()), &headers).await;
            assert_eq!(resp.status, 403, "{headers:?}: {}", resp.text());
            assert!(!resp.headers.iter().any(|(name, _)| name == "set-cookie"));
        }
    }
}

/// A trusted-origin pattern with `*` is matched against the raw `Origin` header; a huge one
/// must be refused without exhausting the stack (the matcher used to recurse once per byte).
async fn a_huge_origin_against_a_wildcard_pattern_is_refused_not_fatal(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.trusted_origins.push("https://*.example.com".into());
    })
    .await;
    let user = app.sign_up().await;
    let huge = format!("https://{}.evil.example", "a".repeat(60 * 1024));
    let resp = raw(
        &app,
        Method::POST,
        "/sign-out",
        Some(json!({})),
        &[
            ("cookie", user.cookie.as_bytes()),
            ("origin", huge.as_bytes()),
        ],
    )
    .await;
    assert_eq!(resp.status, 403, "{}", resp.text());
    let ok = raw(
        &app,
        Method::POST,
        "/sign-out",
        Some(json!({})),
        &[
            ("cookie", user.cookie.as_bytes()),
            ("origin", b"https://app.example.com"),
        ],
    )
    .await;
    assert_eq!(ok.status, 200, "the wildcard still matches: {}", ok.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_origin_on_sqlite() {
    a_huge_origin_against_a_wildcard_pattern_is_refused_not_fatal(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_origin_on_postgres() {
    a_huge_origin_against_a_wildcard_pattern_is_refused_not_fatal(Backend::Postgres).await;
}

/// Property tests of the cookie codec and e-mail normalisation (no server needed).
mod properties {
    use proptest::prelude::*;
    use tessera_auth::cookies::{
        encode_value, find_cookie, signature, signed_value, verify_signed,
    };
    use tessera_auth::domain::Email;
    use tessera_auth::secret::Secret;

    const NAME: &str = "better-auth.session_token";

    fn secret() -> impl Strategy<Value = Secret> {
        ".{1,64}".prop_map(Secret::new)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn a_signed_cookie_round_trips_through_a_cookie_header(token in ".*", secret in secret(), before in "[a-z]{1,8}", after in "[a-z]{1,8}") {
            let signed = signed_value(&secret, &token);
            let header = format!("{before}=1; {NAME}={}; {after}=\"x\"", encode_value(&signed));
            let found = find_cookie(&header, NAME);
            prop_assert_eq!(found.as_deref(), Some(signed.as_str()));
            prop_assert_eq!(verify_signed([&secret], &signed), Some(token));
        }

        #[test]
        fn a_cookie_signed_with_another_secret_never_verifies(token in ".*", a in secret(), b in secret()) {
            prop_assume!(a.expose() != b.expose());
            prop_assert_eq!(verify_signed([&b], &signed_value(&a, &token)), None);
        }

        #[test]
        fn any_change_to_the_value_is_detected(token in ".{1,64}", secret in secret(), at in any::<prop::sample::Index>(), replacement in any::<char>()) {
            let signed = signed_value(&secret, &token);
            let mut chars: Vec<char> = token.chars().collect();
            let i = at.index(chars.len());
            prop_assume!(chars[i] != replacement);
            chars[i] = replacement;
            let tampered: String = chars.into_iter().collect();
            let forged = format!("{tampered}.{}", signature(&secret, &token));
            prop_assert_eq!(verify_signed([&secret], &forged), None);
            prop_assert!(verify_signed([&secret], &signed).is_some());
        }

        #[test]
        fn any_change_to_the_signature_is_detected(token in ".*", secret in secret(), at in 0usize..43, replacement in "[A-Za-z0-9+/]") {
            let sig = signature(&secret, &token);
            let mut chars: Vec<char> = sig.chars().collect();
            let replacement = replacement.chars().next().unwrap();
            prop_assume!(chars[at] != replacement);
            chars[at] = replacement;
            let tampered: String = chars.into_iter().collect();
            prop_assert_eq!(verify_signed([&secret], &format!("{token}.{tampered}")), None);
        }

        #[test]
        fn encode_value_then_find_cookie_gives_back_any_text(value in ".*") {
            let header = format!("{NAME}={}", encode_value(&value));
            prop_assert_eq!(find_cookie(&header, NAME), Some(value));
        }

        #[test]
        fn encoded_values_never_contain_cookie_delimiters(value in ".*") {
            let encoded = encode_value(&value);
            prop_assert!(!encoded.contains([';', ',', ' ', '"', '=', '\\']));
            prop_assert!(encoded.is_ascii());
        }

        #[test]
        fn email_parsing_is_idempotent_and_lower_cases(
            local in "[A-Za-z0-9_'+-]([A-Za-z0-9_'+.-]{0,20}[A-Za-z0-9_+-])?",
            host in "[A-Za-z0-9][A-Za-z0-9-]{0,10}",
            tld in "[A-Za-z]{2,6}",
            raw in ".{0,40}",
        ) {
            let address = format!("{local}@{host}.{tld}");
            if let Some(email) = Email::parse(&address) {
                prop_assert_eq!(email.as_str(), address.to_lowercase());
                prop_assert_eq!(Email::parse(email.as_str()), Some(email));
            }
            if let Some(email) = Email::parse(&raw) {
                prop_assert!(email.as_str().is_ascii());
                prop_assert_eq!(Email::parse(email.as_str()), Some(email));
            }
        }
    }
}
