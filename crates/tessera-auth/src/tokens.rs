//! Minting access tokens (contract §4.2): the session's user object plus `sub`, `iat`, `exp`,
//! `iss` and `aud`, where `iss` = `aud` = the origin of the base URL (no `aud` in HS256 mode).
//! Tessera adds `sid`, the session's id, so guards can refuse the tokens of an ended session
//! at once ([`crate::revocation`]); Better Auth's tokens name no session.

use serde_json::{Map, Value, json};

use crate::audit::{AuditEvent, AuditKind};
use crate::error::ApiError;
use crate::keys::KeyError;
use crate::session::ClientMeta;
use crate::state::AuthState;
use crate::store::{Session, StoreError, User};

impl AuthState {
    /// Signs a JWT for `user` with the current key, and audits it (`token_issued`, naming the
    /// key and expiry, never the token). `via` names the endpoint (`token`, `get-session`).
    pub async fn mint_jwt(
        &self,
        user: &User,
        session: &Session,
        meta: &ClientMeta,
        via: &str,
    ) -> Result<String, ApiError> {
        let now = self.clock.now();
        let key = self
            .keys
            .signing_key(self.store.as_ref(), now)
            .await
            .map_err(|e| self.key_error(e))?;
        let iat = now.timestamp();
        let mut claims = match serde_json::to_value(user) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let exp = iat + self.config.jwt_expires_in.num_seconds();
        claims.insert("iat".into(), iat.into());
        claims.insert("sub".into(), user.id.clone().into());
        claims.insert("exp".into(), exp.into());
        claims.insert("iss".into(), self.config.base_origin.clone().into());
        // OpenID Connect's name for the session a token belongs to. The id is not a credential
        // (the session token is), and whoever holds this JWT may act as the user anyway.
        claims.insert("sid".into(), session.id.clone().into());
        // The brief's FastAPI middleware calls python-jose `jwt.decode(token, secret,
        // algorithms=["HS256"])` with no audience argument, and python-jose then rejects any
        // token that carries `aud`. HS256 tokens therefore leave it out; the asymmetric modes
        // keep Better Auth's `aud` so JWKS verifiers can pin it.
        if self.keys.alg() != tessera_jwt::Algorithm::HS256 {
            claims.insert("aud".into(), self.config.base_origin.clone().into());
        }
        let token = key.sign(&claims).map_err(|e| {
            tracing::error!(error = %e, "signing failed");
            ApiError::internal()
        })?;
        // Fail closed: a token whose issue could not be recorded is not handed out.
        let event = AuditEvent::new(AuditKind::TokenIssued, now, meta)
            .user(&user.id)
            .session(&session.id)
            .detail(json!({ "kid": key.kid(), "alg": key.alg().as_str(), "exp": exp, "via": via }));
        self.audit(event).await?;
        Ok(token)
    }

    /// Maps a key failure to the client's answer, logging the cause.
    pub(crate) fn key_error(&self, err: KeyError) -> ApiError {
        match err {
            KeyError::Store(store) => ApiError::from(store),
            other => {
                tracing::error!(error = %other, "signing key unavailable");
                ApiError::from(StoreError::Other(other.to_string()))
            }
        }
    }
}
