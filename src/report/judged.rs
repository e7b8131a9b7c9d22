//! The expected actions and contingencies as the journal's events judge them: who
//! judged, when, how fast players answered, what followed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::clock::Clock;
use super::{Contingency, Expected};
use crate::action::Action;
use crate::adaptive::{Standing, Verdict};
use crate::event::Declared;
use crate::event::Event;
use crate::journal::{Record, time_text};

/// A run's expected actions and contingencies, as the journal's events judge them.
pub(super) struct Judged {
    pub expectations: Vec<Expected>,
    pub contingencies: Vec<Contingency>,
    /// Per expectation, when its standing judgment was made.
    judged_at: Vec<Option<DateTime<Utc>>>,
    /// Per contingency, when its condition came to something.
    came_at: Vec<Option<DateTime<Utc>>>,
    /// Per contingency, the expected actions its condition names.
    on: Vec<Vec<String>>,
}

/// The expected actions, contingencies and objectives as the journal leaves them: a run
/// header's (the newest that has any), or those of an apply or of an ad hoc inject with
/// branches made after it.
pub fn declared(records: &[Record]) -> Option<Declared> {
    let mut out = None;
    for r in records {
        match r {
            Record::Run(h)
                if !h.expectations.is_empty()
                    || !h.contingencies.is_empty()
                    || !h.objectives.is_empty() =>
            {
                out = Some(Declared {
                    expectations: h.expectations.clone(),
                    contingencies: h.contingencies.clone(),
                    objectives: h.objectives.clone(),
                });
            }
            Record::Event(Event::Applied { declared, .. }) => out = Some((**declared).clone()),
            Record::Event(Event::AdHoc {
                declared: Some(d), ..
            }) => out = Some((**d).clone()),
            _ => {}
        }
    }
    out
}

impl Judged {
    /// Those the journal declares last (see [`declared`]), none judged yet.
    pub fn declared(records: &[Record]) -> Judged {
        let head = declared(records);
        let objectives_of = |id: &str| -> Vec<String> {
            head.as_ref()
                .map(|h| {
                    h.objectives
                        .iter()
                        .filter(|o| o.expectations.iter().any(|e| e == id))
                        .map(|o| o.id.clone())
                        .collect()
                })
                .unwrap_or_default()
        };
        let expectations: Vec<Expected> = head
            .as_ref()
            .map(|h| {
                h.expectations
                    .iter()
                    .map(|e| Expected {
                        id: e.id.clone(),
                        action: e.action.clone(),
                        team: e.team.clone(),
                        inject: e.inject.clone(),
                        objectives: objectives_of(&e.id),
                        deadline: e.deadline.clone(),
                        ..Expected::default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (contingencies, on): (Vec<Contingency>, Vec<Vec<String>>) = head
            .as_ref()
            .map(|h| {
                h.contingencies
                    .iter()
                    .map(|c| {
                        (
                            Contingency {
                                inject: c.inject.clone(),
                                condition: c.condition.clone(),
                                ..Contingency::default()
                            },
                            c.on.clone(),
                        )
                    })
                    .unzip()
            })
            .unwrap_or_default();
        Judged {
            judged_at: vec![None; expectations.len()],
            came_at: vec![None; contingencies.len()],
            expectations,
            contingencies,
            on,
        }
    }

    /// Where the expected action `id` is.
    fn expected(&self, id: &str) -> Option<usize> {
        self.expectations.iter().position(|x| x.id == id)
    }

    /// Take in one event: a deadline set, a judgment made or taken back, an expected
    /// action expired or void, a contingency's condition come to something.
    pub fn heard(&mut self, e: &Event, clock: &Clock) {
        match e {
            Event::Due {
                expectation, due, ..
            } => {
                if let Some(i) = self.expected(expectation) {
                    self.expectations[i].deadline = clock.local(*due);
                    self.expectations[i].deadline_at = Some(time_text(*due));
                }
            }
            Event::Control {
                at,
                action: action @ (Action::Met(id, note) | Action::Missed(id, note)),
                source,
                by,
                ..
            } => {
                let verdict = Verdict::judged(matches!(action, Action::Met(..)));
                let line = format!(
                    "{} at {} by {}{}",
                    verdict.word(),
                    clock.local(*at),
                    who(source.name(), by.as_deref()),
                    note.as_ref().map_or(String::new(), |n| format!(": {n}"))
                );
                self.judgment(id, verdict, *at, (source.name(), by.as_deref()), note, line);
            }
            // A judgment taken back (undone, or corrected): open again, kept in its
            // history.
            Event::Control {
                at,
                action:
                    Action::Undo {
                        judgment: Some(which),
                        ..
                    },
                source,
                by,
                ..
            } => {
                if let Some((word, id)) = which.split_once(':')
                    && let Some(i) = self.expected(id)
                    && self.expectations[i].outcome.word() == word
                {
                    let line = format!(
                        "{word} taken back at {} by {}",
                        clock.local(*at),
                        who(source.name(), by.as_deref())
                    );
                    let x = &mut self.expectations[i];
                    x.history.push(line.clone());
                    x.later.push(line);
                    x.outcome = Verdict::Open;
                    x.at = None;
                    x.source = None;
                    x.by = None;
                    x.note = None;
                    self.judged_at[i] = None;
                }
            }
            Event::Expired { expectation, at }
            | Event::Void {
                expectation, at, ..
            } => {
                if let Some(i) = self.expected(expectation)
                    && self.expectations[i].outcome == Verdict::Open
                {
                    let verdict = if matches!(e, Event::Expired { .. }) {
                        Verdict::Expired
                    } else {
                        Verdict::Void
                    };
                    let reason = match e {
                        Event::Void { reason, .. } => Some(reason.clone()),
                        _ => None,
                    };
                    let x = &mut self.expectations[i];
                    x.outcome = verdict;
                    x.at = Some(time_text(*at));
                    x.source = Some("deadline".into());
                    x.history.push(format!(
                        "{} at {}{}",
                        verdict.word(),
                        clock.local(*at),
                        reason
                            .as_deref()
                            .map_or(String::new(), |r| format!(": {r}"))
                    ));
                    x.note = reason;
                    self.judged_at[i] = Some(*at);
                }
            }
            Event::Triggered {
                inject,
                because,
                at,
            }
            | Event::NotTriggered {
                inject,
                because,
                at,
            } => {
                if let Some(i) = self.contingencies.iter().position(|c| &c.inject == inject) {
                    let c = &mut self.contingencies[i];
                    c.outcome = if matches!(e, Event::Triggered { .. }) {
                        Standing::Triggered
                    } else {
                        Standing::NotTriggered
                    };
                    c.because = Some(because.clone());
                    c.at = Some(time_text(*at));
                    c.t_plus = clock.t_plus(*at);
                    self.came_at[i] = Some(*at);
                }
            }
            _ => {}
        }
    }

    /// A judgment of `id`: the first stands; a later one is kept in its history.
    fn judgment(
        &mut self,
        id: &str,
        verdict: Verdict,
        at: DateTime<Utc>,
        (source, by): (&str, Option<&str>),
        note: &Option<String>,
        line: String,
    ) {
        let Some(i) = self.expected(id) else { return };
        let x = &mut self.expectations[i];
        x.history.push(line.clone());
        if x.outcome == Verdict::Open {
            x.outcome = verdict;
            x.at = Some(time_text(at));
            x.source = Some(source.into());
            x.by = by.map(String::from);
            x.note = note.clone();
            self.judged_at[i] = Some(at);
        } else {
            x.later.push(line);
        }
    }

    /// When contingency `inject`'s condition held, if it did.
    pub fn triggered_at(&self, inject: &str) -> Option<DateTime<Utc>> {
        let i = self.contingencies.iter().position(|c| c.inject == inject)?;
        (self.contingencies[i].outcome == Standing::Triggered)
            .then_some(self.came_at[i])
            .flatten()
    }

    /// Fill in what needs the whole run: each judgment's time in the scenario's zone
    /// and in scenario time, the players' response time (from `sent`, each inject's
    /// first send, less the holds between), and what followed each.
    pub fn finish(&mut self, clock: &Clock, sent: &HashMap<String, DateTime<Utc>>) {
        for (i, x) in self.expectations.iter_mut().enumerate() {
            let Some(at) = self.judged_at[i] else {
                continue;
            };
            x.local = Some(clock.local(at));
            x.t_plus = clock.t_plus(at);
            if matches!(x.outcome, Verdict::Met | Verdict::Missed)
                && let Some(inject) = x.inject.as_ref()
            {
                match sent.get(inject) {
                    Some(sent_at) if at >= *sent_at => {
                        let ms = clock.exercise_ms(*sent_at, at);
                        x.response_ms = Some(ms);
                        x.response = Some(crate::human::duration_ms(ms));
                    }
                    // Judged ahead of its inject: no response time to speak of.
                    Some(_) => x.response = Some(format!("judged before {inject} went")),
                    None => x.response = Some(format!("judged; {inject} never went")),
                }
            }
        }
        for x in &mut self.expectations {
            x.then = self
                .contingencies
                .iter()
                .zip(&self.on)
                .filter(|(c, on)| {
                    on.contains(&x.id) || (on.is_empty() && names(&c.condition, &x.id))
                })
                .map(|(c, _)| format!("{} {}", c.inject, c.outcome.word()))
                .collect();
        }
    }
}

/// Whether a condition's text (an older journal's, without `on`) names expected action
/// `id`: `missed: id`, `met: id`.
fn names(condition: &str, id: &str) -> bool {
    condition
        .split([',', '[', ']'])
        .filter_map(|part| part.trim().split_once(": "))
        .any(|(kind, name)| matches!(kind, "met" | "missed") && name.trim() == id)
}

/// Who did something: `dana (page)`, or the source alone.
pub(super) fn who(source: &str, by: Option<&str>) -> String {
    match by {
        Some(b) => format!("{b} ({source})"),
        None => format!("the {source}"),
    }
}
