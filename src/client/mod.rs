//! HTTP to Conducttr: `POST /messages` with retries over connections of our own
//! ([`lanes`]), and one pooled reqwest client for everything else.
//!
//! [`Target`] holds where to send and the token; the token is kept out of `Debug` and
//! never logged. [`Client::post_json`] classifies every attempt (accepted, rejected,
//! retryable and whether it may have reached the server), retries with exponential
//! backoff and jitter (backon) bounded in count and time, honours `Retry-After`, and
//! reports whether an earlier attempt may have been a duplicate. It does not schedule,
//! journal or print.
//!
//! Its parts: `post` (the `POST`s: attempts, answers classified, retries), `reads` (the
//! `GET`s) and [`lanes`] (the connections the `POST`s go on).

pub mod lanes;
mod post;
mod reads;
mod socket;

use std::sync::Arc;
use std::time::Duration;

/// Where messages go, and the secret that lets them in.
#[derive(Clone)]
pub struct Target {
    /// The API base, e.g. `https://api.conducttr.com/v1.1/eagle` (no trailing slash).
    pub base_url: String,
    token: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("base_url", &self.base_url)
            .field("token", &"<redacted>")
            .finish()
    }
}

pub const DEFAULT_BASE_URL: &str = "https://api.conducttr.com/v1.1/eagle";

/// Why a target or a client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The base URL is not one injector sends to.
    #[error("bad base URL: {0}")]
    BaseUrl(String),
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
    #[error("the token holds characters a header cannot carry")]
    TokenChars,
}

impl Error {
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::BaseUrl(_) => Some("pass --base-url or set CONDUCTTR_BASE_URL"),
            Error::TokenChars => Some("a token is one line of printable ASCII"),
            Error::Build(_) => None,
        }
    }
}

impl Target {
    /// Check the URL: https, or plain http to a loopback host only.
    pub fn new(base_url: &str, token: String) -> Result<Target, Error> {
        let bad = |reason: String| Error::BaseUrl(reason);
        let url = reqwest::Url::parse(base_url.trim())
            .map_err(|e| bad(format!("`{base_url}` is not a URL ({e})")))?;
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(bad(format!(
                    "`{base_url}` is plain http to a host that is not loopback; use https"
                )));
            }
            other => return Err(bad(format!("`{base_url}` has scheme `{other}`; use https"))),
        }
        if url.host().is_none() {
            return Err(bad(format!("`{base_url}` has no host")));
        }
        Ok(Target {
            base_url: base_url.trim().trim_end_matches('/').to_string(),
            token,
        })
    }

    pub fn messages_url(&self) -> String {
        format!("{}/messages", self.base_url)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url, path.trim_start_matches('/'))
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// `text` from the server with every echo of the token replaced by `[redacted]`: a
    /// server may send back the request's `Authorization` header (in a body, a header
    /// or an error), and whatever it sends may be logged, journaled or reported.
    pub fn redact(&self, text: &str) -> String {
        if self.token.len() >= 4 && text.contains(self.token.as_str()) {
            text.replace(self.token.as_str(), "[redacted]")
        } else {
            text.to_string()
        }
    }
}

/// Which failures to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryPolicy {
    /// Connection failures, timeouts, 429 and 5xx; may duplicate (and says so).
    All,
    /// Only what surely did not arrive: connection refused, 429, 503.
    Safe,
}

/// Timeouts and retry bounds.
#[derive(Clone, Debug)]
pub struct Settings {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// Attempts in all, the first included.
    pub max_attempts: usize,
    /// Upper bound on the time spent waiting between attempts.
    pub max_retry_time: Duration,
    pub min_backoff: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::All,
            max_attempts: 6,
            max_retry_time: Duration::from_secs(120),
            min_backoff: Duration::from_millis(500),
        }
    }
}

/// The end of sending one message.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Sent {
        status: u16,
        message_id: String,
        attempts: u32,
        /// An earlier attempt may have reached the server too.
        possible_duplicate: bool,
    },
    Failed {
        status: Option<u16>,
        error: String,
        /// The response body of the last attempt, when there was one.
        response: Option<String>,
        attempts: u32,
        /// Some attempt may have reached the server.
        maybe_delivered: bool,
    },
}

/// Told of a send's attempts as they go: each answer that will be retried, before the
/// wait for the next attempt, and each retry, just before its request is written (so a
/// journal can say whether a request was out when the process stopped).
pub trait Attempts: Send + Sync {
    fn answered(&self, status: Option<u16>, error: &str, reached: bool);
    fn retrying(&self);
}

pub struct Client {
    http: reqwest::Client,
    /// The connections the `POST`s go on; none when a proxy is configured (reqwest then
    /// sends them, through it).
    lanes: Option<lanes::Lanes>,
    /// Each `POST`'s headers but the length, built once.
    post_headers: hyper::HeaderMap,

    target: Target,
    settings: Settings,
    /// `POST /messages`, parsed once.
    messages: reqwest::Url,
    /// Each endpoint's URL (`/messages`, `/messages/position`, `/role`, `/gps`), parsed once.
    urls: [reqwest::Url; 4],
    /// `Bearer <token>`, marked sensitive so it is never shown.
    auth: reqwest::header::HeaderValue,
}

/// Install the TLS crypto provider once (reqwest is built without a default one).
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// TLS as reqwest does it: the platform's verifier (the system's roots), HTTP/1.1.
pub(crate) fn tls_config() -> Result<Arc<rustls::ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| Error::Build(format!("TLS: {e}")))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Build(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Whether a proxy is configured for `scheme` in the environment (as reqwest reads it).
fn proxy_configured(scheme: &str) -> bool {
    let names: &[&str] = if scheme == "https" {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    names
        .iter()
        .any(|n| std::env::var_os(n).is_some_and(|v| !v.is_empty()))
}

impl Client {
    pub fn new(target: Target, settings: Settings) -> Result<Client, Error> {
        install_crypto();
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            // A redirected POST arrives as a GET (301, 302) or somewhere unchecked: a 3xx
            // is reported as it is, with where it points.
            .redirect(reqwest::redirect::Policy::none())
            // Retries are ours alone (journaled, by policy): reqwest's own layer is off, and
            // with it the copy of every request it keeps for a retry.
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .user_agent(concat!("injector/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Build(e.to_string()))?;
        let messages = reqwest::Url::parse(&target.messages_url())
            .map_err(|e| Error::BaseUrl(format!("`{}` is not a URL ({e})", target.base_url)))?;
        let url = |e: crate::message::Endpoint| {
            reqwest::Url::parse(&format!("{}{}", target.base_url, e.path()))
                .map_err(|e| Error::BaseUrl(format!("`{}` is not a URL ({e})", target.base_url)))
        };
        let urls = [
            url(crate::message::Endpoint::Messages)?,
            url(crate::message::Endpoint::Position)?,
            url(crate::message::Endpoint::Role)?,
            url(crate::message::Endpoint::Gps)?,
        ];
        let mut auth = reqwest::header::HeaderValue::try_from(format!("Bearer {}", target.token))
            .map_err(|_| Error::TokenChars)?;
        auth.set_sensitive(true);
        let lanes = if proxy_configured(messages.scheme()) {
            tracing::debug!("a proxy is configured: messages go through it");
            None
        } else {
            Some(
                lanes::Lanes::new(&messages, tls_config()?, settings.connect_timeout)
                    .map_err(Error::BaseUrl)?,
            )
        };
        let mut post_headers = hyper::HeaderMap::new();
        let authority = match messages.port() {
            Some(port) => format!("{}:{port}", messages.host_str().unwrap_or_default()),
            None => messages.host_str().unwrap_or_default().to_string(),
        };
        post_headers.insert(
            hyper::header::HOST,
            hyper::header::HeaderValue::try_from(authority)
                .map_err(|e| Error::BaseUrl(format!("`{}`: {e}", target.base_url)))?,
        );
        post_headers.insert(hyper::header::AUTHORIZATION, auth.clone());
        post_headers.insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
        post_headers.insert(
            hyper::header::ACCEPT,
            hyper::header::HeaderValue::from_static("*/*"),
        );
        post_headers.insert(
            hyper::header::USER_AGENT,
            hyper::header::HeaderValue::from_static(concat!(
                "injector/",
                env!("CARGO_PKG_VERSION")
            )),
        );
        Ok(Client {
            http,
            lanes,
            post_headers,

            target,
            settings,
            messages,
            urls,
            auth,
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Its timeouts and retry policy.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// Where a redirect points (its `Location`), clipped; `None` for any other answer, so
/// that an accepted send does not look it up.
pub fn location(resp: &reqwest::Response) -> Option<String> {
    location_of(resp.status(), resp.headers())
}

fn location_of(status: hyper::StatusCode, headers: &hyper::HeaderMap) -> Option<String> {
    if !status.is_redirection() {
        return None;
    }
    headers
        .get(hyper::header::LOCATION)
        .map(|v| clip(&String::from_utf8_lossy(v.as_bytes())))
}

/// Why a 3xx fails, and what to check.
pub fn redirect_text(location: Option<&str>) -> String {
    let to = location.map_or(String::new(), |l| format!(" to {l}"));
    format!(
        "a redirect{to}: injector does not follow redirects (a redirected POST may arrive as a GET, or elsewhere); check --base-url (or CONDUCTTR_BASE_URL)"
    )
}

/// An error in words, with its causes; never the request's headers.
pub fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "broken response"
    } else {
        "request failed"
    };
    with_causes(kind.to_string(), std::error::Error::source(e))
}

/// `text`, then each cause in turn from `source` on: `text: cause: its cause`.
pub(crate) fn with_causes(
    mut text: String,
    mut source: Option<&(dyn std::error::Error + 'static)>,
) -> String {
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn clip(s: &str) -> String {
    if s.len() <= 2000 {
        s.to_string()
    } else {
        let mut end = 2000;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(Target::new("https://api.conducttr.com/v1.1/eagle", "t".into()).is_ok());
        assert!(Target::new("http://127.0.0.1:8787/v1.1/eagle", "t".into()).is_ok());
        assert!(Target::new("http://localhost:8787/x/", "t".into()).is_ok());
        assert!(Target::new("http://[::1]:8787/x", "t".into()).is_ok());
        assert!(Target::new("http://api.conducttr.com/v1.1/eagle", "t".into()).is_err());
        assert!(Target::new("ftp://x.org", "t".into()).is_err());
        assert!(Target::new("not a url", "t".into()).is_err());
        let t = Target::new("http://127.0.0.1:1/a/", "secret-value".into()).unwrap();
        assert_eq!(t.messages_url(), "http://127.0.0.1:1/a/messages");
        assert!(!format!("{t:?}").contains("secret-value"));
    }
}
