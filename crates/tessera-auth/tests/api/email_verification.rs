//! Email verification as Better Auth 1.7.25 does it: stateless HS256 links mailed on request,
//! on sign-up and on a refused sign-in; `/verify-email`'s JSON and redirect answers; the
//! `requireEmailVerification` and `autoSignInAfterVerification` modes; the limits on mails.

use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};
use tessera_auth::audit::AuditKind;
use tessera_auth::config::AuthConfig;

use crate::helpers::*;

/// A verification token minted by jose 6 exactly as Better Auth's `signJWT` does, over
/// [`SECRET`], for `ba-peer@example.com`, issued at [`PEER_IAT`], valid for an hour.
const PEER_TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJlbWFpbCI6ImJhLXBlZXJAZXhhbXBsZS5jb20iLCJpYXQiOjE5MDAwMDAwMDAsImV4cCI6MTkwMDAwMzYwMH0.0vo6aEeTWpjJxU0hHZ4CMEtiyvRH8WofaE0JEIxCO9s";
const PEER_IAT: i64 = 1_900_000_000;

fn send_on_sign_up(config: &mut AuthConfig) {
    config.email_verification.send_on_sign_up = Some(true);
}

fn require_verification(config: &mut AuthConfig) {
    config.email_verification.require_email_verification = true;
    config.email_verification.send_on_sign_in = true;
}

fn auto_sign_in(config: &mut AuthConfig) {
    send_on_sign_up(config);
    config.email_verification.auto_sign_in_after_verification = true;
}

fn rate_limited(config: &mut AuthConfig) {
    config.rate_limit = true;
}

/// The token of a link.
fn token_of(link: &str) -> String {
    let query = link.split_once('?').unwrap().1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned()
}

async fn is_verified(app: &TestApp, email: &str) -> bool {
    app.state
        .store
        .find_user_by_email(email)
        .await
        .unwrap()
        .unwrap()
        .email_verified
}

/// Signs a user up and returns their address and the link sign-up mailed.
async fn signed_up_with_link(app: &TestApp, callback: Option<&str>) -> (TestUser, String) {
    let email = format!(
        "v-{}@example.com",
        tessera_auth::ids::generate_id(8).to_lowercase()
    );
    let mut body = json!({"name": "Vera", "email": email, "password": PASSWORD});
    if let Some(callback) = callback {
        body["callbackURL"] = json!(callback);
    }
    let resp = app.post("/sign-up/email", body).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let user = app.user_from(&resp, &email);
    let link = queued_links(app, &email, "verify-email")
        .await
        .pop()
        .expect("sign-up mailed a link");
    (user, link)
}

on_both_backends! {
    config = send_on_sign_up;

    async fn sign_up_mails_better_auths_link_whose_token_is_the_1_7_25_jwt_and_following_it_verifies(app) {
        let (user, link) = signed_up_with_link(&app, Some("/welcome?a=1")).await;
        let token = token_of(&link);
        assert_eq!(link, format!("{ORIGIN}/api/auth/verify-email?token={token}&callbackURL=%2Fwelcome%3Fa%3D1"));
        let header = token.split('.').next().unwrap();
        assert_eq!(header, "eyJhbGciOiJIUzI1NiJ9", "jose's bare {{\"alg\":\"HS256\"}} header");
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap();
        let now = app.clock_now();
        let expected = format!(r#"{{"email":"{}","userId":"{}","iat":{now},"exp":{}}}"#, user.email, user.id, now + 3600);
        assert_eq!(String::from_utf8(payload).unwrap(), expected, "Better Auth's claims, in its order");
        assert!(!is_verified(&app, &user.email).await);
        let resp = app.get(&format!("/verify-email?token={token}")).await;
        assert_eq!((resp.status, &resp.body), (200, &json!({"status": true, "user": null})));
        assert!(resp.set_cookies().is_empty(), "no auto sign-in by default");
        assert!(is_verified(&app, &user.email).await);
        assert_eq!(audit_events(&app, AuditKind::EmailVerified).await.len(), 1);
    }

    async fn without_a_callback_the_link_names_the_root_and_with_one_the_landing_redirects_there(app) {
        let (_, link) = signed_up_with_link(&app, None).await;
        assert!(link.ends_with("&callbackURL=%2F"), "{link}");
        let resp = app.get(path_of(&link)).await;
        assert_eq!(resp.status, 302);
        assert_eq!(resp.header("location"), Some("/"));
    }

    async fn an_expired_link_is_token_expired_as_json_and_as_a_redirect(app) {
        let (user, link) = signed_up_with_link(&app, None).await;
        let token = token_of(&link);
        app.clock.advance(Duration::seconds(3599));
        app.clock.advance(Duration::seconds(1));
        let json = app.get(&format!("/verify-email?token={token}")).await;
        assert_eq!((json.status, &json.body), (401, &json!({"message": "Token expired", "code": "TOKEN_EXPIRED"})));
        let redirect = app.get(&format!("/verify-email?token={token}&callbackURL=%2Fdone%3Fx%3D1")).await;
        assert_eq!(redirect.status, 302);
        assert_eq!(redirect.header("location"), Some("/done?x=1&error=TOKEN_EXPIRED"));
        assert!(!is_verified(&app, &user.email).await);
    }

    async fn a_tampered_or_foreign_token_is_invalid_token(app) {
        let (_, link) = signed_up_with_link(&app, None).await;
        let token = token_of(&link);
        let tampered = format!("{}x", &token[..token.len() - 1]);
        for bad in [tampered.as_str(), "not-a-jwt", ""] {
            let resp = app.get(&format!("/verify-email?token={bad}")).await;
            assert_eq!((resp.status, resp.code()), (401, "INVALID_TOKEN"), "{bad}");
        }
        let redirect = app.get(&format!("/verify-email?token=x&callbackURL={}", urlencode(&format!("{FRONTEND}/v")))).await;
        assert_eq!(redirect.header("location"), Some(format!("{FRONTEND}/v?error=INVALID_TOKEN").as_str()));
        let missing = app.get("/verify-email").await;
        assert_eq!((missing.status, missing.code()), (400, "VALIDATION_ERROR"));
    }

    async fn an_untrusted_callback_is_refused_before_the_token_is_read(app) {
        let resp = app.get("/verify-email?token=x&callbackURL=https%3A%2F%2Fevil.example%2F").await;
        assert_eq!((resp.status, resp.code()), (403, "INVALID_CALLBACK_URL"));
    }

    async fn a_link_for_a_deleted_user_is_user_not_found_and_it_never_verifies_a_new_owner_of_the_address(app) {
        let (user, link) = signed_up_with_link(&app, None).await;
        app.raw_sql(&format!(r#"DELETE FROM "session" WHERE "userId" = '{}'"#, user.id)).await;
        app.raw_sql(&format!(r#"DELETE FROM "account" WHERE "userId" = '{}'"#, user.id)).await;
        app.raw_sql(&format!(r#"DELETE FROM "user" WHERE "id" = '{}'"#, user.id)).await;
        let gone = app.get(path_of(&link).split("&callbackURL").next().unwrap()).await;
        assert_eq!((gone.status, gone.code()), (401, "USER_NOT_FOUND"));
        let again = app.post("/sign-up/email", json!({"name": "New", "email": user.email, "password": PASSWORD})).await;
        assert_eq!(again.status, 200);
        let wrong_user = app.get(path_of(&link).split("&callbackURL").next().unwrap()).await;
        assert_eq!((wrong_user.status, wrong_user.code()), (401, "INVALID_TOKEN"), "the token names the old user id");
        assert!(!is_verified(&app, &user.email).await);
    }

    async fn following_a_link_again_is_a_quiet_success(app) {
        let (_, link) = signed_up_with_link(&app, Some("/in")).await;
        assert_eq!(app.get(path_of(&link)).await.status, 302);
        let again = app.get(path_of(&link)).await;
        assert_eq!((again.status, again.header("location")), (302, Some("/in")));
        let token = token_of(&link);
        let json = app.get(&format!("/verify-email?token={token}")).await;
        assert_eq!((json.status, &json.body), (200, &json!({"status": true, "user": null})));
        assert_eq!(audit_events(&app, AuditKind::EmailVerified).await.len(), 1);
    }

    async fn a_token_minted_by_better_auth_verifies_here_with_the_same_secret(app) {
        app.clock.set(chrono::DateTime::from_timestamp(PEER_IAT + 10, 0).unwrap());
        let resp = app.post("/sign-up/email", json!({"name": "Peer", "email": "ba-peer@example.com", "password": PASSWORD})).await;
        assert_eq!(resp.status, 200);
        let verified = app.get(&format!("/verify-email?token={PEER_TOKEN}")).await;
        assert_eq!(verified.status, 200, "{}", verified.text);
        assert!(is_verified(&app, "ba-peer@example.com").await);
    }

    async fn with_a_session_a_send_for_another_address_or_a_verified_one_is_refused(app) {
        let (user, link) = signed_up_with_link(&app, None).await;
        let other = app.post_as(&user, "/send-verification-email", json!({"email": "someone-else@example.com"})).await;
        assert_eq!((other.status, &other.body), (400, &json!({"message": "Email mismatch", "code": "EMAIL_MISMATCH"})));
        let mine = app.post_as(&user, "/send-verification-email", json!({"email": user.email.to_uppercase()})).await;
        assert_eq!((mine.status, &mine.body), (200, &json!({"status": true})));
        assert_eq!(queued_links(&app, &user.email, "verify-email").await.len(), 2);
        app.get(path_of(&link)).await;
        let done = app.post_as(&user, "/send-verification-email", json!({"email": user.email})).await;
        assert_eq!((done.status, &done.body), (400, &json!({"message": "Email is already verified", "code": "EMAIL_ALREADY_VERIFIED"})));
    }

    async fn without_a_session_a_send_answers_the_same_after_half_a_second_and_mails_only_an_unverified_account(app) {
        let (user, _) = signed_up_with_link(&app, None).await;
        let started = std::time::Instant::now();
        let known = app.post("/send-verification-email", json!({"email": user.email, "callbackURL": "/x"})).await;
        assert!(started.elapsed() >= std::time::Duration::from_millis(500), "Better Auth's floor");
        let unknown = app.post("/send-verification-email", json!({"email": "nobody-here@example.com"})).await;
        assert_eq!((known.status, &known.body), (200, &json!({"status": true})));
        assert_eq!((unknown.status, &unknown.body), (known.status, &known.body));
        events_written(&app, AuditKind::EmailVerificationSent, 2).await;
        let mailed = queued_links(&app, &user.email, "verify-email").await;
        assert_eq!(mailed.len(), 2);
        assert!(mailed.iter().any(|link| link.ends_with("&callbackURL=%2Fx")), "{mailed:?}");
        assert!(queued_links(&app, "nobody-here@example.com", "verify-email").await.is_empty());
    }

    async fn an_address_gets_at_most_three_verification_mails_an_hour_whoever_asks(app) {
        let (user, _) = signed_up_with_link(&app, None).await;
        for sent in 2..=5 {
            let resp = app.post("/send-verification-email", json!({"email": user.email})).await;
            assert_eq!(resp.status, 200, "the answer never changes");
            events_written(&app, AuditKind::EmailVerificationSent, sent).await;
        }
        assert_eq!(queued_links(&app, &user.email, "verify-email").await.len(), 3);
        let events = audit_events(&app, AuditKind::EmailVerificationSent).await;
        assert_eq!(events.iter().filter(|e| e.reason.as_deref() == Some("recipient_limit")).count(), 2);
        app.clock.advance(Duration::minutes(61));
        app.post("/send-verification-email", json!({"email": user.email})).await;
        events_written(&app, AuditKind::EmailVerificationSent, 6).await;
        assert_eq!(queued_links(&app, &user.email, "verify-email").await.len(), 4, "a new hour, a new allowance");
    }

    async fn concurrent_sends_to_one_address_still_queue_at_most_three_mails(app) {
        let (user, _) = signed_up_with_link(&app, None).await;
        let body = json!({"email": user.email});
        let answers = futures::future::join_all((0..7).map(|_| app.post("/send-verification-email", body.clone()))).await;
        assert!(answers.iter().all(|a| a.status == 200));
        events_written(&app, AuditKind::EmailVerificationSent, 8).await;
        assert_eq!(queued_links(&app, &user.email, "verify-email").await.len(), 3, "the allowance holds under concurrency");
    }

    async fn neither_the_token_nor_the_link_reaches_a_log_line(app) {
        let logs = crate::audit::capture_audit_logs();
        let (_, link) = signed_up_with_link(&app, None).await;
        app.get(path_of(&link)).await;
        let token = token_of(&link);
        let text = logs.text();
        assert!(text.contains("email_verified"), "the events were captured");
        assert!(!text.contains(&token) && !text.contains("verify-email?token"), "no secret in: {text}");
    }
}

fn urlencode(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

on_both_backends! {
    config = require_verification;

    async fn with_verification_required_sign_up_opens_no_session_and_sign_in_is_refused_until_verified(app) {
        let email = "must-verify@example.com";
        let resp = app.post("/sign-up/email", json!({"name": "M", "email": email, "password": PASSWORD})).await;
        assert_eq!((resp.status, &resp.body["token"]), (200, &Value::Null));
        assert!(resp.set_cookies().is_empty());
        let mailed = queued_links(&app, email, "verify-email").await;
        assert_eq!(mailed.len(), 1, "sendOnSignUp follows requireEmailVerification");
        let refused = app.post("/sign-in/email", json!({"email": email, "password": PASSWORD})).await;
        assert_eq!((refused.status, &refused.body), (403, &json!({"message": "Email not verified", "code": "EMAIL_NOT_VERIFIED"})));
        assert!(refused.set_cookies().is_empty());
        assert_eq!(queued_links(&app, email, "verify-email").await.len(), 2, "sendOnSignIn mailed a new link");
        let wrong = app.post("/sign-in/email", json!({"email": email, "password": "wrong password here"})).await;
        assert_eq!(wrong.status, 401, "a wrong password says nothing about verification");
        app.get(path_of(&mailed[0])).await;
        app.sign_in(email, PASSWORD).await;
    }

    async fn with_verification_required_a_taken_address_gets_the_same_answer_as_a_new_one(app) {
        let body = json!({"name": "T", "email": "taken@example.com", "password": PASSWORD});
        let first = app.post("/sign-up/email", body.clone()).await;
        let second = app.post("/sign-up/email", body).await;
        assert_eq!((second.status, &second.body["token"]), (200, &Value::Null));
        assert_ne!(first.body["user"]["id"], second.body["user"]["id"], "a stand-in user");
        assert_eq!(first.body["user"]["email"], second.body["user"]["email"]);
        assert_eq!(queued_links(&app, "taken@example.com", "verify-email").await.len(), 1, "no mail for the stand-in");
    }
}

on_both_backends! {
    config = auto_sign_in;

    async fn with_auto_sign_in_following_the_link_opens_a_session(app) {
        let (_, link) = signed_up_with_link(&app, Some("/home")).await;
        let resp = app.get(path_of(&link)).await;
        assert_eq!((resp.status, resp.header("location")), (302, Some("/home")));
        let cookie = resp.set_cookie(&app.state.cookies.session_token).expect("a session cookie");
        let pair = cookie.split(';').next().unwrap();
        let session = app.send(Method::GET, "/get-session", None, Some(pair), &[]).await;
        assert_eq!(session.body["user"]["emailVerified"], json!(true));
    }
}

on_both_backends! {
    config = rate_limited;

    async fn better_auths_special_rule_allows_three_sends_a_minute_from_one_client(app) {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(app.post("/send-verification-email", json!({"email": "rl@example.com"})).await.status);
        }
        assert_eq!(statuses, [200, 200, 200, 429]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_mail_delivery_a_send_is_better_auths_verification_email_not_enabled() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::spawn_without_mail(backend).await;
        let user = app.sign_up().await;
        for resp in [
            app.post("/send-verification-email", json!({"email": user.email}))
                .await,
            app.post_as(
                &user,
                "/send-verification-email",
                json!({"email": user.email}),
            )
            .await,
        ] {
            assert_eq!(
                (resp.status, resp.body.clone()),
                (
                    400,
                    json!({"message": "Verification email isn't enabled", "code": "VERIFICATION_EMAIL_NOT_ENABLED"})
                )
            );
        }
    }
}
