//! Two-factor as Better Auth 1.7.25's twoFactor plugin does it: enabling with TOTP, the sign-in
//! gate and its `two_factor` cookie, TOTP, mailed codes and backup codes as second factors,
//! trusted devices, and the defences around them (replay, single use, attempt limits, audit).

use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};
use tessera_auth::audit::AuditKind;
use tessera_auth::config::AuthConfig;

use crate::helpers::*;

fn two_factor_on(config: &mut AuthConfig) {
    config.two_factor.enabled = true;
    config.two_factor.issuer = "Tessera Test".to_owned();
    // One session lookup per request: the tests look at sessions right after changing them.
    config.session.cache_ttl = Duration::zero();
}

/// The generator for a `totpURI`'s secret.
fn totp_of(uri: &str) -> totp_rs::Totp {
    let query = uri.split_once('?').unwrap().1;
    let secret = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "secret")
        .unwrap()
        .1
        .into_owned();
    totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build_noncompliant()
}

/// The code at the app's clock, `offset` steps away.
fn code_at(app: &TestApp, totp: &totp_rs::Totp, offset: i64) -> String {
    let at = u64::try_from(app.clock_now() + offset * 30).unwrap();
    totp.generate(at).to_string()
}

/// A signed-up user with two-factor on (enabled and confirmed), their TOTP generator, backup
/// codes and session.
struct Enrolled {
    user: TestUser,
    totp: totp_rs::Totp,
    backup_codes: Vec<String>,
}

async fn enroll(app: &TestApp) -> Enrolled {
    let user = app.sign_up().await;
    let resp = app
        .post_as(&user, "/two-factor/enable", json!({"password": PASSWORD}))
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let totp = totp_of(resp.body["totpURI"].as_str().unwrap());
    let backup_codes: Vec<String> =
        serde_json::from_value(resp.body["backupCodes"].clone()).unwrap();
    let code = code_at(app, &totp, 0);
    let confirmed = app
        .post_as(&user, "/two-factor/verify-totp", json!({"code": code}))
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    // The session moved: the old one is gone, the new one is in the cookie.
    let user = TestUser {
        cookie: cookie_pair(&confirmed, &app.state.cookies.session_token),
        ..user
    };
    // The next sign-in must not reuse this step's code.
    app.clock.advance_secs(30);
    Enrolled {
        user,
        totp,
        backup_codes,
    }
}

/// `name=value` of a `Set-Cookie` answer.
fn cookie_pair(resp: &Resp, name: &str) -> String {
    resp.set_cookie(name)
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", resp.set_cookies()))
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// Signs in with the password and returns the `two_factor` cookie pair of the redirect.
async fn challenged(app: &TestApp, email: &str, extra_cookie: Option<&str>) -> (Resp, String) {
    let resp = app
        .send(
            Method::POST,
            "/sign-in/email",
            Some(json!({"email": email, "password": PASSWORD})),
            extra_cookie,
            &[],
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let cookie = cookie_pair(&resp, &app.state.cookies.two_factor);
    (resp, cookie)
}

async fn post_with(app: &TestApp, cookie: &str, path: &str, body: Value) -> Resp {
    app.send(Method::POST, path, Some(body), Some(cookie), &[])
        .await
}

on_both_backends! {
    config = two_factor_on;

    async fn enable_answers_a_totp_uri_and_ten_backup_codes_and_only_the_first_right_code_turns_two_factor_on(app) {
        let user = app.sign_up().await;
        let resp = app.post_as(&user, "/two-factor/enable", json!({"password": PASSWORD})).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(resp.body["method"], "totp");
        let uri = resp.body["totpURI"].as_str().unwrap();
        let account = user.email.replace('@', "%40");
        assert!(uri.starts_with(&format!("otpauth://totp/Tessera%20Test:{account}?secret=")), "{uri}");
        assert!(uri.ends_with("&issuer=Tessera+Test&digits=6&period=30"), "{uri}");
        let codes = resp.body["backupCodes"].as_array().unwrap();
        assert_eq!(codes.len(), 10);
        assert!(codes.iter().all(|c| {
            let c = c.as_str().unwrap();
            c.len() == 11 && c.as_bytes()[5] == b'-' && c.chars().filter(|c| *c != '-').all(|c| c.is_ascii_alphanumeric())
        }), "{codes:?}");
        let session = app.get_as(&user, "/get-session").await;
        assert_eq!(session.body["user"]["twoFactorEnabled"], false, "not before a code is verified");
        let wrong = app.post_as(&user, "/two-factor/verify-totp", json!({"code": "000000"})).await;
        assert_eq!((wrong.status, wrong.code()), (401, "INVALID_CODE"));
        let totp = totp_of(uri);
        let right = app.post_as(&user, "/two-factor/verify-totp", json!({"code": code_at(&app, &totp, 0)})).await;
        assert_eq!(right.status, 200, "{}", right.text);
        // Better Auth's answer: the old session's token and user, a new session in the cookie.
        assert_eq!(right.body["token"], user.token.as_str());
        assert_eq!(right.body["user"]["twoFactorEnabled"], false);
        let moved = TestUser { cookie: cookie_pair(&right, &app.state.cookies.session_token), ..user.clone() };
        assert_eq!(app.get_as(&user, "/get-session").await.body, Value::Null, "the old session ended");
        let now = app.get_as(&moved, "/get-session").await;
        assert_eq!(now.body["user"]["twoFactorEnabled"], true);
        assert_eq!(audit_events(&app, AuditKind::TwoFactorEnabled).await.len(), 2);
        assert_eq!(audit_events(&app, AuditKind::TwoFactorFailed).await.len(), 1);
    }

    async fn enable_with_a_wrong_password_is_refused_and_writes_no_secret(app) {
        let user = app.sign_up().await;
        let resp = app.post_as(&user, "/two-factor/enable", json!({"password": "not it at all"})).await;
        assert_eq!((resp.status, resp.code()), (400, "INVALID_PASSWORD"));
        assert!(app.state.store.find_two_factor(&user.id).await.unwrap().is_none());
        let missing = app.post_as(&user, "/two-factor/enable", json!({})).await;
        assert_eq!((missing.status, missing.code()), (400, "VALIDATION_ERROR"));
        assert_eq!(missing.body["message"], "[body.password] Invalid input: expected string, received undefined");
    }

    async fn the_secret_and_backup_codes_are_stored_sealed_as_better_auth_seals_them(app) {
        let enrolled = enroll(&app).await;
        let row = app.state.store.find_two_factor(&enrolled.user.id).await.unwrap().unwrap();
        assert!(row.secret.bytes().all(|b| b.is_ascii_hexdigit()), "bare hex: an unversioned secret");
        let secret = app.state.config.secrets.decrypt(&row.secret).unwrap();
        assert_eq!(secret.len(), 32);
        assert_eq!(enrolled.totp.secret().as_bytes(), secret.as_bytes(), "the URI carries the secret's UTF-8 bytes");
        let codes: Vec<String> = serde_json::from_str(&app.state.config.secrets.decrypt(&row.backup_codes).unwrap()).unwrap();
        assert_eq!(codes, enrolled.backup_codes);
        assert!(!row.backup_codes.contains(&enrolled.backup_codes[0]));
        assert_eq!(row.verified, Some(true));
        let flag = app.raw_sql(&format!(r#"SELECT CAST("twoFactorEnabled" AS TEXT) FROM "user" WHERE "id" = '{}'"#, enrolled.user.id)).await;
        assert!(matches!(flag[0].as_str(), "1" | "true"), "{flag:?}");
    }

    async fn sign_in_with_two_factor_answers_the_redirect_and_the_cookie_and_opens_no_session(app) {
        let enrolled = enroll(&app).await;
        let sessions_before = app.stored_session_tokens(&enrolled.user.id).await.len();
        let (resp, cookie) = challenged(&app, &enrolled.user.email, None).await;
        assert_eq!(resp.body, json!({"twoFactorRedirect": true, "twoFactorMethods": ["totp", "otp"]}));
        let names = &app.state.cookies;
        assert_eq!(resp.set_cookie(&names.session_token).unwrap(), names.expire(&names.session_token));
        assert!(resp.set_cookie(&names.two_factor).unwrap().contains("; Max-Age=600; Path=/; HttpOnly; SameSite=Lax"));
        assert_eq!(resp.header("set-auth-token"), None);
        assert_eq!(app.stored_session_tokens(&enrolled.user.id).await.len(), sessions_before);
        assert_eq!(audit_events(&app, AuditKind::TwoFactorRequired).await.len(), 1);
        // The challenge is no session.
        let not_yet = app.send(Method::GET, "/get-session", None, Some(&cookie), &[]).await;
        assert_eq!(not_yet.body, Value::Null);
        let resp = post_with(&app, &cookie, "/two-factor/verify-totp", json!({"code": code_at(&app, &enrolled.totp, 0)})).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(resp.body["user"]["id"], enrolled.user.id.as_str());
        assert_eq!(resp.set_cookie(&names.two_factor).unwrap(), names.expire(&names.two_factor));
        let signed_in = TestUser { cookie: cookie_pair(&resp, &names.session_token), token: resp.body["token"].as_str().unwrap().to_owned(), ..enrolled.user.clone() };
        assert_eq!(resp.header("set-auth-token").map(|t| t.starts_with(&signed_in.token)), Some(true));
        let session = app.get_as(&signed_in, "/get-session").await;
        assert_eq!(session.body["session"]["token"], signed_in.token.as_str());
        let token = app.get_as(&signed_in, "/token").await;
        assert_eq!(token.status, 200, "a JWT for the new session, as for any other");
    }

    async fn a_totp_code_is_refused_a_second_time_within_its_window(app) {
        let enrolled = enroll(&app).await;
        let code = code_at(&app, &enrolled.totp, 0);
        let (_, first) = challenged(&app, &enrolled.user.email, None).await;
        let (_, second) = challenged(&app, &enrolled.user.email, None).await;
        let ok = post_with(&app, &first, "/two-factor/verify-totp", json!({"code": code})).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        app.clock.advance_secs(20);
        let replay = post_with(&app, &second, "/two-factor/verify-totp", json!({"code": code})).await;
        assert_eq!((replay.status, replay.code()), (401, "INVALID_CODE"));
        // The previous step's code is older still: refused too. The next step's works.
        let older = post_with(&app, &second, "/two-factor/verify-totp", json!({"code": code_at(&app, &enrolled.totp, -1)})).await;
        assert_eq!(older.status, 401);
        app.clock.advance_secs(30);
        let next = post_with(&app, &second, "/two-factor/verify-totp", json!({"code": code_at(&app, &enrolled.totp, 0)})).await;
        assert_eq!(next.status, 200, "{}", next.text);
    }

    async fn the_two_factor_cookie_opens_one_session_and_lasts_ten_minutes(app) {
        let enrolled = enroll(&app).await;
        let (_, cookie) = challenged(&app, &enrolled.user.email, None).await;
        let code = enrolled.backup_codes[0].clone();
        let ok = post_with(&app, &cookie, "/two-factor/verify-backup-code", json!({"code": code})).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        let again = post_with(&app, &cookie, "/two-factor/verify-backup-code", json!({"code": enrolled.backup_codes[1]})).await;
        assert_eq!((again.status, again.code()), (401, "INVALID_TWO_FACTOR_COOKIE"));
        let (_, late) = challenged(&app, &enrolled.user.email, None).await;
        app.clock.advance_secs(601);
        let expired = post_with(&app, &late, "/two-factor/verify-totp", json!({"code": code_at(&app, &enrolled.totp, 0)})).await;
        assert_eq!((expired.status, expired.code()), (401, "INVALID_TWO_FACTOR_COOKIE"));
        let forged = post_with(&app, &format!("{}=2fa-forged.x", app.state.cookies.two_factor), "/two-factor/verify-totp", json!({"code": "123456"})).await;
        assert_eq!((forged.status, forged.code()), (401, "INVALID_TWO_FACTOR_COOKIE"));
    }

    async fn five_wrong_codes_void_the_challenge_and_each_is_counted_and_audited(app) {
        let enrolled = enroll(&app).await;
        let (_, cookie) = challenged(&app, &enrolled.user.email, None).await;
        for _ in 0..5 {
            let wrong = post_with(&app, &cookie, "/two-factor/verify-totp", json!({"code": "000000"})).await;
            assert_eq!((wrong.status, wrong.code()), (401, "INVALID_CODE"));
        }
        let sixth = post_with(&app, &cookie, "/two-factor/verify-totp", json!({"code": code_at(&app, &enrolled.totp, 0)})).await;
        assert_eq!((sixth.status, sixth.code()), (400, "TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE"));
        assert_eq!(sixth.set_cookie(&app.state.cookies.two_factor).unwrap(), app.state.cookies.expire(&app.state.cookies.two_factor));
        let failed = audit_events(&app, AuditKind::TwoFactorFailed).await;
        assert_eq!(failed.len(), 5);
        assert!(failed.iter().all(|e| e.user_id.as_deref() == Some(enrolled.user.id.as_str()) && e.reason.as_deref() == Some("invalid_code")));
        // The same account's password-attempt limit holds across challenges: 10 an hour.
        let (_, cookie) = challenged(&app, &enrolled.user.email, None).await;
        for _ in 0..5 {
            post_with(&app, &cookie, "/two-factor/verify-backup-code", json!({"code": "aaaaa-bbbbb"})).await;
        }
        let (_, cookie) = challenged(&app, &enrolled.user.email, None).await;
        let limited = post_with(&app, &cookie, "/two-factor/verify-totp", json!({"code": code_at(&app, &enrolled.totp, 0)})).await;
        assert_eq!(limited.status, 429, "{}", limited.text);
    }

    async fn a_backup_code_works_once_even_when_two_sign_ins_bring_it_at_once(app) {
        let enrolled = enroll(&app).await;
        let (_, first) = challenged(&app, &enrolled.user.email, None).await;
        let (_, second) = challenged(&app, &enrolled.user.email, None).await;
        let code = json!({"code": enrolled.backup_codes[3]});
        let (a, b) = tokio::join!(
            post_with(&app, &first, "/two-factor/verify-backup-code", code.clone()),
            post_with(&app, &second, "/two-factor/verify-backup-code", code.clone()),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses[0], 200, "{} / {}", a.text, b.text);
        assert_ne!(statuses[1], 200, "{} / {}", a.text, b.text);
        let (_, third) = challenged(&app, &enrolled.user.email, None).await;
        let spent = post_with(&app, &third, "/two-factor/verify-backup-code", code).await;
        assert_eq!((spent.status, spent.code()), (401, "INVALID_BACKUP_CODE"));
        let row = app.state.store.find_two_factor(&enrolled.user.id).await.unwrap().unwrap();
        let left: Vec<String> = serde_json::from_str(&app.state.config.secrets.decrypt(&row.backup_codes).unwrap()).unwrap();
        assert_eq!(left.len(), 9);
        assert_eq!(audit_events(&app, AuditKind::BackupCodeUsed).await.len(), 1);
    }

    async fn spending_backup_codes_compares_and_sets_so_a_stale_read_spends_nothing(app) {
        // What two concurrent uses of one code race through, step by step: both read the same
        // stored set; the first replacement wins, the second finds the set changed.
        let enrolled = enroll(&app).await;
        let row = app.state.store.find_two_factor(&enrolled.user.id).await.unwrap().unwrap();
        let audit = || tessera_auth::audit::AuditEvent::system(AuditKind::BackupCodeUsed, chrono::Utc::now());
        let first = app.state.store.replace_backup_codes(&row.id, Some(&row.backup_codes), "first", &audit()).await.unwrap();
        let second = app.state.store.replace_backup_codes(&row.id, Some(&row.backup_codes), "second", &audit()).await.unwrap();
        assert!(first && !second, "{first} {second}");
        let now = app.state.store.find_two_factor(&enrolled.user.id).await.unwrap().unwrap();
        assert_eq!(now.backup_codes, "first");
    }

    async fn a_mailed_code_goes_through_the_outbox_and_signs_in_once(app) {
        let enrolled = enroll(&app).await;
        let (_, cookie) = challenged(&app, &enrolled.user.email, None).await;
        let sent = post_with(&app, &cookie, "/two-factor/send-otp", json!({})).await;
        assert_eq!((sent.status, &sent.body), (200, &json!({"status": true})));
        let code = queued_links(&app, &enrolled.user.email, "two-factor-code").await.pop().expect("a mail");
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        let stored = app.raw_sql(r#"SELECT "value" FROM "verification" WHERE "identifier" LIKE '2fa-otp-%'"#).await;
        assert!(!stored[0].contains(&code), "stored hashed, never as the code");
        let wrong = post_with(&app, &cookie, "/two-factor/verify-otp", json!({"code": "0000000"})).await;
        assert_eq!((wrong.status, wrong.code()), (401, "INVALID_CODE"));
        let ok = post_with(&app, &cookie, "/two-factor/verify-otp", json!({"code": code})).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        assert!(ok.set_cookie(&app.state.cookies.session_token).is_some());
        let (_, again) = challenged(&app, &enrolled.user.email, None).await;
        let reused = post_with(&app, &again, "/two-factor/verify-otp", json!({"code": code})).await;
        assert_eq!((reused.status, reused.code()), (400, "OTP_HAS_EXPIRED"));
        assert_eq!(audit_events(&app, AuditKind::TwoFactorFailed).await.len(), 1);
    }

    async fn a_mailed_code_expires_after_its_period(app) {
        let enrolled = enroll(&app).await;
        let (_, cookie) = challenged(&app, &enrolled.user.email, None).await;
        post_with(&app, &cookie, "/two-factor/send-otp", json!({})).await;
        let code = queued_links(&app, &enrolled.user.email, "two-factor-code").await.pop().unwrap();
        app.clock.advance_secs(181);
        let late = post_with(&app, &cookie, "/two-factor/verify-otp", json!({"code": code})).await;
        assert_eq!((late.status, late.code()), (400, "OTP_HAS_EXPIRED"));
    }

    async fn a_trusted_device_skips_the_second_factor_and_its_cookie_is_renewed(app) {
        let enrolled = enroll(&app).await;
        let names = app.state.cookies.clone();
        let (_, cookie) = challenged(&app, &enrolled.user.email, None).await;
        let ok = post_with(&app, &cookie, "/two-factor/verify-totp", json!({"code": code_at(&app, &enrolled.totp, 0), "trustDevice": true})).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        let trust = cookie_pair(&ok, &names.trust_device);
        assert!(ok.set_cookie(&names.trust_device).unwrap().contains("; Max-Age=2592000; "));
        let resp = app.send(Method::POST, "/sign-in/email", Some(json!({"email": enrolled.user.email, "password": PASSWORD})), Some(&trust), &[]).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(resp.body["redirect"], false, "an ordinary sign-in: {}", resp.text);
        assert!(resp.set_cookie(&names.session_token).is_some());
        let renewed = cookie_pair(&resp, &names.trust_device);
        assert_ne!(renewed, trust);
        // The old cookie's record is gone: it now asks for a second factor again.
        let (stale, _) = challenged(&app, &enrolled.user.email, Some(&trust)).await;
        assert_eq!(stale.body["twoFactorRedirect"], true);
        assert_eq!(stale.set_cookie(&names.trust_device).unwrap(), names.expire(&names.trust_device));
        // Another user's trust cookie does not carry over.
        let other = enroll(&app).await;
        let (foreign, _) = challenged(&app, &other.user.email, Some(&renewed)).await;
        assert_eq!(foreign.body["twoFactorRedirect"], true);
    }

    async fn disable_deletes_the_secret_and_sign_in_asks_for_no_second_factor(app) {
        let enrolled = enroll(&app).await;
        let wrong = app.post_as(&enrolled.user, "/two-factor/disable", json!({"password": "nope nope nope"})).await;
        assert_eq!((wrong.status, wrong.code()), (400, "INVALID_PASSWORD"));
        let resp = app.post_as(&enrolled.user, "/two-factor/disable", json!({"password": PASSWORD})).await;
        assert_eq!((resp.status, &resp.body), (200, &json!({"status": true})));
        assert!(app.state.store.find_two_factor(&enrolled.user.id).await.unwrap().is_none());
        let signed_in = app.sign_in(&enrolled.user.email, PASSWORD).await;
        assert_eq!(app.get_as(&signed_in, "/get-session").await.body["user"]["twoFactorEnabled"], false);
        assert_eq!(audit_events(&app, AuditKind::TwoFactorDisabled).await.len(), 1);
    }

    async fn new_backup_codes_replace_the_old_and_get_totp_uri_repeats_the_secret(app) {
        let enrolled = enroll(&app).await;
        let fresh = app.post_as(&enrolled.user, "/two-factor/generate-backup-codes", json!({"password": PASSWORD})).await;
        assert_eq!(fresh.status, 200, "{}", fresh.text);
        let codes: Vec<String> = serde_json::from_value(fresh.body["backupCodes"].clone()).unwrap();
        assert_eq!(codes.len(), 10);
        assert!(codes.iter().all(|c| !enrolled.backup_codes.contains(c)));
        let (_, cookie) = challenged(&app, &enrolled.user.email, None).await;
        let old = post_with(&app, &cookie, "/two-factor/verify-backup-code", json!({"code": enrolled.backup_codes[0]})).await;
        assert_eq!(old.status, 401);
        let uri = app.post_as(&enrolled.user, "/two-factor/get-totp-uri", json!({"password": PASSWORD})).await;
        assert_eq!(uri.status, 200, "{}", uri.text);
        assert_eq!(totp_of(uri.body["totpURI"].as_str().unwrap()).secret(), enrolled.totp.secret());
    }

    async fn signed_in_checks_need_a_session_or_the_cookie(app) {
        let resp = app.post("/two-factor/verify-totp", json!({"code": "123456"})).await;
        assert_eq!((resp.status, resp.code()), (401, "INVALID_TWO_FACTOR_COOKIE"));
        let resp = app.post("/two-factor/enable", json!({"password": PASSWORD})).await;
        assert_eq!(resp.status, 401);
        let resp = app.post("/two-factor/verify-totp", json!({})).await;
        assert_eq!((resp.status, resp.code()), (400, "VALIDATION_ERROR"));
    }
}

on_both_backends! {
    async fn without_the_plugin_its_endpoints_do_not_exist_and_users_carry_no_flag(app) {
        let user = app.sign_up().await;
        for path in ["/two-factor/enable", "/two-factor/verify-totp", "/two-factor/send-otp"] {
            let resp = app.post_as(&user, path, json!({"password": PASSWORD, "code": "1"})).await;
            assert_eq!((resp.status, resp.text.as_str()), (404, ""), "{path}");
        }
        let session = app.get_as(&user, "/get-session").await;
        assert!(session.body["user"].get("twoFactorEnabled").is_none(), "{}", session.text);
    }
}
