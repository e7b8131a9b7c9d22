//! HTTP to Conducttr: one pooled reqwest client, and `POST /messages` with retries.
//!
//! [`Target`] holds where to send and the token; the token is kept out of `Debug` and
//! never logged. [`Client::post_json`] classifies every attempt (accepted, rejected,
//! retryable and whether it may have reached the server), retries with exponential
//! backoff and jitter (backon) bounded in count and time, honours `Retry-After`, and
//! reports whether an earlier attempt may have been a duplicate. It does not schedule,
//! journal or print.

use std::time::Duration;

use backon::BackoffBuilder;
use serde_json::{Map, Value};

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

/// What one attempt came to.
enum Attempt {
    Accepted(u16, String),
    /// Final: never retried.
    Rejected {
        status: u16,
        error: String,
        body: Option<String>,
        maybe_delivered: bool,
    },
    /// May be retried: whether it may have reached the server, and a Retry-After.
    Retryable {
        status: Option<u16>,
        error: String,
        body: Option<String>,
        reached: bool,
        retry_after: Option<Duration>,
    },
}

pub struct Client {
    http: reqwest::Client,
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
        Ok(Client {
            http,
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

    /// A GET with the bearer token; the JSON answer.
    pub async fn get_json(&self, path: &str) -> Result<Value, String> {
        let resp = self
            .http
            .get(self.target.url(path))
            .bearer_auth(self.target.token())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = resp.status();
        let location = location(&resp).map(|l| self.target.redact(&l));
        let text = resp.text().await.map_err(|e| describe(&e))?;
        let text = self.target.redact(&text);
        if status.is_redirection() {
            return Err(format!(
                "GET {path} answered {status}, {}",
                redirect_text(location.as_deref())
            ));
        }
        if !status.is_success() {
            return Err(format!("GET {path} answered {status}: {}", clip(&text)));
        }
        serde_json::from_str(&text)
            .map_err(|e| format!("GET {path} answered with invalid JSON ({e})"))
    }

    /// Open `n` connections to the API ahead of a burst: `n` concurrent `HEAD` requests
    /// to the messages URL, without the token (none changes anything). The pool keeps
    /// the connections for the sends that follow, unless the server closed them after
    /// answering (`Connection: close`, as some do for a request they refuse): those are
    /// opened again with `GET /teams`, the API's own read, which servers keep open. So
    /// what is warmed is usable at the instant; a server that closes after every answer
    /// leaves the burst no worse off than without warming.
    pub async fn preconnect(&self, n: usize) {
        let kept = self.warm(n, false).await;
        let kept = if kept < n {
            kept + self.warm(n - kept, true).await
        } else {
            kept
        };
        tracing::debug!("{kept} of {n} connections open ahead of a group");
    }

    /// `n` warm-up requests at once (`HEAD` on the messages URL, or with `read` an
    /// authenticated `GET /teams`); how many connections stayed open after the answer.
    async fn warm(&self, n: usize, read: bool) -> usize {
        let mut warm = tokio::task::JoinSet::new();
        for _ in 0..n {
            let request = if read {
                self.http
                    .get(format!("{}/teams", self.target.base_url))
                    .header(reqwest::header::AUTHORIZATION, self.auth.clone())
            } else {
                self.http.head(self.messages.clone())
            };
            warm.spawn(async move {
                let resp = request.send().await.ok()?;
                let closes = resp
                    .headers()
                    .get(reqwest::header::CONNECTION)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                // Read to the end, so that the connection goes back to the pool.
                resp.bytes().await.ok()?;
                (!closes).then_some(())
            });
        }
        warm.join_all().await.into_iter().flatten().count()
    }

    /// The body of a `POST /messages`, serialized (before its instant).
    pub fn message_body(&self, body: &Map<String, Value>) -> Result<bytes::Bytes, String> {
        serde_json::to_vec(body)
            .map(bytes::Bytes::from)
            .map_err(|e| format!("cannot build the request: the body does not serialize ({e})"))
    }

    /// One attempt's POST of this serialized body to its endpoint.
    fn message_request(
        &self,
        to: crate::message::Endpoint,
        json: bytes::Bytes,
    ) -> Result<reqwest::Request, String> {
        let url = match to {
            crate::message::Endpoint::Messages => &self.messages,
            crate::message::Endpoint::Position => &self.urls[1],
            crate::message::Endpoint::Role => &self.urls[2],
            crate::message::Endpoint::Gps => &self.urls[3],
        };
        self.http
            .post(url.clone())
            .header(reqwest::header::AUTHORIZATION, self.auth.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                reqwest::header::HeaderValue::from_static("application/json"),
            )
            .body(json)
            .build()
            .map_err(|e| format!("cannot build the request: {}", describe(&e)))
    }

    /// POST a body that [`Client::message_body`] serialized; one that did not serialize
    /// is a failure without any attempt.
    pub async fn post_body(
        &self,
        body: Result<(crate::message::Endpoint, bytes::Bytes), String>,
    ) -> Outcome {
        match body {
            Ok((to, json)) => self.post_json_to(to, json).await,
            Err(error) => Outcome::Failed {
                status: None,
                error,
                response: None,
                attempts: 0,
                maybe_delivered: false,
            },
        }
    }

    /// `POST /messages` this serialized body, retrying as the policy allows. Each
    /// attempt is a request of its own around the same bytes (shared, not copied).
    pub async fn post_json(&self, json: bytes::Bytes) -> Outcome {
        self.post_json_to(crate::message::Endpoint::Messages, json)
            .await
    }

    /// [`Client::post_json`] to one of the four endpoints.
    pub async fn post_json_to(&self, to: crate::message::Endpoint, json: bytes::Bytes) -> Outcome {
        // Built at the first retry: most messages need none.
        let mut backoff = None;
        let mut attempts = 0u32;
        let mut reached_before = false;
        loop {
            attempts += 1;
            let request = match self.message_request(to, json.clone()) {
                Ok(request) => request,
                Err(error) => {
                    return Outcome::Failed {
                        status: None,
                        error,
                        response: None,
                        attempts: attempts - 1,
                        maybe_delivered: reached_before,
                    };
                }
            };
            match self.attempt(request).await {
                Attempt::Accepted(status, message_id) => {
                    return Outcome::Sent {
                        status,
                        message_id,
                        attempts,
                        possible_duplicate: reached_before,
                    };
                }
                Attempt::Rejected {
                    status,
                    error,
                    body,
                    maybe_delivered,
                } => {
                    return Outcome::Failed {
                        status: Some(status),
                        error,
                        response: body,
                        attempts,
                        maybe_delivered: maybe_delivered || reached_before,
                    };
                }
                Attempt::Retryable {
                    status,
                    error,
                    body,
                    reached,
                    retry_after,
                } => {
                    let allowed = match self.settings.retry {
                        RetryPolicy::All => true,
                        RetryPolicy::Safe => !reached,
                    };
                    let delay = if allowed {
                        backoff
                            .get_or_insert_with(|| {
                                backon::ExponentialBuilder::default()
                                    .with_jitter()
                                    .with_min_delay(self.settings.min_backoff)
                                    .with_max_delay(Duration::from_secs(30))
                                    .with_max_times(self.settings.max_attempts.saturating_sub(1))
                                    .with_total_delay(Some(self.settings.max_retry_time))
                                    .build()
                            })
                            .next()
                    } else {
                        None
                    };
                    reached_before |= reached;
                    match delay {
                        Some(delay) => {
                            let wait = retry_after.map_or(delay, |r| r.max(delay));
                            tracing::debug!(attempt = attempts, ?wait, %error, "retrying");
                            tokio::time::sleep(wait).await;
                        }
                        None => {
                            return Outcome::Failed {
                                status,
                                error,
                                response: body,
                                attempts,
                                maybe_delivered: reached_before,
                            };
                        }
                    }
                }
            }
        }
    }

    async fn attempt(&self, request: reqwest::Request) -> Attempt {
        let sent = self.http.execute(request).await;
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => {
                // A connect failure never reached the server; anything later may have.
                let reached = !e.is_connect();
                return Attempt::Retryable {
                    status: None,
                    error: describe(&e),
                    body: None,
                    reached,
                    retry_after: None,
                };
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(300)));
        let location = location(&resp).map(|l| self.target.redact(&l));
        let text = match resp.text().await {
            Ok(t) => self.target.redact(&t),
            Err(e) => {
                return Attempt::Retryable {
                    status: Some(status),
                    error: describe(&e),
                    body: None,
                    reached: true,
                    retry_after,
                };
            }
        };
        match status {
            200..=299 => {
                let id = serde_json::from_str::<Answer>(&text)
                    .ok()
                    .and_then(|a| a.message_id)
                    .filter(|id| !id.is_empty());
                match id {
                    Some(id) => Attempt::Accepted(status, id),
                    None => Attempt::Rejected {
                        status,
                        error: format!("HTTP {status} without a message_id"),
                        body: Some(clip(&text)),
                        maybe_delivered: true,
                    },
                }
            }
            300..=399 => Attempt::Rejected {
                status,
                error: format!("HTTP {status}, {}", redirect_text(location.as_deref())),
                body: Some(clip(&text)),
                // 303 See Other is the answer to a POST that was processed.
                maybe_delivered: status == 303,
            },
            429 | 503 => Attempt::Retryable {
                status: Some(status),
                error: format!("HTTP {status}"),
                body: Some(clip(&text)),
                reached: false,
                retry_after,
            },
            500..=599 => Attempt::Retryable {
                status: Some(status),
                error: format!("HTTP {status}"),
                body: Some(clip(&text)),
                reached: true,
                retry_after,
            },
            _ => Attempt::Rejected {
                status,
                error: format!("HTTP {status}: {}", clip(&text)),
                body: Some(clip(&text)),
                maybe_delivered: false,
            },
        }
    }
}

/// The part of an accepted answer that matters.
#[derive(serde::Deserialize)]
struct Answer {
    message_id: Option<String>,
}

/// Where a redirect points (its `Location`), clipped; `None` for any other answer, so
/// that an accepted send does not look it up.
pub fn location(resp: &reqwest::Response) -> Option<String> {
    if !resp.status().is_redirection() {
        return None;
    }
    resp.headers()
        .get(reqwest::header::LOCATION)
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
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(e);
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
