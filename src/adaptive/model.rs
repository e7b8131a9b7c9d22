//! The model: what the scenario says of its branches, resolved to indices once, and
//! the types the state machine speaks in (outcomes, verdicts, standings, effects).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::scenario::{Condition, Deadline};
use crate::timeline::Timeline;

/// A condition resolved to indices.
#[derive(Clone, Debug)]
pub(super) enum Cond {
    Met(usize),
    Missed(usize),
    /// Any occurrence of this inject sent.
    SentInject(usize),
    /// This occurrence (index, key) sent.
    SentKey(usize, String),
    Any(Vec<Cond>),
    All(Vec<Cond>),
    /// Names nothing (validation reports it): never holds.
    Never,
}

/// An expectation as the scenario states it.
#[derive(Clone, Debug)]
pub struct ExpectationModel {
    pub id: String,
    pub action: String,
    pub team: Option<String>,
    pub deadline: Deadline,
    /// The inject whose send opens its deadline (`expect:`).
    pub owner: Option<usize>,
}

/// A contingency inject as the scenario states it.
#[derive(Clone, Debug)]
pub struct ConditionalModel {
    /// Its inject's index and id.
    pub inject: usize,
    pub id: String,
    /// Its condition as written (`missed: evacuation-ordered`).
    pub text: String,
    /// Its delay once the condition holds.
    pub after: Duration,
    pub(super) cond: Cond,
    /// Its occurrences (indices into the timeline).
    pub occurrences: Vec<usize>,
}

impl ConditionalModel {
    /// The expectation and the judgment (met: `true`) its condition is, when it is just
    /// one judgment (`met: X` or `missed: X`): firing it by hand makes that judgment.
    pub fn judgment(&self) -> Option<(usize, bool)> {
        match self.cond {
            Cond::Met(e) => Some((e, true)),
            Cond::Missed(e) => Some((e, false)),
            _ => None,
        }
    }
}

/// The scenario's expectations and contingencies, resolved against its timeline.
#[derive(Clone, Debug)]
pub struct Model {
    pub expectations: Vec<ExpectationModel>,
    pub conditionals: Vec<ConditionalModel>,
    /// Per occurrence: whether its send (or its end without one) matters to a
    /// condition or opens a deadline.
    pub watched: Vec<bool>,
    /// Per inject: its contingency, if it is one.
    pub conditional_of: Vec<Option<usize>>,
    /// Per inject: its occurrences.
    pub(super) occurrences_of: Vec<Vec<usize>>,
    /// Per expectation: the occurrences whose send opens its deadline.
    pub(super) owned_by: Vec<Vec<usize>>,
    inject_ids: Vec<String>,
    /// Per expectation: its deadline as a scenario offset, when the scenario fixes it
    /// (`by:`, or `within:` of an inject that is not a contingency: from its first
    /// occurrence).
    pub(super) deadline_offsets: Vec<Option<Duration>>,
    pub(super) t0: DateTime<Utc>,
    speed: f64,
}

impl Model {
    /// The model of `timeline`'s scenario; `None` when it does not branch.
    pub fn new(timeline: &Timeline) -> Option<Model> {
        let s = &timeline.scenario;
        if !s.is_adaptive() {
            return None;
        }
        let mut occurrences_of = vec![Vec::new(); s.injects.len()];
        let mut key_index = foldhash::HashMap::default();
        for (i, o) in timeline.occurrences.iter().enumerate() {
            occurrences_of[o.origin].push(i);
            key_index.insert(o.key.as_str(), i);
        }
        let exp_index = |id: &str| s.expectations_named(id);
        fn resolve(
            c: &Condition,
            exp: &dyn Fn(&str) -> Vec<usize>,
            inject: &dyn Fn(&str) -> Option<usize>,
            key: &dyn Fn(&str) -> Option<usize>,
        ) -> Cond {
            // One expected action, or any team's of one judged per team.
            let judged = |name: &str, one: fn(usize) -> Cond| match exp(name).as_slice() {
                [] => Cond::Never,
                [e] => one(*e),
                many => Cond::Any(many.iter().map(|e| one(*e)).collect()),
            };
            match c {
                Condition::Met(r) => judged(&r.name, Cond::Met),
                Condition::Missed(r) => judged(&r.name, Cond::Missed),
                Condition::Sent(r) => match inject(&r.name) {
                    Some(i) => Cond::SentInject(i),
                    None => key(&r.name).map_or(Cond::Never, |o| Cond::SentKey(o, r.name.clone())),
                },
                Condition::Any(cs) => {
                    Cond::Any(cs.iter().map(|c| resolve(c, exp, inject, key)).collect())
                }
                Condition::All(cs) => {
                    Cond::All(cs.iter().map(|c| resolve(c, exp, inject, key)).collect())
                }
            }
        }
        let mut watched = vec![false; timeline.occurrences.len()];
        let mut conditionals = Vec::new();
        let mut conditional_of = vec![None; s.injects.len()];
        for (index, inject) in s.injects.iter().enumerate() {
            let Some(c) = &inject.condition else { continue };
            conditional_of[index] = Some(conditionals.len());
            // One per team when it waits on an expected action judged per team.
            for (team, condition) in s.contingency_parts(inject) {
                let cond = resolve(&condition, &exp_index, &|id| s.inject_index(id), &|k| {
                    key_index.get(k).copied()
                });
                let occurrences = occurrences_of[index]
                    .iter()
                    .copied()
                    .filter(|&o| {
                        team.is_none() || team_of(&timeline.occurrences[o]) == team.as_deref()
                    })
                    .collect();
                conditionals.push(ConditionalModel {
                    inject: index,
                    id: match &team {
                        Some(team) => format!("{}@{team}", inject.id),
                        None => inject.id.clone(),
                    },
                    text: condition.text(),
                    after: c.after,
                    cond,
                    occurrences,
                });
            }
        }
        fn watch(c: &Cond, occurrences_of: &[Vec<usize>], watched: &mut [bool]) {
            match c {
                Cond::SentInject(i) => occurrences_of[*i].iter().for_each(|&o| watched[o] = true),
                Cond::SentKey(o, _) => watched[*o] = true,
                Cond::Any(cs) | Cond::All(cs) => {
                    cs.iter().for_each(|c| watch(c, occurrences_of, watched))
                }
                _ => {}
            }
        }
        for c in &conditionals {
            watch(&c.cond, &occurrences_of, &mut watched);
        }
        // Per expectation: the occurrences whose send opens its deadline (its team's, of
        // a fan-out's judged per team).
        let owned_by: Vec<Vec<usize>> = s
            .expectations
            .iter()
            .map(|e| match e.owner {
                Some(owner) => occurrences_of[owner]
                    .iter()
                    .copied()
                    .filter(|&o| {
                        e.fan_team.is_none()
                            || team_of(&timeline.occurrences[o]) == e.fan_team.as_deref()
                    })
                    .collect(),
                None => Vec::new(),
            })
            .collect();
        let expectations = s
            .expectations
            .iter()
            .zip(&owned_by)
            .map(|(e, owned)| {
                owned.iter().for_each(|&o| watched[o] = true);
                ExpectationModel {
                    id: e.id.clone(),
                    action: e.action.clone(),
                    team: e.team.as_ref().map(|(t, _)| t.clone()),
                    deadline: e.deadline,
                    owner: e.owner,
                }
            })
            .collect();
        let deadline_offsets = s
            .expectations
            .iter()
            .zip(&owned_by)
            .map(|(e, owned)| match (e.deadline, e.owner) {
                (Deadline::By(d), _) | (Deadline::Within(d), None) => Some(d),
                (Deadline::Within(d), Some(owner)) if conditional_of[owner].is_none() => {
                    owned.first().map(|&o| timeline.occurrences[o].offset + d)
                }
                (Deadline::Within(_), Some(_)) => None,
            })
            .collect();
        Some(Model {
            expectations,
            conditionals,
            watched,
            conditional_of,
            deadline_offsets,
            occurrences_of,
            owned_by,
            inject_ids: s.injects.iter().map(|i| i.id.clone()).collect(),
            t0: timeline.t0.to_utc(),
            speed: timeline.speed,
        })
    }

    pub fn expectation(&self, id: &str) -> Option<usize> {
        self.expectations.iter().position(|e| e.id == id)
    }

    /// A scenario duration as run time (divided by the speed).
    pub fn scaled(&self, d: Duration) -> TimeDelta {
        crate::timeline::scaled(d, self.speed)
    }

    /// Whether occurrence `occ` is of a contingency inject (an ad hoc inject, past the
    /// model's injects, never is).
    pub fn is_conditional(&self, timeline: &Timeline, occ: usize) -> bool {
        self.conditional_of
            .get(timeline.occurrences[occ].origin)
            .is_some_and(Option::is_some)
    }

    /// `no expectation `x``, with a did-you-mean.
    pub fn unknown_expectation(&self, id: &str) -> String {
        // The ids of an expected action judged per team (`sitrep@blue`, ...) by its base.
        let per_team = |base: &str| -> Vec<String> {
            self.expectations
                .iter()
                .filter(|e| e.id.strip_prefix(base).is_some_and(|t| t.starts_with('@')))
                .map(|e| format!("`{}`", e.id))
                .collect()
        };
        let teams = per_team(id);
        if !teams.is_empty() {
            return format!("`{id}` is judged per team: name one, {}", teams.join(", "));
        }
        // One team's of one judged per team, for a team it is not judged for.
        if let Some((base, team)) = id.rsplit_once('@') {
            let teams = per_team(base);
            if !teams.is_empty() {
                return format!(
                    "`{base}` is not judged for `{team}`: it is judged per team, {}",
                    teams.join(", ")
                );
            }
        }
        let hint = crate::diag::suggest(id, self.expectations.iter().map(|e| e.id.as_str()))
            .map_or(String::new(), |h| format!(" ({h})"));
        format!("no expected action `{id}`{hint}")
    }
}

/// How an expectation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Met,
    Missed,
    /// Never judged: its inject was never sent.
    Void,
}

/// An expectation's judgment.
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    pub outcome: Outcome,
    pub at: DateTime<Utc>,
    /// Who judged: a source's name (`page`, `command`, `terminal`, `assumed`), or
    /// `deadline` when it expired.
    pub by: String,
    /// The person who judged, when known (a controller's name).
    pub who: Option<String>,
    pub note: Option<String>,
}

impl Judged {
    /// Where the judgment leaves its expectation.
    pub fn verdict(&self) -> Verdict {
        match self.outcome {
            Outcome::Met => Verdict::Met,
            Outcome::Missed if self.by == "deadline" => Verdict::Expired,
            Outcome::Missed => Verdict::Missed,
            Outcome::Void => Verdict::Void,
        }
    }

    /// As the report and the page say it: met, missed, expired or void.
    pub fn word(&self) -> &'static str {
        self.verdict().word()
    }
}

/// Where an expected action stands: the one vocabulary of the page, `ctl`, the plan
/// and the report (serialized as its word).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Not judged yet.
    #[default]
    Open,
    Met,
    Missed,
    /// Missed at its deadline, by no one's judgment.
    Expired,
    /// Never judged: its inject was never sent.
    Void,
}

impl Verdict {
    /// A person's judgment: met or missed.
    pub fn judged(met: bool) -> Verdict {
        if met { Verdict::Met } else { Verdict::Missed }
    }

    pub fn word(self) -> &'static str {
        match self {
            Verdict::Open => "open",
            Verdict::Met => "met",
            Verdict::Missed => "missed",
            Verdict::Expired => "expired",
            Verdict::Void => "void",
        }
    }
}

/// Where a contingency stands, in the same words everywhere (serialized as its word).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub enum Standing {
    /// Its condition may still hold (or the run stopped first).
    #[default]
    #[serde(rename = "armed")]
    Armed,
    #[serde(rename = "triggered")]
    Triggered,
    /// Its condition can no longer hold.
    #[serde(rename = "not triggered")]
    NotTriggered,
}

impl Standing {
    pub fn word(self) -> &'static str {
        match self {
            Standing::Armed => "armed",
            Standing::Triggered => "triggered",
            Standing::NotTriggered => "not triggered",
        }
    }
}

impl ConditionalState {
    /// Where it stands, and why (the condition that held, or why it cannot).
    pub fn standing(&self) -> (Standing, Option<&str>) {
        match self {
            ConditionalState::Armed => (Standing::Armed, None),
            ConditionalState::Triggered(_, why) => (Standing::Triggered, Some(why)),
            ConditionalState::NotTriggered(why) => (Standing::NotTriggered, Some(why)),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExpectationState {
    /// Its deadline (a base instant), once known.
    pub due: Option<DateTime<Utc>>,
    pub judged: Option<Judged>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum ConditionalState {
    #[default]
    Armed,
    /// Its condition held at this base instant (why, as the journal says).
    Triggered(DateTime<Utc>, String),
    NotTriggered(String),
}

/// A judgment `run --dry-run --assume` makes by itself, and `plan --assume` supposes.
#[derive(Clone, Debug, PartialEq)]
pub struct Assumption {
    pub expectation: usize,
    pub met: bool,
    /// When, as a scenario offset from T0; `None`: met as soon as its deadline opens,
    /// missed at its deadline.
    pub at: Option<Duration>,
}

/// Something a step decided, already applied to the state: the caller journals it.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// An expectation's deadline opened (its base instant).
    Due {
        expectation: usize,
        due: DateTime<Utc>,
    },
    /// An assumed judgment was made.
    Assumed {
        expectation: usize,
        met: bool,
    },
    Expired {
        expectation: usize,
    },
    Void {
        expectation: usize,
        reason: String,
    },
    /// A contingency triggered: its occurrences fire from `base` (plus their offsets).
    Trigger {
        conditional: usize,
        because: String,
        base: DateTime<Utc>,
    },
    NotTriggered {
        conditional: usize,
        because: String,
    },
}

/// A timed step: a deadline, or an assumed judgment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Timer {
    Deadline(usize),
    Assume(usize),
}

/// An occurrence's fan-out team, as its inject lists it.
fn team_of(o: &crate::timeline::Occurrence) -> Option<&str> {
    o.team.as_deref().map(|(label, _)| label.as_str())
}

pub(super) fn inject_name(model: &Model, inject: usize) -> String {
    model.inject_ids[inject].clone()
}
