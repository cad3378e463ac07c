//! [`RevocationPoller`]: follows the auth server's revocation feed over HTTP (feature `remote`).
//!
//! The feed is `GET <url>?since=<cursor>`, answering one [`FeedPage`]: the sessions ended after
//! `cursor`, the cursor to send next, whether another page is waiting right now, and how long a
//! listed id must be kept (see [`super::protocol::feed`] for the rules). Tessera serves it at
//! `/api/auth/revocations`.
//!
//! Polling is cheap for both sides (one indexed range read per poll) and needs nothing but the
//! URL. A poll that fails — the auth server restarting, a timeout — changes nothing: ids already
//! known stay revoked, no token is refused for it, and the next poll resumes from the same
//! cursor, so nothing published meanwhile is missed. The HTTP client is hardened like the JWKS
//! fetcher's: timeouts, no redirects, a body cap, https except to loopback.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Client, Url};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::protocol::{Cursor, DEFAULT_RETENTION_SECS, FeedPage, SINCE};
use super::{MemoryRevocations, RevocationList};
use crate::ConfigError;
use crate::http::{GetError, SetupError, client_for, get_capped};

/// Pages fetched back to back in one poll when the feed says more are waiting (a guard catching
/// up after a restart); the rest come on the next poll.
const MAX_PAGES_PER_POLL: usize = 20;
/// The longest an id is kept whatever the feed says, so a confused feed cannot pin entries.
const MAX_TTL_SECS: u64 = 30 * 24 * 3600;

/// Why one poll of the feed failed. The poller logs it and tries again on the next tick.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// Connection refused, timed out, TLS failure, …
    #[error("request failed: {0}")]
    Transport(String),
    /// The server answered with a non-2xx status (redirects are not followed).
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    /// The body exceeded the size cap.
    #[error("response larger than {limit} bytes")]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The body is not a revocation feed page.
    #[error("invalid revocation feed page: {0}")]
    InvalidDocument(String),
}

/// Polls a revocation feed into a [`MemoryRevocations`], and answers from it.
///
/// Give it to the guard as `Arc<RevocationPoller>` and start the background loop with
/// [`Self::spawn`]; or drive it yourself with [`Self::poll_once`] (tests, custom schedules).
pub struct RevocationPoller {
    client: Client,
    url: Url,
    max_bytes: usize,
    interval: Duration,
    default_ttl: Duration,
    list: Arc<MemoryRevocations>,
    cursor: Mutex<Option<Cursor>>,
    /// Single-flight: one poll at a time, so cursors are never raced.
    gate: tokio::sync::Mutex<()>,
}

/// Settings of a [`RevocationPoller`].
#[must_use]
pub struct RevocationPollerBuilder {
    url: String,
    interval: Duration,
    connect_timeout: Duration,
    timeout: Duration,
    max_bytes: usize,
    allow_http: bool,
    default_ttl: Duration,
    list: Option<Arc<MemoryRevocations>>,
}

impl RevocationPoller {
    /// Settings for the feed at `url` (e.g. `https://auth.example.com/api/auth/revocations`):
    /// a poll every 500 ms, connect timeout 1 s, total timeout 2 s, body cap 4 MiB, https
    /// unless the host is loopback, ids kept 16 minutes when the feed names no `ttl`.
    pub fn builder(url: &str) -> RevocationPollerBuilder {
        RevocationPollerBuilder {
            url: url.to_owned(),
            interval: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            max_bytes: 4 * 1024 * 1024,
            allow_http: false,
            default_ttl: Duration::from_secs(DEFAULT_RETENTION_SECS),
            list: None,
        }
    }

    /// The list this poller fills.
    pub fn list(&self) -> &Arc<MemoryRevocations> {
        &self.list
    }

    /// The feed URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The cursor the next poll sends (`None` before the first successful poll).
    pub fn cursor(&self) -> Option<Cursor> {
        self.lock_cursor().clone()
    }

    fn lock_cursor(&self) -> std::sync::MutexGuard<'_, Option<Cursor>> {
        self.cursor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Polls once: fetches the pages published since the cursor (following `more` for a few
    /// pages), adds their ids to the list and advances the cursor. Returns how many ids were
    /// new. On failure the cursor stays where it was, so the next poll fetches the same range.
    pub async fn poll_once(&self) -> Result<usize, FeedError> {
        let _gate = self.gate.lock().await;
        let mut added = 0;
        for _ in 0..MAX_PAGES_PER_POLL {
            let since = self.cursor();
            let page = self.fetch(since.as_ref()).await?;
            let ttl = page
                .ttl
                .map_or(self.default_ttl, Duration::from_secs)
                .min(Duration::from_secs(MAX_TTL_SECS));
            added += self.list.revoke_many(&page.revoked, self.list.until(ttl));
            *self.lock_cursor() = Some(page.cursor);
            if !page.more {
                break;
            }
        }
        if added > 0 {
            tracing::debug!(target: "tessera_guard", added, "revoked sessions received from the feed");
        }
        Ok(added)
    }

    /// Starts polling every interval on the current Tokio runtime, until every other handle on
    /// this poller (the guard's included) is dropped. Failures are logged — a warning when the
    /// feed becomes unreachable, then quietly until it answers again — and never stop the loop.
    pub fn spawn(self: &Arc<Self>) -> JoinHandle<()> {
        let poller = Arc::downgrade(self);
        let interval = self.interval;
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                ticker.tick().await;
                let Some(poller) = poller.upgrade() else {
                    break;
                };
                match poller.poll_once().await {
                    Ok(_) if failing => {
                        failing = false;
                        tracing::info!(target: "tessera_guard", url = %poller.url, "revocation feed reachable again");
                    }
                    Ok(_) => {}
                    Err(error) if failing => {
                        tracing::debug!(target: "tessera_guard", %error, "revocation feed still unreachable");
                    }
                    Err(error) => {
                        failing = true;
                        tracing::warn!(
                            target: "tessera_guard",
                            %error,
                            url = %poller.url,
                            "revocation feed unreachable; known revocations still apply, new ones wait until it answers"
                        );
                    }
                }
            }
        })
    }

    async fn fetch(&self, since: Option<&Cursor>) -> Result<FeedPage, FeedError> {
        let mut url = self.url.clone();
        if let Some(since) = since {
            url.query_pairs_mut().append_pair(SINCE, since.as_str());
        }
        let (_, body) = get_capped(&self.client, url, self.max_bytes)
            .await
            .map_err(|e| match e {
                GetError::Transport(message) => FeedError::Transport(message),
                GetError::Status(status) => FeedError::Status(status),
                GetError::TooLarge => FeedError::TooLarge {
                    limit: self.max_bytes,
                },
            })?;
        FeedPage::decode(&body).map_err(|e| FeedError::InvalidDocument(e.to_string()))
    }
}

impl RevocationList for RevocationPoller {
    fn is_revoked(&self, sid: &str) -> bool {
        self.list.is_revoked(sid)
    }
}

impl fmt::Debug for RevocationPoller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationPoller")
            .field("url", &self.url.as_str())
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl RevocationPollerBuilder {
    /// Time between two polls (500 ms by default): the longest a revocation takes to reach
    /// this guard while the feed answers.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Time allowed to establish the connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for one request, body included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Largest accepted page, in bytes.
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Allows plain `http://` to non-loopback hosts (a private network). Anyone on the path
    /// could then hide revocations from this guard.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// How long an id is kept when the feed names no `ttl` (16 minutes by default: the
    /// default 15-minute token lifetime plus a minute of leeway).
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// Fills `list` instead of a new one: share one list between several sources, or give it
    /// a capacity or clock of your own.
    pub fn list(mut self, list: Arc<MemoryRevocations>) -> Self {
        self.list = Some(list);
        self
    }

    /// Checks the URL and builds the HTTP client. Nothing is fetched until the first poll.
    pub fn build(self) -> Result<RevocationPoller, ConfigError> {
        let (url, client) = client_for(
            &self.url,
            self.allow_http,
            self.connect_timeout,
            self.timeout,
        )
        .map_err(|e| match e {
            SetupError::Url(message) => ConfigError::InvalidFeedUrl(message),
            SetupError::Client(message) => ConfigError::HttpClient(message),
        })?;
        Ok(RevocationPoller {
            client,
            url,
            max_bytes: self.max_bytes,
            interval: self.interval,
            default_ttl: self.default_ttl,
            list: self.list.unwrap_or_default(),
            cursor: Mutex::new(None),
            gate: tokio::sync::Mutex::new(()),
        })
    }
}

impl fmt::Debug for RevocationPollerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationPollerBuilder")
            .field("url", &self.url)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_except_to_loopback_or_when_allowed() {
        assert!(
            RevocationPoller::builder("http://auth.example.com/api/auth/revocations")
                .build()
                .is_err()
        );
        assert!(
            RevocationPoller::builder("http://127.0.0.1:3000/api/auth/revocations")
                .build()
                .is_ok()
        );
        assert!(
            RevocationPoller::builder("http://auth:3000/api/auth/revocations")
                .allow_insecure_http(true)
                .build()
                .is_ok()
        );
    }
}
