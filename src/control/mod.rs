//! The control endpoint of a running exercise: a JSON API and one self-contained page.
//!
//! `run --control ADDR` serves, behind a bearer token random per run (or read from
//! `--control-token-file`): `GET /api/state` (clock state and the timeline with each
//! occurrence's planned, effective and actual times and status), and `POST /api/hold`,
//! `/api/resume`, `/api/skip`, `/api/unskip`, `/api/fire` (`{"key": ..}`) and
//! `/api/shift` (`{"by": "-5m"}`), and `/api/met`, `/api/missed` (`{"key": ID,
//! "note": ..}`) to judge an expected action; the state lists the expected actions and
//! contingencies too. `GET /api/events` is the live push (server-sent events): the
//! state once, then deltas (see [`events`]). `GET /` is the page (no CDN, no external fonts), which
//! takes the token from its URL fragment. Actions go to the engine as
//! [`crate::engine::Command`]s; this module never touches the schedule itself.
//!
//! The live push is `push`; the page is `page.html`, embedded.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};

use crate::action::{Action, Source};
use crate::board::Board;
use crate::controllers::{Controllers, Identity, Role};
use crate::engine::{Ask, ClockState, Command, LatePolicy, Reply};
use crate::fold::Status;

mod push;

use push::events;
pub use push::take_pushed;

/// What the page and `ctl status` show, kept current by the run's event listener.
#[derive(Clone)]
pub struct View {
    /// The run's timeline as it stands (ad hoc injects join it).
    pub timeline: Arc<crate::timeline::Shared>,
    pub clock: watch::Receiver<ClockState>,
    /// Bumped whenever the board takes in an event (for live push).
    pub changed: watch::Receiver<u64>,
    /// Every occurrence of the run and where it stands.
    pub board: Arc<Mutex<Board>>,
    pub dry_run: bool,
    /// `--speed max`: occurrences go in order as fast as the target accepts, not at times.
    pub max_speed: bool,
    /// Per occurrence (timeline order), whom it goes to as the plan says it (`team blue
    /// (3437866)`, `position CEO`, `move to ...`); empty past the plan's size limit. An
    /// ad hoc inject's join at the end.
    pub to: Arc<std::sync::RwLock<Vec<String>>>,
    /// Per occurrence (timeline order), its subject, title or text; empty past the
    /// plan's size limit.
    pub subjects: Arc<std::sync::RwLock<Vec<String>>>,
    /// Each restart of the run: when it stopped (its last journal line) and when it
    /// was taken up again.
    pub restarts: Arc<Vec<Restart>>,
}

/// A per-occurrence list of the view as it stands (a poisoned lock's too: the lists
/// are only appended to).
pub fn list<T>(lock: &std::sync::RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whom a plan's row goes to, in its words: the alias beside the id.
pub fn to_words(row: &crate::journal::PlanRow) -> String {
    match &row.to_name {
        Some(name) => format!("{name} ({})", row.to),
        None => row.to.clone(),
    }
}

/// A restart: the run stopped (a crash, a signal, an end) and was resumed.
#[derive(Clone, Debug, PartialEq)]
pub struct Restart {
    pub stopped_at: chrono::DateTime<chrono::Utc>,
    pub resumed_at: chrono::DateTime<chrono::Utc>,
}

impl Restart {
    /// The restarts a journal's records tell of, the one starting `now` included when
    /// `resuming`.
    pub fn of(
        records: &[crate::journal::Record],
        resuming: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<Restart> {
        use crate::journal::Record;
        let mut out = Vec::new();
        let mut last: Option<chrono::DateTime<chrono::Utc>> = None;
        let mut runs = 0;
        for r in records {
            match r {
                Record::Run(h) => {
                    runs += 1;
                    let started = crate::journal::parse_time(&h.started_at);
                    if runs > 1
                        && let (Some(stopped_at), Some(resumed_at)) = (last, started)
                    {
                        out.push(Restart {
                            stopped_at,
                            resumed_at,
                        });
                    }
                    last = started.or(last);
                }
                Record::End { at, .. } => last = at.or(last),
                Record::Event(e) => last = e.at().or(last),
            }
        }
        if resuming && let Some(stopped_at) = last {
            out.push(Restart {
                stopped_at,
                resumed_at: now,
            });
        }
        out
    }
}

#[derive(Clone)]
struct Shared {
    controllers: Arc<Controllers>,
    commands: mpsc::Sender<Command>,
    view: View,
}

/// The control endpoint's routes, for `controllers` (who may do what).
pub fn app(controllers: Controllers, commands: mpsc::Sender<Command>, view: View) -> Router {
    let shared = Shared {
        controllers: Arc::new(controllers),
        commands,
        view,
    };
    Router::new()
        .route("/", get(page))
        .route("/api/state", get(state))
        .route("/api/events", get(events))
        .route("/api/{action}", post(act))
        // A scenario to apply is larger than the default limit allows.
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::action::MAX_APPLIED * 2 + 64 * 1024,
        ))
        .with_state(shared)
}

/// Serve the control endpoint over plain HTTP; returns the bound address.
pub async fn serve(
    listen: SocketAddr,
    controllers: Controllers,
    commands: mpsc::Sender<Command>,
    view: View,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = app(controllers, commands, view);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, task))
}

/// Who the request's bearer token says it is, if anyone.
fn identity(headers: &HeaderMap, controllers: &Controllers) -> Option<Identity> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| controllers.who(t).cloned())
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"ok": false, "error": "a valid control token is required"})),
    )
        .into_response()
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

fn rfc(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn state(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let Some(you) = identity(&headers, &s.controllers) else {
        return unauthorized();
    };
    axum::Json(state_json(&s.view, &you)).into_response()
}

/// Everything the page and `ctl status` show, as `you` may see it.
fn state_json(view: &View, you: &Identity) -> Value {
    let clock = view.clock.borrow().clone();
    let board = view.board.lock().expect("board lock");
    whole_state(view, you, &clock, &board)
}

/// The whole state of `board` under `clock`: the head, every occurrence, every note.
fn whole_state(view: &View, you: &Identity, clock: &ClockState, board: &Board) -> Value {
    let mut state = head_json(view, you, clock);
    // Once a state, not in every delta's head: the page fills its form once.
    state["compose"] = compose_choices(&view.timeline.get());
    state["occurrences"] = board
        .whole()
        .map(|(fired, slot)| row_json(view, fired, slot, clock, true))
        .collect();
    state["notes"] = json!(board.notes());
    state
}

/// The state but for its occurrences and notes: the clock, the branches, the run.
fn head_json(view: &View, you: &Identity, clock: &ClockState) -> Value {
    let t = view.timeline.get();
    json!({
        "scenario": if t.scenario.name.is_empty() { &t.scenario.file } else { &t.scenario.name },
        "t0": t.t0.to_rfc3339(),
        "timezone": t.scenario.timezone.map_or("UTC".to_string(), |z| z.name().to_string()),
        "you": { "name": you.name, "role": you.role, "may": you.role.actions() },
        "speed": (!view.max_speed).then_some(t.speed),
        "waiting": clock.waiting,
        "ended": clock.ended,
        "held": clock.held_since.is_some(),
        "held_since": clock.held_since.map(rfc),
        "shift_ms": clock.shift.num_milliseconds(),
        "skipped": clock.skipped,
        "dry_run": view.dry_run,
        "now": rfc(chrono::Utc::now()),
        "restarts": view.restarts.iter().map(|r| json!({
            "stopped_at": rfc(r.stopped_at),
            "resumed_at": rfc(r.resumed_at),
            "downtime": crate::human::duration(r.resumed_at - r.stopped_at),
        })).collect::<Vec<_>>(),
        "expectations": clock.branches.expectations,
        "contingencies": clock.branches.contingencies,
        "objectives": t.scenario.objectives.iter().map(|o| json!({
            "id": o.id, "text": o.text, "capability": o.capability,
        })).collect::<Vec<_>>(),
    })
}

/// What the page's Compose form offers: the scenario's persona and team aliases, its
/// channels (those it uses first, then the documented ones), positions and roles, and
/// its defaults (what an empty field means).
fn compose_choices(t: &crate::timeline::Timeline) -> Value {
    let s = &t.scenario;
    let mut channels: Vec<String> = Vec::new();
    let mut positions: Vec<String> = Vec::new();
    let mut roles: Vec<String> = Vec::new();
    let add = |list: &mut Vec<String>, v: String| {
        if !v.is_empty() && !v.contains("{{") && !list.contains(&v) {
            list.push(v);
        }
    };
    for inject in &s.injects {
        add(&mut channels, t.field_text(inject, "channel"));
        add(&mut positions, t.field_text(inject, "position"));
        add(&mut roles, t.field_text(inject, "role"));
    }
    for c in s
        .extra_channels
        .iter()
        .map(String::as_str)
        .chain(crate::message::DOCUMENTED_CHANNELS.iter().copied())
    {
        add(&mut channels, c.to_string());
    }
    let defaults: serde_json::Map<String, Value> = s
        .defaults
        .iter()
        .map(|f| (f.name.to_string(), f.node.to_json()))
        .collect();
    json!({
        "personas": s.personas.keys().collect::<Vec<_>>(),
        "teams": s.teams.keys().collect::<Vec<_>>(),
        "channels": channels,
        "positions": positions,
        "roles": roles,
        "defaults": defaults,
    })
}

/// One occurrence as the page shows it: `whole`, every field; else only those that
/// change as it goes (status, times, message id), for a delta, with nulls and a false
/// `late` left out.
fn row_json(
    view: &View,
    fired: &crate::board::Fired,
    slot: &crate::fold::Slot,
    clock: &ClockState,
    whole: bool,
) -> Value {
    let timeline = view.timeline.get();
    let o = &timeline.occurrences[fired.occ];
    let skipped = clock.skips(&o.key, timeline.id_of(o));
    let status = match slot.status {
        Status::Uncertain => "in flight",
        Status::Pending if skipped => "will skip",
        p => p.name(),
    };
    let sent_at = (slot.status == Status::Sent)
        .then(|| slot.at.map(crate::journal::time_text))
        .flatten();
    // What is past stays past: a row that went keeps when it went; only what is still
    // to come moves with holds and shifts.
    let effective = match (slot.status, slot.at) {
        (Status::Pending, _) | (_, None) => crate::engine::moved(fired.planned, clock.shift),
        (_, Some(at)) => at,
    };
    let contingent = timeline.is_contingent(o);
    let mut row = json!({
        "key": o.key,
        "effective_at": rfc(effective),
        "status": status,
    });
    if let Some(mark) = fired.mark {
        row["mark"] = json!(mark);
    }
    if whole || slot.late {
        row["late"] = json!(slot.late);
    }
    if whole || sent_at.is_some() {
        row["sent_at"] = json!(sent_at);
    }
    if whole || slot.message_id.is_some() {
        row["message_id"] = json!(slot.message_id.as_deref());
    }
    if whole || contingent {
        // Scenario time, whatever the run's speed: T+00:02:00 stays that. A
        // contingency's is when it went (its offset is its delay).
        row["t_plus"] = json!(if contingent {
            let base = crate::engine::moved(fired.planned, -clock.shift);
            let run = (base - timeline.t0.to_utc()).to_std().unwrap_or_default();
            crate::plan::show_offset(std::time::Duration::from_secs(
                (run.as_secs_f64() * timeline.speed) as u64,
            ))
        } else {
            crate::plan::show_offset(o.offset)
        });
    }
    if whole {
        let inject = timeline.inject(o);
        let text = |f: &str| timeline.field_text(inject, f);
        row["to"] = json!(crate::control::list(&view.to).get(fired.occ));
        row["channel"] = json!(text("channel"));
        row["persona"] = json!(timeline.persona_text(o));
        row["subject"] = json!(crate::control::list(&view.subjects).get(fired.occ));
        row["planned_at"] = json!(rfc(fired.planned));
        row["owner"] = json!(inject.owner);
    }
    row
}

async fn act(
    State(s): State<Shared>,
    axum::extract::Path(action): axum::extract::Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(you) = identity(&headers, &s.controllers) else {
        return unauthorized();
    };
    let args: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).unwrap_or(json!({}))
    };
    let parsed = Action::from_request(&action, &args);
    let action = match parsed {
        Ok(a) => a,
        Err(e) => {
            return refusal(StatusCode::BAD_REQUEST, e);
        }
    };
    if !you.role.may(&action) {
        let needed = Role::needed(&action);
        // The director may do everything: said when it is not the one role needed.
        let or_director = if needed == Role::Director {
            ""
        } else {
            " (or the director's)"
        };
        return (
            StatusCode::FORBIDDEN,
            axum::Json(json!({
                "ok": false,
                "error": format!(
                    "{} ({}) may not `{}`: it needs the {} role{or_director}",
                    you.name,
                    you.role.name(),
                    action.name(),
                    needed.name()
                ),
            })),
        )
            .into_response();
    }
    let source = Source::from_header(
        headers
            .get("x-injector-source")
            .and_then(|v| v.to_str().ok()),
    );
    let ask = match ask_of(&args) {
        Ok(a) => a,
        Err(e) => {
            return refusal(StatusCode::BAD_REQUEST, e);
        }
    };
    let previewing = ask.preview;
    let (reply, answer) = oneshot::channel();
    if s.commands
        .send(Command {
            action,
            source,
            by: Some(you.name.clone()),
            ask,
            reply,
        })
        .await
        .is_err()
    {
        return refusal(StatusCode::CONFLICT, "the run has finished");
    }
    match answer.await {
        Ok(Reply::Done(message)) => {
            axum::Json(json!({"ok": true, "message": message})).into_response()
        }
        Ok(Reply::Preview(preview)) if previewing => {
            axum::Json(json!({"ok": true, "message": preview.text, "preview": preview}))
                .into_response()
        }
        // Not carried out: it needs a confirmation (`"confirm": ID` with the preview's id).
        Ok(Reply::Preview(preview)) => (
            StatusCode::CONFLICT,
            axum::Json(json!({
                "ok": false,
                "confirm_needed": true,
                "error": format!("this needs a confirmation: it {}", preview.text),
                "preview": preview,
            })),
        )
            .into_response(),
        Ok(Reply::Refused(error)) => refusal(StatusCode::CONFLICT, error),
        Err(_) => refusal(StatusCode::CONFLICT, "the run has finished"),
    }
}

/// A refused request's answer: `{"ok": false, "error": ...}` with `status`.
fn refusal(status: StatusCode, error: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"ok": false, "error": error.into()})),
    )
        .into_response()
}

/// How a request asks for its action: `"preview": true` (only what it would do),
/// `"confirm": true` or the preview's id, `"late": "fire"|"skip"` (a shift's occurrences
/// moved into the past), `"force": true` (a contingency that can no longer hold),
/// `"correct": true` (a judgment replacing the one made before).
pub fn ask_of(args: &Value) -> Result<Ask, String> {
    let flag = |name: &str| match args.get(name) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(false),
        Some(Value::Bool(true)) => Ok(true),
        Some(_) => Err(format!("`{name}` must be true or false")),
    };
    let confirmed = match args.get("confirm") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => None,
        Some(Value::Bool(true)) => Some(String::new()),
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err("`confirm` must be true or a preview's id".into()),
    };
    let late = match args.get("late").and_then(Value::as_str) {
        None => None,
        Some("fire") => Some(LatePolicy::Fire),
        Some("skip") => Some(LatePolicy::Skip),
        Some(other) => return Err(format!("`late` is `fire` or `skip`, not `{other}`")),
    };
    let at = match (
        args.get("at").and_then(Value::as_str),
        args.get("in").and_then(Value::as_str),
    ) {
        (Some(_), Some(_)) => return Err("give `at` or `in`, not both".into()),
        (Some(at), None) => {
            let t = at.trim();
            let t = t.strip_prefix("T+").unwrap_or(t);
            Some(crate::engine::When::Offset(
                crate::scenario::parse_offset_str(t).map_err(|(m, _)| {
                    format!("`at` {m}: give the scenario time, e.g. T+1h05m or 01:05:00")
                })?,
            ))
        }
        (None, Some(within)) => Some(crate::engine::When::In(
            crate::scenario::parse_offset_str(within).map_err(|(m, _)| {
                format!("`in` {m}: give how long from now, in wall-clock time, e.g. 5m")
            })?,
        )),
        (None, None) => None,
    };
    Ok(Ask {
        at,
        preview: flag("preview")?,
        confirmed,
        late,
        force: flag("force")?,
        correct: flag("correct")?,
    })
}

/// The page: one self-contained HTML file, its style and script inline.
const PAGE: &str = include_str!("page.html");
