//! SMTP through lettre, configured by a URL in lettre's form.

use std::time::Duration;

use async_trait::async_trait;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Outgoing, SendError, Transport};

/// How long one SMTP exchange may take; well under the worker's claim, so a hung server
/// cannot let a second worker claim the row while this one still sends it.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Sends over SMTP to the server of `TESSERA_SMTP_URL`.
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
    describe: String,
}

impl std::fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe)
    }
}

/// A `TESSERA_SMTP_URL` lettre does not accept. The URL itself is not repeated: it may hold a
/// password.
#[derive(Debug, thiserror::Error)]
#[error(
    "TESSERA_SMTP_URL is not a valid SMTP URL (smtp://host:port, smtps://user:pass@host, ?tls=required)"
)]
pub struct InvalidSmtpUrl;

impl SmtpTransport {
    /// The transport for `url`: `smtp://host:port` (plain, or STARTTLS with `?tls=required`
    /// / `?tls=opportunistic`), `smtps://user:pass@host` (TLS from the start).
    ///
    /// # Errors
    /// [`InvalidSmtpUrl`] when lettre does not accept it.
    pub fn from_url(url: &str) -> Result<Self, InvalidSmtpUrl> {
        let parsed = url::Url::parse(url).map_err(|_| InvalidSmtpUrl)?;
        let inner = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| InvalidSmtpUrl)?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let describe = format!(
            "SMTP server {}://{}:{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or(""),
            parsed
                .port()
                .map_or_else(|| "default".to_owned(), |p| p.to_string())
        );
        Ok(Self { inner, describe })
    }
}

#[async_trait]
impl Transport for SmtpTransport {
    async fn send(&self, mail: &Outgoing) -> Result<(), SendError> {
        let message = mail.to_message()?;
        match self.inner.send(message).await {
            Ok(_) => Ok(()),
            Err(err) if err.is_permanent() => Err(SendError::permanent("smtp_rejected")),
            Err(err) if err.is_transient() => Err(SendError::transient("smtp_deferred")),
            Err(err) if err.is_timeout() => Err(SendError::transient("smtp_timeout")),
            Err(_) => Err(SendError::transient("smtp_unavailable")),
        }
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}
