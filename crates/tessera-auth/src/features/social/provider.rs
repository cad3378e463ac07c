//! A provider at run time: its endpoints (discovered once, on first use), the authorization
//! URL, the code exchange (the `oauth2` crate over the guard's hardened HTTP client), the ID
//! token check (the guard's JWKS cache and `tessera_jwt::verify`), and the user it names.
//!
//! Every call to the provider goes through one `reqwest::Client` built by
//! `tessera_guard::http::client_for`: connect and total timeouts, no redirects followed, https
//! unless loopback, and every body read under a size cap. Nothing here logs a code, a token or
//! the URLs that carry them.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, StandardRevocableToken,
    StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;
use tessera_guard::KeySource;
use tessera_guard::http::{GetError, check_url, client_for, send_capped};
use tessera_guard::keys::{HttpJwksFetcher, JwksCache};
use tessera_jwt::{Algorithm, JwtError, Validation};
use tokio::sync::OnceCell;
use url::Url;

use super::settings::{ProviderKind, ProviderSettings};
use crate::clock::Clock;

/// Time allowed to connect to a provider.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time allowed for a whole provider call, body included.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Largest provider answer read (discovery, token, user info); the JWKS fetcher has its own.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Clock skew allowed on an ID token's `exp`, `nbf` and `iat` (Better Auth's 30 s).
const ID_TOKEN_LEEWAY_SECS: u64 = 30;
/// Google ID tokens older than this are refused (Better Auth's `maxTokenAge: "1h"`).
const GOOGLE_ID_TOKEN_MAX_AGE_SECS: i64 = 3600;

const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];
const GOOGLE_AUTHORIZATION: &str = "https://accounts.google.com/o/oauth2/v2/auth";
const GOOGLE_TOKEN: &str = "https://oauth2.googleapis.com/token";
const GOOGLE_JWKS: &str = "https://www.googleapis.com/oauth2/v3/certs";

/// Why a provider call failed. Messages name no URL, code or token.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProviderError {
    /// The provider's settings or discovery document are unusable.
    #[error("provider configuration: {0}")]
    Config(String),
    /// The provider could not be reached or answered badly.
    #[error("provider call failed: {0}")]
    Http(#[from] GetError),
    /// The token endpoint refused the code (or answered something that is not a token).
    #[error("code exchange failed: {0}")]
    Exchange(String),
    /// The ID token did not verify.
    #[error("ID token refused: {0}")]
    IdToken(&'static str),
}

/// What the token endpoint answered. `Debug` shows no token.
#[derive(Clone, Default)]
pub(crate) struct Tokens {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// The user a provider vouches for (Better Auth's `userInfo.user` and account key).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ProviderUser {
    /// The provider's stable subject: the account's `accountId`.
    pub account_id: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub image: Option<String>,
}

impl ProviderUser {
    /// Better Auth's reading of OIDC claims (ID token or user info): `sub`, `email`,
    /// `email_verified` (a boolean or its string form), `name`, `picture`.
    fn from_claims(claims: &Map<String, Value>) -> Option<Self> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let account_id = match claims.get("sub")? {
            Value::String(s) if !s.trim().is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        Some(Self {
            account_id,
            email: text("email"),
            // `parseStringBoolean`: `true` or `"true"`; anything else is unverified.
            email_verified: claims
                .get("email_verified")
                .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true")),
            name: text("name"),
            image: text("picture"),
        })
    }
}

/// The extra member of an OpenID Connect token answer.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct OidcFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token_expires_in: Option<u64>,
}

impl ExtraTokenFields for OidcFields {}

type TokenAnswer = StandardTokenResponse<OidcFields, BasicTokenType>;

type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// A provider's endpoints and keys.
struct Endpoints {
    issuers: Vec<String>,
    authorization: Url,
    token: Url,
    userinfo: Option<Url>,
    jwks: JwksCache<HttpJwksFetcher>,
    algorithms: Vec<Algorithm>,
}

/// The parts of a discovery document used.
#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
}

/// A configured provider, ready to sign users in.
pub(crate) struct Provider {
    pub settings: ProviderSettings,
    http: reqwest::Client,
    allow_http: bool,
    clock: Arc<dyn Clock>,
    endpoints: OnceCell<Arc<Endpoints>>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("id", &self.settings.id)
            .finish_non_exhaustive()
    }
}

/// What goes into an authorization URL.
pub(crate) struct AuthorizationRequest<'a> {
    pub state: &'a str,
    pub code_verifier: &'a str,
    pub nonce: Option<&'a str>,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
    pub login_hint: Option<&'a str>,
    pub additional: &'a [(String, String)],
}

impl Provider {
    /// The provider of `settings`; nothing is fetched until the first sign-in.
    pub(crate) fn new(
        settings: ProviderSettings,
        allow_http: bool,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ProviderError> {
        let base = match &settings.kind {
            ProviderKind::Oidc { issuer } => issuer.clone(),
            ProviderKind::Google => GOOGLE_TOKEN.to_owned(),
        };
        let (_, http) = client_for(&base, allow_http, CONNECT_TIMEOUT, TIMEOUT)
            .map_err(|e| ProviderError::Config(e.to_string()))?;
        Ok(Self {
            settings,
            http,
            allow_http,
            clock,
            endpoints: OnceCell::new(),
        })
    }

    /// Whether the redirect flow binds the ID token with a nonce (Better Auth's
    /// `requiresIdTokenNonce`: generic OpenID Connect providers do, Google does not).
    pub(crate) fn requires_nonce(&self) -> bool {
        matches!(self.settings.kind, ProviderKind::Oidc { .. })
    }

    /// The issuer an authorization answer's `iss` must name (RFC 9207), when known.
    pub(crate) async fn issuer(&self) -> Option<String> {
        match &self.settings.kind {
            ProviderKind::Oidc { .. } => self
                .endpoints()
                .await
                .ok()
                .and_then(|e| e.issuers.first().cloned()),
            ProviderKind::Google => None,
        }
    }

    async fn endpoints(&self) -> Result<&Arc<Endpoints>, ProviderError> {
        self.endpoints.get_or_try_init(|| self.load()).await
    }

    async fn load(&self) -> Result<Arc<Endpoints>, ProviderError> {
        let endpoints = match &self.settings.kind {
            ProviderKind::Google => Endpoints {
                issuers: GOOGLE_ISSUERS.map(str::to_owned).to_vec(),
                authorization: parse_url(GOOGLE_AUTHORIZATION, self.allow_http)?,
                token: parse_url(GOOGLE_TOKEN, self.allow_http)?,
                userinfo: None,
                jwks: self.jwks(GOOGLE_JWKS)?,
                algorithms: vec![Algorithm::RS256],
            },
            ProviderKind::Oidc { issuer } => self.discover(issuer).await?,
        };
        Ok(Arc::new(endpoints))
    }

    fn jwks(&self, url: &str) -> Result<JwksCache<HttpJwksFetcher>, ProviderError> {
        let fetcher = HttpJwksFetcher::builder(url)
            .allow_insecure_http(self.allow_http)
            .build()
            .map_err(|e| ProviderError::Config(e.to_string()))?;
        Ok(JwksCache::new(fetcher).with_clock(Arc::clone(&self.clock)))
    }

    /// Reads `<issuer>/.well-known/openid-configuration`. Its `issuer` must be the configured
    /// one (OpenID Connect Discovery §4.3), or a document served elsewhere could name another
    /// issuer's keys.
    async fn discover(&self, issuer: &str) -> Result<Endpoints, ProviderError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let url = parse_url(&url, self.allow_http)?;
        let request = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .build()
            .map_err(|e| ProviderError::Config(e.without_url().to_string()))?;
        let (status, _, body) = send_capped(&self.http, request, MAX_BODY_BYTES).await?;
        if !status.is_success() {
            return Err(GetError::Status(status.as_u16()).into());
        }
        let doc: Discovery = serde_json::from_slice(&body)
            .map_err(|e| ProviderError::Config(format!("discovery document: {e}")))?;
        if doc.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(ProviderError::Config(
                "the discovery document names another issuer".into(),
            ));
        }
        let jwks_uri = url
            .join(&doc.jwks_uri)
            .map_err(|e| ProviderError::Config(format!("jwks_uri: {e}")))?;
        let algorithms: Vec<Algorithm> = doc
            .id_token_signing_alg_values_supported
            .iter()
            .filter_map(|name| name.parse::<Algorithm>().ok())
            // A symmetric algorithm would make the client secret a signing key.
            .filter(|alg| *alg != Algorithm::HS256)
            .collect();
        if algorithms.is_empty() {
            return Err(ProviderError::Config(
                "the issuer signs ID tokens with no supported algorithm".into(),
            ));
        }
        Ok(Endpoints {
            issuers: vec![doc.issuer],
            authorization: parse_url(&doc.authorization_endpoint, self.allow_http)?,
            token: parse_url(&doc.token_endpoint, self.allow_http)?,
            userinfo: doc
                .userinfo_endpoint
                .as_deref()
                .map(|u| parse_url(u, self.allow_http))
                .transpose()?,
            jwks: self.jwks(jwks_uri.as_str())?,
            algorithms,
        })
    }

    /// The authorization URL, parameter for parameter as Better Auth's `createAuthorizationURL`
    /// writes it (`response_type`, `client_id`, `state`, `scope`, `redirect_uri`, `login_hint`,
    /// `nonce`, `code_challenge_method`, `code_challenge`, then the extra parameters), PKCE S256
    /// always.
    pub(crate) async fn authorization_url(
        &self,
        request: &AuthorizationRequest<'_>,
    ) -> Result<String, ProviderError> {
        let endpoints = self.endpoints().await?;
        let mut scopes: Vec<String> = Vec::new();
        let mut additional: Vec<(String, String)> = Vec::new();
        match &self.settings.kind {
            ProviderKind::Google => {
                scopes.extend(["email", "profile", "openid"].map(str::to_owned));
                scopes.extend(self.settings.scopes.iter().cloned());
                scopes.extend(request.scopes.iter().cloned());
                additional.push(("include_granted_scopes".into(), "true".into()));
            }
            ProviderKind::Oidc { .. } => {
                scopes.extend(request.scopes.iter().cloned());
                scopes.extend(self.settings.scopes.iter().cloned());
                if !scopes.iter().any(|s| s == "openid") {
                    scopes.insert(0, "openid".into());
                }
            }
        }
        additional.extend(request.additional.iter().cloned());
        let verifier = PkceCodeVerifier::new(request.code_verifier.to_owned());
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        let mut params: Vec<(String, String)> = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), self.settings.client_id.clone()),
            ("state".into(), request.state.to_owned()),
        ];
        if !scopes.is_empty() {
            params.push(("scope".into(), scopes.join(" ")));
        }
        params.push(("redirect_uri".into(), request.redirect_uri.to_owned()));
        if let Some(hint) = request.login_hint.filter(|h| !h.is_empty()) {
            params.push(("login_hint".into(), hint.to_owned()));
        }
        if let Some(nonce) = request.nonce {
            params.push(("nonce".into(), nonce.to_owned()));
        }
        params.push(("code_challenge_method".into(), "S256".into()));
        params.push(("code_challenge".into(), challenge.as_str().to_owned()));
        for (key, value) in additional {
            // URLSearchParams#set: a repeated key replaces the earlier value in place.
            match params.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => params.push((key, value)),
            }
        }
        Ok(append_params(&endpoints.authorization, &params))
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens, the client
    /// authenticated by `client_secret_post` as Better Auth does by default.
    pub(crate) async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<Tokens, ProviderError> {
        let endpoints = self.endpoints().await?;
        let client: OAuthClient =
            oauth2::Client::new(ClientId::new(self.settings.client_id.clone()))
                .set_client_secret(ClientSecret::new(
                    self.settings.client_secret.expose().to_owned(),
                ))
                .set_token_uri(TokenUrl::from_url(endpoints.token.clone()))
                .set_auth_type(AuthType::RequestBody);
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| ProviderError::Config(e.to_string()))?;
        let http = self.http.clone();
        let send = move |request: oauth2::HttpRequest| {
            let http = http.clone();
            async move { send_oauth(&http, request).await }
        };
        let answer = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(code_verifier.to_owned()))
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(&send)
            .await
            // The error's text may quote the provider's answer, never our request.
            .map_err(|e| ProviderError::Exchange(exchange_error(&e)))?;
        let now = self.clock.now();
        let after = |secs: u64| {
            i64::try_from(secs)
                .ok()
                .and_then(chrono::Duration::try_seconds)
                .map(|d| now + d)
        };
        Ok(Tokens {
            access_token: Some(answer.access_token().secret().clone()).filter(|t| !t.is_empty()),
            refresh_token: answer.refresh_token().map(|t| t.secret().clone()),
            id_token: answer.extra_fields().id_token.clone(),
            access_token_expires_at: answer
                .expires_in()
                .and_then(|d| after(d.as_secs()))
                .filter(|_| answer.expires_in().is_some_and(|d| !d.is_zero())),
            refresh_token_expires_at: answer
                .extra_fields()
                .refresh_token_expires_in
                .filter(|s| *s > 0)
                .and_then(after),
            scopes: answer
                .scopes()
                .map(|s| s.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default(),
        })
    }

    /// Verifies an ID token: signature by a key of the issuer's JWKS (fetched again once for an
    /// unknown `kid`), `iss`, `aud` = the client id, `exp`/`nbf`/`iat` with 30 s of leeway,
    /// `sub` and `iat` present, and, when one is expected, `nonce`. Returns its claims.
    pub(crate) async fn verify_id_token(
        &self,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<Map<String, Value>, ProviderError> {
        let endpoints = self.endpoints().await?;
        let mut validation = Validation::new(endpoints.algorithms.iter().copied())
            .with_audience(self.settings.client_id.clone())
            .with_leeway(ID_TOKEN_LEEWAY_SECS);
        for issuer in &endpoints.issuers {
            validation = validation.with_issuer(issuer.clone());
        }
        let now = self.clock.unix_secs();
        let ring = endpoints.jwks.keys().await;
        let verified = match tessera_jwt::verify(token, &ring, &validation, now) {
            Err(JwtError::UnknownKey) => match endpoints.jwks.refresh(&ring).await {
                Some(ring) => tessera_jwt::verify(token, &ring, &validation, now),
                None => Err(JwtError::UnknownKey),
            },
            other => other,
        }
        .map_err(|e| ProviderError::IdToken(jwt_reason(&e)))?;
        let claims = verified.claims.into_raw();
        let Some(iat) = claims.get("iat").and_then(Value::as_i64) else {
            return Err(ProviderError::IdToken("iat is missing"));
        };
        if matches!(self.settings.kind, ProviderKind::Google)
            && now - iat > GOOGLE_ID_TOKEN_MAX_AGE_SECS + ID_TOKEN_LEEWAY_SECS as i64
        {
            return Err(ProviderError::IdToken("the token is too old"));
        }
        if let Some(expected) = nonce {
            let matches = claims
                .get("nonce")
                .and_then(Value::as_str)
                .is_some_and(|got| bool::from(got.as_bytes().ct_eq(expected.as_bytes())));
            if !matches {
                return Err(ProviderError::IdToken("nonce mismatch"));
            }
        }
        Ok(claims)
    }

    /// The user the tokens name, as Better Auth's providers read it: a verified ID token's
    /// claims when they carry `sub` and `email`; otherwise (generic providers) the user-info
    /// endpoint, whose `sub` must then be the ID token's. `None`: no usable user.
    pub(crate) async fn user(
        &self,
        tokens: &Tokens,
        nonce: Option<&str>,
    ) -> Result<Option<ProviderUser>, ProviderError> {
        let id_claims = match &tokens.id_token {
            Some(token) => Some(self.verify_id_token(token, nonce).await?),
            None => None,
        };
        if let Some(claims) = &id_claims
            && (matches!(self.settings.kind, ProviderKind::Google)
                || (claims.contains_key("sub") && claims.contains_key("email")))
        {
            return Ok(ProviderUser::from_claims(claims));
        }
        if matches!(self.settings.kind, ProviderKind::Google) {
            return Ok(None);
        }
        let (Some(access_token), Some(url)) = (
            tokens.access_token.as_deref(),
            self.endpoints().await?.userinfo.clone(),
        ) else {
            return Ok(None);
        };
        let request = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json")
            .build()
            .map_err(|e| ProviderError::Config(e.without_url().to_string()))?;
        let (status, _, body) = send_capped(&self.http, request, MAX_BODY_BYTES).await?;
        if !status.is_success() {
            return Ok(None);
        }
        let Ok(Value::Object(info)) = serde_json::from_slice::<Value>(&body) else {
            return Ok(None);
        };
        let user = ProviderUser::from_claims(&info);
        let id_sub = id_claims
            .as_ref()
            .and_then(|c| c.get("sub"))
            .and_then(Value::as_str);
        match (user, id_sub) {
            (Some(user), Some(sub)) if user.account_id != sub => Ok(None),
            (user, _) => Ok(user),
        }
    }

    /// The user an ID token sent by the client names (`/sign-in/social` with `idToken`),
    /// verified first.
    pub(crate) async fn user_from_id_token(
        &self,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<Option<ProviderUser>, ProviderError> {
        let claims = self.verify_id_token(token, nonce).await?;
        let user = ProviderUser::from_claims(&claims);
        Ok(match self.settings.kind {
            ProviderKind::Google => user,
            // A generic provider reads only an ID token carrying both `sub` and `email`.
            ProviderKind::Oidc { .. } => user.filter(|u| u.email.is_some()),
        })
    }
}

/// `url` parsed and allowed by the hardened client's scheme rule.
fn parse_url(url: &str, allow_http: bool) -> Result<Url, ProviderError> {
    let parsed = Url::parse(url).map_err(|e| ProviderError::Config(e.to_string()))?;
    check_url(&parsed, allow_http).map_err(|e| ProviderError::Config(e.to_string()))?;
    Ok(parsed)
}

/// `endpoint` with `params` appended after its own query, whose pairs `params` names are
/// dropped (Better Auth's `withoutQueryParams` + `appendQueryParams`).
fn append_params(endpoint: &Url, params: &[(String, String)]) -> String {
    let mut url = endpoint.clone();
    let kept: Vec<&str> = endpoint
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| {
            !pair.is_empty()
                && url::form_urlencoded::parse(pair.as_bytes())
                    .next()
                    .is_some_and(|(name, _)| !params.iter().any(|(k, _)| *k == name))
        })
        .collect();
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in params {
        serializer.append_pair(key, value);
    }
    let added = serializer.finish();
    let query = if kept.is_empty() {
        added
    } else {
        format!("{}&{added}", kept.join("&"))
    };
    url.set_query(Some(&query));
    url.into()
}

/// One `oauth2` request through the hardened client.
async fn send_oauth(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, GetError> {
    let request = reqwest::Request::try_from(request)
        .map_err(|e| GetError::Transport(e.without_url().to_string()))?;
    let (status, headers, body) = send_capped(http, request, MAX_BODY_BYTES).await?;
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// Why an exchange failed, without the request.
fn exchange_error<RE: std::error::Error + 'static>(
    error: &oauth2::RequestTokenError<RE, BasicErrorResponse>,
) -> String {
    match error {
        oauth2::RequestTokenError::ServerResponse(answer) => {
            format!("the provider answered {}", answer.error())
        }
        oauth2::RequestTokenError::Request(e) => e.to_string(),
        oauth2::RequestTokenError::Parse(e, _) => format!("unreadable answer: {e}"),
        oauth2::RequestTokenError::Other(e) => e.clone(),
    }
}

/// A short reason for a refused ID token.
fn jwt_reason(error: &JwtError) -> &'static str {
    match error {
        JwtError::Expired => "expired",
        JwtError::NotYetValid => "not yet valid",
        JwtError::InvalidIssuer => "wrong issuer",
        JwtError::InvalidAudience => "wrong audience",
        JwtError::BadSignature => "bad signature",
        JwtError::UnknownKey => "unknown key",
        _ => "invalid",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_replace_the_endpoints_own_of_the_same_name_and_keep_the_rest_verbatim() {
        let endpoint = Url::parse("https://idp.test/auth?tenant=a%20b&scope=old").unwrap();
        let params = vec![
            ("scope".to_owned(), "openid email".to_owned()),
            ("state".to_owned(), "s".to_owned()),
        ];
        assert_eq!(
            append_params(&endpoint, &params),
            "https://idp.test/auth?tenant=a%20b&scope=openid+email&state=s"
        );
    }

    #[test]
    fn claims_are_read_as_better_auth_reads_them() {
        let claims = serde_json::json!({
            "sub": "u1", "email": "a@b.test", "email_verified": "true",
            "name": "A", "picture": "https://p.test/a.png"
        });
        let user = ProviderUser::from_claims(claims.as_object().unwrap()).unwrap();
        assert_eq!(user.account_id, "u1");
        assert!(user.email_verified);
        assert_eq!(user.image.as_deref(), Some("https://p.test/a.png"));
        let unverified = serde_json::json!({ "sub": "u1", "email_verified": "yes" });
        assert!(
            !ProviderUser::from_claims(unverified.as_object().unwrap())
                .unwrap()
                .email_verified
        );
        assert!(
            ProviderUser::from_claims(serde_json::json!({ "sub": " " }).as_object().unwrap())
                .is_none()
        );
    }
}
