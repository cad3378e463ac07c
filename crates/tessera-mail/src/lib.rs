//! Tessera's mail delivery.
//!
//! Every mail goes through a durable outbox, the `mail_outbox` table this crate's
//! [`migrations`] create: the auth store writes the row with [`enqueue`] in the same
//! transaction as the token the mail carries, so a rolled-back token never sends a mail and a
//! committed one is never lost. A background worker claims due rows, sends them and retries with
//! backoff; the HTTP answer never waits for it.
//!
//! The link a mail carries is a secret: [`SecretUrl`] has a redacted `Debug`, and nothing in
//! this crate logs it.
#![forbid(unsafe_code)]

mod error;
mod mail;
mod outbox;
mod render;
mod settings;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transport;
mod worker;

pub use error::{MailError, MailResult};
pub use mail::{Mail, MailKind, SecretUrl, UnknownMailKind};
pub use outbox::{INSERT_OUTBOX, MailId, Now, Outbox, enqueue, migrations};
pub use render::{Rendered, TemplateError, Templates};
pub use settings::{MailSettings, MailSettingsError};
pub use worker::{
    DEFAULT_MAX_ATTEMPTS, DEFAULT_POLL, DeliveryFailure, DeliveryHook, NoHook, Round, Worker,
    WorkerConfig, WorkerHandle,
};
