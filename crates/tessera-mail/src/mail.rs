//! A mail to send: who to, which kind, and the variables its template fills in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which mail: picks the template. Stored in the outbox as [`as_str`](MailKind::as_str).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MailKind {
    /// "Reset your password": the link to `/reset-password/:token`.
    ResetPassword,
    /// "Verify your email address": the link to `/verify-email?token=…`.
    VerifyEmail,
    /// Sent to the NEW address of an email change: the link that verifies it.
    ChangeEmailVerification,
    /// Sent to the CURRENT address of an email change: the link that approves it.
    ChangeEmailConfirmation,
    /// "Confirm deleting your account": the link to `/delete-user/callback?token=…`.
    DeleteAccount,
    /// "Your sign-in code": the one-time code of a two-factor sign-in (`/two-factor/send-otp`);
    /// the mail's [`SecretUrl`] holds the code, `{{code}}` in the templates.
    TwoFactorCode,
}

impl MailKind {
    /// Every kind, in a fixed order (for templates and tests).
    pub const ALL: [Self; 6] = [
        Self::ResetPassword,
        Self::VerifyEmail,
        Self::ChangeEmailVerification,
        Self::ChangeEmailConfirmation,
        Self::DeleteAccount,
        Self::TwoFactorCode,
    ];

    /// The stable name: stored in the outbox, names the template files
    /// (`reset-password.txt`, `reset-password.html`, `reset-password.subject`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResetPassword => "reset-password",
            Self::VerifyEmail => "verify-email",
            Self::ChangeEmailVerification => "change-email-verification",
            Self::ChangeEmailConfirmation => "change-email-confirmation",
            Self::DeleteAccount => "delete-account",
            Self::TwoFactorCode => "two-factor-code",
        }
    }
}

impl fmt::Display for MailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored kind this build does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown mail kind")]
pub struct UnknownMailKind;

impl FromStr for MailKind {
    type Err = UnknownMailKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or(UnknownMailKind)
    }
}

/// The link a mail carries. It holds a token that signs its bearer in or changes the account,
/// so it is never logged: `Debug` is redacted and there is no `Display`; read it with
/// [`expose`](SecretUrl::expose) where the message body is built.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wraps a link.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The link itself, for the message body only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretUrl(<redacted>)")
    }
}

/// A mail to send. The app's name is not here: the renderer takes it from the
/// `TESSERA_APP_NAME` setting when the mail is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// The recipient's address.
    pub to: String,
    /// Which mail.
    pub kind: MailKind,
    /// The recipient's name, for the greeting.
    pub user_name: String,
    /// The link the mail carries.
    pub url: SecretUrl,
    /// For [`MailKind::ChangeEmailConfirmation`] and [`MailKind::ChangeEmailVerification`]: the
    /// address the account moves to.
    pub new_email: Option<String>,
}

impl Mail {
    /// A mail of `kind` to `to` (named `user_name`) carrying `url`.
    pub fn new(
        kind: MailKind,
        to: impl Into<String>,
        user_name: impl Into<String>,
        url: SecretUrl,
    ) -> Self {
        Self {
            to: to.into(),
            kind,
            user_name: user_name.into(),
            url,
            new_email: None,
        }
    }

    /// The same mail naming the address the account moves to.
    #[must_use]
    pub fn with_new_email(mut self, new_email: impl Into<String>) -> Self {
        self.new_email = Some(new_email.into());
        self
    }
}

/// The template variables as stored in the outbox's `payload` column (JSON).
#[derive(Serialize, Deserialize)]
pub(crate) struct Payload {
    pub(crate) user_name: String,
    pub(crate) url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) new_email: Option<String>,
}

impl Payload {
    pub(crate) fn of(mail: &Mail) -> Self {
        Self {
            user_name: mail.user_name.clone(),
            url: mail.url.expose().to_owned(),
            new_email: mail.new_email.clone(),
        }
    }

    pub(crate) fn into_mail(self, kind: MailKind, to: String) -> Mail {
        Mail {
            to,
            kind,
            user_name: self.user_name,
            url: SecretUrl(self.url),
            new_email: self.new_email,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_url_never_shows_in_debug_output() {
        let mail = Mail::new(
            MailKind::ResetPassword,
            "a@example.com",
            "A",
            SecretUrl::new("https://app.example/reset-password/tok3n"),
        );
        assert!(!format!("{mail:?}").contains("tok3n"));
    }

    #[test]
    fn every_kind_round_trips_through_its_stored_name() {
        for kind in MailKind::ALL {
            assert_eq!(kind.as_str().parse::<MailKind>().unwrap(), kind);
        }
        assert!("nope".parse::<MailKind>().is_err());
    }
}
