//! The mail layer's error.

use tessera_db::StoreError;

/// A failure of the mail layer, with a stable machine [`code`](MailError::code).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The outbox could not be read or written.
    #[error("mail outbox storage failed")]
    Store(#[from] StoreError),
    /// A stored row could not be turned back into a mail (an unknown kind, a broken payload).
    #[error("mail outbox row is malformed")]
    Malformed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl MailError {
    /// A stable machine code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Store(err) => err.code(),
            Self::Malformed(_) => "mail_malformed",
        }
    }
}

impl From<sqlx::Error> for MailError {
    fn from(err: sqlx::Error) -> Self {
        Self::Store(err.into())
    }
}

/// Result alias for the mail layer.
pub type MailResult<T> = Result<T, MailError>;
