//! The account-deletion feature's settings (Better Auth's `user.deleteUser` options).

/// Whether users may delete their account, and how they confirm it.
#[derive(Clone, Copy, Debug)]
pub struct DeleteUserSettings {
    /// `user.deleteUser.enabled`: `POST /delete-user` and its callback are served (default:
    /// off, an empty 404).
    pub enabled: bool,
    /// `user.deleteUser.sendDeleteAccountVerification` is set: the deletion is confirmed from a
    /// mailed link rather than done at once (default: off).
    pub send_verification: bool,
    /// `user.deleteUser.deleteTokenExpiresIn`: how long that link is valid, in seconds (Better
    /// Auth's default: one day).
    pub token_lifetime_secs: u32,
}

impl Default for DeleteUserSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            send_verification: false,
            token_lifetime_secs: 86_400,
        }
    }
}
