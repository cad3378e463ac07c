//! Social sign-in against a real OpenID provider: panva's certified `oidc-provider`, which
//! `scripts/test.sh` starts on 127.0.0.1 (`interop/oidc-provider.mjs`, `TEST_OIDC_ISSUER`). Its
//! interaction signs in the account the request's `login_hint` names (email
//! `<hint>@oidc.test`, verified unless the hint starts with `unverified-`; `deny` refuses
//! consent), so each test drives the whole authorization-code flow over plain HTTP: Tessera's
//! `/sign-in/social`, the provider's redirects, Tessera's `/callback/test-oidc`. On SQLite and
//! PostgreSQL.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};
use tessera_auth::audit::AuditKind;
use tessera_auth::config::AuthConfig;
use tessera_auth::features::social::{ProviderKind, ProviderSettings};
use tessera_auth::secret::Secret;

use crate::helpers::*;

/// The provider id the tests configure.
const PROVIDER: &str = "test-oidc";

/// The test provider's issuer; the test fails (rather than skips) without one.
fn issuer() -> String {
    std::env::var("TEST_OIDC_ISSUER").expect(
        "TEST_OIDC_ISSUER: scripts/test.sh starts the OpenID provider (node interop/oidc-provider.mjs PORT)",
    )
}

fn with_provider(config: &mut AuthConfig) {
    config.social.providers = vec![
        ProviderSettings {
            id: PROVIDER.into(),
            kind: ProviderKind::Oidc { issuer: issuer() },
            client_id: "tessera-test".into(),
            client_secret: Secret::new("tessera-test-secret"),
            scopes: vec!["email".into(), "profile".into()],
        },
        ProviderSettings {
            // The same issuer under another client: its ID tokens name another audience.
            id: "other-client".into(),
            kind: ProviderKind::Oidc { issuer: issuer() },
            client_id: "another-client".into(),
            client_secret: Secret::new("another-secret"),
            scopes: Vec::new(),
        },
        ProviderSettings {
            // The same server under another spelling of its URL (the scheme in capitals reaches
            // it just the same): its discovery document names another issuer than configured.
            id: "renamed-issuer".into(),
            kind: ProviderKind::Oidc {
                issuer: issuer().replacen("http://", "HTTP://", 1),
            },
            client_id: "tessera-test".into(),
            client_secret: Secret::new("tessera-test-secret"),
            scopes: Vec::new(),
        },
    ];
}

/// A login hint no other test uses: the provider's account (and email) of this test alone.
fn fresh_hint(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        tessera_auth::ids::generate_id(10).to_lowercase()
    )
}

/// A started sign-in: the authorization URL and the browser's state cookie.
struct Started {
    url: String,
    cookie: String,
}

async fn start(app: &TestApp, body: Value) -> Started {
    let resp = app.post("/sign-in/social", body).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let url = resp.body["url"].as_str().expect("url").to_owned();
    let set = resp
        .set_cookie(&app.state.cookies.oauth_state)
        .expect("state cookie");
    Started {
        url,
        cookie: set.split(';').next().unwrap().to_owned(),
    }
}

/// Follows the provider's redirects (with its cookies) until it sends the browser back to
/// Tessera; returns the callback's query string.
async fn at_provider(url: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut jar: Vec<(String, String)> = Vec::new();
    let mut url = reqwest::Url::parse(url).unwrap();
    for _ in 0..10 {
        let cookie = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let resp = client
            .get(url.clone())
            .header("cookie", cookie)
            .send()
            .await
            .expect("provider answers");
        for set in resp.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            jar.retain(|(k, _)| k != name);
            jar.push((name.to_owned(), value.to_owned()));
        }
        let location = resp
            .headers()
            .get("location")
            .unwrap_or_else(|| panic!("provider stopped with {}", resp.status()))
            .to_str()
            .unwrap()
            .to_owned();
        let next = url.join(&location).unwrap();
        if next
            .as_str()
            .starts_with(&format!("{ORIGIN}/api/auth/callback/{PROVIDER}"))
        {
            return next.query().unwrap_or("").to_owned();
        }
        url = next;
    }
    panic!("the provider never redirected back");
}

/// The callback, as the browser that started the sign-in sends it (`cookie`, when given).
async fn callback(app: &TestApp, query: &str, cookie: Option<&str>) -> Resp {
    app.send(
        Method::GET,
        &format!("/callback/{PROVIDER}?{query}"),
        None,
        cookie,
        &[],
    )
    .await
}

/// The whole flow for `hint`; the callback's answer.
async fn sign_in_through_provider(app: &TestApp, hint: &str, extra: Value) -> Resp {
    let mut body = json!({ "provider": PROVIDER, "callbackURL": "/tasks", "loginHint": hint });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    let started = start(app, body).await;
    let query = at_provider(&started.url).await;
    callback(app, &query, Some(&started.cookie)).await
}

/// The session cookie pair a callback set.
fn session_cookie(app: &TestApp, resp: &Resp) -> String {
    resp.set_cookie(&app.state.cookies.session_token)
        .expect("session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

on_both_backends! {
    config = with_provider;

    async fn a_first_social_sign_in_creates_the_user_and_a_second_finds_them(app) {
        let hint = fresh_hint("new-");
        let resp = app.post("/sign-in/social", json!({
            "provider": PROVIDER, "callbackURL": "/tasks", "newUserCallbackURL": "/welcome",
            "loginHint": hint,
        })).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        let url = resp.body["url"].as_str().unwrap().to_owned();
        assert_eq!(resp.body["redirect"], json!(true));
        assert_eq!(resp.header("location"), Some(url.as_str()));
        assert!(url.starts_with(&format!("{}/auth?response_type=code&client_id=tessera-test&state=", issuer())), "{url}");
        assert_eq!(query_param(&url, "scope").as_deref(), Some("openid email profile"));
        assert_eq!(query_param(&url, "redirect_uri").as_deref(), Some(format!("{ORIGIN}/api/auth/callback/{PROVIDER}").as_str()));
        assert_eq!(query_param(&url, "code_challenge_method").as_deref(), Some("S256"));
        // The state row is Better Auth's: the verifier behind the challenge, the nonce sent.
        let state = query_param(&url, "state").unwrap();
        let rows = app.raw_sql(&format!(r#"SELECT "value" FROM "verification" WHERE "identifier" = 'auth-state:{state}'"#)).await;
        let data: Value = serde_json::from_str(&rows[0]).unwrap();
        let verifier = data["codeVerifier"].as_str().unwrap();
        assert_eq!(verifier.len(), 128);
        let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
        assert_eq!(query_param(&url, "code_challenge"), Some(challenge));
        assert_eq!(query_param(&url, "nonce").as_deref(), data["idTokenNonce"].as_str());
        assert_eq!((data["callbackURL"].as_str(), data["newUserURL"].as_str(), data["oauthState"].as_str()), (Some("/tasks"), Some("/welcome"), Some(state.as_str())));
        let cookie = resp.set_cookie(&app.state.cookies.oauth_state).unwrap();
        assert!(cookie.contains("Max-Age=300; Path=/; HttpOnly; SameSite=Lax"), "{cookie}");

        let query = at_provider(&url).await;
        let done = callback(&app, &query, Some(cookie.split(';').next().unwrap())).await;
        assert_eq!((done.status, done.header("location")), (302, Some("/welcome")), "{}", done.text);
        assert!(done.set_cookies().iter().any(|c| c.starts_with("better-auth.state=; Max-Age=0")), "the state cookie is expired");
        let session = session_cookie(&app, &done);
        let me = app.send(Method::GET, "/get-session", None, Some(&session), &[]).await;
        assert_eq!(me.body["user"]["email"], json!(format!("{hint}@oidc.test")));
        assert_eq!(me.body["user"]["emailVerified"], json!(true));
        assert_eq!(me.body["user"]["name"], json!(format!("Test {hint}")));
        assert_eq!(me.body["user"]["image"], json!(format!("https://images.oidc.test/{hint}.png")));
        let user_id = me.body["user"]["id"].as_str().unwrap().to_owned();
        let account = app.raw_sql(&format!(
            r#"SELECT "providerId" || '|' || "accountId" || '|' || "scope" || '|' || CASE WHEN "accessToken" IS NULL THEN 'no' ELSE 'yes' END
               || '|' || CASE WHEN "idToken" LIKE 'eyJ%' THEN 'jwt' ELSE 'no' END || '|' || CASE WHEN "accessTokenExpiresAt" IS NULL THEN 'no' ELSE 'yes' END
               FROM "account" WHERE "userId" = '{user_id}'"#)).await;
        assert_eq!(account, vec![format!("{PROVIDER}|{hint}|openid,email,profile|yes|jwt|yes")]);
        assert_eq!(audit_events(&app, AuditKind::SignUp).await.len(), 1);

        let again = sign_in_through_provider(&app, &hint, json!({ "newUserCallbackURL": "/welcome" })).await;
        assert_eq!((again.status, again.header("location")), (302, Some("/tasks")), "a known user goes to callbackURL");
        let me = app.send(Method::GET, "/get-session", None, Some(&session_cookie(&app, &again)), &[]).await;
        assert_eq!(me.body["user"]["id"], json!(user_id));
        let accounts = app.raw_sql(&format!(r#"SELECT "id" FROM "account" WHERE "userId" = '{user_id}'"#)).await;
        assert_eq!(accounts.len(), 1, "one account, its tokens refreshed");
    }

    async fn a_state_is_spent_by_its_first_callback(app) {
        let hint = fresh_hint("replay-");
        let started = start(&app, json!({ "provider": PROVIDER, "callbackURL": "/tasks", "errorCallbackURL": "/sign-in?x=1", "loginHint": hint })).await;
        let query = at_provider(&started.url).await;
        let first = callback(&app, &query, Some(&started.cookie)).await;
        assert_eq!(first.header("location"), Some("/tasks"));
        let replay = callback(&app, &query, Some(&started.cookie)).await;
        assert_eq!((replay.status, replay.header("location")), (302, Some(format!("{ORIGIN}/api/auth/error?error=state_mismatch").as_str())));
        assert!(replay.set_cookie(&app.state.cookies.session_token).is_none());
    }

    async fn a_callback_from_another_browser_is_refused_and_spends_the_state(app) {
        let started = start(&app, json!({ "provider": PROVIDER, "callbackURL": "/tasks", "errorCallbackURL": "/sign-in", "loginHint": fresh_hint("csrf-") })).await;
        let query = at_provider(&started.url).await;
        let stranger = callback(&app, &query, None).await;
        assert_eq!((stranger.status, stranger.header("location")), (302, Some("/sign-in?error=state_mismatch")));
        let forged = callback(&app, &query, Some("better-auth.state=abc.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D")).await;
        assert_eq!(forged.header("location"), Some(format!("{ORIGIN}/api/auth/error?error=state_mismatch").as_str()), "the state is gone");
        let owner = callback(&app, &query, Some(&started.cookie)).await;
        assert!(owner.header("location").unwrap().ends_with("error=state_mismatch"), "even its own browser cannot use it now");
        let failed = audit_events(&app, AuditKind::SignInFailed).await;
        assert!(failed.iter().all(|e| e.reason.as_deref() == Some("state_mismatch")) && failed.len() == 3);
    }

    async fn a_callback_without_a_known_state_goes_to_the_default_error_page(app) {
        let none = callback(&app, "code=abc", None).await;
        assert_eq!(none.header("location"), Some(format!("{ORIGIN}/api/auth/error?error=state_not_found").as_str()));
        let unknown = callback(&app, "code=abc&state=nothing-like-this", None).await;
        assert_eq!(unknown.header("location"), Some(format!("{ORIGIN}/api/auth/error?error=state_mismatch").as_str()));
    }

    async fn a_denied_consent_lands_on_the_error_callback_with_the_providers_words(app) {
        let resp = sign_in_through_provider(&app, "deny", json!({ "errorCallbackURL": "/sign-in" })).await;
        assert_eq!(resp.status, 302);
        assert_eq!(resp.header("location"), Some("/sign-in?error=access_denied&error_description=The+user+denied+the+request"));
        assert!(resp.set_cookie(&app.state.cookies.session_token).is_none());
    }

    async fn an_expired_id_token_signs_nobody_in(app) {
        let started = start(&app, json!({ "provider": PROVIDER, "callbackURL": "/tasks", "errorCallbackURL": "/sign-in", "loginHint": fresh_hint("late-") })).await;
        let query = at_provider(&started.url).await;
        // The provider's ID tokens live 60 s; 30 s of leeway; the state 10 minutes.
        app.clock.advance(chrono::Duration::seconds(120));
        let resp = callback(&app, &query, Some(&started.cookie)).await;
        assert_eq!(resp.header("location"), Some("/sign-in?error=unable_to_get_user_info"));
        assert!(resp.set_cookie(&app.state.cookies.session_token).is_none());
    }

    async fn an_answer_naming_another_issuer_is_refused(app) {
        let started = start(&app, json!({ "provider": PROVIDER, "callbackURL": "/tasks", "errorCallbackURL": "/sign-in", "loginHint": fresh_hint("mixup-") })).await;
        let query = at_provider(&started.url).await;
        assert!(query.contains("&iss="), "the provider names itself (RFC 9207): {query}");
        let (before, _) = query.split_once("&iss=").unwrap();
        let resp = callback(&app, &format!("{before}&iss=https%3A%2F%2Fidp.evil.test"), Some(&started.cookie)).await;
        assert_eq!(resp.header("location"), Some("/sign-in?error=issuer_mismatch"));
    }

    async fn a_discovery_document_naming_another_issuer_makes_the_provider_unusable(app) {
        let resp = app.post("/sign-in/social", json!({ "provider": "renamed-issuer", "callbackURL": "/tasks" })).await;
        assert_eq!((resp.status, resp.code()), (404, "PROVIDER_NOT_FOUND"), "{}", resp.text);
        let rows = app.raw_sql(r#"SELECT "identifier" FROM "verification""#).await;
        assert!(rows.is_empty(), "no state was written: {rows:?}");
    }

    async fn a_state_older_than_ten_minutes_is_refused(app) {
        let started = start(&app, json!({ "provider": PROVIDER, "callbackURL": "/tasks", "errorCallbackURL": "/sign-in", "loginHint": fresh_hint("slow-") })).await;
        let query = at_provider(&started.url).await;
        app.clock.advance(chrono::Duration::seconds(601));
        let resp = callback(&app, &query, Some(&started.cookie)).await;
        assert_eq!(resp.header("location"), Some("/sign-in?error=state_mismatch"));
    }

    async fn an_id_token_the_client_holds_signs_in_and_a_forged_or_foreign_one_does_not(app) {
        let hint = fresh_hint("idt-");
        let done = sign_in_through_provider(&app, &hint, json!({})).await;
        assert_eq!(done.header("location"), Some("/tasks"));
        let rows = app.raw_sql(&format!(r#"SELECT "idToken" FROM "account" WHERE "accountId" = '{hint}'"#)).await;
        let id_token = rows[0].clone();
        let nonce = jwt_payload(&id_token)["nonce"].as_str().unwrap().to_owned();
        let ok = app.post("/sign-in/social", json!({ "provider": PROVIDER, "idToken": { "token": id_token, "nonce": nonce } })).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        assert_eq!((ok.body["redirect"].clone(), ok.body["user"]["email"].clone()), (json!(false), json!(format!("{hint}@oidc.test"))));
        assert!(ok.body["token"].is_string() && ok.set_cookie(&app.state.cookies.session_token).is_some());
        let invalid = json!({ "message": "Invalid token", "code": "INVALID_TOKEN" });
        let (head, sig) = id_token.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        let forged = format!("{head}.{flipped}{}", &sig[1..]);
        let resp = app.post("/sign-in/social", json!({ "provider": PROVIDER, "idToken": { "token": forged } })).await;
        assert_eq!((resp.status, resp.body.clone()), (401, invalid.clone()), "a bad signature");
        let resp = app.post("/sign-in/social", json!({ "provider": PROVIDER, "idToken": { "token": id_token, "nonce": "another-nonce" } })).await;
        assert_eq!((resp.status, resp.body.clone()), (401, invalid.clone()), "another nonce");
        let resp = app.post("/sign-in/social", json!({ "provider": "other-client", "idToken": { "token": id_token } })).await;
        assert_eq!((resp.status, resp.body.clone()), (401, invalid.clone()), "a token issued to another client");
        app.clock.advance(chrono::Duration::seconds(120));
        let resp = app.post("/sign-in/social", json!({ "provider": PROVIDER, "idToken": { "token": id_token } })).await;
        assert_eq!((resp.status, resp.body.clone()), (401, invalid), "an expired token");
    }

    async fn no_code_state_or_provider_token_reaches_a_log_line(app) {
        let logs = crate::audit::capture_audit_logs();
        let hint = fresh_hint("quiet-");
        let started = start(&app, json!({ "provider": PROVIDER, "callbackURL": "/tasks", "loginHint": hint })).await;
        let query = at_provider(&started.url).await;
        let code = query_param(&format!("http://x/?{query}"), "code").unwrap();
        let state = query_param(&format!("http://x/?{query}"), "state").unwrap();
        let done = callback(&app, &query, Some(&started.cookie)).await;
        assert_eq!(done.header("location"), Some("/tasks"));
        // A code the provider refuses, and a replay, are logged as failures, without the code.
        let refused = start(&app, json!({ "provider": PROVIDER, "callbackURL": "/tasks" })).await;
        let refused_state = query_param(&refused.url, "state").unwrap();
        callback(&app, &format!("state={refused_state}&code=not-a-real-code-{hint}"), Some(&refused.cookie)).await;
        callback(&app, &query, Some(&started.cookie)).await;
        let rows = app.raw_sql(&format!(r#"SELECT "accessToken" || ' ' || "idToken" FROM "account" WHERE "accountId" = '{hint}'"#)).await;
        let text = logs.text();
        assert!(text.contains("authorization code refused") && text.contains("sign_in"), "the flow was logged: {text}");
        let secrets: Vec<String> = rows[0].split(' ').map(str::to_owned)
            .chain([code, state, refused_state, format!("not-a-real-code-{hint}"), "tessera-test-secret".into()])
            .collect();
        for secret in secrets {
            assert!(!text.contains(&secret), "{secret} was logged");
        }
    }

    async fn an_id_token_with_another_nonce_signs_nobody_in(app) {
        let started = start(&app, json!({ "provider": PROVIDER, "callbackURL": "/tasks", "errorCallbackURL": "/sign-in", "loginHint": fresh_hint("nonce-") })).await;
        let query = at_provider(&started.url).await;
        // The state now expects a nonce the provider never saw.
        let state = query_param(&format!("http://x/?{query}"), "state").unwrap();
        let id = format!("auth-state:{state}");
        let rows = app.raw_sql(&format!(r#"SELECT "value" FROM "verification" WHERE "identifier" = '{id}'"#)).await;
        let mut data: Value = serde_json::from_str(&rows[0]).unwrap();
        data["idTokenNonce"] = json!("a-nonce-of-another-sign-in");
        app.raw_sql(&format!(r#"UPDATE "verification" SET "value" = '{data}' WHERE "identifier" = '{id}' RETURNING "id""#)).await;
        let resp = callback(&app, &query, Some(&started.cookie)).await;
        assert_eq!(resp.header("location"), Some("/sign-in?error=unable_to_get_user_info"));
    }

    async fn redirect_targets_must_be_trusted_and_the_provider_configured(app) {
        let evil = app.post("/sign-in/social", json!({ "provider": PROVIDER, "callbackURL": "https://evil.test/x" })).await;
        assert_eq!((evil.status, evil.code()), (403, "INVALID_CALLBACK_URL"));
        let evil = app.post("/sign-in/social", json!({ "provider": PROVIDER, "errorCallbackURL": "https://evil.test/x" })).await;
        assert_eq!((evil.status, evil.code()), (403, "INVALID_ERROR_CALLBACK_URL"));
        let evil = app.post("/sign-in/social", json!({ "provider": PROVIDER, "newUserCallbackURL": "//evil.test" })).await;
        assert_eq!((evil.status, evil.code()), (403, "INVALID_NEW_USER_CALLBACK_URL"));
        let unknown = app.post("/sign-in/social", json!({ "provider": "nope" })).await;
        assert_eq!((unknown.status, unknown.body.clone()), (404, json!({ "message": "Provider not found", "code": "PROVIDER_NOT_FOUND" })));
        let reserved = app.post("/sign-in/social", json!({ "provider": PROVIDER, "additionalParams": { "state": "x" } })).await;
        assert_eq!((reserved.status, reserved.code()), (400, "VALIDATION_ERROR"));
    }

    async fn without_redirect_the_url_is_only_returned(app) {
        let resp = app.post("/sign-in/social", json!({ "provider": PROVIDER, "disableRedirect": true, "scopes": ["offline_access"] })).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(resp.body["redirect"], json!(false));
        assert!(resp.header("location").is_none());
        let url = resp.body["url"].as_str().unwrap();
        assert_eq!(query_param(url, "scope").as_deref(), Some("openid offline_access email profile"), "the request's scopes first, openid put in front");
        let state = query_param(url, "state").unwrap();
        let rows = app.raw_sql(&format!(r#"SELECT "value" FROM "verification" WHERE "identifier" = 'auth-state:{state}'"#)).await;
        let data: Value = serde_json::from_str(&rows[0]).unwrap();
        assert_eq!(data["callbackURL"], json!(ORIGIN), "callbackURL defaults to the base URL");
    }

    async fn a_form_post_answer_is_resent_as_a_query(app) {
        let resp = app.send(Method::POST, &format!("/callback/{PROVIDER}?iss=q"), None, None, &[]).await;
        assert_eq!(resp.status, 302);
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let posted = client.post(app.url(&format!("/callback/{PROVIDER}?iss=from-query")))
            .form(&[("state", "s1"), ("code", "c 1"), ("iss", "from-body")])
            .send().await.unwrap();
        assert_eq!(posted.status(), 302);
        assert_eq!(
            posted.headers()["location"].to_str().unwrap(),
            format!("{ORIGIN}/api/auth/callback/{PROVIDER}?code=c+1&state=s1&iss=from-query")
        );
    }

    async fn an_existing_user_is_linked_only_through_a_verified_email(app) {
        let hint = fresh_hint("link-");
        let email = format!("{hint}@oidc.test");
        let signed_up = app.post("/sign-up/email", json!({ "name": "Local", "email": email, "password": PASSWORD })).await;
        assert_eq!(signed_up.status, 200, "{}", signed_up.text);
        let local_id = signed_up.body["user"]["id"].as_str().unwrap().to_owned();
        // Whoever registered the address first never proved it: no silent takeover.
        let refused = sign_in_through_provider(&app, &hint, json!({ "errorCallbackURL": "/sign-in" })).await;
        assert_eq!(refused.header("location"), Some("/sign-in?error=account_not_linked"));
        app.raw_sql(&format!(r#"UPDATE "user" SET "emailVerified" = true WHERE "id" = '{local_id}' RETURNING "id""#)).await;
        let linked = sign_in_through_provider(&app, &hint, json!({ "errorCallbackURL": "/sign-in" })).await;
        assert_eq!(linked.header("location"), Some("/tasks"), "{:?}", linked.header("location"));
        let me = app.send(Method::GET, "/get-session", None, Some(&session_cookie(&app, &linked)), &[]).await;
        assert_eq!(me.body["user"]["id"], json!(local_id));
        let providers = app.raw_sql(&format!(r#"SELECT "providerId" FROM "account" WHERE "userId" = '{local_id}' ORDER BY "providerId""#)).await;
        assert_eq!(providers, vec!["credential".to_owned(), PROVIDER.to_owned()]);
        assert_eq!(audit_events(&app, AuditKind::AccountLinked).await.len(), 1);
    }

    async fn an_account_is_unlinked_only_from_a_fresh_session_and_never_the_last(app) {
        let hint = fresh_hint("unlink-");
        let email = format!("{hint}@oidc.test");
        let signed_up = app.post("/sign-up/email", json!({ "name": "Local", "email": email, "password": PASSWORD })).await;
        let local_id = signed_up.body["user"]["id"].as_str().unwrap().to_owned();
        app.raw_sql(&format!(r#"UPDATE "user" SET "emailVerified" = true WHERE "id" = '{local_id}' RETURNING "id""#)).await;
        let linked = sign_in_through_provider(&app, &hint, json!({})).await;
        let cookie = session_cookie(&app, &linked);
        let accounts = app.send(Method::GET, "/list-accounts", None, Some(&cookie), &[]).await;
        let ids: Vec<(String, String)> = accounts.body.as_array().unwrap().iter()
            .map(|a| (a["providerId"].as_str().unwrap().to_owned(), a["id"].as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(ids.len(), 2, "{}", accounts.text);
        let social_id = ids.iter().find(|(p, _)| p == PROVIDER).unwrap().1.clone();
        let unknown = app.send(Method::POST, "/unlink-account", Some(json!({ "accountId": "no-such-account" })), Some(&cookie), &[]).await;
        assert_eq!((unknown.status, unknown.body.clone()), (400, json!({ "message": "Account not found", "code": "ACCOUNT_NOT_FOUND" })));
        let done = app.send(Method::POST, "/unlink-account", Some(json!({ "accountId": social_id })), Some(&cookie), &[]).await;
        assert_eq!((done.status, done.body.clone()), (200, json!({ "status": true })), "{}", done.text);
        assert_eq!(audit_events(&app, AuditKind::AccountUnlinked).await.len(), 1);
        let credential_id = ids.iter().find(|(p, _)| p == "credential").unwrap().1.clone();
        let last = app.send(Method::POST, "/unlink-account", Some(json!({ "accountId": credential_id })), Some(&cookie), &[]).await;
        assert_eq!((last.status, last.body.clone()), (400, json!({ "message": "You can't unlink your last account", "code": "FAILED_TO_UNLINK_LAST_ACCOUNT" })));
        assert_eq!(app.post("/sign-in/email", json!({ "email": email, "password": PASSWORD })).await.status, 200, "the password still signs in");
        // The provider account can be linked again, and then unlinked only from a fresh session.
        let again = sign_in_through_provider(&app, &hint, json!({})).await;
        let cookie = session_cookie(&app, &again);
        app.clock.advance(chrono::Duration::hours(25));
        let stale = app.send(Method::POST, "/unlink-account", Some(json!({ "accountId": credential_id })), Some(&cookie), &[]).await;
        assert_eq!((stale.status, stale.code()), (403, "SESSION_NOT_FRESH"));
    }

    async fn a_provider_that_does_not_vouch_for_the_email_links_nobody(app) {
        let hint = fresh_hint("unverified-");
        let email = format!("{hint}@oidc.test");
        let signed_up = app.post("/sign-up/email", json!({ "name": "Local", "email": email, "password": PASSWORD })).await;
        let local_id = signed_up.body["user"]["id"].as_str().unwrap().to_owned();
        app.raw_sql(&format!(r#"UPDATE "user" SET "emailVerified" = true WHERE "id" = '{local_id}' RETURNING "id""#)).await;
        let refused = sign_in_through_provider(&app, &hint, json!({ "errorCallbackURL": "/sign-in" })).await;
        assert_eq!(refused.header("location"), Some("/sign-in?error=account_not_linked"));
        // A brand-new unverified user is created as such.
        let other = fresh_hint("unverified-");
        let created = sign_in_through_provider(&app, &other, json!({})).await;
        let me = app.send(Method::GET, "/get-session", None, Some(&session_cookie(&app, &created)), &[]).await;
        assert_eq!(me.body["user"]["emailVerified"], json!(false));
    }
}

fn trusting_the_provider(config: &mut AuthConfig) {
    with_provider(config);
    config.social.trusted_providers = vec![PROVIDER.into()];
}

on_both_backends! {
    config = trusting_the_provider;

    async fn a_trusted_provider_links_even_without_saying_the_email_is_verified(app) {
        let hint = fresh_hint("unverified-");
        let email = format!("{hint}@oidc.test");
        let signed_up = app.post("/sign-up/email", json!({ "name": "Local", "email": email, "password": PASSWORD })).await;
        let local_id = signed_up.body["user"]["id"].as_str().unwrap().to_owned();
        app.raw_sql(&format!(r#"UPDATE "user" SET "emailVerified" = true WHERE "id" = '{local_id}' RETURNING "id""#)).await;
        let linked = sign_in_through_provider(&app, &hint, json!({})).await;
        assert_eq!(linked.header("location"), Some("/tasks"));
    }
}

fn sealing_provider_tokens(config: &mut AuthConfig) {
    with_provider(config);
    config.social.encrypt_oauth_tokens = true;
}

on_both_backends! {
    config = sealing_provider_tokens;

    async fn with_encrypt_oauth_tokens_the_provider_tokens_are_stored_sealed_under_the_secret(app) {
        let hint = fresh_hint("sealed-");
        let done = sign_in_through_provider(&app, &hint, json!({})).await;
        assert_eq!(done.header("location"), Some("/tasks"));
        let rows = app.raw_sql(&format!(r#"SELECT "accessToken" FROM "account" WHERE "accountId" = '{hint}'"#)).await;
        let stored = rows[0].clone();
        assert!(stored.len() > 80 && stored.bytes().all(|b| b.is_ascii_hexdigit()), "sealed hex: {stored}");
        // What the secret opens is the provider's own access token: its user-info endpoint takes it.
        let token = tessera_auth::secret::SecretSet::single(Secret::new(SECRET)).decrypt(&stored).expect("opens with the secret");
        let info: Value = reqwest::Client::new().get(format!("{}/me", issuer())).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        assert_eq!(info["sub"], json!(hint));
        let id_tokens = app.raw_sql(&format!(r#"SELECT "idToken" FROM "account" WHERE "accountId" = '{hint}'"#)).await;
        assert!(id_tokens[0].starts_with("eyJ"), "ID tokens are kept as sent, as Better Auth does");
    }
}
