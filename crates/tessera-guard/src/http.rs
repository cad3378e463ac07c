//! The one hardened HTTP client behind every remote source (JWKS, revocation feed) and the auth
//! server's calls to OAuth providers (discovery, token exchange, user info): https only (plain
//! http only to loopback or when explicitly allowed), connect and total timeouts, no redirects (a
//! redirect could point the guard at keys of an attacker's choosing, or a token request at
//! another host), no proxy for loopback, and bodies read chunk by chunk under a size cap.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderMap};
use reqwest::{Client, Url, redirect};

/// Why a remote source could not be set up.
#[derive(Debug)]
pub enum SetupError {
    /// The URL is unusable or not allowed.
    Url(String),
    /// The HTTP client could not be built.
    Client(String),
}

/// Why a request failed.
#[derive(Debug)]
pub enum GetError {
    /// Connection, timeout or body error (the URL is left out of the message).
    Transport(String),
    /// A non-2xx status.
    Status(u16),
    /// The body was larger than allowed.
    TooLarge,
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(message) | Self::Client(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for SetupError {}

impl std::fmt::Display for GetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transport(message) => write!(f, "request failed: {message}"),
            Self::Status(status) => write!(f, "unexpected HTTP status {status}"),
            Self::TooLarge => f.write_str("response too large"),
        }
    }
}

impl std::error::Error for GetError {}

/// Checks that `url` may be fetched: https, or plain http to loopback (or anywhere when
/// `allow_http`).
pub fn check_url(url: &Url, allow_http: bool) -> Result<(), SetupError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) || allow_http => Ok(()),
        "http" => Err(SetupError::Url(
            "plain http is only allowed to loopback hosts; use https".into(),
        )),
        _ => Err(SetupError::Url("the scheme must be https or http".into())),
    }
}

/// Parses and checks `url`, and builds the client for it.
pub fn client_for(
    url: &str,
    allow_http: bool,
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<(Url, Client), SetupError> {
    let url = Url::parse(url).map_err(|e| SetupError::Url(e.to_string()))?;
    let loopback = is_loopback(&url);
    check_url(&url, allow_http)?;
    let mut client = Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .redirect(redirect::Policy::none())
        .user_agent(concat!("tessera-guard/", env!("CARGO_PKG_VERSION")));
    if loopback {
        // A proxy from the environment cannot reach our loopback, and must not see it.
        client = client.no_proxy();
    }
    let client = client
        .build()
        .map_err(|e| SetupError::Client(e.to_string()))?;
    Ok((url, client))
}

/// GETs `url` as JSON, refusing bodies over `max_bytes`.
pub async fn get_capped(
    client: &Client,
    url: Url,
    max_bytes: usize,
) -> Result<(HeaderMap, Vec<u8>), GetError> {
    let response = client
        .get(url)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(transport)?;
    if !response.status().is_success() {
        return Err(GetError::Status(response.status().as_u16()));
    }
    let headers = response.headers().clone();
    Ok((headers, read_capped(response, max_bytes).await?))
}

/// Sends `request` and reads the answer, whatever its status (an OAuth error answer is a 400
/// with a body worth reading), refusing bodies over `max_bytes`.
pub async fn send_capped(
    client: &Client,
    request: reqwest::Request,
    max_bytes: usize,
) -> Result<(reqwest::StatusCode, HeaderMap, Vec<u8>), GetError> {
    let response = client.execute(request).await.map_err(transport)?;
    let status = response.status();
    let headers = response.headers().clone();
    Ok((status, headers, read_capped(response, max_bytes).await?))
}

/// A transport error, its URL left out (it may carry a query string).
fn transport(e: reqwest::Error) -> GetError {
    GetError::Transport(e.without_url().to_string())
}

/// The body of `response`, at most `max_bytes` of it.
async fn read_capped(
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<Vec<u8>, GetError> {
    if response
        .content_length()
        .is_some_and(|n| n > max_bytes as u64)
    {
        return Err(GetError::TooLarge);
    }
    // Read chunk by chunk so a lying or absent Content-Length cannot make us buffer more.
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(GetError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether `url` names a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`).
pub fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case("localhost") => true,
        // IPv6 hosts come bracketed: `[::1]`.
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}
