//! `POST /sign-up/email`.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use crate::audit::AuditKind;
use crate::body::{Body, Fields, SignUpBody};
use crate::domain::{ImageUrl, Password, UserName};
use crate::error::{ApiError, codes};
use crate::features::email_verification::{SentVia, send_verification_mail};
use crate::ids::generate_id;
use crate::rate_limit::ClientIp;
use crate::routes::reply;
use crate::session::ClientMeta;
use crate::state::AuthState;
use crate::store::{Account, DbTime, StoreError, User};

pub(super) fn router() -> Router<AuthState> {
    Router::new().route("/sign-up/email", post(sign_up_email))
}

/// Creates a user with a credential account, mails a verification link under `sendOnSignUp`,
/// then signs them in, unless `requireEmailVerification` (then `token: null`, no cookie).
async fn sign_up_email(
    State(state): State<AuthState>,
    meta: ClientMeta,
    Body(body): SignUpBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    // Name and image are bounded and free of control characters, so what is stored (and
    // copied into every JWT) stays small and PostgreSQL never sees a NUL.
    let name = fields.text::<UserName>("name");
    let email = fields.email("email");
    let password = fields.non_empty_string("password");
    let image = fields.opt_text::<ImageUrl>("image");
    let callback_url = fields.opt_string("callbackURL");
    let remember_me = fields.opt_bool("rememberMe");
    fields.finish()?;
    let email = email.ok_or_else(codes::invalid_email)?;
    if let Some(url) = &callback_url
        && !state.trusted.allows_callback(url)
    {
        return Err(codes::invalid_callback_url());
    }
    let password = Password::parse(password)?;
    // With requireEmailVerification sign-up opens no session, so a taken address can get the
    // same answer as a new one (a stand-in user, `token: null`) after the same hashing work.
    let hide_taken = state.config.email_verification.require_email_verification;
    let taken = state
        .store
        .find_user_by_email(email.as_str())
        .await?
        .is_some();
    if taken && !hide_taken {
        return Err(codes::user_already_exists());
    }
    let client_ip = meta.client_ip.clone().unwrap_or_else(ClientIp::unknown);
    let hash = match state
        .email_password
        .hasher
        .for_client(&client_ip)
        .hash(&password)
        .await
    {
        Ok(hash) => hash,
        Err(err) => return Err(state.hashing_refused(err, &meta, "/sign-up/email").await),
    };
    let now = DbTime::from(state.clock.now());
    let user = User {
        id: generate_id(32),
        name: name.into_inner(),
        email: email.as_str().to_owned(),
        email_verified: false,
        image: image.map(ImageUrl::into_inner),
        created_at: now,
        updated_at: now,
        // The twoFactor plugin's default for a new user, written only while it is on.
        two_factor_enabled: state.config.two_factor.enabled.then_some(false),
    };
    if taken {
        return Ok(reply(json!({ "token": null, "user": user }), Vec::new()));
    }
    let account = Account::credential(&user.id, hash, now);
    let audit = state.audit_event(AuditKind::SignUp, &meta).user(&user.id);
    match state
        .store
        .create_user_with_account(&user, &account, &audit)
        .await
    {
        Ok(()) => audit.emit(),
        // Lost a race with a concurrent sign-up for the same address.
        Err(StoreError::Conflict(_)) if hide_taken => {
            return Ok(reply(json!({ "token": null, "user": user }), Vec::new()));
        }
        Err(StoreError::Conflict(_)) => return Err(codes::user_already_exists()),
        Err(other) => return Err(other.into()),
    }
    if state.config.email_verification.sends_on_sign_up() && state.outbox().is_some() {
        // After the user's commit, as Better Auth's after-transaction hook: a failure to queue
        // the mail is logged and does not undo the sign-up (the user can ask again).
        if let Err(error) = send_verification_mail(
            &state,
            &meta,
            &user,
            callback_url.as_deref(),
            SentVia::SignUp,
        )
        .await
        {
            tracing::error!(code = ?error.code(), "queueing the sign-up verification mail failed");
        }
    }
    if hide_taken {
        return Ok(reply(json!({ "token": null, "user": user }), Vec::new()));
    }
    let dont_remember = remember_me == Some(false);
    let audit = state
        .audit_event(AuditKind::SignIn, &meta)
        .user(&user.id)
        .detail(json!({ "via": "sign_up" }));
    let session = state
        .create_session(&user, &meta, dont_remember, audit)
        .await?;
    let cookies = state.session_cookies(&session, dont_remember);
    Ok(reply(
        json!({ "token": session.token, "user": user }),
        cookies,
    ))
}
