//! `--assume` read, and a run simulated under its assumptions without sending anything
//! (what `plan --assume` shows).

use chrono::{DateTime, TimeDelta, Utc};

use super::model::{Assumption, Effect, Model};
use super::replay::effect_event;
use super::state::State;
use crate::event::Event;
use crate::timeline::Timeline;

/// Read `--assume`: `met:ID[@OFFSET]` and `missed:ID[@OFFSET]`, comma-separated, or
/// `all-met` / `all-missed` (for every expectation not named otherwise).
/// An example of `--assume` with this scenario's own expected actions.
pub fn assume_example(model: &Model) -> String {
    let mut ids = model.expectations.iter().map(|e| e.id.as_str());
    match (ids.next(), ids.next()) {
        (Some(a), Some(b)) => format!("e.g. --assume met:{a}@45m,missed:{b}, or all-met"),
        (Some(a), None) => format!("e.g. --assume met:{a}@45m, missed:{a}, or all-met"),
        _ => "e.g. --assume all-met".into(),
    }
}

pub fn parse_assumptions(text: &str, model: &Model) -> Result<Vec<Assumption>, String> {
    let mut named: Vec<Assumption> = Vec::new();
    let mut all: Option<bool> = None;
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part {
            "all-met" => all = Some(true),
            "all-missed" => all = Some(false),
            _ => {
                let Some((how, rest)) = part.split_once(':') else {
                    return Err(format!(
                        "`{part}` is not an assumption; write `met:ID`, `missed:ID@45m`, `all-met` or `all-missed`"
                    ));
                };
                let met = match how.trim() {
                    "met" => true,
                    "missed" => false,
                    other => {
                        return Err(format!(
                            "`{other}` in `{part}`: an assumption starts with `met:` or `missed:`"
                        ));
                    }
                };
                // `sitrep@blue` is one team's expected action; `@45m` a time.
                let timed = rest
                    .rsplit_once('@')
                    .filter(|(_, at)| crate::scenario::parse_offset_str(at).is_ok());
                // A time that does not read (`@45x`) is said as such; a name after `@`
                // (`sitrep@gren`) is part of the id, said with a did-you-mean.
                let (id, at) = match timed.or_else(|| {
                    rest.rsplit_once('@').filter(|(_, at)| {
                        model.expectation(rest.trim()).is_none()
                            && at.trim().starts_with(|c: char| c.is_ascii_digit())
                    })
                }) {
                    Some((id, at)) => {
                        let at = crate::scenario::parse_offset_str(at).map_err(|(m, _)| {
                            format!("`{part}`: {m}; write the time as an offset from T0, e.g. @45m")
                        })?;
                        (id.trim(), Some(at))
                    }
                    None => (rest.trim(), None),
                };
                let Some(e) = model.expectation(id) else {
                    return Err(format!("--assume: {}", model.unknown_expectation(id)));
                };
                // Judged after its deadline: it would already be missed (expired) then.
                if let (Some(at), Some(due)) = (at, model.deadline_offsets[e])
                    && at > due
                {
                    return Err(format!(
                        "--assume `{part}`: `{id}` is due by {}, so at {} it would already be missed (its deadline passed); assume it at or before {}, or `missed:{id}`",
                        crate::human::show_offset(due),
                        crate::human::show_offset(at),
                        crate::human::show_offset(due),
                    ));
                }
                if named.iter().any(|a| a.expectation == e) {
                    return Err(format!("--assume names `{id}` twice"));
                }
                named.push(Assumption {
                    expectation: e,
                    met,
                    at,
                });
            }
        }
    }
    if let Some(met) = all {
        for e in 0..model.expectations.len() {
            if !named.iter().any(|a| a.expectation == e) {
                named.push(Assumption {
                    expectation: e,
                    met,
                    at: None,
                });
            }
        }
    }
    Ok(named)
}

/// What a simulated run did: every occurrence that fired and when (base instants, as
/// the plan shows them), and where the branches ended.
pub struct Simulation {
    pub fires: Vec<(usize, DateTime<Utc>)>,
    pub state: State,
    /// The steps in order, as a run journals them (times are instants).
    pub events: Vec<Event>,
}

/// Run the branches of `timeline` under `assumptions` without sending anything: every
/// planned occurrence is sent at its instant, judgments are the assumptions (an
/// expectation not assumed expires at its deadline).
pub fn simulate(timeline: &Timeline, model: &Model, assumptions: Vec<Assumption>) -> Simulation {
    let n = timeline.occurrences.len();
    let mut state = State::new(model, n, assumptions);
    // Pending sends, by instant (ties in file order): the planned ones first.
    let mut pending: Vec<(DateTime<Utc>, usize)> = timeline
        .occurrences
        .iter()
        .enumerate()
        .filter(|(i, _)| !model.is_conditional(timeline, *i))
        .map(|(i, o)| (timeline.fire_at(o).to_utc(), i))
        .collect();
    pending.sort_by_key(|(t, i)| (*t, *i));
    pending.reverse(); // popped from the end
    let mut fires = Vec::new();
    let mut events = Vec::new();
    let t0 = model.t0;
    let mut effects = state.on_start(model, t0, t0);
    let mut now = t0;
    loop {
        record(
            timeline,
            model,
            &state,
            &effects,
            now,
            &mut events,
            &mut pending,
        );
        let next_send = pending.last().map(|(t, _)| *t);
        let next_timer = state.next_timer(model);
        // The next send first, unless a timed step comes before it.
        let send_first = match (next_send, next_timer) {
            (Some(s), Some((t, _))) => s <= t,
            (send, _) => send.is_some(),
        };
        effects = match (send_first, next_timer) {
            (true, _) => {
                let (at, occ) = pending.pop().expect("a send");
                now = at;
                send(
                    timeline,
                    model,
                    &mut state,
                    occ,
                    at,
                    &mut fires,
                    &mut events,
                )
            }
            (false, Some((t, timer))) => {
                now = t;
                state.on_timer(model, timer, t, t)
            }
            (false, None) => {
                let last = state.on_finish(model, now);
                record(
                    timeline,
                    model,
                    &state,
                    &last,
                    now,
                    &mut events,
                    &mut pending,
                );
                break;
            }
        };
    }
    Simulation {
        fires,
        state,
        events,
    }
}

fn send(
    timeline: &Timeline,
    model: &Model,
    state: &mut State,
    occ: usize,
    at: DateTime<Utc>,
    fires: &mut Vec<(usize, DateTime<Utc>)>,
    events: &mut Vec<Event>,
) -> Vec<Effect> {
    fires.push((occ, at));
    let key = timeline.occurrences[occ].key.clone();
    events.push(Event::Sent {
        key,
        status: 200,
        message_id: String::new(),
        planned: at,
        sent_at: at,
        lateness_ms: None,
        attempts: 1,
        possible_duplicate: false,
        late: false,
    });
    if model.watched[occ] {
        state.on_sent(model, occ, Some(timeline.occurrences[occ].inject), at)
    } else {
        Vec::new()
    }
}

/// Effects as the journal's events (times `at`, no shift), and triggered occurrences
/// added to `pending`.
fn record(
    timeline: &Timeline,
    model: &Model,
    state: &State,
    effects: &[Effect],
    at: DateTime<Utc>,
    events: &mut Vec<Event>,
    pending: &mut Vec<(DateTime<Utc>, usize)>,
) {
    for effect in effects {
        events.push(effect_event(model, state, effect, at, TimeDelta::zero()));
        if let Effect::Trigger {
            conditional, base, ..
        } = effect
        {
            for &o in &model.conditionals[*conditional].occurrences {
                let when = *base + model.scaled(timeline.occurrences[o].offset);
                pending.push((when, o));
            }
            pending.sort_by_key(|(t, i)| std::cmp::Reverse((*t, *i)));
        }
    }
}
