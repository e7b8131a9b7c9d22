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
use crate::timeline::Timeline;

/// What the page and `ctl status` show, kept current by the run's event listener.
#[derive(Clone)]
pub struct View {
    pub timeline: Arc<Timeline>,
    pub clock: watch::Receiver<ClockState>,
    /// Bumped whenever the board takes in an event (for live push).
    pub changed: watch::Receiver<u64>,
    /// Every occurrence of the run and where it stands.
    pub board: Arc<Mutex<Board>>,
    pub dry_run: bool,
    /// `--speed max`: occurrences go in order as fast as the target accepts, not at times.
    pub max_speed: bool,
    /// Per occurrence (timeline order), whom it goes to as the plan says it (`team blue
    /// (3437866)`, `position CEO`, `move to ...`); empty past the plan's size limit.
    pub to: Arc<Vec<String>>,
    /// Per occurrence (timeline order), its subject, title or text; empty past the
    /// plan's size limit.
    pub subjects: Arc<Vec<String>>,
    /// Each restart of the run: when it stopped (its last journal line) and when it
    /// was taken up again.
    pub restarts: Arc<Vec<Restart>>,
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
    let mut state = head_json(view, you, &clock);
    let board = view.board.lock().expect("board lock");
    state["occurrences"] = board
        .whole()
        .map(|(fired, slot)| row_json(view, fired, slot, &clock, true))
        .collect();
    state["notes"] = json!(board.notes());
    state
}

/// The state but for its occurrences and notes: the clock, the branches, the run.
fn head_json(view: &View, you: &Identity, clock: &ClockState) -> Value {
    let t = &view.timeline;
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
    let o = &view.timeline.occurrences[fired.occ];
    let skipped = clock.skips(&o.key, &view.timeline.inject(o).id);
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
    let contingent = view.timeline.is_contingent(o);
    let mut row = json!({
        "key": o.key,
        "effective_at": rfc(effective),
        "status": status,
    });
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
            let run = (base - view.timeline.t0.to_utc())
                .to_std()
                .unwrap_or_default();
            crate::plan::show_offset(std::time::Duration::from_secs(
                (run.as_secs_f64() * view.timeline.speed) as u64,
            ))
        } else {
            crate::plan::show_offset(o.offset)
        });
    }
    if whole {
        let inject = view.timeline.inject(o);
        let text = |f: &str| view.timeline.field_text(inject, f);
        row["to"] = json!(view.to.get(fired.occ));
        row["channel"] = json!(text("channel"));
        row["persona"] = json!(text("persona"));
        row["subject"] = json!(view.subjects.get(fired.occ));
        row["planned_at"] = json!(rfc(fired.planned));
    }
    row
}

/// What a page following the live push has been sent so far.
struct Seen {
    /// The number of the last message (the first, the whole state, is 1).
    seq: u64,
    /// The board's version it reflects.
    version: u64,
    /// The clock it reflects.
    clock: ClockState,
    /// How many notes it has.
    notes: usize,
}

/// The next message for a page that has seen `seen`: the whole state first (and
/// whenever rows were added or moved), then deltas: the head, the occurrences changed
/// since (by the board, or by a shift or a skip of the clock), and the new notes.
fn push_message(view: &View, you: &Identity, seen: &mut Option<Seen>) -> (&'static str, Value) {
    let clock = view.clock.borrow().clone();
    let board = view.board.lock().expect("board lock");
    let seq = seen.as_ref().map_or(0, |s| s.seq) + 1;
    let last = match seen.take() {
        Some(s) if board.layout() <= s.version => s,
        _ => {
            let mut state = head_json(view, you, &clock);
            state["occurrences"] = board
                .whole()
                .map(|(fired, slot)| row_json(view, fired, slot, &clock, true))
                .collect();
            state["notes"] = json!(board.notes());
            state["seq"] = json!(seq);
            *seen = Some(Seen {
                seq,
                version: board.version(),
                clock,
                notes: board.notes().len(),
            });
            return ("state", state);
        }
    };
    let moved = clock.shift != last.clock.shift;
    let reskipped = clock.skipped != last.clock.skipped || clock.unskipped != last.clock.unskipped;
    let rows: Vec<Value> = if moved || reskipped {
        // A shift moves everything still to come; a skip changes some rows' status.
        board
            .whole()
            .filter(|(fired, slot)| {
                let o = &view.timeline.occurrences[fired.occ];
                let id = &view.timeline.inject(o).id;
                board.touched_after(fired, last.version)
                    || (moved && (slot.status == Status::Pending || view.timeline.is_contingent(o)))
                    || (reskipped && clock.skips(&o.key, id) != last.clock.skips(&o.key, id))
            })
            .map(|(fired, slot)| row_json(view, fired, slot, &clock, false))
            .collect()
    } else {
        board
            .changed_since(last.version)
            .map(|(fired, slot)| row_json(view, fired, slot, &clock, false))
            .collect()
    };
    let mut delta = json!({ "seq": seq, "head": head_json(view, you, &clock) });
    delta["occurrences"] = Value::Array(rows);
    delta["notes"] = json!(board.notes()[last.notes.min(board.notes().len())..]);
    *seen = Some(Seen {
        seq,
        version: board.version(),
        clock,
        notes: board.notes().len(),
    });
    ("delta", delta)
}

/// One pushed message (`state` or `delta`, as [`events`] sends them) taken into
/// `state`, the whole state as the follower has it; false when it cannot be placed (a
/// message missed: follow again for the state afresh). `ctl watch` follows with it.
pub fn take_pushed(state: &mut Option<Value>, name: &str, message: Value) -> bool {
    if name == "state" {
        *state = Some(message);
        return true;
    }
    let Some(have) = state.as_mut() else {
        return false;
    };
    let seq = have["seq"].as_u64().unwrap_or(0);
    if message["seq"].as_u64() != Some(seq + 1) {
        return false;
    }
    let Value::Object(mut message) = message else {
        return false;
    };
    if let Some(Value::Object(head)) = message.remove("head") {
        for (k, v) in head {
            have[k] = v;
        }
    }
    have["seq"] = json!(seq + 1);
    let rows = have["occurrences"].as_array_mut();
    let Some(rows) = rows else { return false };
    if let Some(Value::Array(changed)) = message.remove("occurrences") {
        for d in changed {
            let Some(row) = rows.iter_mut().find(|r| r["key"] == d["key"]) else {
                return false;
            };
            row["sent_at"] = Value::Null;
            row["message_id"] = Value::Null;
            row["late"] = json!(false);
            if let Value::Object(d) = d {
                for (k, v) in d {
                    row[k] = v;
                }
            }
        }
    }
    if let Some(Value::Array(notes)) = message.remove("notes")
        && let Some(have) = have["notes"].as_array_mut()
    {
        have.extend(notes);
    }
    true
}

/// Live push: the state as a server-sent event now, then what changed whenever the
/// clock or the board changes (at most every 250 ms), and every 15 s regardless (the
/// head alone, if nothing changed); it ends when the run does. Each message has a
/// `seq`, one more than the last: a page that sees a gap connects again.
async fn events(State(s): State<Shared>, headers: HeaderMap) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let Some(you) = identity(&headers, &s.controllers) else {
        return unauthorized();
    };
    let view = s.view.clone();
    let stream = futures_util::stream::unfold(
        (view, you, None::<Seen>, false),
        |(mut view, you, mut seen, done)| async move {
            if done {
                return None;
            }
            let mut finished = false;
            if seen.is_some() {
                let (mut clock, mut changed) = (view.clock.clone(), view.changed.clone());
                tokio::select! {
                    c = clock.changed() => finished |= c.is_err(),
                    c = changed.changed() => finished |= c.is_err(),
                    () = tokio::time::sleep(std::time::Duration::from_secs(15)) => {}
                }
                view.clock.mark_unchanged();
                view.changed.mark_unchanged();
                // A burst of changes goes as one message.
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            let (name, data) = push_message(&view, &you, &mut seen);
            let event = Ok::<_, std::convert::Infallible>(
                Event::default().event(name).data(data.to_string()),
            );
            Some((event, (view, you, seen, finished)))
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
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
        return (
            StatusCode::FORBIDDEN,
            axum::Json(json!({
                "ok": false,
                "error": format!(
                    "{} ({}) may not `{}`: it needs the {} role",
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
            humantime::parse_duration(within.trim())
                .map_err(|e| format!("`in` `{within}` is not a duration ({e}); e.g. 5m"))?,
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

const PAGE: &str = r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>injector control</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:20px;color:#212121}
h1{font-size:18px;margin:0 0 4px}h2{font-size:15px;margin:18px 0 0}.met{color:#2e7d32}.missed,.expired{color:#c62828}.void{color:#6d4c41}.open{color:#1565c0}#state{font-weight:700}#state.held{color:#c62828}#state.running{color:#2e7d32}
#clock{font-size:22px;font-variant-numeric:tabular-nums;font-weight:700;margin-right:14px}
.meta{color:#555;margin:0 0 8px}#next{margin-left:14px}
button{font:inherit;padding:4px 10px;margin-right:6px;cursor:pointer}
table{border-collapse:collapse;margin-top:14px;font-size:13px}th,td{border-bottom:1px solid #eee;padding:3px 8px;text-align:left}
th{background:#fafafa}td.num{font-variant-numeric:tabular-nums}
.sent{color:#2e7d32}.late{color:#b8860b}.failed{color:#c62828}.skipped{color:#6d4c41}.will-skip{color:#6d4c41;font-style:italic}
.pending{color:#1565c0}.in-flight{color:#6a1b9a}#msg{margin-left:10px;color:#555}#banner{font-weight:700;padding:6px 10px;background:#fff8e1;border:1px solid #ffe082}#banner.ended{background:#eceff1;border-color:#b0bec5}
</style></head><body>
<h1 id="title">injector — live control</h1>
<p class="meta">T0 <span id="t0">…</span> · times in <span id="zone">…</span> · <span id="speed"></span> · you: <span id="you">…</span> · <span id="live">connecting…</span></p>
<p class="meta" id="restarts" hidden></p>
<p><span id="clock">T+--:--:--</span>Clock: <span id="state">connecting…</span> <span id="shift"></span><span id="next"></span><span id="msg"></span></p>
<p><button id="hold" data-needs="hold">Hold</button><button id="resume" data-needs="resume">Release hold</button>
<button id="back5" data-needs="shift">Shift −5m</button><button id="fwd5" data-needs="shift">Shift +5m</button><button id="undo" data-needs="undo">Undo</button><button id="end" data-needs="end">End exercise</button></p>
<p id="banner" hidden></p>
<p><label>Note for the report: <input id="note-text" size="60" maxlength="2000"></label> <button id="note-add" data-needs="note">Add note</button></p>
<ul id="notes"></ul>
<section id="branches" hidden>
<h2>Expected actions</h2>
<p><label>Note with the next judgment: <input id="note" size="50" maxlength="2000"></label></p>
<table><thead><tr><th>Id</th><th>Expected action</th><th>Team</th><th>Deadline</th><th>Outcome</th><th>Judged</th><th></th></tr></thead><tbody id="expectations"></tbody></table>
<h2>Contingencies</h2>
<table><thead><tr><th>Inject</th><th>When</th><th>State</th><th>Because</th><th></th></tr></thead><tbody id="contingencies"></tbody></table>
<h2>Timeline</h2>
</section>
<table><thead><tr><th>Key</th><th>Channel</th><th>Persona</th><th>To</th><th>Subject</th><th>T+</th><th>Planned</th><th>Effective</th><th>Status</th><th>Sent</th><th></th></tr></thead><tbody id="rows"></tbody></table>
<script>
// The token arrives once in the URL's fragment: kept in this tab's session storage, and
// taken out of the address bar (and so out of history and any shared link).
const given = new URLSearchParams(location.hash.slice(1)).get('token');
if(given){ sessionStorage.setItem('injector-token', given); history.replaceState(null, '', location.pathname + location.search); }
const token = sessionStorage.getItem('injector-token') || '';
const headers = {'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json', 'X-Injector-Source': 'page'};
let may = [];
let zone = 'UTC';
function msg(t){document.getElementById('msg').textContent = t;}
// An action that needs a confirmation answers with what it would do: shown in a
// dialog, and sent again confirming exactly that preview (refused with the new one if
// the consequences changed meanwhile).
async function act(action, body){
  body = body || {};
  for(;;){
    const r = await fetch('/api/' + action, {method:'POST', headers, body: JSON.stringify(body)});
    const j = await r.json();
    if(j.confirm_needed && j.preview){
      if(!confirm(describe(j.preview))){ msg('left as it was: nothing was done'); return; }
      body = Object.assign({}, body, {confirm: j.preview.id});
      continue;
    }
    msg(j.ok ? j.message : j.error); return;
  }
}
function describe(p){
  const lines = (p.items || []).slice(0, 12).map(i => '• ' + i.key + (i.subject ? ' “' + i.subject + '”' : '') + ': ' + i.effect
    + (i.to ? ' (' + when(i.to) + ')' : i.from ? ' (due ' + when(i.from) + ')' : ''));
  if((p.items || []).length > 12) lines.push('… and ' + (p.items.length - 12) + ' more');
  return p.action.charAt(0).toUpperCase() + p.action.slice(1) + ': this ' + p.text + '\n\n' + lines.join('\n') + '\n\nDo it?';
}
function cell(text, cls){const td=document.createElement('td'); td.textContent=text||''; if(cls) td.className=cls; return td;}
// A date and time in the scenario's zone, with the zone's name: 2026-03-28 09:00:00 CET.
function when(t){
  if(!t) return '';
  const d = new Date(t);
  const parts = new Intl.DateTimeFormat('en-GB', {timeZone: zone, year:'numeric', month:'2-digit', day:'2-digit',
    hour:'2-digit', minute:'2-digit', second:'2-digit', hourCycle:'h23', timeZoneName:'short'}).formatToParts(d);
  const p = Object.fromEntries(parts.map(x => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName}`;
}
// A move as people say it: 2m later, 1h 30m earlier.
function words(ms){
  let s = Math.round(Math.abs(ms) / 1000); const parts = [];
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60; s = s % 60;
  if(h) parts.push(h + 'h'); if(m) parts.push(m + 'm'); if(s || !parts.length) parts.push(s + 's');
  return parts.join(' ') + (ms < 0 ? ' earlier' : ' later');
}
function hms(ms){
  const sign = ms < 0 ? '-' : ''; let s = Math.floor(Math.abs(ms) / 1000);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60; s = s % 60;
  return sign + [h, m, s].map(v => String(v).padStart(2, '0')).join(':');
}
async function refresh(){
  const r = await fetch('/api/state', {headers});
  if(!r.ok){document.getElementById('state').textContent='no access (check the token)'; return;}
  const s = await r.json(); if(!last) show(s);
}
// Live push: server-sent events over a fetch (so the token stays in a header). The
// first message is the whole state; then deltas (`seq` one more each time): the head,
// the occurrences that changed, the new notes. A gap in `seq`, or a delta the page
// cannot place, and it connects again to take the state afresh.
async function follow(){
  for(;;){
    try{
      const r = await fetch('/api/events', {headers});
      if(!r.ok){ document.getElementById('state').textContent = 'no access (check the token)'; return; }
      document.getElementById('live').textContent = 'live';
      const reader = r.body.getReader(); const dec = new TextDecoder(); let buf = ''; let lost = false;
      while(!lost){
        const {value, done} = await reader.read(); if(done) break;
        buf += dec.decode(value, {stream: true});
        let i; while(!lost && (i = buf.indexOf('\n\n')) >= 0){
          const ev = buf.slice(0, i); buf = buf.slice(i + 2);
          const lines = ev.split('\n');
          const name = (lines.find(l => l.startsWith('event:')) || 'event: state').slice(6).trim();
          const data = lines.filter(l => l.startsWith('data:')).map(l => l.slice(5).trimStart()).join('\n');
          if(data && !take(name, JSON.parse(data))){ lost = true; reader.cancel(); }
        }
      }
      if(lost) continue;
    }catch(e){}
    // The run ended: its last state says how; nothing to reconnect to.
    if(last && last.ended){ document.getElementById('live').textContent = 'ended'; return; }
    document.getElementById('live').textContent = 'reconnecting…';
    await new Promise(ok => setTimeout(ok, 1000));
  }
}
let last = null, seq = 0, index = new Map(), rowOf = new Map(), mayShown = null;
// One pushed message into the page; false when it cannot be placed (a missed one).
function take(name, m){
  if(name === 'state'){ seq = m.seq || 0; show(m); return true; }
  if(!last || m.seq !== seq + 1) return false;
  seq = m.seq;
  Object.assign(last, m.head);
  for(const d of m.occurrences || []){
    const i = index.get(d.key);
    if(i === undefined) return false;
    row(Object.assign(last.occurrences[i], {sent_at: null, message_id: null, late: false}, d));
  }
  last.notes = (last.notes || []).concat(m.notes || []);
  head(last);
  return true;
}
// The whole state: every row drawn afresh.
function show(s){
  last = s; index = new Map(); rowOf = new Map();
  const rows = document.getElementById('rows'); rows.textContent = '';
  s.occurrences.forEach((o, i) => {
    index.set(o.key, i);
    const tr = document.createElement('tr'); tr.dataset.key = o.key; rowOf.set(o.key, tr); rows.append(tr);
  });
  mayShown = null; head(s);
}
// One occurrence's row, redrawn in its place.
function row(o){
  const tr = rowOf.get(o.key); if(!tr) return; tr.textContent = '';
  tr.append(cell(o.key), cell(o.channel), cell(o.persona), cell(o.to, 'to'), cell(o.subject, 'subject'), cell(o.t_plus, 'num'), cell(when(o.planned_at), 'num'), cell(when(o.effective_at), 'num'));
  const status = cell(o.status); status.className = 'status ' + (o.late ? 'late' : o.status.replace(' ', '-')); tr.append(status, cell(when(o.sent_at), 'num'));
  const td = document.createElement('td');
  if(o.status === 'failed' && may.includes('retry')){
    const r = document.createElement('button'); r.textContent = 'Send again'; r.dataset.retry = o.key; r.onclick = () => act('retry', {key:o.key});
    td.append(r);
  }
  if(o.status === 'skipped' && may.includes('unskip')){
    const u = document.createElement('button'); u.textContent = 'Send now'; u.dataset.unskip = o.key; u.onclick = () => act('unskip', {key:o.key});
    td.append(u);
  }
  if((o.status === 'pending' || o.status === 'will skip') && may.includes('fire')){
    const f = document.createElement('button'); f.textContent = 'Fire now'; f.dataset.fire = o.key; f.onclick = () => act('fire', {key:o.key});
    const k = document.createElement('button');
    k.textContent = o.status === 'will skip' ? 'Unskip' : 'Skip'; k.dataset.skip = o.key;
    k.onclick = () => act(o.status === 'will skip' ? 'unskip' : 'skip', {key:o.key});
    td.append(f, k);
  }
  tr.append(td);
}
// Everything but the rows: the clock, the banner, the branches, the notes (and every
// row again when what you may do changed, as when the run ends).
function head(s){
  may = (s.ended ? [] : (s.you && s.you.may)) || [];
  if(may.join() !== mayShown){ mayShown = may.join(); s.occurrences.forEach(row); }
  document.getElementById('you').textContent = s.you ? s.you.name + ' (' + s.you.role + ')' : '';
  for(const b of document.querySelectorAll('[data-needs]')) b.hidden = !may.includes(b.dataset.needs);
  zone = s.timezone || 'UTC';
  const t0 = Date.parse(s.t0), now = Date.parse(s.now);
  document.getElementById('title').textContent = s.scenario + ' — live control';
  document.title = s.scenario + ' — injector control';
  document.getElementById('t0').textContent = when(s.t0);
  document.getElementById('zone').textContent = zone;
  document.getElementById('speed').textContent = s.speed == null ? 'speed max' : 'speed ' + s.speed + (s.speed == 1 ? ' (real time)' : '');
  const rs = document.getElementById('restarts'); const restarts = s.restarts || [];
  rs.hidden = !restarts.length;
  rs.textContent = restarts.map(r => 'Restarted ' + when(r.resumed_at) + ' after ' + r.downtime + ' down (stopped ' + when(r.stopped_at) + ')').join(' · ');
  // The exercise clock: time since T0, less holds and shifts; it stands still while held.
  const until = s.ended ? Date.parse(s.now) : s.held ? Date.parse(s.held_since) : now;
  document.getElementById('clock').textContent = 'T+' + hms(until - t0 - s.shift_ms);
  const st = document.getElementById('state');
  st.textContent = s.ended ? 'ended' : s.held ? 'held' : 'running'; st.className = s.ended ? 'ended' : s.held ? 'held' : 'running';
  document.getElementById('shift').textContent = s.shift_ms ? '(moved ' + words(s.shift_ms) + ')' : '';
  const banner = document.getElementById('banner');
  banner.hidden = !(s.ended || s.waiting);
  banner.className = s.ended ? 'ended' : '';
  banner.textContent = s.ended ? 'The exercise is over: ' + s.ended + '.' : s.waiting ? 'Nothing left to send: end the exercise when the hot wash is done (End exercise, director).' : '';
  const next = s.occurrences.find(o => o.status === 'pending');
  document.getElementById('next').textContent = next
    ? 'next: ' + next.key + (s.held ? ' (held)' : ' in ' + hms(Math.max(0, Date.parse(next.effective_at) - now)))
    : 'nothing left to fire';
  const ex = s.expectations || [], co = s.contingencies || [];
  document.getElementById('branches').hidden = !ex.length && !co.length;
  const er = document.getElementById('expectations'); er.textContent = '';
  for(const e of ex){
    const tr = document.createElement('tr'); tr.dataset.id = e.id;
    // Deadlines stand still while held, like the clock.
    const left = e.due ? Date.parse(e.due) - until : null;
    const deadline = e.outcome ? when(e.due) : e.due ? 'in ' + hms(Math.max(0, left)) + (s.held ? ' (held)' : '') : 'when its inject is sent';
    const outcome = cell(e.outcome || 'open'); outcome.className = 'outcome ' + (e.outcome || 'open');
    tr.append(cell(e.id), cell(e.action), cell(e.team), cell(deadline, 'num'), outcome,
      cell(e.outcome ? when(e.at) + ' (' + e.by + ')' + (e.note ? ': ' + e.note : '') : ''));
    const td = document.createElement('td');
    if(!e.outcome && may.includes('met')){
      for(const [label, action] of [['Met', 'met'], ['Missed', 'missed']]){
        const b = document.createElement('button'); b.textContent = label; b.dataset[action] = e.id;
        b.onclick = () => { const note = document.getElementById('note'); act(action, {key: e.id, note: note.value}); note.value = ''; };
        td.append(b);
      }
    }
    tr.append(td); er.append(tr);
  }
  const cr = document.getElementById('contingencies'); cr.textContent = '';
  for(const c of co){
    const tr = document.createElement('tr'); tr.dataset.inject = c.id;
    const state = cell(c.state); state.className = 'state ' + c.state.replace(' ', '-');
    tr.append(cell(c.id), cell(c.condition), state, cell(c.because));
    const td = document.createElement('td');
    if(c.state === 'armed' && may.includes('fire')){
      const f = document.createElement('button'); f.textContent = 'Fire now'; f.dataset.fire = c.id; f.onclick = () => act('fire', {key: c.id});
      td.append(f);
    }
    tr.append(td); cr.append(tr);
  }
  const nl = document.getElementById('notes'); nl.textContent = '';
  for(const n of (s.notes || [])){
    const li = document.createElement('li'); li.className = 'note';
    li.textContent = when(n.at) + ' ' + (n.by || n.source) + (n.key ? ' on ' + n.key : n.expectation ? ' on ' + n.expectation : '') + ': ' + n.text;
    nl.append(li);
  }
}
document.getElementById('hold').onclick = () => act('hold');
document.getElementById('resume').onclick = () => act('resume');
document.getElementById('back5').onclick = () => act('shift', {by:'-5m'});
document.getElementById('fwd5').onclick = () => act('shift', {by:'5m'});
document.getElementById('end').onclick = () => act('end');
document.getElementById('undo').onclick = () => act('undo');
document.getElementById('note-add').onclick = () => { const t = document.getElementById('note-text'); if(t.value.trim()){ act('note', {text: t.value}); t.value = ''; } };
// Countdowns tick between pushes.
setInterval(() => { if(last && !last.ended){ last.now = new Date(Date.parse(last.now) + 1000).toISOString(); head(last); } }, 1000);
refresh(); follow();
</script></body></html>
"##;
