//! The fold from a journal: its lines read into one row per occurrence, the run's
//! actions, the expected actions and contingencies as judged, and the notes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Action, Contingency, Expected, Note, Report, Row};
use crate::adaptive::{Standing, Verdict};
use crate::event::Event;
use crate::fold::{Fold, Slot, Status};
use crate::journal::{PlanRow, Record, Replay, RunHeader, parse_time, time_text};

/// An instant as the report shows every instant ([`time_text`]); `raw` when unreadable.
fn show(t: Option<DateTime<Utc>>, raw: &str) -> String {
    t.map_or_else(|| raw.to_string(), time_text)
}

/// A run's expected actions and contingencies, as the journal's events judge them.
struct Judged {
    expectations: Vec<Expected>,
    contingencies: Vec<Contingency>,
}

impl Judged {
    /// Those of the newest run in `runs` that has any, none judged yet.
    fn declared(runs: &[RunHeader]) -> Judged {
        let head = runs
            .iter()
            .rev()
            .find(|h| !h.expectations.is_empty() || !h.contingencies.is_empty());
        let expectations: Vec<Expected> = head
            .map(|h| {
                h.expectations
                    .iter()
                    .map(|e| Expected {
                        id: e.id.clone(),
                        action: e.action.clone(),
                        team: e.team.clone(),
                        deadline: e.deadline.clone(),
                        ..Expected::default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let contingencies: Vec<Contingency> = head
            .map(|h| {
                h.contingencies
                    .iter()
                    .map(|c| Contingency {
                        inject: c.inject.clone(),
                        condition: c.condition.clone(),
                        ..Contingency::default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        Judged {
            expectations,
            contingencies,
        }
    }

    /// Where the expected action `id` is.
    fn expected(&self, id: &str) -> Option<usize> {
        self.expectations.iter().position(|x| x.id == id)
    }

    /// Take in one event: a deadline set, a judgment made or taken back, an expected
    /// action expired or void, a contingency's condition come to something.
    fn heard(&mut self, e: &Event) {
        match e {
            Event::Due {
                expectation, due, ..
            } => {
                if let Some(i) = self.expected(expectation) {
                    self.expectations[i].deadline = time_text(*due);
                }
            }
            Event::Control {
                at,
                action:
                    crate::action::Action::Met(id, note) | crate::action::Action::Missed(id, note),
                source,
                ..
            } => {
                if let Some(i) = self.expected(id) {
                    let x = &mut self.expectations[i];
                    let verdict = if matches!(
                        e,
                        Event::Control {
                            action: crate::action::Action::Met(..),
                            ..
                        }
                    ) {
                        Verdict::Met
                    } else {
                        Verdict::Missed
                    };
                    let word = verdict.word();
                    if x.outcome == Verdict::Open {
                        x.outcome = verdict;
                        x.at = Some(time_text(*at));
                        x.source = Some(source.name().into());
                        x.note = note.clone();
                    } else {
                        x.later.push(format!(
                            "{word} at {} ({}){}",
                            time_text(*at),
                            source.name(),
                            note.as_ref().map_or(String::new(), |n| format!(": {n}"))
                        ));
                    }
                }
            }
            // A judgment taken back (undone, or corrected): open again, kept in its
            // history.
            Event::Control {
                at,
                action:
                    crate::action::Action::Undo {
                        judgment: Some(which),
                        ..
                    },
                source,
                ..
            } => {
                if let Some((word, id)) = which.split_once(':')
                    && let Some(i) = self.expected(id)
                    && self.expectations[i].outcome.word() == word
                {
                    let x = &mut self.expectations[i];
                    x.later.push(format!(
                        "{word} taken back at {} ({})",
                        time_text(*at),
                        source.name()
                    ));
                    x.outcome = Verdict::Open;
                    x.at = None;
                    x.source = None;
                    x.note = None;
                }
            }
            Event::Expired { expectation, at }
            | Event::Void {
                expectation, at, ..
            } => {
                if let Some(i) = self.expected(expectation)
                    && self.expectations[i].outcome == Verdict::Open
                {
                    let x = &mut self.expectations[i];
                    x.outcome = if matches!(e, Event::Expired { .. }) {
                        Verdict::Expired
                    } else {
                        Verdict::Void
                    };
                    x.at = Some(time_text(*at));
                    x.source = Some("deadline".into());
                    if let Event::Void { reason, .. } = e {
                        x.note = Some(reason.clone());
                    }
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
                if let Some(c) = self.contingencies.iter_mut().find(|c| &c.inject == inject) {
                    c.outcome = if matches!(e, Event::Triggered { .. }) {
                        Standing::Triggered
                    } else {
                        Standing::NotTriggered
                    };
                    c.because = Some(because.clone());
                    c.at = Some(time_text(*at));
                }
            }
            _ => {}
        }
    }
}

/// The note an event records, with its instant (its offset from T0 not yet known).
fn note_of(e: &Event) -> Option<(DateTime<Utc>, Note)> {
    let n = crate::board::NoteView::of(e)?;
    Some((
        n.at,
        Note {
            at: time_text(n.at),
            offset: None,
            by: n.by,
            source: n.source.into(),
            text: n.text,
            key: n.key,
            expectation: n.expectation,
        },
    ))
}

/// The run's action a journal line records: a start or restart, an end, a director's
/// control.
fn action_of(record: &Record) -> Option<Action> {
    match record {
        Record::Run(h) => {
            // A run resumed after a stop "restarts"; "resume" is a hold's release.
            let what = if h.resumes.is_some() {
                "restart"
            } else {
                "start"
            };
            let mode = if h.dry_run { "dry run" } else { "live" };
            Some(Action {
                at: show(parse_time(&h.started_at), &h.started_at),
                what: what.into(),
                detail: format!(
                    "run {} ({mode}, T0 {}, {} occurrences)",
                    short(&h.run_id),
                    show(parse_time(&h.t0), &h.t0),
                    h.occurrences
                ),
            })
        }
        Record::End { at, reason } => Some(Action {
            at: show(*at, "-"),
            what: "end".into(),
            detail: reason.clone(),
        }),
        Record::Event(Event::Control {
            at,
            action,
            moved_ms,
            source,
            by,
        }) => {
            let mut detail = action.key().unwrap_or_default().to_string();
            if let Some(ms) = moved_ms {
                let sep = if detail.is_empty() { "" } else { " " };
                detail = format!("{detail}{sep}{:.3} s", *ms as f64 / 1000.0);
            }
            let who = by.as_deref().map_or(String::new(), |b| format!(", by {b}"));
            let detail = format!("{detail} (from the {}{who})", source.name())
                .trim()
                .to_string();
            Some(Action {
                at: time_text(*at),
                what: action.name().into(),
                detail,
            })
        }
        Record::Event(_) => None,
    }
}

/// The run's T0. Instants are journaled to the microsecond; T0 may carry nanoseconds:
/// they are cut, or an offset would read a microsecond short (T+00:01:59.999).
fn t0_of(run: Option<&RunHeader>) -> Option<DateTime<Utc>> {
    run.and_then(|h| chrono::DateTime::parse_from_rfc3339(&h.t0).ok())
        .map(|t| {
            let t = t.to_utc();
            t - chrono::TimeDelta::nanoseconds(i64::from(t.timestamp_subsec_nanos() % 1000))
        })
}

/// The instant `t` after `t0`: `T+01:30:00` (`T+00:00:00` before it).
fn offset_from(t0: Option<DateTime<Utc>>, t: Option<DateTime<Utc>>) -> Option<String> {
    let micros = (t? - t0?).num_microseconds()?;
    let after = std::time::Duration::from_micros(u64::try_from(micros.max(0)).ok()?);
    Some(crate::plan::show_offset(after))
}

/// The scenario's name for an id, beside the id.
fn named(name: Option<&str>, id: &str) -> String {
    match name {
        Some(n) if !id.is_empty() => format!("{n} ({id})"),
        _ => id.to_string(),
    }
}

/// The row of occurrence `key`: its slot in the fold, with what its row of the plan
/// says of it.
fn row(key: &str, slot: &Slot, plan: Option<&PlanRow>, t0: Option<DateTime<Utc>>) -> Row {
    let planned_at = slot
        .planned
        .or_else(|| plan.and_then(|p| parse_time(&p.planned_at)));
    Row {
        key: key.to_string(),
        offset: offset_from(t0, planned_at),
        channel: plan.map(|p| p.channel.clone()).unwrap_or_default(),
        persona: plan.map_or_else(String::new, |p| {
            named(p.persona_name.as_deref(), &p.persona)
        }),
        to: plan.map_or_else(String::new, |p| named(p.to_name.as_deref(), &p.to)),
        planned_at,
        sent_at: slot.at.filter(|_| slot.status != Status::Skipped),
        lateness_ms: slot.lateness_ms,
        status: slot.word(),
        late: slot.late,
        attempts: slot.attempts,
        http_status: slot.http_status,
        message_id: slot.message_id.as_deref().map(String::from),
        error: slot.error.as_deref().map(String::from),
    }
}

impl Report {
    /// Fold a journal's text into a report.
    pub fn from_journal(text: &str) -> Report {
        let replay = Replay::parse(text);
        let last = replay.runs.last();
        // The newest plan lists every occurrence, started or not.
        let plan = replay.runs.iter().rev().find_map(|h| h.plan.as_ref());
        let mut fold = Fold::new();
        let mut planned: HashMap<&str, &PlanRow> = HashMap::new();
        for p in plan.into_iter().flatten() {
            fold.seed(p.key.clone());
            planned.insert(&p.key, p);
        }
        let mut judged = Judged::declared(&replay.runs);
        let mut notes: Vec<(DateTime<Utc>, Note)> = Vec::new();
        for record in &replay.records {
            let Record::Event(e) = record else { continue };
            notes.extend(note_of(e));
            judged.heard(e);
        }
        let actions = replay.records.iter().filter_map(action_of).collect();
        let runs_seen = replay
            .records
            .iter()
            .filter(|r| matches!(r, Record::Run(_)))
            .count();
        // The same fold a resume makes: a request never started is pending, not uncertain.
        let fold = replay.fold_into(fold);
        let (totals, lateness) = fold.totals();
        let t0 = t0_of(last);
        let rows = fold
            .iter()
            .map(|(key, slot)| row(key, slot, planned.get(key).copied(), t0))
            .collect();
        Report {
            scenario: last.map(|h| h.scenario.clone()).unwrap_or_default(),
            name: replay.runs.iter().rev().find_map(|h| h.name.clone()),
            dry_run: last.is_some_and(|h| h.dry_run),
            t0: last.map(|h| h.t0.clone()),
            runs: runs_seen,
            finished: replay.last_completed,
            totals,
            lateness,
            actions,
            problems: replay.problems,
            rows,
            expectations: judged.expectations,
            contingencies: judged.contingencies,
            notes: notes
                .into_iter()
                .map(|(at, n)| Note {
                    offset: offset_from(t0, Some(at)),
                    ..n
                })
                .collect(),
        }
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
