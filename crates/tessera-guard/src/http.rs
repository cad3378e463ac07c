//! The one hardened HTTP client behind every remote source (JWKS, revocation feed): https only
//! (plain http only to loopback or when explicitly allowed), connect and total timeouts, no
//! redirects (a redirect could point the guard at keys of an attacker's choosing), no proxy for
//! loopback, and bodies read chunk by chunk under a size cap.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderMap};
use reqwest::{Client, Url, redirect};

/// Why a remote source could not be set up.
#[derive(Debug)]
pub(crate) enum SetupError {
    /// The URL is unusable or not allowed.
    Url(String),
    /// The HTTP client could not be built.
    Client(String),
}

/// Why a GET failed.
#[derive(Debug)]
pub(crate) enum GetError {
    /// Connection, timeout or body error (the URL is left out of the message).
    Transport(String),
    /// A non-2xx status.
    Status(u16),
    /// The body was larger than allowed.
    TooLarge,
}

/// Parses and checks `url`, and builds the client for it.
pub(crate) fn client_for(
    url: &str,
    allow_http: bool,
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<(Url, Client), SetupError> {
    let url = Url::parse(url).map_err(|e| SetupError::Url(e.to_string()))?;
    let loopback = is_loopback(&url);
    match url.scheme() {
        "https" => {}
        "http" if loopback || allow_http => {}
        "http" => {
            return Err(SetupError::Url(
                "plain http is only allowed to loopback hosts; use https".into(),
            ));
        }
        _ => return Err(SetupError::Url("the scheme must be https or http".into())),
    }
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
pub(crate) async fn get_capped(
    client: &Client,
    url: Url,
    max_bytes: usize,
) -> Result<(HeaderMap, Vec<u8>), GetError> {
    let transport = |e: reqwest::Error| GetError::Transport(e.without_url().to_string());
    let mut response = client
        .get(url)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(transport)?;
    if !response.status().is_success() {
        return Err(GetError::Status(response.status().as_u16()));
    }
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
    Ok((response.headers().clone(), body))
}

/// Whether `url` names a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`).
pub(crate) fn is_loopback(url: &Url) -> bool {
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
