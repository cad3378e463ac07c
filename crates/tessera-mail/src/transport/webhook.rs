//! The HTTP webhook: each mail posted as JSON, signed with HMAC-SHA256, for apps that send
//! through their own provider.
//!
//! The signature header is `x-tessera-signature: t=<unix seconds>,v1=<hex>` where the hex is
//! HMAC-SHA256 under the shared secret of `<t>.<raw body>`. A receiver recomputes it over the
//! raw body it got, compares in constant time, and refuses a `t` more than a few minutes old
//! (a replayed request). The body's `id` is the same across retries: delivery is at least
//! once, so a receiver drops an id it has already sent.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ring::hmac;
use serde::Serialize;

use super::{Outgoing, SendError, Transport};
use crate::Now;

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "x-tessera-signature";

const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(20);

/// `t=<unix_seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn sign(secret: &[u8], unix_seconds: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(unix_seconds.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    format!(
        "t={unix_seconds},v1={}",
        hex::encode(context.sign().as_ref())
    )
}

/// The JSON body posted.
#[derive(Serialize)]
struct Body<'a> {
    id: &'a str,
    kind: &'a str,
    from: &'a str,
    to: &'a str,
    subject: &'a str,
    text: &'a str,
    html: &'a str,
}

/// Posts each mail to `TESSERA_MAIL_WEBHOOK_URL`, signed with `TESSERA_MAIL_WEBHOOK_SECRET`.
pub struct WebhookTransport {
    client: reqwest::Client,
    url: reqwest::Url,
    secret: Vec<u8>,
    now: Arc<dyn Now>,
}

impl std::fmt::Debug for WebhookTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTransport")
            .field("url", &self.describe())
            .finish_non_exhaustive()
    }
}

/// A webhook URL that does not parse, or an empty secret.
#[derive(Debug, thiserror::Error)]
pub enum InvalidWebhook {
    /// `TESSERA_MAIL_WEBHOOK_URL` is not an http(s) URL.
    #[error("TESSERA_MAIL_WEBHOOK_URL is not an http(s) URL")]
    Url,
    /// `TESSERA_MAIL_WEBHOOK_SECRET` is missing or empty: an unsigned webhook would let anyone
    /// who finds the receiver send mail as the app.
    #[error("TESSERA_MAIL_WEBHOOK_SECRET must be set with TESSERA_MAIL_WEBHOOK_URL")]
    Secret,
}

impl WebhookTransport {
    /// Posts to `url`, signing with `secret`, timestamps from `now`.
    ///
    /// # Errors
    /// [`InvalidWebhook`] for a URL that is not http(s) or an empty secret.
    pub fn new(url: &str, secret: &[u8], now: Arc<dyn Now>) -> Result<Self, InvalidWebhook> {
        let url = reqwest::Url::parse(url).map_err(|_| InvalidWebhook::Url)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(InvalidWebhook::Url);
        }
        if secret.is_empty() {
            return Err(InvalidWebhook::Secret);
        }
        let client = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| InvalidWebhook::Url)?;
        Ok(Self {
            client,
            url,
            secret: secret.to_vec(),
            now,
        })
    }
}

#[async_trait]
impl Transport for WebhookTransport {
    async fn send(&self, mail: &Outgoing) -> Result<(), SendError> {
        let body = serde_json::to_vec(&Body {
            id: &mail.id.0,
            kind: mail.kind.as_str(),
            from: &mail.from,
            to: &mail.to,
            subject: &mail.rendered.subject,
            text: &mail.rendered.text,
            html: &mail.rendered.html,
        })
        .map_err(|_| SendError::permanent("invalid_message"))?;
        let signature = sign(&self.secret, self.now.now().timestamp(), &body);
        let response = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|err| {
                SendError::transient(if err.is_timeout() {
                    "webhook_timeout"
                } else {
                    "webhook_unavailable"
                })
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_client_error()
            && status != reqwest::StatusCode::REQUEST_TIMEOUT
            && status != reqwest::StatusCode::TOO_MANY_REQUESTS
        {
            Err(SendError::permanent(format!(
                "webhook_status_{}",
                status.as_u16()
            )))
        } else {
            Err(SendError::transient(format!(
                "webhook_status_{}",
                status.as_u16()
            )))
        }
    }

    fn describe(&self) -> String {
        // Scheme, host and path only: a query string could carry the receiver's own key.
        format!(
            "webhook {}://{}{}",
            self.url.scheme(),
            self.url.host_str().unwrap_or(""),
            self.url.path()
        )
    }
}
