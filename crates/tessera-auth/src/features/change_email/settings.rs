//! The email-change feature's settings (Better Auth's `user.changeEmail` options).

/// Whether users may change their address, and how it is proven.
#[derive(Clone, Copy, Debug, Default)]
pub struct ChangeEmailSettings {
    /// `user.changeEmail.enabled`: `POST /change-email` is served (default: off, 400
    /// `CHANGE_EMAIL_DISABLED`).
    pub enabled: bool,
    /// `user.changeEmail.sendChangeEmailConfirmation` is set: a verified user's change is first
    /// approved from the current address (default: off, the new address is mailed at once).
    pub send_confirmation: bool,
    /// `user.changeEmail.updateEmailWithoutVerification`: an unverified user's address changes
    /// at once, and the new one is mailed a verification link (default: off).
    pub update_without_verification: bool,
}
