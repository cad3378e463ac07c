//! The email-verification feature's settings (Better Auth's `emailVerification` options and
//! `emailAndPassword.requireEmailVerification`).

/// When verification mails go out and what a verified link does.
#[derive(Clone, Copy, Debug)]
pub struct EmailVerificationSettings {
    /// `emailAndPassword.requireEmailVerification`: sign-in with an unverified address is 403
    /// `EMAIL_NOT_VERIFIED`, and sign-up opens no session (default: off).
    pub require_email_verification: bool,
    /// `emailVerification.sendOnSignUp`: sign-up mails the link. Unset, it follows
    /// `require_email_verification`, as Better Auth's `sendOnSignUp ?? requireEmailVerification`.
    pub send_on_sign_up: Option<bool>,
    /// `emailVerification.sendOnSignIn`: a refused unverified sign-in mails a new link (default:
    /// off; only with `require_email_verification`).
    pub send_on_sign_in: bool,
    /// `emailVerification.autoSignInAfterVerification`: following the link opens a session
    /// (default: off).
    pub auto_sign_in_after_verification: bool,
    /// `emailVerification.expiresIn`: how long a link is valid, in seconds (default: one hour).
    pub expires_in_secs: u32,
}

impl EmailVerificationSettings {
    /// Whether sign-up mails the link.
    pub fn sends_on_sign_up(&self) -> bool {
        self.send_on_sign_up
            .unwrap_or(self.require_email_verification)
    }
}

impl Default for EmailVerificationSettings {
    fn default() -> Self {
        Self {
            require_email_verification: false,
            send_on_sign_up: None,
            send_on_sign_in: false,
            auto_sign_in_after_verification: false,
            expires_in_secs: 3600,
        }
    }
}
