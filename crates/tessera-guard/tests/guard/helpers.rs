//! Shared fixtures: keys, claims, token crafting, a protected test app and a request helper.

use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt as _;
use serde_json::{Map, Value, json};
use tessera_guard::keys::StaticKeys;
use tessera_guard::tessera_jwt::{Algorithm, Jwk, JwkSet, KeyRing, SigningKey, VerifyingKey};
use tessera_guard::{AuthUser, Guard, GuardError, ManualClock};
use tower::ServiceExt as _;

/// The fixed "current time" of the tests.
pub const NOW: i64 = 1_800_000_000;
/// Better Auth's issuer and audience: the origin of its base URL.
pub const ISSUER: &str = "http://localhost:3000";
/// A 32-byte-plus HS256 secret.
pub const SECRET: &[u8] = b"tessera-guard-test-secret-0123456789";
/// The user every token is about.
pub const USER: &str = "user-1";

// Key generation (RSA above all) is slow in debug builds: one key per algorithm, shared.
pub static ED: LazyLock<SigningKey> =
    LazyLock::new(|| SigningKey::generate(Algorithm::EdDSA, "ed-1").unwrap());
pub static EC: LazyLock<SigningKey> =
    LazyLock::new(|| SigningKey::generate(Algorithm::ES256, "ec-1").unwrap());
pub static RSA: LazyLock<SigningKey> =
    LazyLock::new(|| SigningKey::generate(Algorithm::RS256, "rsa-1").unwrap());

/// [`ED`] as a ring key pair, so a test can sign *any* header validly with a trusted key: then
/// only the rule under test can refuse the token, never a bad signature.
pub static ED_PAIR: LazyLock<ring::signature::Ed25519KeyPair> = LazyLock::new(|| {
    let jwk = ED.private_jwk().unwrap();
    ring::signature::Ed25519KeyPair::from_seed_and_public_key(
        &unb64(jwk.d.as_deref().unwrap()),
        &unb64(jwk.x.as_deref().unwrap()),
    )
    .unwrap()
});

/// The three asymmetric test keys.
pub fn asymmetric_keys() -> [&'static SigningKey; 3] {
    [&ED, &EC, &RSA]
}

/// A kid-less HS256 key over [`SECRET`], like the seed's shared `BETTER_AUTH_SECRET`.
pub fn hs_key() -> SigningKey {
    SigningKey::hmac(None, SECRET)
}

/// Better Auth-shaped claims: the user object plus sub/iat/exp/iss/aud.
pub fn claims() -> Map<String, Value> {
    object(json!({
        "id": USER,
        "name": "Ada",
        "email": "ada@example.com",
        "emailVerified": true,
        "sub": USER,
        "iat": NOW,
        "exp": NOW + 900,
        "iss": ISSUER,
        "aud": ISSUER,
    }))
}

/// `claims()` with `changes` merged in; a `null` value removes the claim.
pub fn claims_with(changes: Value) -> Map<String, Value> {
    let mut claims = claims();
    for (name, value) in object(changes) {
        if value.is_null() {
            claims.remove(&name);
        } else {
            claims.insert(name, value);
        }
    }
    claims
}

pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Signs `claims` with `key`.
pub fn sign(key: &SigningKey, claims: &Map<String, Value>) -> String {
    key.sign(claims).unwrap()
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// A token with an arbitrary header, HS256-signed under an arbitrary secret: how an attacker
/// forges headers.
pub fn hs256_forged(secret: &[u8], header: &Value, claims: &Map<String, Value>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string()),
        b64(Value::Object(claims.clone()).to_string())
    );
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
        input.as_bytes(),
    );
    format!("{input}.{}", b64(tag))
}

/// An attacker's own Ed25519 key pair: (PKCS#8, public key).
pub fn attacker_ed25519() -> ring::signature::Ed25519KeyPair {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

/// A token with an arbitrary header, EdDSA-signed with `pair`.
pub fn eddsa_forged(
    pair: &ring::signature::Ed25519KeyPair,
    header: &Value,
    claims: &Map<String, Value>,
) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string()),
        b64(Value::Object(claims.clone()).to_string())
    );
    let signature = pair.sign(input.as_bytes());
    format!("{input}.{}", b64(signature.as_ref()))
}

/// Replaces part `index` (0 header, 1 payload, 2 signature) of a token.
pub fn with_part(token: &str, index: usize, part: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[index] = part;
    parts.join(".")
}

/// The public JWK of `key` as a JWKS would publish it (with `kid` and `alg`).
pub fn public_jwk(key: &SigningKey) -> Jwk {
    let mut jwk = key.public_jwk().unwrap();
    jwk.kid = key.kid().map(str::to_owned);
    jwk.alg = Some(key.alg().as_str().to_owned());
    jwk
}

/// A JWKS of `keys`.
pub fn jwks(keys: &[&SigningKey]) -> JwkSet {
    JwkSet {
        keys: keys.iter().map(|k| public_jwk(k)).collect(),
    }
}

/// A manual clock at [`NOW`].
pub fn clock() -> ManualClock {
    ManualClock::at_unix(NOW)
}

/// A guard trusting the three asymmetric keys, pinned to [`ISSUER`] as issuer and audience.
pub fn asymmetric_guard(clock: &ManualClock) -> Guard {
    let ring = KeyRing::new(
        asymmetric_keys()
            .iter()
            .map(|k| VerifyingKey::from_signing_key(k))
            .collect(),
    );
    Guard::builder(StaticKeys::new(ring))
        .issuer(ISSUER)
        .audience(ISSUER)
        .clock(clock.clone())
        .build()
}

/// A guard in the seed's HS256 mode (no audience: HS256 tokens carry none).
pub fn hs256_guard(clock: &ManualClock) -> Guard {
    Guard::hs256([SECRET])
        .unwrap()
        .issuer(ISSUER)
        .clock(clock.clone())
        .build()
}

/// A small app protected by `guard`: `GET /me` echoes the caller, `GET /api/{user_id}/things`
/// also checks ownership, like the tasks API.
pub fn app(guard: Guard) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/api/{user_id}/things", get(things))
        .with_state(guard)
}

async fn me(user: AuthUser) -> axum::Json<Value> {
    axum::Json(json!({
        "user_id": user.user_id(),
        "email": user.email(),
        "claims": user.claims(),
    }))
}

async fn things(
    user: AuthUser,
    Path(user_id): Path<String>,
) -> Result<axum::Json<Value>, GuardError> {
    user.ensure_same_user(&user_id)?;
    Ok(axum::Json(json!({ "things": [] })))
}

/// What a response said.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub www_authenticate: Option<String>,
    pub body: Value,
}

impl Reply {
    /// Asserts the seed's 401 for a presented but unacceptable token.
    #[track_caller]
    pub fn assert_invalid_token(&self) {
        assert_eq!(self.status, StatusCode::UNAUTHORIZED, "{self:?}");
        assert_eq!(self.body, json!({ "detail": "Invalid or expired token" }));
        assert_eq!(
            self.www_authenticate.as_deref(),
            Some(r#"Bearer error="invalid_token""#)
        );
    }

    /// Asserts a 200 for [`USER`] from `/me`.
    #[track_caller]
    pub fn assert_accepted(&self) {
        assert_eq!(self.status, StatusCode::OK, "{self:?}");
        assert_eq!(self.body["user_id"], USER);
    }
}

/// Sends `GET path` with an optional raw `Authorization` value.
pub async fn get_with(app: &Router, path: &str, authorization: Option<&str>) -> Reply {
    let mut request = Request::get(path);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    send(app, request.body(Body::empty()).unwrap()).await
}

/// Sends `request` through `app` in process.
pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let www_authenticate = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    // JSON when it parses, else the text itself (plain-text test handlers).
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Reply {
        status,
        www_authenticate,
        body,
    }
}

/// `GET /me` with `Authorization: Bearer <token>`.
pub async fn get_me(app: &Router, token: &str) -> Reply {
    get_with(app, "/me", Some(&format!("Bearer {token}"))).await
}
