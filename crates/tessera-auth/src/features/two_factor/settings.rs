//! The two-factor feature's settings: Better Auth's `twoFactor({...})` options.

/// Whether two-factor is served, and the options of Better Auth's twoFactor plugin.
#[derive(Clone, Debug)]
pub struct TwoFactorSettings {
    /// Whether the plugin is on: its endpoints answer (404 otherwise, as Better Auth without
    /// the plugin) and sign-in asks users with `twoFactorEnabled` for a second factor. Off by
    /// default.
    pub enabled: bool,
    /// `issuer`: the name authenticator apps show for the account (`otpauth://totp/<issuer>:…`).
    /// Better Auth falls back to its `appName`; Tessera's settings pass the app's name.
    pub issuer: String,
    /// Better Auth's `appName`: the issuer `/two-factor/get-totp-uri` names (Better Auth reads
    /// `totpOptions.issuer` there, not `issuer`, and falls back to the app's name).
    pub app_name: String,
    /// `totpOptions.digits` (default 6).
    pub totp_digits: u8,
    /// `totpOptions.period`: seconds a TOTP code lasts (default 30).
    pub totp_period_secs: u64,
    /// `otpOptions.period`: how long a mailed code stays valid, in minutes (default 3).
    pub otp_period_minutes: u32,
    /// `otpOptions.digits` of a mailed code (default 6).
    pub otp_digits: u8,
    /// `otpOptions.allowedAttempts`: wrong tries one mailed code takes before it is void
    /// (default 5).
    pub otp_allowed_attempts: u32,
    /// `trustDeviceMaxAge`: seconds a trusted device skips the second factor (default 30 days).
    pub trust_device_max_age_secs: u32,
    /// `twoFactorCookieMaxAge`: seconds a sign-in has to pass its second factor (default 600).
    pub cookie_max_age_secs: u32,
    /// `skipVerificationOnEnable`: `/two-factor/enable` turns two-factor on at once instead of
    /// after the first verified code (default off).
    pub skip_verification_on_enable: bool,
}

/// Wrong codes one sign-in challenge takes before it is void (Better Auth's fixed 5).
pub(crate) const CHALLENGE_ATTEMPTS: u32 = 5;
/// `accountLockout.maxFailedAttempts`: consecutive failed sign-in verifications that lock the
/// account's second factor (Better Auth's default).
pub(crate) const LOCKOUT_FAILURES: i64 = 10;
/// `accountLockout.durationSeconds`: how long the lock lasts (Better Auth's default).
pub(crate) const LOCKOUT_SECS: i64 = 900;

impl Default for TwoFactorSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            issuer: "Better Auth".to_owned(),
            app_name: "Better Auth".to_owned(),
            totp_digits: 6,
            totp_period_secs: 30,
            otp_period_minutes: 3,
            otp_digits: 6,
            otp_allowed_attempts: 5,
            trust_device_max_age_secs: 2_592_000,
            cookie_max_age_secs: 600,
            skip_verification_on_enable: false,
        }
    }
}
