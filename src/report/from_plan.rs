//! The plan as a picture: a scenario's timeline drawn by the report's renderer, each
//! occurrence a labelled mark at its instant (planned, nothing sent), each contingency
//! an alternative over the window in which it may fire, each expected action's
//! deadline; with every occurrence's exact request body on the page.

use chrono::{DateTime, Utc};

use super::clock::Clock;
use super::svg::{Alternative, Layout};
use super::{Contingency, Expected, Outcome, Report, Row};
use crate::adaptive::Standing;
use crate::scenario::{Condition, Deadline, Expectation};
use crate::timeline::{Timeline, scaled};

/// The scenario's alias for `id` beside it, `tidewatch (3-49790)`; `id` alone without
/// one. `aliases` are (alias, id) pairs.
fn aliased<'a>(mut aliases: impl Iterator<Item = (&'a String, String)>, id: &str) -> String {
    aliases
        .find(|(_, v)| v == id)
        .map_or_else(|| id.to_string(), |(alias, _)| format!("{alias} ({id})"))
}

/// When expectation `e`'s deadline opens (its inject's first send, else T0) and when it
/// closes, as planned.
fn window_of(t: &Timeline, e: &Expectation) -> (DateTime<Utc>, DateTime<Utc>) {
    let t0 = t.t0.to_utc();
    let opens = e
        .owner
        .and_then(|i| t.occurrences.iter().find(|o| o.inject == i))
        .map_or(t0, |o| t.fire_at(o).to_utc());
    let closes = match e.deadline {
        Deadline::Within(d) => opens + scaled(d, t.speed),
        Deadline::By(d) => t0 + scaled(d, t.speed),
    };
    (opens, closes)
}

/// When `c` may come to hold, as planned: `sent` at its inject's first send; `met` or
/// `missed` any time from the deadline's opening to its close; `any` the widest of its
/// parts, `all` from the latest opening.
fn may_hold(t: &Timeline, c: &Condition) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    match c {
        Condition::Sent(r) => {
            let o = t
                .occurrences
                .iter()
                .find(|o| o.key == r.name || t.inject(o).id == r.name && !t.is_contingent(o))?;
            let at = t.fire_at(o).to_utc();
            Some((at, at))
        }
        // Of an expected action judged per team, named for every team: any team's.
        Condition::Met(r) | Condition::Missed(r) => {
            let windows: Vec<_> = t
                .scenario
                .expectations_named(&r.name)
                .into_iter()
                .map(|e| window_of(t, &t.scenario.expectations[e]))
                .collect();
            Some((
                windows.iter().map(|w| w.0).min()?,
                windows.iter().map(|w| w.1).max()?,
            ))
        }
        Condition::Any(cs) | Condition::All(cs) => {
            let parts: Vec<_> = cs.iter().filter_map(|c| may_hold(t, c)).collect();
            let from = if matches!(c, Condition::Any(_)) {
                parts.iter().map(|p| p.0).min()?
            } else {
                parts.iter().map(|p| p.0).max()?
            };
            Some((from, parts.iter().map(|p| p.1).max()?))
        }
    }
}

impl Report {
    /// The plan of `t` as a report of nothing sent yet, and how to draw it.
    pub fn from_plan(t: &Timeline) -> (Report, PlanLayout) {
        let s = &t.scenario;
        let clock = Clock::planned(t.t0, s.timezone, t.speed);
        let mut alternatives = Vec::new();
        let rows: Vec<Row> = t
            .occurrences
            .iter()
            .map(|o| {
                let inject = t.inject(o);
                let body = t.body(o).ok();
                let text = |f: &str| {
                    body.as_ref()
                        .map(|b| crate::message::field_text(b, f))
                        .unwrap_or_default()
                };
                let contingent = t.is_contingent(o);
                let (planned_at, how) = match t.condition_of(o).filter(|_| contingent) {
                    Some(c) => {
                        let words = match o.offset.as_millis() {
                            0 => format!("if {}, at once", c.text()),
                            ms => format!(
                                "if {}, {} after",
                                c.text(),
                                crate::human::duration_ms(ms as i64)
                            ),
                        };
                        if let Some((from, to)) = may_hold(t, &c) {
                            let after = scaled(o.offset, t.speed);
                            alternatives.push(Alternative {
                                key: o.key.clone(),
                                label: format!("{}: {words}", o.key),
                                from: from + after,
                                to: to + after,
                            });
                        }
                        (None, words)
                    }
                    None => (Some(t.fire_at(o).to_utc()), String::new()),
                };
                Row {
                    key: o.key.clone(),
                    inject: inject.id.clone(),
                    offset: (!contingent).then(|| crate::human::show_offset(o.offset)),
                    offset_ms: (!contingent).then_some(o.offset.as_millis() as i64),
                    sent_t_plus: None,
                    channel: text("channel"),
                    persona: aliased(
                        s.personas.iter().map(|(a, id)| (a, id.clone())),
                        &text("persona"),
                    ),
                    to: match body.as_ref().map(crate::message::recipient) {
                        Some(crate::message::Recipient::Team(id)) => {
                            let team = |v: &serde_json::Value| {
                                v.as_str().map_or_else(|| v.to_string(), String::from)
                            };
                            let named = aliased(s.teams.iter().map(|(a, v)| (a, team(v))), &id);
                            named.replacen(&format!("({id})"), &format!("(team {id})"), 1)
                        }
                        Some(other) => other.to_string(),
                        None => String::new(),
                    },
                    subject: body
                        .as_ref()
                        .map(crate::message::subject)
                        .unwrap_or_default(),
                    owner: inject.owner.clone(),
                    objectives: inject.objectives.iter().map(|r| r.name.clone()).collect(),
                    planned_local: planned_at.map(|p| clock.local(p)),
                    planned_at,
                    sent_at: None,
                    sent_local: None,
                    lateness_ms: None,
                    lateness: None,
                    status: "pending",
                    late: false,
                    how,
                    by: None,
                    fired_by_hand: false,
                    attempts: None,
                    http_status: None,
                    message_id: None,
                    error: None,
                    body: body.and_then(|b| serde_json::to_string_pretty(&b).ok()),
                }
            })
            .collect();
        let expectations = s
            .expectations
            .iter()
            .map(|e| Expected {
                id: e.id.clone(),
                action: e.action.clone(),
                team: e.team.as_ref().map(|(t, _)| t.clone()),
                inject: e.owner.and_then(|i| s.injects.get(i)).map(|i| i.id.clone()),
                deadline: crate::plan::deadline_text(s, e),
                deadline_at: Some(crate::journal::time_text(window_of(t, e).1)),
                objectives: e.objectives.iter().map(|r| r.name.clone()).collect(),
                ..Expected::default()
            })
            .collect();
        let contingencies = armed(s);
        let report = Report {
            scenario: s.file.clone(),
            name: Some(s.name.clone()).filter(|n| !n.is_empty()),
            dry_run: false,
            t0: Some(t.t0.to_rfc3339()),
            t0_local: Some(clock.local_full(t.t0.to_utc())),
            timezone: clock.zone(),
            speed: Some(t.speed),
            runs: 0,
            finished: false,
            outcome: Outcome::default(),
            summary: Vec::new(),
            totals: crate::fold::Totals::default(),
            lateness: crate::fold::Lateness::default(),
            actions: Vec::new(),
            restarts: Vec::new(),
            problems: Vec::new(),
            rows,
            expectations,
            contingencies,
            notes: Vec::new(),
            objectives: Vec::new(),
            improvement_plan: Vec::new(),
            clock,
        };
        (
            report,
            PlanLayout(Layout {
                labels: true,
                alternatives,
                crowds: t
                    .scenario
                    .injects
                    .iter()
                    .filter_map(|i| Some((i.id.clone(), i.crowd.as_ref()?.count)))
                    .collect(),
            }),
        )
    }
}

/// The contingencies as a plan has them: each armed, with its delay; one per team of a
/// contingency that waits on an expected action judged per team.
fn armed(s: &crate::scenario::Scenario) -> Vec<Contingency> {
    s.contingency_rows()
        .into_iter()
        .map(|(inject, c, condition)| Contingency {
            inject,
            condition: condition.text(),
            outcome: Standing::Armed,
            because: Some(format!(
                "{} after it holds",
                crate::human::duration_ms(c.after.as_millis() as i64)
            )),
            ..Contingency::default()
        })
        .collect()
}

/// How the plan is drawn: labelled marks, and its contingencies as alternatives.
pub struct PlanLayout(pub(super) Layout);
