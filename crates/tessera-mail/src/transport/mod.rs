//! Where rendered mails go: an SMTP server, a signed webhook, or `.eml` files in development.

mod file;
pub(crate) mod smtp;
pub(crate) mod webhook;

use std::borrow::Cow;

use async_trait::async_trait;

pub use file::FileTransport;
pub use smtp::{InvalidSmtpUrl, SmtpTransport};
pub use webhook::{InvalidWebhook, SIGNATURE_HEADER, WebhookTransport, sign};

use crate::render::Rendered;
use crate::{MailId, MailKind};

/// One mail ready to leave: the outbox row's id (an idempotency key for receivers: delivery
/// is at least once), its kind, both addresses and the rendered parts.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// The outbox row's id.
    pub id: MailId,
    /// Which mail.
    pub kind: MailKind,
    /// The sender (`TESSERA_MAIL_FROM`).
    pub from: String,
    /// The recipient.
    pub to: String,
    /// Subject and bodies.
    pub rendered: Rendered,
}

impl Outgoing {
    /// The message as a MIME `multipart/alternative` (plain text, then HTML).
    ///
    /// # Errors
    /// [`SendError::permanent`] `invalid_address` when an address does not parse.
    pub fn to_message(&self) -> Result<lettre::Message, SendError> {
        use lettre::message::{Mailbox, MultiPart};
        let address = |s: &str| {
            s.parse::<Mailbox>()
                .map_err(|_| SendError::permanent("invalid_address"))
        };
        lettre::Message::builder()
            .from(address(&self.from)?)
            .to(address(&self.to)?)
            .subject(self.rendered.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                self.rendered.text.clone(),
                self.rendered.html.clone(),
            ))
            .map_err(|_| SendError::permanent("invalid_message"))
    }
}

/// A failed send: a stable machine code (stored as the row's `last_error`, logged) and whether
/// trying again later may succeed. It never holds the server's reply or the message, which
/// could echo the link.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("mail send failed: {code}")]
pub struct SendError {
    /// The machine code, e.g. `smtp_unavailable`.
    pub code: Cow<'static, str>,
    /// Whether a later attempt may succeed (a refused connection, a 4xx reply) or not (a
    /// rejected address).
    pub retryable: bool,
}

impl SendError {
    /// A failure worth retrying.
    pub fn transient(code: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code: code.into(),
            retryable: true,
        }
    }

    /// A failure no retry will fix.
    pub fn permanent(code: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code: code.into(),
            retryable: false,
        }
    }
}

/// A way to deliver mail.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Delivers one mail; returns once the receiver accepted it.
    async fn send(&self, mail: &Outgoing) -> Result<(), SendError>;

    /// Where mail goes, for the start-up log line (never a password or secret).
    fn describe(&self) -> String;
}
