//! Passkeys (Better Auth's `@better-auth/passkey` plugin): registration and sign-in driven by a
//! software authenticator (an ES256 key made with ring, attestation `none`, the CBOR a real
//! authenticator writes), the `passkey` rows in Better Auth's formats, the challenge's single
//! use and lifetime, sign-count regression, failed attempts counted and audited, and the
//! owner-only list, rename and delete — on SQLite and PostgreSQL.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Duration;
use reqwest::Method;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde_cbor_2::Value as Cbor;
use serde_json::{Value, json};
use tessera_auth::audit::AuditKind;
use tessera_auth::config::AuthConfig;

use crate::helpers::*;

/// A software passkey: one ES256 credential, its signature counter, and the origin its
/// "browser" reports.
struct SoftPasskey {
    key: EcdsaKeyPair,
    credential_id: Vec<u8>,
    counter: u32,
    origin: String,
}

impl SoftPasskey {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let credential_id = tessera_auth::ids::generate_id(16).into_bytes();
        Self {
            key,
            credential_id,
            counter: 0,
            origin: ORIGIN.to_owned(),
        }
    }

    fn id(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.credential_id)
    }

    /// The COSE_Key of the public key: kty EC2, alg ES256, crv P-256, x, y.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        let mut map = BTreeMap::new();
        map.insert(Cbor::Integer(1), Cbor::Integer(2));
        map.insert(Cbor::Integer(3), Cbor::Integer(-7));
        map.insert(Cbor::Integer(-1), Cbor::Integer(1));
        map.insert(Cbor::Integer(-2), Cbor::Bytes(point[1..33].to_vec()));
        map.insert(Cbor::Integer(-3), Cbor::Bytes(point[33..65].to_vec()));
        serde_cbor_2::to_vec(&Cbor::Map(map)).unwrap()
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false})
            .to_string()
            .into_bytes()
    }

    /// `navigator.credentials.create()`'s answer to `options`, as the browser serialises it.
    fn register(&self, options: &Value) -> Value {
        let rp_id = options["rp"]["id"].as_str().unwrap();
        let challenge = options["challenge"].as_str().unwrap();
        let mut auth_data = ring::digest::digest(&ring::digest::SHA256, rp_id.as_bytes())
            .as_ref()
            .to_vec();
        auth_data.push(0x01 | 0x04 | 0x40); // user present, user verified, attested data
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        auth_data.extend_from_slice(&[0xAB; 16]); // AAGUID
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&self.cose_key());
        let mut object = BTreeMap::new();
        object.insert(Cbor::Text("fmt".into()), Cbor::Text("none".into()));
        object.insert(Cbor::Text("attStmt".into()), Cbor::Map(BTreeMap::new()));
        object.insert(Cbor::Text("authData".into()), Cbor::Bytes(auth_data));
        let attestation = serde_cbor_2::to_vec(&Cbor::Map(object)).unwrap();
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "response": {
                "clientDataJSON": URL_SAFE_NO_PAD.encode(self.client_data("webauthn.create", challenge)),
                "attestationObject": URL_SAFE_NO_PAD.encode(attestation),
                "transports": ["internal", "hybrid"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        })
    }

    /// `navigator.credentials.get()`'s answer to `options`, the counter advanced first.
    fn assert(&mut self, options: &Value) -> Value {
        self.counter += 1;
        self.assertion(options, self.counter)
    }

    /// An assertion carrying `counter`, whatever the authenticator's own.
    fn assertion(&self, options: &Value, counter: u32) -> Value {
        let rp_id = options["rpId"].as_str().unwrap();
        let challenge = options["challenge"].as_str().unwrap();
        let mut auth_data = ring::digest::digest(&ring::digest::SHA256, rp_id.as_bytes())
            .as_ref()
            .to_vec();
        auth_data.push(0x01 | 0x04);
        auth_data.extend_from_slice(&counter.to_be_bytes());
        let client_data = self.client_data("webauthn.get", challenge);
        let mut signed = auth_data.clone();
        signed
            .extend_from_slice(ring::digest::digest(&ring::digest::SHA256, &client_data).as_ref());
        let signature = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "response": {
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
                "authenticatorData": URL_SAFE_NO_PAD.encode(auth_data),
                "signature": URL_SAFE_NO_PAD.encode(signature.as_ref()),
            },
            "clientExtensionResults": {},
        })
    }
}

fn passkeys_on(config: &mut AuthConfig) {
    config.passkey.enabled = true;
}

/// `name=value` of the challenge cookie a response set.
fn challenge_cookie(app: &TestApp, resp: &Resp) -> String {
    let name = app.state.cookies.named("better-auth-passkey");
    let set = resp.set_cookie(&name).expect("challenge cookie");
    set.split(';').next().unwrap().to_owned()
}

/// Registration options for `user`, and the cookie string to send back (session + challenge).
async fn register_options(app: &TestApp, user: &TestUser) -> (Value, String) {
    let resp = app.get_as(user, "/passkey/generate-register-options").await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let cookie = format!("{}; {}", user.cookie, challenge_cookie(app, &resp));
    (resp.body, cookie)
}

/// Registers `key` for `user`; the stored passkey as answered.
async fn register(app: &TestApp, user: &TestUser, key: &SoftPasskey) -> Value {
    let (options, cookie) = register_options(app, user).await;
    let body = json!({"response": key.register(&options), "name": "  Laptop  "});
    let resp = app
        .send(
            Method::POST,
            "/passkey/verify-registration",
            Some(body),
            Some(&cookie),
            &[],
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp.body
}

/// Anonymous authentication options and the challenge cookie.
async fn authenticate_options(app: &TestApp) -> (Value, String) {
    let resp = app.get("/passkey/generate-authenticate-options").await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let cookie = challenge_cookie(app, &resp);
    (resp.body, cookie)
}

/// Sends `assertion` with the challenge `cookie`.
async fn sign_in_with(app: &TestApp, assertion: Value, cookie: &str) -> Resp {
    app.send(
        Method::POST,
        "/passkey/verify-authentication",
        Some(json!({ "response": assertion })),
        Some(cookie),
        &[],
    )
    .await
}

on_both_backends! {
    config = passkeys_on;

    async fn a_registered_passkey_signs_in_with_an_ordinary_session(app) {
        let user = app.sign_up().await;
        let mut key = SoftPasskey::new();
        let stored = register(&app, &user, &key).await;
        assert_eq!(stored["name"], "Laptop", "the name is trimmed");
        assert_eq!(stored["userId"], user.id);
        assert_eq!(stored["credentialID"], key.id());
        assert_eq!(stored["counter"], 0);
        assert_eq!(stored["deviceType"], "singleDevice");
        assert_eq!(stored["backedUp"], false);
        assert_eq!(stored["transports"], "internal,hybrid");
        assert_eq!(stored["aaguid"], "abababab-abab-abab-abab-abababababab");
        // Better Auth's format: standard base64 of the COSE key the authenticator sent.
        assert_eq!(stored["publicKey"], STANDARD.encode(key.cose_key()));

        let (options, cookie) = authenticate_options(&app).await;
        assert_eq!(options["rpId"], "localhost");
        assert!(options.get("allowCredentials").is_none(), "anonymous: a discoverable sign-in");
        let resp = sign_in_with(&app, key.assert(&options), &cookie).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(resp.body["user"]["id"], user.id);
        let token = resp.body["session"]["token"].as_str().unwrap().to_owned();
        let session_cookie = resp.set_cookie(&app.state.cookies.session_token).expect("session cookie");
        assert!(resp.header("set-auth-token").is_some(), "the bearer plugin's header, as for any sign-in");
        let pair = session_cookie.split(';').next().unwrap();
        let me = app.send(Method::GET, "/get-session", None, Some(pair), &[]).await;
        assert_eq!(me.body["session"]["token"], token, "{}", me.text);
        let listed = app.get_as(&user, "/passkey/list-user-passkeys").await;
        assert_eq!(listed.body[0]["counter"], 1, "the counter advanced");
        let signed_in: Vec<_> = audit_events(&app, AuditKind::SignIn).await.into_iter()
            .filter(|e| e.detail.as_deref().is_some_and(|d| d.contains(r#""via":"passkey""#))).collect();
        assert_eq!(signed_in.len(), 1);
        assert_eq!(audit_events(&app, AuditKind::PasskeyAdded).await.len(), 1);
    }

    async fn registration_with_create_session_answers_the_passkey_with_a_new_session(app) {
        let user = app.sign_up().await;
        let key = SoftPasskey::new();
        let (options, cookie) = register_options(&app, &user).await;
        let body = json!({"response": key.register(&options), "createSession": true});
        let resp = app.send(Method::POST, "/passkey/verify-registration", Some(body), Some(&cookie), &[]).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(resp.body["credentialID"], key.id());
        assert_eq!(resp.body["user"]["id"], user.id);
        let token = resp.body["session"]["token"].as_str().expect("a session");
        assert_ne!(token, user.token, "a new session, not the one registering");
        assert!(resp.set_cookie(&app.state.cookies.session_token).is_some());
        assert_eq!(resp.body["name"], Value::Null, "no name given");
    }

    async fn a_signed_in_callers_options_allow_only_their_passkeys(app) {
        let user = app.sign_up().await;
        let key = SoftPasskey::new();
        register(&app, &user, &key).await;
        let resp = app.get_as(&user, "/passkey/generate-authenticate-options").await;
        assert_eq!(resp.body["allowCredentials"], json!([{"id": key.id(), "transports": ["internal", "hybrid"], "type": "public-key"}]));
        let (options, _) = register_options(&app, &user).await;
        assert_eq!(options["excludeCredentials"][0]["id"], key.id(), "a second registration excludes it");
        assert_eq!(options["user"]["name"], user.email);
        assert_eq!(options["authenticatorSelection"], json!({"residentKey": "preferred", "userVerification": "preferred", "requireResidentKey": false}));
        assert_eq!(options["attestation"], "none");
    }

    async fn a_challenge_serves_one_ceremony_only(app) {
        let user = app.sign_up().await;
        let mut key = SoftPasskey::new();
        register(&app, &user, &key).await;
        let (options, cookie) = authenticate_options(&app).await;
        let assertion = key.assert(&options);
        assert_eq!(sign_in_with(&app, assertion.clone(), &cookie).await.status, 200);
        let again = sign_in_with(&app, assertion, &cookie).await;
        assert_eq!((again.status, again.code()), (400, "CHALLENGE_NOT_FOUND"), "{}", again.text);
    }

    async fn a_challenge_older_than_five_minutes_is_refused(app) {
        let user = app.sign_up().await;
        let mut key = SoftPasskey::new();
        register(&app, &user, &key).await;
        let (options, cookie) = authenticate_options(&app).await;
        app.clock.advance(Duration::seconds(301));
        let resp = sign_in_with(&app, key.assert(&options), &cookie).await;
        assert_eq!((resp.status, resp.code()), (400, "CHALLENGE_NOT_FOUND"), "{}", resp.text);
    }

    async fn a_sign_count_that_does_not_increase_is_refused_and_audited(app) {
        let user = app.sign_up().await;
        let key = SoftPasskey::new();
        register(&app, &user, &key).await;
        let (options, cookie) = authenticate_options(&app).await;
        assert_eq!(sign_in_with(&app, key.assertion(&options, 5), &cookie).await.status, 200);
        let (options, cookie) = authenticate_options(&app).await;
        let cloned = sign_in_with(&app, key.assertion(&options, 5), &cookie).await;
        assert_eq!((cloned.status, cloned.code()), (400, "AUTHENTICATION_FAILED"), "{}", cloned.text);
        let (options, cookie) = authenticate_options(&app).await;
        assert_eq!(sign_in_with(&app, key.assertion(&options, 6), &cookie).await.status, 200);
        let failed = audit_events(&app, AuditKind::SignInFailed).await;
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].reason.as_deref(), Some("invalid_passkey"));
        assert_eq!(failed[0].user_id.as_deref(), Some(user.id.as_str()));
    }

    async fn an_assertion_from_another_origin_or_with_a_bad_signature_is_refused(app) {
        let user = app.sign_up().await;
        let mut key = SoftPasskey::new();
        register(&app, &user, &key).await;
        let (options, cookie) = authenticate_options(&app).await;
        let mut forged = key.assert(&options);
        forged["response"]["signature"] = json!(URL_SAFE_NO_PAD.encode([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]));
        let resp = sign_in_with(&app, forged, &cookie).await;
        assert_eq!((resp.status, resp.code()), (401, "AUTHENTICATION_FAILED"), "{}", resp.text);
        key.origin = "http://evil.example".to_owned();
        let (options, cookie) = authenticate_options(&app).await;
        let resp = sign_in_with(&app, key.assert(&options), &cookie).await;
        assert_eq!((resp.status, resp.code()), (400, "AUTHENTICATION_FAILED"), "{}", resp.text);
        assert!(resp.set_cookie(&app.state.cookies.session_token).is_none());
        assert_eq!(audit_events(&app, AuditKind::SignInFailed).await.len(), 2);
    }

    async fn failed_passkey_sign_ins_count_in_the_accounts_failed_attempt_limit(app) {
        let user = app.sign_up().await;
        let mut key = SoftPasskey::new();
        register(&app, &user, &key).await;
        key.origin = "http://evil.example".to_owned();
        for _ in 0..10 {
            let (options, cookie) = authenticate_options(&app).await;
            assert_eq!(sign_in_with(&app, key.assert(&options), &cookie).await.status, 400);
        }
        key.origin = ORIGIN.to_owned();
        let (options, cookie) = authenticate_options(&app).await;
        let resp = sign_in_with(&app, key.assert(&options), &cookie).await;
        assert_eq!(resp.status, 429, "even a good assertion waits: {}", resp.text);
        let password = app.post("/sign-in/email", json!({"email": user.email, "password": PASSWORD})).await;
        assert_eq!(password.status, 429, "the password shares the limit: {}", password.text);
    }

    async fn an_unknown_credential_is_refused_and_audited(app) {
        let mut key = SoftPasskey::new();
        let (options, cookie) = authenticate_options(&app).await;
        let resp = sign_in_with(&app, key.assert(&options), &cookie).await;
        assert_eq!((resp.status, resp.code()), (401, "PASSKEY_NOT_FOUND"), "{}", resp.text);
        let failed = audit_events(&app, AuditKind::SignInFailed).await;
        assert_eq!(failed[0].reason.as_deref(), Some("unknown_passkey"));
    }

    async fn a_ceremony_without_its_challenge_cookie_or_of_the_wrong_kind_is_refused(app) {
        let user = app.sign_up().await;
        let key = SoftPasskey::new();
        let (options, _) = register_options(&app, &user).await;
        let body = json!({"response": key.register(&options)});
        let bare = app.post_as(&user, "/passkey/verify-registration", body.clone()).await;
        assert_eq!((bare.status, bare.code()), (400, "CHALLENGE_NOT_FOUND"), "{}", bare.text);
        let (_, auth_cookie) = authenticate_options(&app).await;
        let cookie = format!("{}; {auth_cookie}", user.cookie);
        let wrong = app.send(Method::POST, "/passkey/verify-registration", Some(body.clone()), Some(&cookie), &[]).await;
        assert_eq!((wrong.status, wrong.code()), (400, "CHALLENGE_NOT_FOUND"), "{}", wrong.text);
        // Another user's challenge cannot register a passkey for this one.
        let other = app.sign_up().await;
        let (options, theirs) = register_options(&app, &other).await;
        let stolen = theirs.split("; ").nth(1).unwrap();
        let cookie = format!("{}; {stolen}", user.cookie);
        let body = json!({"response": key.register(&options)});
        let resp = app.send(Method::POST, "/passkey/verify-registration", Some(body), Some(&cookie), &[]).await;
        assert_eq!((resp.status, resp.code()), (401, "YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY"), "{}", resp.text);
        assert!(app.get_as(&user, "/passkey/list-user-passkeys").await.body.as_array().unwrap().is_empty());
    }

    async fn a_forged_registration_is_refused_and_stores_nothing(app) {
        let user = app.sign_up().await;
        let mut key = SoftPasskey::new();
        key.origin = "http://evil.example".to_owned();
        let (options, cookie) = register_options(&app, &user).await;
        let body = json!({"response": key.register(&options)});
        let resp = app.send(Method::POST, "/passkey/verify-registration", Some(body), Some(&cookie), &[]).await;
        assert_eq!((resp.status, resp.code()), (400, "FAILED_TO_VERIFY_REGISTRATION"), "{}", resp.text);
        let (_, cookie) = register_options(&app, &user).await;
        let garbage = app.send(Method::POST, "/passkey/verify-registration", Some(json!({"response": {"id": 1}})), Some(&cookie), &[]).await;
        assert_eq!((garbage.status, garbage.code()), (400, "FAILED_TO_VERIFY_REGISTRATION"), "{}", garbage.text);
        assert!(app.get_as(&user, "/passkey/list-user-passkeys").await.body.as_array().unwrap().is_empty());
    }

    async fn registration_needs_a_fresh_session(app) {
        let user = app.sign_up().await;
        app.clock.advance(Duration::days(1));
        let resp = app.get_as(&user, "/passkey/generate-register-options").await;
        assert_eq!((resp.status, resp.code()), (403, "SESSION_NOT_FRESH"), "{}", resp.text);
        let anonymous = app.get("/passkey/generate-register-options").await;
        assert_eq!(anonymous.status, 401);
    }

    async fn only_the_owner_renames_or_deletes_a_passkey(app) {
        let user = app.sign_up().await;
        let other = app.sign_up().await;
        let key = SoftPasskey::new();
        let id = register(&app, &user, &key).await["id"].as_str().unwrap().to_owned();
        let theirs = app.post_as(&other, "/passkey/update-passkey", json!({"id": id, "name": "mine"})).await;
        assert_eq!((theirs.status, theirs.code()), (401, "YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY"), "{}", theirs.text);
        let theirs = app.post_as(&other, "/passkey/delete-passkey", json!({"id": id})).await;
        assert_eq!(theirs.status, 401, "{}", theirs.text);
        let unknown = app.post_as(&user, "/passkey/delete-passkey", json!({"id": "nope"})).await;
        assert_eq!((unknown.status, unknown.code()), (404, "PASSKEY_NOT_FOUND"));
        let blank = app.post_as(&user, "/passkey/update-passkey", json!({"id": id, "name": "   "})).await;
        assert_eq!(blank.status, 400, "{}", blank.text);
        let renamed = app.post_as(&user, "/passkey/update-passkey", json!({"id": id, "name": " Phone "})).await;
        assert_eq!(renamed.body["passkey"]["name"], "Phone", "{}", renamed.text);
        let deleted = app.post_as(&user, "/passkey/delete-passkey", json!({"id": id})).await;
        assert_eq!(deleted.body, json!({"status": true}));
        assert!(app.get_as(&user, "/passkey/list-user-passkeys").await.body.as_array().unwrap().is_empty());
        assert_eq!(audit_events(&app, AuditKind::PasskeyRenamed).await.len(), 1);
        assert_eq!(audit_events(&app, AuditKind::PasskeyDeleted).await.len(), 1);
    }

    async fn a_passkey_row_written_by_better_auth_signs_in(app) {
        let user = app.sign_up().await;
        let mut key = SoftPasskey::new();
        let backed_up = if app.database_url().starts_with("sqlite:") { "1" } else { "true" };
        // As Better Auth's adapter writes it: base64 COSE key, base64url id, `multiDevice`.
        app.raw_sql(&format!(
            r#"INSERT INTO "passkey" ("id", "name", "publicKey", "userId", "credentialID", "counter", "deviceType", "backedUp", "transports", "createdAt", "aaguid")
               VALUES ('pk1', NULL, '{}', '{}', '{}', 0, 'multiDevice', {backed_up}, 'internal', NULL, NULL)"#,
            STANDARD.encode(key.cose_key()), user.id, key.id()
        )).await;
        let (options, cookie) = authenticate_options(&app).await;
        let mut assertion = key.assert(&options);
        // A synced passkey sets backup-eligible and backed-up.
        let mut data = URL_SAFE_NO_PAD.decode(assertion["response"]["authenticatorData"].as_str().unwrap()).unwrap();
        data[32] |= 0x08 | 0x10;
        let client_data = URL_SAFE_NO_PAD.decode(assertion["response"]["clientDataJSON"].as_str().unwrap()).unwrap();
        let mut signed = data.clone();
        signed.extend_from_slice(ring::digest::digest(&ring::digest::SHA256, &client_data).as_ref());
        let signature = key.key.sign(&SystemRandom::new(), &signed).unwrap();
        assertion["response"]["authenticatorData"] = json!(URL_SAFE_NO_PAD.encode(&data));
        assertion["response"]["signature"] = json!(URL_SAFE_NO_PAD.encode(signature.as_ref()));
        let resp = sign_in_with(&app, assertion, &cookie).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        let listed = app.get_as(&user, "/passkey/list-user-passkeys").await;
        assert_eq!(listed.body[0]["name"], Value::Null);
        assert_eq!(listed.body[0]["createdAt"], Value::Null);
        assert_eq!(listed.body[0]["backedUp"], true);
    }
}

on_both_backends! {
    async fn passkey_paths_are_unknown_while_the_plugin_is_off(app) {
        let user = app.sign_up().await;
        for path in ["/passkey/generate-register-options", "/passkey/list-user-passkeys", "/passkey/generate-authenticate-options"] {
            let resp = app.get_as(&user, path).await;
            assert_eq!((resp.status, resp.text.as_str()), (404, ""), "{path}");
        }
    }
}
