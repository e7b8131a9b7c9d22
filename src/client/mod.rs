//! HTTP to Conducttr: `POST /messages` with retries over connections of our own
//! ([`lanes`]), and one pooled reqwest client for everything else.
//!
//! [`Target`] holds where to send and the token; the token is kept out of `Debug` and
//! never logged. [`Client::post_json`] classifies every attempt (accepted, rejected,
//! retryable and whether it may have reached the server), retries with exponential
//! backoff and jitter (backon) bounded in count and time, honours `Retry-After`, and
//! reports whether an earlier attempt may have been a duplicate. It does not schedule,
//! journal or print.

pub mod lanes;
mod socket;

use std::sync::Arc;
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

/// Told of a send's attempts as they go: each answer that will be retried, before the
/// wait for the next attempt, and each retry, just before its request is written (so a
/// journal can say whether a request was out when the process stopped).
pub trait Attempts: Send + Sync {
    fn answered(&self, status: Option<u16>, error: &str, reached: bool);
    fn retrying(&self);
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

/// The most of an answer's body read: more is a broken response.
const ANSWER_LIMIT: usize = 1 << 20;

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

/// What came back from one attempt, whichever way it went.
struct Reply {
    status: u16,
    retry_after: Option<Duration>,
    location: Option<String>,
    text: Result<String, String>,
}

/// An attempt that got no answer: why, and whether it may have reached the server.
struct NoReply {
    error: String,
    reached: bool,
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

    /// [`Client::get_json`] of a list the target may not have: `None` when it answers
    /// 404 (Conducttr lists no positions or roles; the stand-in does).
    pub async fn get_optional_json(&self, path: &str) -> Result<Option<Value>, String> {
        match self.get(path).await? {
            (status, ..) if status == reqwest::StatusCode::NOT_FOUND => Ok(None),
            answer => Self::json_of(path, answer).map(Some),
        }
    }

    /// `GET` `path`: its status, where it redirects, and its text (the token redacted).
    async fn get(
        &self,
        path: &str,
    ) -> Result<(reqwest::StatusCode, Option<String>, String), String> {
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
        Ok((status, location, self.target.redact(&text)))
    }

    /// A `GET`'s answer as JSON, or what was wrong with it.
    fn json_of(
        path: &str,
        (status, location, text): (reqwest::StatusCode, Option<String>, String),
    ) -> Result<Value, String> {
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

    /// A GET with the bearer token; the JSON answer.
    pub async fn get_json(&self, path: &str) -> Result<Value, String> {
        Self::json_of(path, self.get(path).await?)
    }

    /// Have `n` connections to the API open ahead of a group, sending nothing: those
    /// missing are opened (TCP, and TLS for https), those open are kept. Through a proxy
    /// nothing is opened ahead (reqwest's pool holds the connections to the proxy).
    pub async fn preconnect(&self, n: usize) {
        if let Some(lanes) = &self.lanes {
            let open = lanes.open(n).await;
            tracing::debug!("{open} of {n} connections open ahead of a group");
        }
    }

    /// The body of a `POST /messages`, serialized (before its instant).
    pub fn message_body(&self, body: &Map<String, Value>) -> Result<bytes::Bytes, String> {
        serde_json::to_vec(body)
            .map(bytes::Bytes::from)
            .map_err(|e| format!("cannot build the request: the body does not serialize ({e})"))
    }

    /// The URL of an endpoint, parsed once.
    fn endpoint_url(&self, to: crate::message::Endpoint) -> &reqwest::Url {
        match to {
            crate::message::Endpoint::Messages => &self.messages,
            crate::message::Endpoint::Position => &self.urls[1],
            crate::message::Endpoint::Role => &self.urls[2],
            crate::message::Endpoint::Gps => &self.urls[3],
        }
    }

    /// POST a body that [`Client::message_body`] serialized; one that did not serialize
    /// is a failure without any attempt. With a `gate`, the request is handed to its
    /// connection now and written when the gate opens.
    pub async fn post_body(
        &self,
        body: Result<(crate::message::Endpoint, bytes::Bytes), String>,
        gate: Option<&crate::gate::Gate>,
        report: Option<&dyn Attempts>,
    ) -> Outcome {
        match body {
            Ok((to, json)) => self.post_at(to, json, gate, report).await,
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
        self.post_at(to, json, None, None).await
    }

    /// [`Client::post_json_to`], held behind `gate` when given.
    async fn post_at(
        &self,
        to: crate::message::Endpoint,
        json: bytes::Bytes,
        gate: Option<&crate::gate::Gate>,
        report: Option<&dyn Attempts>,
    ) -> Outcome {
        // Built at the first retry: most messages need none.
        let mut backoff = None;
        let mut attempts = 0u32;
        let mut reached_before = false;
        loop {
            attempts += 1;
            if attempts > 1
                && let Some(r) = report
            {
                r.retrying();
            }
            // Every attempt behind the gate: one retried before the instant waits for it.
            match self.attempt(to, json.clone(), gate).await {
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
                    if gate.is_some_and(crate::gate::Gate::is_abandoned) {
                        // The run ended before the instant: nothing went, nor may go.
                        return Outcome::Failed {
                            status,
                            error,
                            response: body,
                            attempts: 0,
                            maybe_delivered: false,
                        };
                    }
                    match delay {
                        Some(delay) => {
                            // Its answer on record before the wait: a process stopped
                            // during it leaves a refusal known as one.
                            if let Some(r) = report {
                                r.answered(status, &error, reached);
                            }
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

    /// One attempt: the POST, the answer classified; held behind `gate` when given, the
    /// request timeout counted from its opening.
    async fn attempt(
        &self,
        to: crate::message::Endpoint,
        json: bytes::Bytes,
        gate: Option<&crate::gate::Gate>,
    ) -> Attempt {
        let exchange = async {
            match &self.lanes {
                Some(lanes) => self.exchange_on(lanes, to, json, gate).await,
                None => {
                    if let Some(gate) = gate
                        && gate.opened().await.is_none()
                    {
                        return Err(NoReply {
                            error: crate::gate::ABANDONED.into(),
                            reached: false,
                        });
                    }
                    self.exchange_reqwest(to, json).await
                }
            }
        };
        let limit = async {
            if let Some(gate) = gate {
                gate.opened().await;
            }
            tokio::time::sleep(self.settings.request_timeout).await;
        };
        let answered = tokio::select! {
            reply = exchange => Ok(reply),
            () = limit => Err(()),
        };
        let reply = match answered {
            Ok(Ok(reply)) => reply,
            Ok(Err(NoReply { error, reached })) => {
                return Attempt::Retryable {
                    status: None,
                    error,
                    body: None,
                    reached,
                    retry_after: None,
                };
            }
            Err(_) => {
                return Attempt::Retryable {
                    status: None,
                    error: format!(
                        "timed out: no answer within {}",
                        humantime::format_duration(self.settings.request_timeout)
                    ),
                    body: None,
                    reached: true,
                    retry_after: None,
                };
            }
        };
        self.classify(reply)
    }

    /// The POST on injector's own connections, held behind `gate` when given.
    async fn exchange_on(
        &self,
        lanes: &lanes::Lanes,
        to: crate::message::Endpoint,
        json: bytes::Bytes,
        gate: Option<&crate::gate::Gate>,
    ) -> Result<Reply, NoReply> {
        let uri = hyper::Uri::try_from(self.endpoint_url(to).path()).map_err(|e| NoReply {
            error: format!("cannot build the request: {e}"),
            reached: false,
        })?;
        let make = || {
            let mut request = hyper::Request::new(http_body_util::Full::new(json.clone()));
            *request.method_mut() = hyper::Method::POST;
            *request.uri_mut() = uri.clone();
            *request.headers_mut() = self.post_headers.clone();
            request.headers_mut().insert(
                hyper::header::CONTENT_LENGTH,
                hyper::header::HeaderValue::from(json.len()),
            );
            request
        };
        let (parts, body) = lanes
            .send(make, ANSWER_LIMIT, gate)
            .await
            .map_err(|f| NoReply {
                error: self.target.redact(&f.error),
                reached: f.reached,
            })?;
        Ok(Reply {
            status: parts.status.as_u16(),
            retry_after: retry_after(&parts.headers),
            location: location_of(parts.status, &parts.headers).map(|l| self.target.redact(&l)),
            text: body
                .map(|b| self.target.redact(&String::from_utf8_lossy(&b)))
                .map_err(|f| self.target.redact(&f.error)),
        })
    }

    /// The POST through reqwest (and the proxy configured for it).
    async fn exchange_reqwest(
        &self,
        to: crate::message::Endpoint,
        json: bytes::Bytes,
    ) -> Result<Reply, NoReply> {
        let request = self
            .http
            .post(self.endpoint_url(to).clone())
            .header(reqwest::header::AUTHORIZATION, self.auth.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                reqwest::header::HeaderValue::from_static("application/json"),
            )
            .body(json)
            .build()
            .map_err(|e| NoReply {
                error: format!("cannot build the request: {}", describe(&e)),
                reached: false,
            })?;
        let resp = self.http.execute(request).await.map_err(|e| NoReply {
            error: describe(&e),
            // A connect failure never reached the server; anything later may have.
            reached: !e.is_connect(),
        })?;
        let status = resp.status();
        let retry_after = retry_after(resp.headers());
        let location = location(&resp).map(|l| self.target.redact(&l));
        let text = resp
            .text()
            .await
            .map(|t| self.target.redact(&t))
            .map_err(|e| describe(&e));
        Ok(Reply {
            status: status.as_u16(),
            retry_after,
            location,
            text,
        })
    }

    /// What an answer means for the message.
    fn classify(&self, reply: Reply) -> Attempt {
        let Reply {
            status,
            retry_after,
            location,
            text,
        } = reply;
        let text = match text {
            Ok(text) => text,
            Err(error) => {
                return Attempt::Retryable {
                    status: Some(status),
                    error,
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

/// A `Retry-After` in seconds (at most five minutes).
fn retry_after(headers: &hyper::HeaderMap) -> Option<Duration> {
    headers
        .get(hyper::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.min(300)))
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
