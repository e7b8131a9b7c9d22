//! The built-in Conducttr stand-in: a real HTTP server on loopback.
//!
//! It serves `POST /messages` (checked by [`crate::message::check`], the same rules as
//! `validate`), `GET /teams` and `GET /personas` (a presigned link to a zip holding
//! `data.json`, expiring like the real one) under a base path, records every request
//! (the last [`KEPT_RECORDS`] in memory for `GET /_mock/requests`, all of them in a JSON
//! Lines file), and injects faults on demand
//! (5xx, 429 with Retry-After, latency, dropped connections) from a seeded generator.
//! One implementation serves `injector mock-server`, `run --dry-run` and the tests.
//! It never records or prints the bearer token of a request.

mod record;
pub mod world;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::message::Endpoint;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

pub use record::Record;
pub use world::World;

/// Faults to inject into `POST /messages`, each a probability in 0..=1.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Answer 500, 502, 503 or 504.
    pub fail_rate: f64,
    /// Answer 429 with `Retry-After: 1`.
    pub throttle_rate: f64,
    /// Close the connection without answering.
    pub drop_rate: f64,
    /// Wait this long (a range: uniformly within it) before answering.
    pub latency: Option<(Duration, Duration)>,
    pub seed: u64,
    /// Close the connection after answering a refused request (404, 405: a warming
    /// `HEAD`), with `Connection: close`.
    pub close_refused: bool,
    /// Close a connection that has waited this long for a request (a keep-alive
    /// timeout, such as Apache's 5 s), without a word.
    pub idle_close: Option<Duration>,
    /// Refuse the first message whose body holds this text with a 422 (a refusal that
    /// is never retried), and accept it after that: a failure a controller can retry.
    pub refuse_once: Option<String>,
    /// Answer the first this many messages with 503 (unavailable: proof that they did
    /// not arrive), then as usual: an outage that ends.
    pub unavailable_first: u64,
}

/// How to run a stand-in.
#[derive(Clone, Debug)]
pub struct Options {
    pub listen: SocketAddr,
    /// Path prefix of the API, e.g. `/v1.1/eagle`.
    pub base_path: String,
    /// The bearer token requests must carry.
    pub token: String,
    pub world: World,
    /// JSON Lines file every request is appended to.
    pub record: Option<PathBuf>,
    pub faults: Faults,
    /// How long a `GET /personas` link stays valid.
    pub link_ttl: Duration,
    /// Reject persona and team ids that are not in the world.
    pub check_ids: bool,
    /// Serve these bytes as the personas archive instead of the world's (to rehearse a
    /// broken download).
    pub personas_archive: Option<Vec<u8>>,
    /// Serve the personas archive a byte at a time, this long apart (a slow link).
    pub archive_trickle: Option<Duration>,
    /// How many of the latest records memory keeps (the record file keeps all).
    pub kept_records: usize,
}

impl Options {
    /// Defaults for tests and dry runs: loopback, a free port, the built-in world.
    pub fn local(token: impl Into<String>) -> Self {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            base_path: DEFAULT_BASE_PATH.into(),
            token: token.into(),
            world: World::default(),
            record: None,
            faults: Faults::default(),
            link_ttl: Duration::from_secs(15 * 60),
            check_ids: false,
            personas_archive: None,
            archive_trickle: None,
            kept_records: KEPT_RECORDS,
        }
    }
}

pub const DEFAULT_BASE_PATH: &str = "/v1.1/eagle";
/// How many of the latest records a stand-in keeps in memory by default: about 180 MiB.
pub const KEPT_RECORDS: usize = 50_000;

struct Shared {
    opts: Options,
    addr: SocketAddr,
    rng: Mutex<StdRng>,
    seq: AtomicU64,
    /// The latest records, at most `opts.kept_records`.
    records: Mutex<std::collections::VecDeque<Arc<Record>>>,
    recorder: record::Recorder,
    links: Mutex<HashMap<String, Instant>>,
    zip: Bytes,
    /// Whether `refuse_once` has refused its message.
    refused_once: std::sync::atomic::AtomicBool,
    /// Messages answered 503 by `unavailable_first` so far.
    unavailable: AtomicU64,
}

/// A running stand-in server.
pub struct StandIn {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// The connection a request came on: asks it to close without answering, and says
/// which it is and when it was accepted.
#[derive(Clone)]
struct ConnDrop {
    drop: Arc<Notify>,
    /// Numbered from 1 in the order accepted.
    id: u64,
    accepted_unix_ns: u64,
}

impl StandIn {
    /// Bind and start serving.
    pub async fn start(opts: Options) -> std::io::Result<StandIn> {
        let listener = TcpListener::bind(opts.listen).await?;
        let addr = listener.local_addr()?;
        let idle_close = opts.faults.idle_close;
        let recorder = record::Recorder::open(opts.record.as_deref())?;
        let zip = Bytes::from(match &opts.personas_archive {
            Some(bytes) => bytes.clone(),
            None => world_zip(&opts.world)?,
        });
        let shared = Arc::new(Shared {
            rng: Mutex::new(StdRng::seed_from_u64(opts.faults.seed)),
            opts,
            addr,
            seq: AtomicU64::new(0),
            records: Mutex::new(std::collections::VecDeque::new()),
            recorder,
            links: Mutex::new(HashMap::new()),
            zip,
            refused_once: std::sync::atomic::AtomicBool::new(false),
            unavailable: AtomicU64::new(0),
        });
        let base = shared.opts.base_path.trim_end_matches('/').to_string();
        let router = Router::new()
            .route(&format!("{base}/messages"), post(post_messages))
            .route(&format!("{base}/messages/{{kind}}"), post(post_kind))
            .route(&format!("{base}/teams"), get(get_teams))
            .route(&format!("{base}/personas"), get(get_personas))
            // Not Conducttr's (it lists neither): the stand-in's world names its exercise's
            // positions and roles, so that a rehearsal checks them before T0.
            .route(&format!("{base}/positions"), get(get_positions))
            .route(&format!("{base}/roles"), get(get_roles))
            .route("/_mock/files/{nonce}/personas.zip", get(get_zip))
            .route("/_mock/requests", get(get_requests))
            .fallback(refused::<404>)
            .method_not_allowed_fallback(refused::<405>)
            .with_state(shared.clone());
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, router, idle_close, stop_rx));
        Ok(StandIn { shared, stop, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `http://ADDR/BASE_PATH`, the value to give `--base-url`.
    pub fn base_url(&self) -> String {
        format!(
            "http://{}{}",
            self.shared.addr,
            self.shared.opts.base_path.trim_end_matches('/')
        )
    }

    /// The requests received so far, in arrival order (the latest
    /// [`Options::kept_records`]).
    pub fn requests(&self) -> Vec<Record> {
        let records = self.shared.records.lock().expect("records lock");
        records.iter().map(|r| Record::clone(r)).collect()
    }

    /// Stop accepting, let open requests finish (up to `grace`), flush the record.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(grace, self.task).await;
        self.shared.recorder.close();
    }
}

async fn serve(
    listener: TcpListener,
    router: Router,
    idle_close: Option<Duration>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conns = tokio::task::JoinSet::new();
    let mut accepted_count = 0;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                accepted_count += 1;
                let at = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64;
                conns.spawn(connection(
                    stream,
                    (accepted_count, at),
                    idle_close,
                    router.clone(),
                    stop.clone(),
                ));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

async fn connection(
    stream: tokio::net::TcpStream,
    (id, accepted_at): (u64, u64),
    idle_close: Option<Duration>,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let dropper = Arc::new(Notify::new());
    let attach = ConnDrop {
        drop: dropper.clone(),
        id,
        accepted_unix_ns: accepted_at,
    };
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(attach.clone());
        router.clone().oneshot(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true);
    if let Some(idle) = idle_close {
        // hyper's wait for a request's head runs from the end of the last answer.
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(idle);
    }
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        // Dropping the connection future closes the socket with no answer.
        () = dropper.notified() => {}
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Whether and how a request authenticated.
fn auth(headers: &HeaderMap, token: &str) -> &'static str {
    match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        None => "missing",
        Some(v) => match v.strip_prefix("Bearer ") {
            Some(t) if constant_time_eq(t.trim().as_bytes(), token.as_bytes()) => "ok",
            _ => "wrong",
        },
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

enum Fault {
    Drop,
    Fail(u16),
    Throttle,
}

impl Shared {
    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn draw(&self) -> (Option<Fault>, Option<Duration>) {
        let f = &self.opts.faults;
        let mut rng = self.rng.lock().expect("rng lock");
        let latency = f.latency.map(|(lo, hi)| {
            if hi > lo {
                rng.random_range(lo..=hi)
            } else {
                lo
            }
        });
        if f.drop_rate + f.fail_rate + f.throttle_rate <= 0.0 {
            return (None, latency);
        }
        let u: f64 = rng.random();
        let fault = if u < f.drop_rate {
            Some(Fault::Drop)
        } else if u < f.drop_rate + f.fail_rate {
            Some(Fault::Fail(
                [500, 502, 503, 504][rng.random_range(0..4usize)],
            ))
        } else if u < f.drop_rate + f.fail_rate + f.throttle_rate {
            Some(Fault::Throttle)
        } else {
            None
        };
        (fault, latency)
    }

    fn record(&self, rec: Record) {
        tracing::debug!(
            seq = rec.seq,
            status = rec.status,
            message_id = rec.message_id.as_deref().unwrap_or("-"),
            fault = rec.fault.as_deref().unwrap_or("-"),
            "{} {}",
            rec.method,
            rec.path
        );
        let rec = Arc::new(rec);
        self.recorder.write(&rec);
        let mut records = self.records.lock().expect("records lock");
        if records.len() >= self.opts.kept_records.max(1) {
            records.pop_front();
        }
        records.push_back(rec);
    }

    fn channel_ok(&self, c: &str) -> bool {
        crate::message::DOCUMENTED_CHANNELS.contains(&c)
            || self.opts.world.channels.iter().any(|x| x == c)
    }
}

/// A request held back by `--latency`: recorded as abandoned if its client hangs up
/// before the answer (the handler is then dropped), so that every request is recorded.
struct Held {
    st: Arc<Shared>,
    rec: Option<Record>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(mut rec) = self.rec.take() {
            rec.fault = Some("abandoned".into());
            self.st.record(rec);
        }
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn post_messages(
    st: State<Arc<Shared>>,
    dropper: Extension<ConnDrop>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    post_at(Endpoint::Messages, st, dropper, uri, headers, body).await
}

/// `POST /messages/position`, `/messages/role`, `/messages/gps`; another name is unknown.
async fn post_kind(
    axum::extract::Path(kind): axum::extract::Path<String>,
    st: State<Arc<Shared>>,
    dropper: Extension<ConnDrop>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = match kind.as_str() {
        "position" => Endpoint::Position,
        "role" => Endpoint::Role,
        "gps" => Endpoint::Gps,
        _ => return refused::<404>(st, Method::POST, uri, headers, body).await,
    };
    post_at(at, st, dropper, uri, headers, body).await
}

/// One of the four messaging endpoints: the same faults, token and JSON checks, each
/// with its own contract ([`crate::message::check_at`]).
async fn post_at(
    at: Endpoint,
    State(st): State<Arc<Shared>>,
    Extension(dropper): Extension<ConnDrop>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut rec = Record::arrived(st.next_seq(), &Method::POST, &uri, &headers, &body);
    rec.auth = auth(&headers, &st.opts.token).into();
    (rec.conn, rec.conn_opened_unix_ns) = (Some(dropper.id), Some(dropper.accepted_unix_ns));
    let (fault, latency) = st.draw();
    if let Some(latency) = latency {
        // A client that hangs up meanwhile drops this handler: the guard records it.
        let mut held = Held {
            st: st.clone(),
            rec: Some(rec),
        };
        tokio::time::sleep(latency).await;
        rec = held.rec.take().expect("taken once");
    }
    if rec.auth != "ok" {
        rec.status = Some(401);
        st.record(rec);
        return json_response(StatusCode::UNAUTHORIZED, json!({"error": "Unauthorized"}));
    }
    if st.unavailable.fetch_add(1, Ordering::Relaxed) < st.opts.faults.unavailable_first {
        rec.fault = Some("unavailable".into());
        rec.status = Some(503);
        st.record(rec);
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "Service unavailable (injected by the stand-in)"}),
        );
    }
    if let Some(text) = &st.opts.faults.refuse_once
        && String::from_utf8_lossy(&body).contains(text.as_str())
        && !st.refused_once.swap(true, Ordering::Relaxed)
    {
        rec.fault = Some("refuse_once".into());
        rec.status = Some(422);
        st.record(rec);
        return json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": "Refused once (injected by the stand-in)"}),
        );
    }
    match fault {
        Some(Fault::Drop) => {
            rec.fault = Some("drop".into());
            st.record(rec);
            dropper.drop.notify_one();
            std::future::pending::<()>().await;
            unreachable!("the connection is dropped first")
        }
        Some(Fault::Fail(code)) => {
            rec.fault = Some("fail".into());
            rec.status = Some(code);
            st.record(rec);
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return json_response(
                status,
                json!({"error": "Internal error (injected by the stand-in)"}),
            );
        }
        Some(Fault::Throttle) => {
            rec.fault = Some("throttle".into());
            rec.status = Some(429);
            st.record(rec);
            let mut resp = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": "Too many requests"}),
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return resp;
        }
        None => {}
    }
    let mut details: Vec<Value> = Vec::new();
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !json_type {
        details.push(
            json!({"field": "Content-Type", "message": "Content-Type must be application/json"}),
        );
    }
    // The record parsed the body already; a body that is no object is parsed again
    // only to word the error.
    let object = match &rec.body {
        Value::Object(map) => Ok(map),
        _ => Err(match serde_json::from_slice::<Value>(&body) {
            Ok(_) => "the body must be a JSON object".to_string(),
            Err(e) => format!("the body is not JSON: {e}"),
        }),
    };
    match object {
        Ok(map) => {
            for v in crate::message::check_at(at, map, &|c| st.channel_ok(c)) {
                details.push(json!({"field": v.field, "message": v.message}));
            }
            if st.opts.check_ids {
                if let Some(p) = map.get("persona").and_then(Value::as_str)
                    && !st.opts.world.has_persona(p)
                {
                    details.push(json!({"field": "persona", "message": format!("no persona `{p}` in this workspace")}));
                }
                if let Some(t) = map.get("team_id")
                    && !st.opts.world.has_team(t)
                {
                    details.push(json!({"field": "team_id", "message": format!("no team {t} in this workspace")}));
                }
                // Positions and roles are the exercise design's; the world lists them.
                if let Some(p) = map.get("position").and_then(Value::as_str)
                    && !st.opts.world.positions.iter().any(|w| w == p)
                {
                    details.push(json!({"field": "position", "message": format!("no position `{p}` in this exercise (positions are case-sensitive)")}));
                }
                if let Some(r) = map.get("role").and_then(Value::as_str)
                    && !st.opts.world.roles.iter().any(|w| w == r)
                {
                    details.push(json!({"field": "role", "message": format!("no role `{r}` in this exercise")}));
                }
            }
        }
        Err(message) => details.push(json!({"field": "body", "message": message})),
    }
    if !details.is_empty() {
        rec.status = Some(400);
        rec.details = details.clone();
        st.record(rec);
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "Invalid request", "details": details}),
        );
    }
    let id = uuid::Uuid::new_v4().to_string();
    rec.status = Some(200);
    rec.message_id = Some(id.clone());
    st.record(rec);
    json_response(StatusCode::OK, json!({ "message_id": id }))
}

/// A GET's record, its token checked; `None` (the 401 recorded) when the token is wrong.
fn authorized_get(st: &Shared, uri: &Uri, headers: &HeaderMap) -> Option<Record> {
    let mut rec = Record::arrived(st.next_seq(), &Method::GET, uri, headers, &Bytes::new());
    rec.auth = auth(headers, &st.opts.token).into();
    if rec.auth != "ok" {
        rec.status = Some(401);
        st.record(rec);
        return None;
    }
    Some(rec)
}

fn unauthorized() -> Response {
    json_response(StatusCode::UNAUTHORIZED, json!({"error": "Unauthorized"}))
}

async fn get_teams(State(st): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    let Some(mut rec) = authorized_get(&st, &uri, &headers) else {
        return unauthorized();
    };
    rec.status = Some(200);
    st.record(rec);
    json_response(
        StatusCode::OK,
        serde_json::to_value(&st.opts.world.teams).unwrap_or(Value::Null),
    )
}

async fn get_positions(State(st): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    let Some(mut rec) = authorized_get(&st, &uri, &headers) else {
        return unauthorized();
    };
    rec.status = Some(200);
    st.record(rec);
    json_response(StatusCode::OK, json!(st.opts.world.positions))
}

async fn get_roles(State(st): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    let Some(mut rec) = authorized_get(&st, &uri, &headers) else {
        return unauthorized();
    };
    rec.status = Some(200);
    st.record(rec);
    json_response(StatusCode::OK, json!(st.opts.world.roles))
}

async fn get_personas(State(st): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    let Some(mut rec) = authorized_get(&st, &uri, &headers) else {
        return unauthorized();
    };
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    st.links
        .lock()
        .expect("links lock")
        .insert(nonce.clone(), Instant::now() + st.opts.link_ttl);
    let url = format!(
        "http://{}/_mock/files/{nonce}/personas.zip?X-Amz-Expires={}",
        st.addr,
        st.opts.link_ttl.as_secs()
    );
    rec.status = Some(200);
    st.record(rec);
    json_response(StatusCode::OK, json!({ "presigned_url": url }))
}

async fn get_zip(
    State(st): State<Arc<Shared>>,
    UrlPath(nonce): UrlPath<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut rec = Record::arrived(st.next_seq(), &Method::GET, &uri, &headers, &Bytes::new());
    rec.auth = "not required".into();
    let expiry = st.links.lock().expect("links lock").get(&nonce).copied();
    let (status, resp) = match expiry {
        None => (
            404,
            (
                StatusCode::NOT_FOUND,
                "<Error><Code>NoSuchKey</Code></Error>",
            )
                .into_response(),
        ),
        Some(at) if Instant::now() >= at => (
            403,
            (
                StatusCode::FORBIDDEN,
                "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            )
                .into_response(),
        ),
        Some(_) => match st.opts.archive_trickle {
            None => (
                200,
                ([(header::CONTENT_TYPE, "application/zip")], st.zip.clone()).into_response(),
            ),
            Some(gap) => {
                let zip = st.zip.clone();
                let bytes = futures_util::stream::unfold(0usize, move |i| {
                    let zip = zip.clone();
                    async move {
                        if i >= zip.len() {
                            return None;
                        }
                        tokio::time::sleep(gap).await;
                        Some((Ok::<_, std::io::Error>(zip.slice(i..i + 1)), i + 1))
                    }
                });
                (
                    200,
                    (
                        [(header::CONTENT_TYPE, "application/zip")],
                        axum::body::Body::from_stream(bytes),
                    )
                        .into_response(),
                )
            }
        },
    };
    rec.status = Some(status);
    st.record(rec);
    resp
}

#[derive(serde::Deserialize)]
struct Since {
    since: Option<u64>,
}

async fn get_requests(State(st): State<Arc<Shared>>, Query(q): Query<Since>) -> Response {
    let since = q.since.unwrap_or(0);
    let records: Vec<Arc<Record>> = st
        .records
        .lock()
        .expect("records lock")
        .iter()
        .filter(|r| r.seq > since)
        .cloned()
        .collect();
    json_response(
        StatusCode::OK,
        serde_json::to_value(records.iter().map(|r| &**r).collect::<Vec<&Record>>())
            .unwrap_or(Value::Null),
    )
}

/// A request no route takes: an unknown path (404), or a known path asked with another
/// method (405, as other clients' warming `HEAD`s are). Recorded, and answered
/// `{"error", "path"}`.
async fn refused<const STATUS: u16>(
    State(st): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let status = StatusCode::from_u16(STATUS).unwrap_or(StatusCode::NOT_FOUND);
    let mut rec = Record::arrived(st.next_seq(), &method, &uri, &headers, &body);
    rec.auth = auth(&headers, &st.opts.token).into();
    rec.status = Some(status.as_u16());
    st.record(rec);
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed",
        _ => "Not found",
    };
    let mut resp = json_response(status, json!({"error": error, "path": uri.path()}));
    if st.opts.faults.close_refused {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// The personas as Conducttr ships them: a zip holding `data.json`.
fn world_zip(world: &World) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let data: Vec<Value> = world
        .personas
        .iter()
        .map(world::Persona::to_conducttr)
        .collect();
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("data.json", options)
            .map_err(std::io::Error::other)?;
        zip.write_all(
            serde_json::to_string_pretty(&data)
                .map_err(std::io::Error::other)?
                .as_bytes(),
        )?;
        zip.finish().map_err(std::io::Error::other)?;
    }
    Ok(buf.into_inner())
}

/// A fresh random token, for a stand-in started without one.
pub fn random_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
