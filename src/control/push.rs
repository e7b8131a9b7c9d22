//! The live push: what a page following `GET /api/events` has been sent, the next
//! message for it (the whole state, then deltas), and a pushed message taken in.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Shared, View, head_json, identity, row_json, unauthorized, whole_state};
use crate::controllers::Identity;
use crate::engine::ClockState;
use crate::fold::Status;

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
    let (name, mut message) = match seen.take() {
        Some(last) if board.layout() <= last.version => {
            let moved = clock.shift != last.clock.shift;
            let reskipped =
                clock.skipped != last.clock.skipped || clock.unskipped != last.clock.unskipped;
            // What the board changed; and a shift moves everything still to come, a
            // skip changes some rows' status.
            let timeline = view.timeline.get();
            let rows: Vec<Value> = board
                .whole()
                .filter(|(fired, slot)| {
                    if board.touched_after(fired, last.version) {
                        return true;
                    }
                    if !(moved || reskipped) {
                        return false;
                    }
                    let o = &timeline.occurrences[fired.occ];
                    let id = timeline.id_of(o);
                    (moved && (slot.status == Status::Pending || timeline.is_contingent(o)))
                        || (reskipped && clock.skips(&o.key, id) != last.clock.skips(&o.key, id))
                })
                .map(|(fired, slot)| row_json(view, fired, slot, &clock, false))
                .collect();
            let notes = &board.notes()[last.notes.min(board.notes().len())..];
            let delta = json!({
                "head": head_json(view, you, &clock),
                "occurrences": rows,
                "notes": notes,
            });
            ("delta", delta)
        }
        _ => ("state", whole_state(view, you, &clock, &board)),
    };
    message["seq"] = json!(seq);
    *seen = Some(Seen {
        seq,
        version: board.version(),
        clock,
        notes: board.notes().len(),
    });
    (name, message)
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
pub(super) async fn events(State(s): State<Shared>, headers: HeaderMap) -> Response {
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
