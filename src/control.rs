//! The control endpoint of a running exercise: a JSON API and one self-contained page.
//!
//! `run --control ADDR` serves, behind a bearer token random per run (or read from
//! `--control-token-file`): `GET /api/state` (clock state and the timeline with each
//! occurrence's planned, effective and actual times and status), and `POST /api/hold`,
//! `/api/resume`, `/api/skip`, `/api/unskip`, `/api/fire` (`{"key": ..}`) and
//! `/api/shift` (`{"by": "-5m"}`), and `/api/met`, `/api/missed` (`{"key": ID,
//! "note": ..}`) to judge an expected action; the state lists the expected actions and
//! contingencies too. `GET /` is the page (no CDN, no external fonts), which
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
use crate::engine::{ClockState, Command};
use crate::fold::Status;
use crate::timeline::Timeline;

/// What the page and `ctl status` show, kept current by the run's event listener.
#[derive(Clone)]
pub struct View {
    pub timeline: Arc<Timeline>,
    pub clock: watch::Receiver<ClockState>,
    /// Every occurrence of the run and where it stands.
    pub board: Arc<Mutex<Board>>,
    pub dry_run: bool,
    /// `--speed max`: occurrences go in order as fast as the target accepts, not at times.
    pub max_speed: bool,
}

#[derive(Clone)]
struct Shared {
    token: String,
    commands: mpsc::Sender<Command>,
    view: View,
}

/// Serve the control endpoint; returns the bound address.
pub async fn serve(
    listen: SocketAddr,
    token: String,
    commands: mpsc::Sender<Command>,
    view: View,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let shared = Shared {
        token,
        commands,
        view,
    };
    let app = Router::new()
        .route("/", get(page))
        .route("/api/state", get(state))
        .route("/api/{action}", post(act))
        .with_state(shared);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, task))
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim().as_bytes() == token.as_bytes())
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
    if !authorized(&headers, &s.token) {
        return unauthorized();
    }
    let clock = s.view.clock.borrow().clone();
    let occurrences: Vec<Value> = {
        let board = s.view.board.lock().expect("board lock");
        board
            .fired()
            .map(|(fired, slot)| {
                let o = &s.view.timeline.occurrences[fired.occ];
                let skipped = clock.skips(&o.key, &s.view.timeline.inject(o).id);
                let status = match slot.status {
                    Status::Uncertain => "in flight",
                    Status::Pending if skipped => "will skip",
                    p => p.name(),
                };
                let sent_at = (slot.status == Status::Sent)
                    .then(|| slot.at.map(crate::journal::time_text))
                    .flatten();
                json!({
                    "key": o.key,
                    "planned_at": rfc(fired.planned),
                    "effective_at": rfc(crate::engine::moved(fired.planned, clock.shift)),
                    "status": status,
                    "late": slot.late,
                    "sent_at": sent_at,
                    "message_id": slot.message_id.as_deref(),
                })
            })
            .collect()
    };
    let t = &s.view.timeline;
    axum::Json(json!({
        "scenario": if t.scenario.name.is_empty() { &t.scenario.file } else { &t.scenario.name },
        "t0": t.t0.to_rfc3339(),
        "timezone": t.scenario.timezone.map_or("UTC".to_string(), |z| z.name().to_string()),
        "held": clock.held_since.is_some(),
        "held_since": clock.held_since.map(rfc),
        "shift_ms": clock.shift.num_milliseconds(),
        "skipped": clock.skipped,
        "dry_run": s.view.dry_run,
        "now": rfc(chrono::Utc::now()),
        "occurrences": occurrences,
        "expectations": clock.branches.expectations,
        "contingencies": clock.branches.contingencies,
    }))
    .into_response()
}

async fn act(
    State(s): State<Shared>,
    axum::extract::Path(action): axum::extract::Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorized(&headers, &s.token) {
        return unauthorized();
    }
    let args: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).unwrap_or(json!({}))
    };
    let parsed = Action::from_request(&action, &args);
    let action = match parsed {
        Ok(a) => a,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"ok": false, "error": e})),
            )
                .into_response();
        }
    };
    let source = Source::from_header(
        headers
            .get("x-injector-source")
            .and_then(|v| v.to_str().ok()),
    );
    let (reply, answer) = oneshot::channel();
    if s.commands
        .send(Command {
            action,
            source,
            reply,
        })
        .await
        .is_err()
    {
        return (
            StatusCode::CONFLICT,
            axum::Json(json!({"ok": false, "error": "the run has finished"})),
        )
            .into_response();
    }
    match answer.await {
        Ok(Ok(message)) => axum::Json(json!({"ok": true, "message": message})).into_response(),
        Ok(Err(error)) => (
            StatusCode::CONFLICT,
            axum::Json(json!({"ok": false, "error": error})),
        )
            .into_response(),
        Err(_) => (
            StatusCode::CONFLICT,
            axum::Json(json!({"ok": false, "error": "the run has finished"})),
        )
            .into_response(),
    }
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
.pending{color:#1565c0}.in-flight{color:#6a1b9a}#msg{margin-left:10px;color:#555}
</style></head><body>
<h1 id="title">injector — live control</h1>
<p class="meta">T0 <span id="t0">…</span> · times in <span id="zone">…</span></p>
<p><span id="clock">T+--:--:--</span>Clock: <span id="state">connecting…</span> <span id="shift"></span><span id="next"></span><span id="msg"></span></p>
<p><button id="hold">Hold</button><button id="resume">Release hold</button>
<button id="back5">Shift −5m</button><button id="fwd5">Shift +5m</button></p>
<section id="branches" hidden>
<h2>Expected actions</h2>
<p><label>Note with the next judgment: <input id="note" size="50" maxlength="2000"></label></p>
<table><thead><tr><th>Id</th><th>Expected action</th><th>Team</th><th>Deadline</th><th>Outcome</th><th>Judged</th><th></th></tr></thead><tbody id="expectations"></tbody></table>
<h2>Contingencies</h2>
<table><thead><tr><th>Inject</th><th>When</th><th>State</th><th>Because</th><th></th></tr></thead><tbody id="contingencies"></tbody></table>
<h2>Timeline</h2>
</section>
<table><thead><tr><th>Key</th><th>T+</th><th>Planned</th><th>Effective</th><th>Status</th><th>Sent</th><th></th></tr></thead><tbody id="rows"></tbody></table>
<script>
const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
const headers = {'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json', 'X-Injector-Source': 'page'};
let zone = 'UTC';
function msg(t){document.getElementById('msg').textContent = t;}
async function act(action, body){
  const r = await fetch('/api/' + action, {method:'POST', headers, body: JSON.stringify(body||{})});
  const j = await r.json(); msg(j.ok ? j.message : j.error); refresh();
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
function hms(ms){
  const sign = ms < 0 ? '-' : ''; let s = Math.floor(Math.abs(ms) / 1000);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60; s = s % 60;
  return sign + [h, m, s].map(v => String(v).padStart(2, '0')).join(':');
}
async function refresh(){
  const r = await fetch('/api/state', {headers});
  if(!r.ok){document.getElementById('state').textContent='no access (check the token)'; return;}
  const s = await r.json();
  zone = s.timezone || 'UTC';
  const t0 = Date.parse(s.t0), now = Date.parse(s.now);
  document.getElementById('title').textContent = s.scenario + ' — live control';
  document.title = s.scenario + ' — injector control';
  document.getElementById('t0').textContent = when(s.t0);
  document.getElementById('zone').textContent = zone;
  // The exercise clock: time since T0, less holds and shifts; it stands still while held.
  const until = s.held ? Date.parse(s.held_since) : now;
  document.getElementById('clock').textContent = 'T+' + hms(until - t0 - s.shift_ms);
  const st = document.getElementById('state');
  st.textContent = s.held ? 'held' : 'running'; st.className = s.held ? 'held' : 'running';
  document.getElementById('shift').textContent = s.shift_ms ? '(shifted ' + (s.shift_ms/1000) + ' s)' : '';
  const next = s.occurrences.find(o => o.status === 'pending');
  document.getElementById('next').textContent = next
    ? 'next: ' + next.key + (s.held ? ' (held)' : ' in ' + hms(Math.max(0, Date.parse(next.effective_at) - now)))
    : 'nothing left to fire';
  const rows = document.getElementById('rows'); rows.textContent = '';
  for(const o of s.occurrences){
    const tr = document.createElement('tr'); tr.dataset.key = o.key;
    tr.append(cell(o.key), cell('T+' + hms(Date.parse(o.planned_at) - t0), 'num'), cell(when(o.planned_at), 'num'), cell(when(o.effective_at), 'num'));
    const status = cell(o.status); status.className = 'status ' + (o.late ? 'late' : o.status.replace(' ', '-')); tr.append(status, cell(when(o.sent_at), 'num'));
    const td = document.createElement('td');
    if(o.status === 'pending' || o.status === 'will skip'){
      const f = document.createElement('button'); f.textContent = 'Fire now'; f.dataset.fire = o.key; f.onclick = () => act('fire', {key:o.key});
      const k = document.createElement('button');
      k.textContent = o.status === 'will skip' ? 'Unskip' : 'Skip'; k.dataset.skip = o.key;
      k.onclick = () => act(o.status === 'will skip' ? 'unskip' : 'skip', {key:o.key});
      td.append(f, k);
    }
    tr.append(td); rows.append(tr);
  }
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
    if(!e.outcome){
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
    if(c.state === 'armed'){
      const f = document.createElement('button'); f.textContent = 'Fire now'; f.dataset.fire = c.id; f.onclick = () => act('fire', {key: c.id});
      td.append(f);
    }
    tr.append(td); cr.append(tr);
  }
}
document.getElementById('hold').onclick = () => act('hold');
document.getElementById('resume').onclick = () => act('resume');
document.getElementById('back5').onclick = () => act('shift', {by:'-5m'});
document.getElementById('fwd5').onclick = () => act('shift', {by:'5m'});
refresh(); setInterval(refresh, 1000);
</script></body></html>
"##;
