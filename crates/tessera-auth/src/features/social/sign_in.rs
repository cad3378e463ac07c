//! `POST /sign-in/social`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use chrono::Duration;
use serde_json::{Map, Value, json};

use super::oauth_state::{STATE_COOKIE_MAX_AGE, STATE_LIFETIME_MS, StateData, state_identifier};
use super::provider::{AuthorizationRequest, Tokens};
use super::users::{AccountData, Refusal, sign_in_provider_user};
use super::{SocialState, redirect_uri};
use crate::body::{Body, Fields, JsonBody, type_name as received};
use crate::cookies::{encode_value, signed_value};
use crate::error::{ApiError, codes};
use crate::ids::generate_url_safe;
use crate::routes::reply;
use crate::session::ClientMeta;
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new().route("/sign-in/social", post(sign_in_social))
}

/// Authorization parameters the server sets, which `additionalParams` may not name.
const RESERVED_PARAMS: [&str; 8] = [
    "state",
    "client_id",
    "redirect_uri",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "scope",
];

/// The `idToken` member of the body.
struct IdTokenBody {
    token: String,
    nonce: Option<String>,
    access_token: Option<String>,
}

/// Starts a sign-in at the provider (the authorization URL, with the state written and its
/// cookie set), or, with `idToken`, signs in at once with an ID token the client obtained.
async fn sign_in_social(
    State(state): State<AuthState>,
    meta: ClientMeta,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let provider_id = fields.union_string("provider");
    let callback_url = fields.opt_string("callbackURL");
    let new_user_url = fields.opt_string("newUserCallbackURL");
    let error_url = fields.opt_string("errorCallbackURL");
    let disable_redirect = fields.opt_bool("disableRedirect");
    let scopes = fields.opt_string_array("scopes");
    let request_sign_up = fields.opt_bool("requestSignUp");
    let login_hint = fields.opt_string("loginHint");
    let id_token = fields.opt_object("idToken");
    let additional_params = fields.opt_object("additionalParams");
    let additional_data = fields.opt_object("additionalData");
    fields.finish()?;
    let id_token = id_token.map(|map| id_token_body(&map)).transpose()?;
    let additional = additional_params
        .map(|map| authorization_params(&map))
        .transpose()?
        .unwrap_or_default();
    let social: &SocialState = &state.social;
    let Some(provider) = social.provider(&provider_id) else {
        tracing::warn!("sign-in with a provider that is not configured");
        return Err(codes::provider_not_found());
    };
    if let Some(id_token) = id_token {
        return sign_in_with_id_token(&state, &meta, provider, id_token, callback_url).await;
    }
    let nonce = provider.requires_nonce().then(|| generate_url_safe(32));
    let code_verifier = generate_url_safe(128);
    let oauth_state = generate_url_safe(32);
    let redirect = redirect_uri(&state, &provider.settings.id);
    let url = provider
        .authorization_url(&AuthorizationRequest {
            state: &oauth_state,
            code_verifier: &code_verifier,
            nonce: nonce.as_deref(),
            redirect_uri: &redirect,
            scopes: scopes.as_deref().unwrap_or(&[]),
            login_hint: login_hint.as_deref(),
            additional: &additional,
        })
        .await
        .map_err(|error| {
            // Discovery failed: the provider is unusable until it answers again.
            tracing::error!(provider = %provider.settings.id, %error, "social provider unavailable");
            codes::provider_not_found()
        })?;
    let now = state.clock.now();
    let data = StateData {
        additional: StateData::without_internal_keys(additional_data.unwrap_or_default()),
        callback_url: callback_url
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| state.config.base_origin.clone()),
        code_verifier,
        error_url,
        new_user_url,
        link: None,
        expires_at: now.timestamp_millis() + STATE_LIFETIME_MS,
        request_sign_up,
        id_token_nonce: nonce,
        oauth_state: Some(oauth_state.clone()),
    };
    let value = serde_json::to_string(&data).map_err(|_| ApiError::internal())?;
    state
        .store
        .create_verification(
            &state_identifier(&oauth_state),
            &value,
            now + Duration::milliseconds(STATE_LIFETIME_MS),
            now,
        )
        .await?;
    let secret = &state.config.secrets.current().secret;
    let cookie = state.cookies.set_cookie(
        &state.cookies.oauth_state,
        &encode_value(&signed_value(secret, &oauth_state)),
        Some(STATE_COOKIE_MAX_AGE),
    );
    let redirect = disable_redirect != Some(true);
    let mut response = reply(json!({ "url": url, "redirect": redirect }), vec![cookie]);
    if redirect && let Ok(location) = HeaderValue::from_str(&url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Signs in with an ID token the client holds: verified against the provider's keys (and the
/// nonce, when the client names one), then the same user rules as the callback.
async fn sign_in_with_id_token(
    state: &AuthState,
    meta: &ClientMeta,
    provider: &super::Provider,
    body: IdTokenBody,
    _callback_url: Option<String>,
) -> Result<Response, ApiError> {
    let user = match provider
        .user_from_id_token(&body.token, body.nonce.as_deref())
        .await
    {
        Ok(user) => user,
        Err(error) => {
            tracing::warn!(provider = %provider.settings.id, %error, "invalid id token");
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "INVALID_TOKEN",
                "Invalid token",
            ));
        }
    };
    let Some(user) = user else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "FAILED_TO_GET_USER_INFO",
            "Failed to get user info",
        ));
    };
    let Some(email) = user.email.clone() else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "USER_EMAIL_NOT_FOUND",
            "User email not found",
        ));
    };
    // Better Auth keeps the ID token and the access token the client sent, nothing more.
    let tokens = Tokens {
        access_token: body.access_token,
        id_token: Some(body.token),
        ..Tokens::default()
    };
    let account = AccountData {
        provider_id: &provider.settings.id,
        tokens: &tokens,
        scope: None,
    };
    match sign_in_provider_user(state, meta, &user, &email, account, false).await? {
        Ok(signed_in) => {
            let cookies = state.session_cookies(&signed_in.session, false);
            Ok(reply(
                json!({
                    "redirect": false,
                    "token": signed_in.session.token,
                    "user": signed_in.user,
                }),
                cookies,
            ))
        }
        Err(Refusal(message)) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "OAUTH_LINK_ERROR",
            message,
        )),
    }
}

/// Reads `idToken` as Better Auth's schema does.
fn id_token_body(map: &Map<String, Value>) -> Result<IdTokenBody, ApiError> {
    let mut issues = Vec::new();
    let mut text = |name: &str, required: bool| match map.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        None if !required => None,
        other => {
            issues.push(format!(
                "[body.idToken.{name}] Invalid input: expected string, received {}",
                received(other)
            ));
            None
        }
    };
    let token = text("token", true);
    let nonce = text("nonce", false);
    let access_token = text("accessToken", false);
    let _refresh_token = text("refreshToken", false);
    match (token, issues.is_empty()) {
        (Some(token), true) => Ok(IdTokenBody {
            token,
            nonce,
            access_token,
        }),
        _ => Err(ApiError::validation(issues.join("; "))),
    }
}

/// `additionalParams`: string values, none of the reserved names.
fn authorization_params(map: &Map<String, Value>) -> Result<Vec<(String, String)>, ApiError> {
    let mut params = Vec::with_capacity(map.len());
    let mut issues = Vec::new();
    for (key, value) in map {
        match value {
            Value::String(s) => params.push((key.clone(), s.clone())),
            other => issues.push(format!(
                "[body.additionalParams.{key}] Invalid input: expected string, received {}",
                received(Some(other))
            )),
        }
    }
    if issues.is_empty() && map.keys().any(|k| RESERVED_PARAMS.contains(&k.as_str())) {
        issues.push(format!(
            "[body.additionalParams] additionalParams cannot include reserved OAuth parameters: {}",
            RESERVED_PARAMS.join(", ")
        ));
    }
    if issues.is_empty() {
        Ok(params)
    } else {
        Err(ApiError::validation(issues.join("; ")))
    }
}
