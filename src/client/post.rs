//! The `POST`s: a body serialized, sent on the lanes (or through reqwest and a proxy),
//! each attempt's answer classified, and retries as the policy allows.

use std::time::Duration;

use backon::BackoffBuilder;
use serde_json::{Map, Value};

use super::{
    Attempts, Client, Outcome, RetryPolicy, clip, describe, lanes, location, location_of,
    redirect_text,
};

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

/// The most of an answer's body read: more is a broken response.
const ANSWER_LIMIT: usize = 1 << 20;

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

/// A `Retry-After` in seconds (at most five minutes).
fn retry_after(headers: &hyper::HeaderMap) -> Option<Duration> {
    headers
        .get(hyper::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.min(300)))
}
