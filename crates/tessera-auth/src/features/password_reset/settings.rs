//! The password-reset feature's settings (Better Auth's `emailAndPassword` reset options).

/// How reset tokens live and what a reset ends.
#[derive(Clone, Copy, Debug)]
pub struct PasswordResetSettings {
    /// `resetPasswordTokenExpiresIn`: how long a reset link is valid, in seconds (Better Auth's
    /// default: one hour).
    pub token_lifetime_secs: u32,
    /// `revokeSessionsOnPasswordReset`: whether setting a new password from a link ends every
    /// session of the user (Better Auth's default: no).
    pub revoke_sessions: bool,
}

impl Default for PasswordResetSettings {
    fn default() -> Self {
        Self {
            token_lifetime_secs: 3600,
            revoke_sessions: false,
        }
    }
}
