//! Who a second factor is being checked for (Better Auth's `verifyTwoFactor`): the signed-in
//! user, or the sign-in the `two_factor` cookie names; the sign-in gate that issues that
//! cookie; what a passed check answers with; and the trusted-device cookie.

use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use ring::hmac;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::settings::CHALLENGE_ATTEMPTS;
use super::store::Lockout;
use super::{LOCKOUT_FAILURES, LOCKOUT_SECS, TwoFactorRow};
use crate::audit::AuditKind;
use crate::cookies::{encode_value, find_cookie, signed_value, verify_signed};
use crate::error::{ApiError, codes};
use crate::ids::{URL_SAFE_ALPHABET, random_string};
use crate::rate_limit::{CheckedRoute, PasswordAttempt};
use crate::routes::reply;
use crate::session::{AuthSession, ClientMeta, Resolved};
use crate::state::AuthState;
use crate::store::{DbTime, User};

/// The user a second factor is checked for.
pub(super) enum Verifier {
    /// A signed-in user (setting two-factor up, or checking a code while signed in).
    Session(Box<AuthSession>),
    /// A sign-in waiting for its second factor.
    SignIn(SignIn),
}

/// A sign-in waiting for its second factor: the challenge the `two_factor` cookie names.
pub(super) struct SignIn {
    /// The challenge's `verification` identifier (`2fa-<20 characters>`).
    identifier: String,
    /// Its user.
    user: User,
    /// The `dont_remember` cookie the password step set.
    dont_remember: bool,
}

/// A response that is an error with cookies (an expired `two_factor` cookie, say).
pub(super) fn refuse(error: ApiError, cookies: Vec<String>) -> Response {
    let mut response = error.into_response();
    for cookie in cookies {
        if let Ok(value) = header::HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

impl Verifier {
    /// The request's session if it has one, else the sign-in its `two_factor` cookie names
    /// (401 `INVALID_TWO_FACTOR_COOKIE` when it names none that is live).
    pub(super) async fn resolve(state: &AuthState, headers: &HeaderMap) -> Result<Self, ApiError> {
        if let Resolved::Active(session) = state.resolve_session(headers, true).await? {
            return Ok(Self::Session(session));
        }
        let cookies = cookie_header(headers);
        let identifier = signed_cookie(state, &cookies, &state.cookies.two_factor)
            .ok_or_else(codes::invalid_two_factor_cookie)?;
        let now = state.clock.now();
        let user_id = state
            .store
            .find_verification_value(&identifier, now)
            .await?
            .ok_or_else(codes::invalid_two_factor_cookie)?;
        let user = state
            .store
            .find_user_by_id(&user_id)
            .await?
            .ok_or_else(codes::invalid_two_factor_cookie)?;
        let dont_remember = signed_cookie(state, &cookies, &state.cookies.dont_remember)
            .is_some_and(|v| v == "true");
        Ok(Self::SignIn(SignIn {
            identifier,
            user,
            dont_remember,
        }))
    }

    /// The user being checked.
    pub(super) fn user(&self) -> &User {
        match self {
            Self::Session(auth) => &auth.user,
            Self::SignIn(sign_in) => &sign_in.user,
        }
    }

    /// The session the request was made with, if any (for audit events).
    pub(super) fn session_id(&self) -> Option<&str> {
        match self {
            Self::Session(auth) => Some(&auth.session.id),
            Self::SignIn(_) => None,
        }
    }

    /// What a mailed code is filed under: the challenge, or `<user id>!<session id>`.
    pub(super) fn key(&self) -> String {
        match self {
            Self::Session(auth) => format!("{}!{}", auth.user.id, auth.session.id),
            Self::SignIn(sign_in) => sign_in.identifier.clone(),
        }
    }

    /// Whether this is a sign-in (the lockout and the per-challenge attempts apply).
    pub(super) fn is_sign_in(&self) -> bool {
        matches!(self, Self::SignIn(_))
    }

    /// Refuses a sign-in check while the account's second factor is locked (429
    /// `ACCOUNT_TEMPORARILY_LOCKED`), clearing a lock that has run out.
    async fn check_lockout(&self, state: &AuthState, row: &TwoFactorRow) -> Result<(), ApiError> {
        let Some(until) = row.locked_until.filter(|_| self.is_sign_in()) else {
            return Ok(());
        };
        let now = state.clock.now();
        if until.0 > now {
            return Err(codes::account_temporarily_locked());
        }
        state
            .store
            .update_lockout(&row.id, Lockout::ClearExpired { now })
            .await?;
        Ok(())
    }

    /// A failed sign-in check counts towards the account's lockout.
    async fn lockout_failure(&self, state: &AuthState, row: &TwoFactorRow) -> Result<(), ApiError> {
        if self.is_sign_in() {
            let until = state.clock.now() + Duration::seconds(LOCKOUT_SECS);
            let fail = Lockout::Fail {
                max: LOCKOUT_FAILURES,
                until,
            };
            state.store.update_lockout(&row.id, fail).await?;
        }
        Ok(())
    }

    /// A passed sign-in check starts the lockout count again.
    async fn lockout_reset(&self, state: &AuthState, row: &TwoFactorRow) -> Result<(), ApiError> {
        if self.is_sign_in() {
            state.store.update_lockout(&row.id, Lockout::Reset).await?;
        }
        Ok(())
    }

    /// Takes one of the challenge's attempts before a code is checked (sign-in only). The
    /// attempts row is consumed while the check runs, so concurrent guesses on one challenge
    /// find none and are refused (401 `INVALID_TWO_FACTOR_COOKIE`); once
    /// [`CHALLENGE_ATTEMPTS`] are spent the challenge itself goes (400
    /// `TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE`, the cookie expired).
    async fn begin_attempt(&self, state: &AuthState) -> Result<Option<ChallengeAttempt>, Response> {
        let Self::SignIn(sign_in) = self else {
            return Ok(None);
        };
        let identifier = attempts_identifier(&sign_in.identifier);
        let now = state.clock.now();
        let consumed = state
            .store
            .consume_verification(&identifier, now)
            .await
            .map_err(|e| ApiError::from(e).into_response())?
            .ok_or_else(|| codes::invalid_two_factor_cookie().into_response())?;
        let attempts = consumed.0.parse::<u32>().unwrap_or(CHALLENGE_ATTEMPTS);
        if attempts >= CHALLENGE_ATTEMPTS {
            state
                .store
                .consume_verification(&sign_in.identifier, now)
                .await
                .map_err(|e| ApiError::from(e).into_response())?;
            let expired = vec![state.cookies.expire(&state.cookies.two_factor)];
            return Err(refuse(codes::too_many_attempts_request_new_code(), expired));
        }
        Ok(Some(ChallengeAttempt {
            identifier,
            attempts,
            expires_at: DbTime(consumed.1),
        }))
    }

    /// Starts one check of a code for this user, before the code is looked at: a locked
    /// account is refused (sign-in, with its `twoFactor` `row`), a slot of the per-account
    /// limits taken (429 when spent), and with `per_challenge` one of the sign-in challenge's
    /// attempts. The refusal is the answer to give.
    pub(super) async fn begin_check<'a>(
        &'a self,
        state: &'a AuthState,
        meta: &'a ClientMeta,
        route: CheckedRoute,
        row: Option<&'a TwoFactorRow>,
        per_challenge: bool,
    ) -> Result<CodeCheck<'a>, Response> {
        if let Some(row) = row {
            self.check_lockout(state, row)
                .await
                .map_err(IntoResponse::into_response)?;
        }
        let attempt = PasswordAttempt::begin(state, meta, route, &self.user().email).await?;
        let challenge = if per_challenge {
            match self.begin_attempt(state).await {
                Ok(challenge) => challenge,
                Err(refused) => {
                    attempt.not_checked().await;
                    return Err(refused);
                }
            }
        } else {
            None
        };
        Ok(CodeCheck {
            verifier: self,
            state,
            row,
            attempt,
            challenge,
        })
    }

    /// The check passed: for a signed-in user, `{token, user}` of the current session; for a
    /// sign-in, the challenge is spent and an ordinary session opened (its cookies, the
    /// `two_factor` cookie expired, and with `trust_device` a trusted-device cookie).
    pub(super) async fn passed(
        self,
        state: &AuthState,
        meta: &ClientMeta,
        method: &str,
        trust_device: bool,
    ) -> Result<Response, ApiError> {
        let sign_in = match self {
            Self::Session(auth) => {
                return Ok(reply(
                    json!({ "token": auth.session.token, "user": auth.user }),
                    auth.cookies,
                ));
            }
            Self::SignIn(sign_in) => sign_in,
        };
        let expired_challenge = state.cookies.expire(&state.cookies.two_factor);
        let now = state.clock.now();
        let consumed = state
            .store
            .consume_verification(&sign_in.identifier, now)
            .await?;
        // Single use: of two checks passing at once, the second finds the challenge gone.
        let owned = consumed.is_some_and(|(user_id, _)| {
            bool::from(user_id.as_bytes().ct_eq(sign_in.user.id.as_bytes()))
        });
        if !owned {
            return Ok(refuse(
                codes::invalid_two_factor_cookie(),
                vec![expired_challenge],
            ));
        }
        let audit = state
            .audit_event(AuditKind::SignIn, meta)
            .user(&sign_in.user.id)
            .detail(json!({ "via": "two_factor", "method": method }));
        let session = state
            .create_session(&sign_in.user, meta, sign_in.dont_remember, audit)
            .await?;
        let mut cookies = state.session_cookies(&session, sign_in.dont_remember);
        cookies.push(expired_challenge);
        if trust_device {
            cookies.push(trust_this_device(state, &sign_in.user.id).await?);
            // Better Auth keeps the session cookie without `Max-Age` and drops the marker.
            cookies.retain(|c| !c.starts_with(&format!("{}=", state.cookies.dont_remember)));
            cookies.push(state.cookies.expire(&state.cookies.dont_remember));
        }
        Ok(reply(
            json!({ "token": session.token, "user": sign_in.user }),
            cookies,
        ))
    }
}

/// One check of a code under way ([`Verifier::begin_check`]): it ends [`failed`](Self::failed),
/// [`succeeded`](Self::succeeded) or [`not_checked`](Self::not_checked).
pub(super) struct CodeCheck<'a> {
    verifier: &'a Verifier,
    state: &'a AuthState,
    row: Option<&'a TwoFactorRow>,
    attempt: PasswordAttempt<'a>,
    challenge: Option<ChallengeAttempt>,
}

impl CodeCheck<'_> {
    /// The code was wrong: one challenge attempt fewer, one more failure towards the lockout
    /// and in the per-account limits, audited (`two_factor_failed`).
    pub(super) async fn failed(self) -> Result<(), ApiError> {
        if let Some(challenge) = self.challenge {
            challenge.failed(self.state).await?;
        }
        if let Some(row) = self.row {
            self.verifier.lockout_failure(self.state, row).await?;
        }
        let user_id = &self.verifier.user().id;
        self.attempt
            .failed(Some(user_id), self.verifier.session_id())
            .await?;
        Ok(())
    }

    /// The code was right: the per-account slot goes back and the lockout count restarts.
    pub(super) async fn succeeded(self) -> Result<(), ApiError> {
        self.attempt.succeeded().await;
        if let Some(row) = self.row {
            self.verifier.lockout_reset(self.state, row).await?;
        }
        Ok(())
    }

    /// Nothing was checked (no code to check it against): every count goes back.
    pub(super) async fn not_checked(self) -> Result<(), ApiError> {
        self.attempt.not_checked().await;
        if let Some(challenge) = self.challenge {
            challenge.restore(self.state).await?;
        }
        Ok(())
    }
}

/// One attempt of a sign-in challenge, taken by [`Verifier::begin_attempt`]; its attempts row
/// must be written back with [`failed`](Self::failed) or [`restore`](Self::restore).
struct ChallengeAttempt {
    identifier: String,
    attempts: u32,
    expires_at: DbTime,
}

impl ChallengeAttempt {
    /// The code was wrong: one attempt fewer left.
    async fn failed(self, state: &AuthState) -> Result<(), ApiError> {
        self.rearm(state, self.attempts + 1).await
    }

    /// Nothing was checked (the secret could not be read): the attempt goes back.
    async fn restore(self, state: &AuthState) -> Result<(), ApiError> {
        self.rearm(state, self.attempts).await
    }

    async fn rearm(&self, state: &AuthState, attempts: u32) -> Result<(), ApiError> {
        state
            .store
            .create_verification(
                &self.identifier,
                &attempts.to_string(),
                self.expires_at.0,
                state.clock.now(),
            )
            .await?;
        Ok(())
    }
}

fn attempts_identifier(challenge: &str) -> String {
    format!("2fa-attempts-{challenge}")
}

/// What [`gate_sign_in`] decided.
pub(crate) enum SignInGate {
    /// Sign in as usual, adding these cookies (a renewed trusted-device cookie).
    Open(Vec<String>),
    /// Answer this instead: `{twoFactorRedirect: true, twoFactorMethods}` with the
    /// `two_factor` cookie, and no session.
    Challenge(Response),
}

/// The twoFactor plugin's sign-in hook, run once the password is right: a user with
/// `twoFactorEnabled` is asked for a second factor unless this device is trusted.
pub(crate) async fn gate_sign_in(
    state: &AuthState,
    meta: &ClientMeta,
    headers: &HeaderMap,
    user: &User,
    dont_remember: bool,
) -> Result<SignInGate, ApiError> {
    if !state.config.two_factor.enabled || user.two_factor_enabled != Some(true) {
        return Ok(SignInGate::Open(Vec::new()));
    }
    let cookies = cookie_header(headers);
    let presented = signed_cookie(state, &cookies, &state.cookies.trust_device);
    if let Some(trusted) = &presented
        && let Some(identifier) = trusted_identifier(state, user, trusted).await?
    {
        // Each use renews it: the old identifier goes, a new one is issued.
        state.store.delete_verification(&identifier).await?;
        return Ok(SignInGate::Open(vec![
            trust_this_device(state, &user.id).await?,
        ]));
    }
    let settings = &state.config.two_factor;
    let now = state.clock.now();
    let expires_at = now + Duration::seconds(i64::from(settings.cookie_max_age_secs));
    let identifier = format!("2fa-{}", random_string(20, URL_SAFE_ALPHABET));
    state
        .store
        .create_verification(&identifier, &user.id, expires_at, now)
        .await?;
    state
        .store
        .create_verification(&attempts_identifier(&identifier), "0", expires_at, now)
        .await?;
    let mut methods = Vec::new();
    if state
        .store
        .find_two_factor(&user.id)
        .await?
        .is_some_and(|row| row.verified != Some(false))
    {
        methods.push("totp");
    }
    if state.outbox().is_some() {
        methods.push("otp");
    }
    let audit = state
        .audit_event(AuditKind::TwoFactorRequired, meta)
        .user(&user.id)
        .detail(json!({ "methods": methods }));
    state.audit(audit).await?;
    let secret = &state.config.secrets.current().secret;
    let mut set = Vec::new();
    if dont_remember {
        let marker = encode_value(&signed_value(secret, "true"));
        set.push(
            state
                .cookies
                .set_cookie(&state.cookies.dont_remember, &marker, None),
        );
    }
    if presented.is_some() {
        set.push(state.cookies.expire(&state.cookies.trust_device));
    }
    set.push(state.cookies.expire(&state.cookies.session_token));
    set.push(state.cookies.expire(&state.cookies.session_data));
    set.push(state.cookies.set_cookie(
        &state.cookies.two_factor,
        &encode_value(&signed_value(secret, &identifier)),
        Some(i64::from(settings.cookie_max_age_secs)),
    ));
    Ok(SignInGate::Challenge(reply(
        json!({ "twoFactorRedirect": true, "twoFactorMethods": methods }),
        set,
    )))
}

/// The trusted-device record a cookie value `<hmac>!<identifier>` names, if its HMAC is the
/// server's for this user and the record is live and the user's.
async fn trusted_identifier(
    state: &AuthState,
    user: &User,
    value: &str,
) -> Result<Option<String>, ApiError> {
    let Some((mac, identifier)) = value.split_once('!') else {
        return Ok(None);
    };
    let expected = trust_mac(state, &user.id, identifier);
    if mac.is_empty()
        || identifier.is_empty()
        || !bool::from(mac.as_bytes().ct_eq(expected.as_bytes()))
    {
        return Ok(None);
    }
    let owner = state
        .store
        .find_verification_value(identifier, state.clock.now())
        .await?;
    Ok(owner
        .filter(|owner| owner == &user.id)
        .map(|_| identifier.to_owned()))
}

/// The trusted-device record named by this request's `trust_device` cookie, if it is signed
/// by this server (for `/two-factor/disable`, which deletes it).
pub(super) fn presented_trust_identifier(state: &AuthState, headers: &HeaderMap) -> Option<String> {
    let value = signed_cookie(state, &cookie_header(headers), &state.cookies.trust_device)?;
    value.split_once('!').map(|(_, id)| id.to_owned())
}

/// Issues a trusted-device record for `user_id` and the cookie naming it: a `verification` row
/// `trust-device-<32 characters>` (value the user id, for `trustDeviceMaxAge`) and the signed
/// cookie `<base64url HMAC-SHA256(secret, "<user id>!<identifier>")>!<identifier>`.
async fn trust_this_device(state: &AuthState, user_id: &str) -> Result<String, ApiError> {
    let max_age = i64::from(state.config.two_factor.trust_device_max_age_secs);
    let now = state.clock.now();
    let identifier = format!("trust-device-{}", random_string(32, URL_SAFE_ALPHABET));
    state
        .store
        .create_verification(&identifier, user_id, now + Duration::seconds(max_age), now)
        .await?;
    let value = format!("{}!{identifier}", trust_mac(state, user_id, &identifier));
    let secret = &state.config.secrets.current().secret;
    Ok(state.cookies.set_cookie(
        &state.cookies.trust_device,
        &encode_value(&signed_value(secret, &value)),
        Some(max_age),
    ))
}

fn trust_mac(state: &AuthState, user_id: &str, identifier: &str) -> String {
    use base64::Engine as _;
    let secret = &state.config.secrets.current().secret;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
    let tag = hmac::sign(&key, format!("{user_id}!{identifier}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
}

fn cookie_header(headers: &HeaderMap) -> String {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A cookie's value once its signature checks with one of the configured secrets.
fn signed_cookie(state: &AuthState, cookies: &str, name: &str) -> Option<String> {
    let raw = find_cookie(cookies, name)?;
    verify_signed(state.config.secrets.all().map(|s| &s.secret), &raw)
}
