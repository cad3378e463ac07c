//! The passkey feature's settings (the `@better-auth/passkey` plugin's options).

/// Whether passkeys are on, and the relying party they are bound to.
#[derive(Clone, Debug, Default)]
pub struct PasskeySettings {
    /// Serve the plugin's endpoints (off by default: without it they are unknown paths, 404,
    /// as on a Better Auth server without the plugin).
    pub enabled: bool,
    /// `rpID`: the domain passkeys are bound to. Default: the host of `BETTER_AUTH_URL`.
    pub rp_id: Option<String>,
    /// `rpName`: the name authenticators show. Default: `Better Auth`, Better Auth's `appName`.
    pub rp_name: Option<String>,
    /// `origin`: the origin the browser reports in a ceremony. Default: `BETTER_AUTH_URL`'s.
    /// Better Auth without it trusts the request's `Origin` header; Tessera always checks
    /// against one configured origin.
    pub origin: Option<String>,
}

/// Better Auth's default `appName`, its `rpName` when none is set.
pub const DEFAULT_RP_NAME: &str = "Better Auth";
