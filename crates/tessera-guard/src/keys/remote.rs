//! [`RemoteJwks`]: a JWKS URL, fetched over HTTP and cached (feature `remote`).
//!
//! The fetch is hardened because the URL's answer decides which signatures are trusted and
//! because it runs inside request handling: connect and total timeouts, no redirects (a
//! redirect could move trust to another host), a response size cap, https required except to
//! loopback, and no cookies.

use std::time::Duration;

use reqwest::header::{CACHE_CONTROL, HeaderMap};
use reqwest::{Client, Url};
use tessera_jwt::JwkSet;

use super::BoxFuture;
use super::cache::{FetchError, FetchJwks, FetchedJwks, JwksCache};
use crate::ConfigError;
use crate::http::{GetError, SetupError, client_for, get_capped};

/// A [`JwksCache`] over HTTP.
pub type RemoteJwks = JwksCache<HttpJwksFetcher>;

impl JwksCache<HttpJwksFetcher> {
    /// A cache over `url` with the default fetcher settings (see [`HttpJwksFetcherBuilder`]).
    pub fn remote(url: &str) -> Result<Self, ConfigError> {
        Ok(Self::new(HttpJwksFetcher::builder(url).build()?))
    }
}

/// GETs a JWKS document from a fixed URL.
#[derive(Debug, Clone)]
pub struct HttpJwksFetcher {
    client: Client,
    url: Url,
    max_bytes: usize,
}

/// Settings of an [`HttpJwksFetcher`].
#[derive(Debug, Clone)]
#[must_use]
pub struct HttpJwksFetcherBuilder {
    url: String,
    connect_timeout: Duration,
    timeout: Duration,
    max_bytes: usize,
    allow_http: bool,
}

impl HttpJwksFetcher {
    /// Settings for `url`: connect timeout 2 s, total timeout 5 s, body cap 64 KiB, https
    /// unless the host is loopback.
    pub fn builder(url: &str) -> HttpJwksFetcherBuilder {
        HttpJwksFetcherBuilder {
            url: url.to_owned(),
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            max_bytes: 64 * 1024,
            allow_http: false,
        }
    }

    /// The URL fetched.
    pub fn url(&self) -> &Url {
        &self.url
    }

    async fn get(&self) -> Result<FetchedJwks, FetchError> {
        let (headers, body) = get_capped(&self.client, self.url.clone(), self.max_bytes)
            .await
            .map_err(|e| match e {
                GetError::Transport(message) => FetchError::Transport(message),
                GetError::Status(status) => FetchError::Status(status),
                GetError::TooLarge => FetchError::TooLarge {
                    limit: self.max_bytes,
                },
            })?;
        let keys: JwkSet = serde_json::from_slice(&body)
            .map_err(|e| FetchError::InvalidDocument(e.to_string()))?;
        Ok(FetchedJwks {
            keys,
            max_age: max_age(&headers),
        })
    }
}

impl FetchJwks for HttpJwksFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<FetchedJwks, FetchError>> {
        Box::pin(self.get())
    }
}

impl HttpJwksFetcherBuilder {
    /// Time allowed to establish the connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for the whole request, body included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Largest accepted response body, in bytes.
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Allows plain `http://` to non-loopback hosts (e.g. a service name inside a private
    /// network). Anyone on the path could then substitute their own keys.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Checks the URL and builds the HTTP client.
    pub fn build(self) -> Result<HttpJwksFetcher, ConfigError> {
        let (url, client) = client_for(
            &self.url,
            self.allow_http,
            self.connect_timeout,
            self.timeout,
        )
        .map_err(|e| match e {
            SetupError::Url(message) => ConfigError::InvalidUrl(message),
            SetupError::Client(message) => ConfigError::HttpClient(message),
        })?;
        Ok(HttpJwksFetcher {
            client,
            url,
            max_bytes: self.max_bytes,
        })
    }
}

/// `max-age` from `Cache-Control`: `no-store` / `no-cache` mean zero; with several values
/// the smallest wins; `None` when absent or unreadable.
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut found: Option<u64> = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let secs = if directive.eq_ignore_ascii_case("no-store")
                || directive.eq_ignore_ascii_case("no-cache")
            {
                Some(0)
            } else {
                match directive.split_once('=') {
                    Some((name, secs)) if name.trim().eq_ignore_ascii_case("max-age") => {
                        secs.trim().trim_matches('"').parse::<u64>().ok()
                    }
                    _ => None,
                }
            };
            if let Some(secs) = secs {
                found = Some(found.map_or(secs, |f| f.min(secs)));
            }
        }
    }
    found.map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(CACHE_CONTROL, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn max_age_is_read_from_cache_control_and_no_cache_means_zero() {
        assert_eq!(
            max_age(&headers(&["public, max-age=300"])),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            max_age(&headers(&["Max-Age = \"60\""])),
            Some(Duration::from_secs(60))
        );
        assert_eq!(max_age(&headers(&["no-cache"])), Some(Duration::ZERO));
        assert_eq!(
            max_age(&headers(&["max-age=600", "no-store"])),
            Some(Duration::ZERO)
        );
        assert_eq!(max_age(&headers(&["public", "max-age=abc"])), None);
        assert_eq!(max_age(&headers(&[])), None);
    }

    #[test]
    fn plain_http_is_refused_except_to_loopback_or_when_allowed() {
        assert!(
            HttpJwksFetcher::builder("http://auth.example.com/jwks")
                .build()
                .is_err()
        );
        assert!(
            HttpJwksFetcher::builder("ftp://127.0.0.1/jwks")
                .build()
                .is_err()
        );
        assert!(HttpJwksFetcher::builder("not a url").build().is_err());
        for ok in [
            "https://auth.example.com/api/auth/jwks",
            "http://127.0.0.1:3000/api/auth/jwks",
            "http://localhost:3000/api/auth/jwks",
            "http://[::1]:3000/api/auth/jwks",
        ] {
            assert!(HttpJwksFetcher::builder(ok).build().is_ok(), "{ok}");
        }
        assert!(
            HttpJwksFetcher::builder("http://auth:3000/jwks")
                .allow_insecure_http(true)
                .build()
                .is_ok()
        );
    }
}
