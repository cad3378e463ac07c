//! Choosing the transport from the settings: SMTP, else the webhook, else `.eml` files.

use std::path::PathBuf;
use std::sync::Arc;

use crate::render::{TemplateError, Templates};
use crate::transport::smtp::InvalidSmtpUrl;
use crate::transport::webhook::InvalidWebhook;
use crate::transport::{FileTransport, SmtpTransport, Transport, WebhookTransport};
use crate::{Outbox, Worker, WorkerConfig};

/// The mail settings (`TESSERA_SMTP_URL`, `TESSERA_MAIL_FROM`, `TESSERA_MAIL_WEBHOOK_URL`,
/// `TESSERA_MAIL_WEBHOOK_SECRET`, `TESSERA_APP_NAME`, `TESSERA_MAIL_TEMPLATES`) and the
/// directory `.eml` files go to when neither transport is set.
#[derive(Clone)]
pub struct MailSettings {
    /// The SMTP server, in lettre's URL form; may hold a password.
    pub smtp_url: Option<String>,
    /// The sender address, e.g. `Acme <no-reply@acme.example>`.
    pub from: String,
    /// The webhook to post mails to instead of SMTP.
    pub webhook_url: Option<String>,
    /// The webhook's signing secret.
    pub webhook_secret: Option<String>,
    /// The app's name in every mail.
    pub app_name: String,
    /// A directory of template overrides.
    pub templates: Option<PathBuf>,
    /// Where `.eml` files go without SMTP or webhook (`<data dir>/mail`, in development);
    /// `None` (production): without SMTP or webhook no mail is delivered at all, rather than
    /// into files nobody reads.
    pub eml_dir: Option<PathBuf>,
    /// How often the worker looks without being woken ([`crate::DEFAULT_POLL`]; tests
    /// lengthen it to show that a committed mail wakes the worker).
    pub poll: std::time::Duration,
    /// Attempts before a mail is given up ([`crate::DEFAULT_MAX_ATTEMPTS`]).
    pub max_attempts: i32,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field(
                "webhook_url",
                &self.webhook_url.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("app_name", &self.app_name)
            .field("templates", &self.templates)
            .field("eml_dir", &self.eml_dir)
            .field("poll", &self.poll)
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

/// Mail settings that cannot work; refused at start-up.
#[derive(Debug, thiserror::Error)]
pub enum MailSettingsError {
    /// `TESSERA_SMTP_URL` does not parse.
    #[error(transparent)]
    Smtp(#[from] InvalidSmtpUrl),
    /// The webhook URL or secret is unusable.
    #[error(transparent)]
    Webhook(#[from] InvalidWebhook),
    /// Both SMTP and a webhook are set: which one delivers would be a guess.
    #[error("set TESSERA_SMTP_URL or TESSERA_MAIL_WEBHOOK_URL, not both")]
    Both,
    /// `TESSERA_MAIL_FROM` is not an address.
    #[error("TESSERA_MAIL_FROM is not a mail address")]
    From,
    /// A template override cannot be read.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A worker was asked for with nothing to deliver through (see [`MailSettings::delivers`]).
    #[error("no mail transport: set TESSERA_SMTP_URL or TESSERA_MAIL_WEBHOOK_URL")]
    NoTransport,
}

impl MailSettingsError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Smtp(_) => "invalid_smtp_url",
            Self::Webhook(_) => "invalid_mail_webhook",
            Self::Both => "ambiguous_mail_transport",
            Self::From => "invalid_mail_from",
            Self::Template(_) => "unreadable_mail_template",
            Self::NoTransport => "no_mail_transport",
        }
    }
}

impl MailSettings {
    /// Whether these settings deliver mail at all: SMTP, a webhook, or (in development) `.eml`
    /// files. Without, the endpoints that send mail answer as Better Auth's do without a
    /// sender (`RESET_PASSWORD_DISABLED`, `VERIFICATION_EMAIL_NOT_ENABLED`).
    pub fn delivers(&self) -> bool {
        self.smtp_url.is_some() || self.webhook_url.is_some() || self.eml_dir.is_some()
    }

    /// The transport these settings choose.
    ///
    /// # Errors
    /// [`MailSettingsError`] for an unusable URL, secret or both transports at once.
    pub fn transport(&self, outbox: &Outbox) -> Result<Arc<dyn Transport>, MailSettingsError> {
        match (&self.smtp_url, &self.webhook_url) {
            (Some(_), Some(_)) => Err(MailSettingsError::Both),
            (Some(url), None) => Ok(Arc::new(SmtpTransport::from_url(url)?)),
            (None, Some(url)) => {
                let secret = self.webhook_secret.as_deref().unwrap_or("");
                Ok(Arc::new(WebhookTransport::new(
                    url,
                    secret.as_bytes(),
                    outbox.now.clone(),
                )?))
            }
            (None, None) => match &self.eml_dir {
                Some(dir) => Ok(Arc::new(FileTransport::new(dir.clone()))),
                None => Err(MailSettingsError::NoTransport),
            },
        }
    }

    /// The worker these settings describe, draining `outbox`.
    ///
    /// # Errors
    /// [`MailSettingsError`] for unusable settings.
    pub fn worker(&self, outbox: Outbox) -> Result<Worker, MailSettingsError> {
        self.from
            .parse::<lettre::message::Mailbox>()
            .map_err(|_| MailSettingsError::From)?;
        let templates = match &self.templates {
            Some(dir) => Templates::with_overrides(self.app_name.clone(), dir)?,
            None => Templates::built_in(self.app_name.clone()),
        };
        let transport = self.transport(&outbox)?;
        let config = WorkerConfig {
            poll: self.poll,
            max_attempts: self.max_attempts,
            ..WorkerConfig::new(self.from.clone())
        };
        Ok(Worker::new(outbox, transport, templates, config))
    }
}
