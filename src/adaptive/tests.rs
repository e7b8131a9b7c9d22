//! Unit tests of the state machine: a resume from the journal, and a simulation.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::event::Event;
use crate::timeline::Timeline;

/// A clock no action moves: base instants are wall-clock instants.
struct NoMoves;

impl ReplayClock for NoMoves {
    fn take_in(&mut self, _: &Event) {}
    fn base(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at
    }
    fn shift(&self) -> TimeDelta {
        TimeDelta::zero()
    }
}

fn timeline() -> Timeline {
    let yaml = "name: B\ndefaults:\n  type: team\n  team_id: 1\n  persona: \"3-1\"\n  channel: microblog\ninjects:\n  - id: call\n    at: 10s\n    body: c\n    expect: { id: e, action: A, within: 20s }\n  - id: worse\n    when: { missed: e }\n    after: 2s\n    body: w\n";
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-03-28T09:00:00Z").unwrap();
    crate::validate::check("b.yaml", Arc::new(yaml.into()), Some(t0), 1.0, Utc::now())
        .timeline
        .unwrap()
}

#[test]
fn a_stop_between_a_send_and_its_due_line_still_opens_the_deadline_on_resume() {
    let t = timeline();
    let model = Model::new(&t).unwrap();
    let sent_at = t.t0.to_utc() + TimeDelta::seconds(10);
    let events = [Event::Sent {
        key: "call".into(),
        status: 200,
        message_id: "m".into(),
        planned: sent_at,
        sent_at,
        lateness_ms: Some(0.0),
        attempts: 1,
        possible_duplicate: false,
        late: false,
    }];
    let index = |k: &str| t.occurrences.iter().position(|o| o.key == k);
    let state = State::replay(
        &model,
        t.occurrences.len(),
        &index,
        &events,
        Vec::new(),
        &mut NoMoves,
    );
    assert_eq!(
        state.expectations[0].due,
        Some(sent_at + TimeDelta::seconds(20))
    );
    assert_eq!(
        state.next_timer(&model),
        Some((sent_at + TimeDelta::seconds(20), Timer::Deadline(0)))
    );
}

#[test]
fn a_simulation_expires_an_unjudged_deadline_and_fires_its_branch() {
    let t = timeline();
    let model = Model::new(&t).unwrap();
    let sim = simulate(&t, &model, Vec::new());
    let fired: Vec<(&str, i64)> = sim
        .fires
        .iter()
        .map(|(o, at)| {
            (
                t.occurrences[*o].key.as_str(),
                (*at - t.t0.to_utc()).num_seconds(),
            )
        })
        .collect();
    assert_eq!(fired, [("call", 10), ("worse", 32)]);
    assert_eq!(
        sim.state.expectations[0].judged.as_ref().unwrap().word(),
        "expired"
    );
}
