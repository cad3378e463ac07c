//! `GET /callback/:providerId` and `POST /callback/:providerId` (the provider's answer, by
//! redirect or `form_post`).
//!
//! Every outcome is a 302: to `callbackURL` (or `newUserCallbackURL` for a new user) signed in,
//! or to the error URL with `?error=<code>` in Better Auth's words: the sign-in's
//! `errorCallbackURL` once the state is read, Better Auth's default error page
//! (`<base>/api/auth/error`) before.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use url::Url;

use super::oauth_state::{StateData, state_identifier};
use super::provider::Provider;
use super::redirect_uri;
use super::users::{AccountData, sign_in_provider_user};
use crate::audit::AuditKind;
use crate::body::{Body, shape};
use crate::cookies::{find_cookie, verify_signed};
use crate::routes::{found, query_value};
use crate::session::ClientMeta;
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new().route("/callback/{id}", get(callback).post(callback_post))
}

/// The callback's parameters, in the order Better Auth's schema lists them (the order a
/// `form_post` is re-sent as a query).
const PARAMS: [&str; 7] = [
    "code",
    "error",
    "device_id",
    "error_description",
    "state",
    "user",
    "iss",
];

/// A `form_post` answer (or a JSON one) becomes the same GET: the body's parameters and the
/// query's (which win), re-sent as a query, so the state cookie (`SameSite=Lax`, not sent on a
/// cross-site POST) comes along.
async fn callback_post(
    State(state): State<AuthState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    Body(body): Body<true, { shape::OPTIONAL_OBJECT }>,
) -> Response {
    let mut params = url::form_urlencoded::Serializer::new(String::new());
    for name in PARAMS {
        let value = query_value(query.as_deref(), name).or_else(|| match body.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        });
        if let Some(value) = value {
            params.append_pair(name, &value);
        }
    }
    found(&format!(
        "{}/api/auth/callback/{id}?{}",
        state.config.base_origin,
        params.finish()
    ))
}

/// The provider's answer: the state spent and checked, the code exchanged, the user signed in.
async fn callback(
    State(state): State<AuthState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    meta: ClientMeta,
) -> Response {
    let param = |name: &str| query_value(query.as_deref(), name);
    let default_error_url = format!("{}/api/auth/error", state.config.base_origin);
    let Some(oauth_state) = param("state").filter(|s| !s.is_empty()) else {
        return redirect_error(&default_error_url, "state_not_found", None, Vec::new());
    };
    let data = match read_state(&state, &oauth_state, &headers).await {
        Ok(data) => data,
        Err((target, code)) => {
            let target = target.unwrap_or_else(|| default_error_url.clone());
            audit_failure(&state, &meta, &id, code).await;
            return redirect_error(&target, code, None, Vec::new());
        }
    };
    // From here on the state cookie is spent: every answer expires it.
    let mut cookies = vec![state.cookies.expire(&state.cookies.oauth_state)];
    let error_url = data
        .error_url
        .clone()
        .filter(|u| !u.is_empty())
        .unwrap_or(default_error_url);
    let fail = |code: &str, description: Option<&str>, cookies: Vec<String>| {
        redirect_error(&error_url, code, description, cookies)
    };
    if let Some(error) = param("error").filter(|e| !e.is_empty()) {
        audit_failure(&state, &meta, &id, "provider_error").await;
        let description = param("error_description");
        return fail(&error, description.as_deref(), cookies);
    }
    let Some(code) = param("code").filter(|c| !c.is_empty()) else {
        return fail("no_code", None, cookies);
    };
    let Some(provider) = state.social.provider(&id).cloned() else {
        return fail("oauth_provider_not_found", None, cookies);
    };
    if data.link.is_some() {
        // A `/link-social` flow started on Better Auth; Tessera does not finish those yet.
        return fail("unable_to_link_account", None, cookies);
    }
    let (user, tokens) = match exchange(&state, &provider, &code, &data, param("iss")).await {
        Ok(found) => found,
        Err(code) => {
            audit_failure(&state, &meta, &id, code).await;
            return fail(code, None, cookies);
        }
    };
    let Some(email) = user.email.clone().filter(|e| !e.is_empty()) else {
        return fail("email_not_found", None, cookies);
    };
    let account = AccountData {
        provider_id: &provider.settings.id,
        tokens: &tokens,
        scope: Some(tokens.scopes.join(",")),
    };
    match sign_in_provider_user(&state, &meta, &user, &email, account, false).await {
        Ok(Ok(signed_in)) => {
            cookies.extend(state.session_cookies(&signed_in.session, false));
            let target = match (&data.new_user_url, signed_in.is_register) {
                (Some(url), true) if !url.is_empty() => url.clone(),
                _ => data.callback_url.clone(),
            };
            with_cookies(found(&target), cookies)
        }
        Ok(Err(refusal)) => {
            let code = refusal.code();
            audit_failure(&state, &meta, &id, &code).await;
            fail(&code, None, cookies)
        }
        Err(_) => fail("internal_server_error", None, cookies),
    }
}

/// Spends the state row and checks it: it exists, names this state, was started in this
/// browser (the signed `state` cookie) and has not expired. On failure, where to send the user
/// (the state's own error URL when it could be read) and Better Auth's code.
async fn read_state(
    state: &AuthState,
    oauth_state: &str,
    headers: &HeaderMap,
) -> Result<StateData, (Option<String>, &'static str)> {
    // Taken, not read: a state is good for one callback, whatever its outcome.
    let value = match state
        .store
        .take_verification(&state_identifier(oauth_state))
        .await
    {
        // The state's own `expiresAt` (in its JSON) is checked below, as Better Auth does.
        Ok(Some((value, _))) => value,
        Ok(None) => return Err((None, "state_mismatch")),
        Err(error) => {
            tracing::error!(%error, "reading an OAuth state failed");
            return Err((None, "internal_server_error"));
        }
    };
    let data: StateData = serde_json::from_str(&value).map_err(|_| (None, "state_mismatch"))?;
    let error_url = data.error_url.clone().filter(|u| !u.is_empty());
    if data
        .oauth_state
        .as_deref()
        .is_some_and(|s| s != oauth_state)
    {
        return Err((error_url, "state_mismatch"));
    }
    let cookie = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| find_cookie(h, &state.cookies.oauth_state))
        .and_then(|signed| verify_signed(state.config.secrets.all().map(|s| &s.secret), &signed));
    if cookie.as_deref() != Some(oauth_state) {
        return Err((error_url, "state_mismatch"));
    }
    if data.expires_at < state.clock.now().timestamp_millis() {
        return Err((error_url, "state_mismatch"));
    }
    Ok(data)
}

/// The provider half: `iss` (RFC 9207) checked, the nonce required where the provider binds
/// one, the code exchanged with the PKCE verifier, the ID token verified and the user read.
async fn exchange(
    state: &AuthState,
    provider: &Provider,
    code: &str,
    data: &StateData,
    iss: Option<String>,
) -> Result<(super::provider::ProviderUser, super::provider::Tokens), &'static str> {
    let id = &provider.settings.id;
    if let Some(iss) = iss
        && let Some(issuer) = provider.issuer().await
        && iss != issuer
    {
        tracing::warn!(provider = %id, "OAuth issuer mismatch");
        return Err("issuer_mismatch");
    }
    if provider.requires_nonce() && data.id_token_nonce.is_none() {
        return Err("nonce_binding_missing");
    }
    let tokens = provider
        .exchange_code(code, &data.code_verifier, &redirect_uri(state, id))
        .await
        .map_err(|error| {
            tracing::warn!(provider = %id, %error, "authorization code refused");
            "invalid_code"
        })?;
    match provider.user(&tokens, data.id_token_nonce.as_deref()).await {
        Ok(Some(user)) => Ok((user, tokens)),
        Ok(None) => Err("unable_to_get_user_info"),
        Err(error) => {
            tracing::warn!(provider = %id, %error, "provider user refused");
            Err("unable_to_get_user_info")
        }
    }
}

/// Records a refused callback (`sign_in_failed`, the code as reason).
async fn audit_failure(state: &AuthState, meta: &ClientMeta, provider: &str, code: &str) {
    let audit = state
        .audit_event(AuditKind::SignInFailed, meta)
        .reason(code)
        .detail(json!({ "route": "/callback/:id", "provider": provider }));
    if let Err(error) = state.store.insert_audit(&audit).await {
        tracing::error!(%error, "writing an audit event failed");
    }
    audit.emit();
}

/// A 302 to `base` with `error` (and `error_description`) appended to its query.
fn redirect_error(
    base: &str,
    error: &str,
    description: Option<&str>,
    cookies: Vec<String>,
) -> Response {
    let mut params = url::form_urlencoded::Serializer::new(String::new());
    params.append_pair("error", error);
    if let Some(description) = description {
        params.append_pair("error_description", description);
    }
    with_cookies(found(&append_query(base, &params.finish())), cookies)
}

/// Better Auth's `appendQueryParams`: `query` after the URL's own query (relative URLs stay
/// relative).
fn append_query(input: &str, query: &str) -> String {
    const REFERENCE: &str = "http://reference.invalid";
    let relative = input.starts_with('/');
    let parsed = if relative {
        Url::parse(REFERENCE).and_then(|base| base.join(input))
    } else {
        Url::parse(input)
    };
    let Ok(mut url) = parsed else {
        return input.to_owned();
    };
    let merged = match url.query() {
        Some(existing) if !existing.is_empty() => {
            let separator = if existing.ends_with('&') { "" } else { "&" };
            format!("{existing}{separator}{query}")
        }
        _ => query.to_owned(),
    };
    url.set_query(Some(&merged));
    if relative {
        url.as_str()[REFERENCE.len()..].to_owned()
    } else {
        url.into()
    }
}

/// `response` with `cookies` set, each its own header.
fn with_cookies(mut response: Response, cookies: Vec<String>) -> Response {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::append_query;

    #[test]
    fn error_codes_are_appended_to_the_error_urls_own_query() {
        assert_eq!(
            append_query("http://app.test/err", "error=no_code"),
            "http://app.test/err?error=no_code"
        );
        assert_eq!(
            append_query("http://app.test", "error=no_code"),
            "http://app.test/?error=no_code"
        );
        assert_eq!(
            append_query("/sign-in?x=1", "error=state_mismatch"),
            "/sign-in?x=1&error=state_mismatch"
        );
    }
}
