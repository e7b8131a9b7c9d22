//! The adaptive exercise as a pure state machine: expected actions judged (or expired
//! at their deadlines), and contingency injects triggered when their conditions hold.
//! The syntax is [`crate::scenario::contingency`]'s; the engine's glue is
//! `engine::adaptive`. Below the engine: it knows the clock only as a [`ReplayClock`].
//!
//! [`Model`] is what the scenario says, resolved to indices once. [`State`] is where a
//! run stands: each expectation open (with its deadline once known), met, missed or
//! void; each contingency armed, triggered (and from when) or not triggered. Its `on_*`
//! steps take one fact (a send, an end without a send, a judgment, a deadline, an
//! assumed judgment) and return the [`Effect`]s that follow, already applied; the
//! engine journals them and fires what they trigger, `plan --assume` simulates them,
//! and a resume rebuilds the state from the journal's lines ([`State::replay`]). Times
//! here are a run's *base* instants: wall-clock instants before holds and shifts
//! (`moved(base, shift)` is when they happen). Pure: no I/O, no clock reads.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::action::{Action, Source};
use crate::event::Event;
use crate::scenario::{Condition, Deadline};
use crate::timeline::Timeline;

/// A condition resolved to indices.
#[derive(Clone, Debug)]
enum Cond {
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
    cond: Cond,
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
    occurrences_of: Vec<Vec<usize>>,
    inject_ids: Vec<String>,
    /// Per expectation: its deadline as a scenario offset, when the scenario fixes it
    /// (`by:`, or `within:` of an inject that is not a contingency: from its first
    /// occurrence).
    deadline_offsets: Vec<Option<Duration>>,
    t0: DateTime<Utc>,
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
            occurrences_of[o.inject].push(i);
            key_index.insert(o.key.as_str(), i);
        }
        let exp_index = |id: &str| s.expectations.iter().position(|e| e.id == id);
        fn resolve(
            c: &Condition,
            exp: &dyn Fn(&str) -> Option<usize>,
            inject: &dyn Fn(&str) -> Option<usize>,
            key: &dyn Fn(&str) -> Option<usize>,
        ) -> Cond {
            match c {
                Condition::Met(r) => exp(&r.name).map_or(Cond::Never, Cond::Met),
                Condition::Missed(r) => exp(&r.name).map_or(Cond::Never, Cond::Missed),
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
            let cond = resolve(&c.condition, &exp_index, &|id| s.inject_index(id), &|k| {
                key_index.get(k).copied()
            });
            conditional_of[index] = Some(conditionals.len());
            conditionals.push(ConditionalModel {
                inject: index,
                id: inject.id.clone(),
                text: c.condition.text(),
                after: c.after,
                cond,
                occurrences: occurrences_of[index].clone(),
            });
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
        let expectations = s
            .expectations
            .iter()
            .map(|e| {
                if let Some(owner) = e.owner {
                    occurrences_of[owner]
                        .iter()
                        .for_each(|&o| watched[o] = true);
                }
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
            .map(|e| match (e.deadline, e.owner) {
                (Deadline::By(d), _) | (Deadline::Within(d), None) => Some(d),
                (Deadline::Within(d), Some(owner)) if conditional_of[owner].is_none() => {
                    occurrences_of[owner]
                        .first()
                        .map(|&o| timeline.occurrences[o].offset + d)
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

    /// Whether occurrence `occ` is of a contingency inject.
    pub fn is_conditional(&self, timeline: &Timeline, occ: usize) -> bool {
        self.conditional_of[timeline.occurrences[occ].inject].is_some()
    }

    /// `no expectation `x``, with a did-you-mean.
    pub fn unknown_expectation(&self, id: &str) -> String {
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

#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Occ {
    #[default]
    Unknown,
    Sent,
    /// Ended without a send: skipped, failed, not triggered.
    Ended,
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

#[derive(Clone, Copy, PartialEq)]
enum Tri {
    Yes,
    No,
    Unknown,
}

/// Yes when any part holds, no when every part cannot (none: no), else unknown.
fn any(parts: impl IntoIterator<Item = Tri>) -> Tri {
    let mut all_no = true;
    for part in parts {
        match part {
            Tri::Yes => return Tri::Yes,
            Tri::No => {}
            Tri::Unknown => all_no = false,
        }
    }
    if all_no { Tri::No } else { Tri::Unknown }
}

fn not(t: Tri) -> Tri {
    match t {
        Tri::Yes => Tri::No,
        Tri::No => Tri::Yes,
        Tri::Unknown => Tri::Unknown,
    }
}

/// Where a run's branches stand.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct State {
    pub expectations: Vec<ExpectationState>,
    pub conditionals: Vec<ConditionalState>,
    occurrences: Vec<Occ>,
    assumptions: Vec<Assumption>,
    /// Assumptions already carried out.
    assumed: Vec<bool>,
}

impl State {
    /// Everything open; deadlines counted from T0 known at once.
    pub fn new(model: &Model, occurrences: usize, assumptions: Vec<Assumption>) -> State {
        State {
            expectations: model
                .expectations
                .iter()
                .map(|e| ExpectationState {
                    due: match e.deadline {
                        Deadline::By(d) => Some(model.t0 + model.scaled(d)),
                        Deadline::Within(_) => None,
                    },
                    judged: None,
                })
                .collect(),
            conditionals: vec![ConditionalState::Armed; model.conditionals.len()],
            occurrences: vec![Occ::Unknown; occurrences],
            assumed: vec![false; assumptions.len()],
            assumptions,
        }
    }

    /// The earliest timed step still to come: a deadline of an unjudged expectation, or
    /// an assumed judgment at a time.
    pub fn next_timer(&self, model: &Model) -> Option<(DateTime<Utc>, Timer)> {
        let deadlines = self.expectations.iter().enumerate().filter_map(|(i, e)| {
            (e.judged.is_none())
                .then_some(e.due)
                .flatten()
                .map(|d| (d, Timer::Deadline(i)))
        });
        let assumed = self.assumptions.iter().enumerate().filter_map(|(i, a)| {
            (!self.assumed[i] && self.expectations[a.expectation].judged.is_none())
                .then_some(a.at)
                .flatten()
                .map(|at| (model.t0 + model.scaled(at), Timer::Assume(i)))
        });
        // Assumed judgments first at the same instant: a judgment at the deadline counts.
        deadlines
            .chain(assumed)
            .min_by_key(|(t, timer)| (*t, matches!(timer, Timer::Deadline(_))))
    }

    /// Occurrence `occ` was sent (its base instant `base`).
    pub fn on_sent(
        &mut self,
        model: &Model,
        occ: usize,
        owner_of: Option<usize>,
        base: DateTime<Utc>,
    ) -> Vec<Effect> {
        self.occurrences[occ] = Occ::Sent;
        let mut effects = Vec::new();
        if let Some(inject) = owner_of {
            for (i, e) in model.expectations.iter().enumerate() {
                let state = &mut self.expectations[i];
                if e.owner == Some(inject)
                    && state.due.is_none()
                    && state.judged.is_none()
                    && let Deadline::Within(d) = e.deadline
                {
                    let due = base + model.scaled(d);
                    state.due = Some(due);
                    effects.push(Effect::Due {
                        expectation: i,
                        due,
                    });
                    // Assumed met with no time: met as soon as it opens.
                    if let Some(a) = self.untimed(i)
                        && self.assumptions[a].met
                    {
                        effects.push(self.assume(a, base));
                    }
                }
            }
        }
        effects.extend(self.settle(model, base));
        effects
    }

    /// Occurrence `occ` ended without a send (skipped, failed).
    pub fn on_ended(&mut self, model: &Model, occ: usize, base: DateTime<Utc>) -> Vec<Effect> {
        self.occurrences[occ] = Occ::Ended;
        self.settle(model, base)
    }

    /// A person judged expectation `e`: `Err` with the judgment that stands when it was
    /// judged before (this one is then only a note).
    pub fn on_judge(
        &mut self,
        model: &Model,
        e: usize,
        met: bool,
        (at, base): (DateTime<Utc>, DateTime<Utc>),
        by: Source,
        note: Option<String>,
    ) -> Result<Vec<Effect>, Judged> {
        if let Some(prior) = &self.expectations[e].judged {
            return Err(prior.clone());
        }
        let outcome = if met { Outcome::Met } else { Outcome::Missed };
        self.judge(e, outcome, at, by.name(), note);
        Ok(self.settle(model, base))
    }

    /// Take a person's judgment of `e` back: it is open again, and every contingency
    /// that the judgment decided (and nothing else still decides) is armed again. The
    /// contingencies armed again, with how each stood before. The caller makes sure
    /// none of a triggered one's occurrences went.
    pub fn on_unjudge(&mut self, model: &Model, e: usize) -> Vec<(usize, ConditionalState)> {
        self.expectations[e].judged = None;
        let mut rearmed = Vec::new();
        loop {
            let mut changed = false;
            for c in 0..self.conditionals.len() {
                if self.conditionals[c] == ConditionalState::Armed
                    || self.eval(model, &model.conditionals[c].cond) != Tri::Unknown
                {
                    continue;
                }
                let before = std::mem::take(&mut self.conditionals[c]);
                if matches!(before, ConditionalState::NotTriggered(_)) {
                    for &o in &model.conditionals[c].occurrences {
                        self.occurrences[o] = Occ::Unknown;
                    }
                }
                rearmed.push((c, before));
                changed = true;
            }
            if !changed {
                return rearmed;
            }
        }
    }

    /// A timed step's instant came (its base instant `base`, its wall-clock `at`).
    pub fn on_timer(
        &mut self,
        model: &Model,
        timer: Timer,
        at: DateTime<Utc>,
        base: DateTime<Utc>,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        match timer {
            Timer::Deadline(e) => {
                if self.expectations[e].judged.is_some() {
                    return effects;
                }
                // Assumed missed with no time: missed at its deadline, by the assumption.
                match self.untimed(e) {
                    Some(a) if !self.assumptions[a].met => effects.push(self.assume(a, at)),
                    _ => {
                        self.judge(e, Outcome::Missed, at, "deadline", None);
                        effects.push(Effect::Expired { expectation: e });
                    }
                }
            }
            Timer::Assume(a) => {
                if self.expectations[self.assumptions[a].expectation]
                    .judged
                    .is_some()
                {
                    self.assumed[a] = true;
                    return effects;
                }
                effects.push(self.assume(a, at));
            }
        }
        effects.extend(self.settle(model, base));
        effects
    }

    /// At the start: assumed judgments due at once (met, untimed, of expectations
    /// counted from T0), and whatever already follows.
    pub fn on_start(
        &mut self,
        model: &Model,
        at: DateTime<Utc>,
        base: DateTime<Utc>,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        for e in 0..self.expectations.len() {
            if model.expectations[e].owner.is_none()
                && self.expectations[e].judged.is_none()
                && let Some(a) = self.untimed(e)
                && self.assumptions[a].met
            {
                effects.push(self.assume(a, at));
            }
        }
        effects.extend(self.settle(model, base));
        effects
    }

    /// The run has nothing left that could decide anything: every armed contingency is
    /// not triggered, every expectation whose deadline never opened is void.
    pub fn on_finish(&mut self, model: &Model, base: DateTime<Utc>) -> Vec<Effect> {
        let mut effects = self.settle(model, base);
        for c in 0..self.conditionals.len() {
            if self.conditionals[c] == ConditionalState::Armed {
                let because = format!("the run ended before `{}` held", model.conditionals[c].text);
                self.not_triggered(model, c, because.clone());
                effects.push(Effect::NotTriggered {
                    conditional: c,
                    because,
                });
            }
        }
        for e in 0..self.expectations.len() {
            if self.expectations[e].judged.is_none() {
                let reason = "the run ended before its deadline opened".to_string();
                self.judge(e, Outcome::Void, base, "deadline", None);
                effects.push(Effect::Void {
                    expectation: e,
                    reason,
                });
            }
        }
        effects
    }

    /// Carry out assumption `a` at `at`: its expectation judged as assumed.
    fn assume(&mut self, a: usize, at: DateTime<Utc>) -> Effect {
        self.assumed[a] = true;
        let Assumption {
            expectation, met, ..
        } = self.assumptions[a];
        let outcome = if met { Outcome::Met } else { Outcome::Missed };
        self.judge(expectation, outcome, at, Source::Assumed.name(), None);
        Effect::Assumed { expectation, met }
    }

    /// The untimed assumption about `e`, not yet carried out.
    fn untimed(&self, e: usize) -> Option<usize> {
        self.assumptions
            .iter()
            .enumerate()
            .find(|(i, a)| a.expectation == e && a.at.is_none() && !self.assumed[*i])
            .map(|(i, _)| i)
    }

    fn judge(
        &mut self,
        e: usize,
        outcome: Outcome,
        at: DateTime<Utc>,
        by: &str,
        note: Option<String>,
    ) {
        self.expectations[e].judged = Some(Judged {
            outcome,
            at,
            by: by.to_string(),
            who: None,
            note,
        });
    }

    fn not_triggered(&mut self, model: &Model, c: usize, because: String) {
        self.conditionals[c] = ConditionalState::NotTriggered(because);
        for &o in &model.conditionals[c].occurrences {
            self.occurrences[o] = Occ::Ended;
        }
    }

    /// Decide every contingency and expectation the facts so far decide, until nothing
    /// changes: triggers (from `base`), not triggered, void.
    fn settle(&mut self, model: &Model, base: DateTime<Utc>) -> Vec<Effect> {
        let mut effects = Vec::new();
        loop {
            let mut changed = false;
            for c in 0..self.conditionals.len() {
                if self.conditionals[c] != ConditionalState::Armed {
                    continue;
                }
                let cm = &model.conditionals[c];
                match self.eval(model, &cm.cond) {
                    Tri::Yes => {
                        let because = self.why(model, &cm.cond);
                        self.conditionals[c] = ConditionalState::Triggered(base, because.clone());
                        effects.push(Effect::Trigger {
                            conditional: c,
                            because,
                            base,
                        });
                        changed = true;
                    }
                    Tri::No => {
                        let because = format!("`{}` can no longer hold", cm.text);
                        self.not_triggered(model, c, because.clone());
                        effects.push(Effect::NotTriggered {
                            conditional: c,
                            because,
                        });
                        changed = true;
                    }
                    Tri::Unknown => {}
                }
            }
            for (e, em) in model.expectations.iter().enumerate() {
                let state = &self.expectations[e];
                if state.judged.is_some() || state.due.is_some() {
                    continue;
                }
                let Some(owner) = em.owner else { continue };
                let occs = &model.occurrences_of[owner];
                if occs.iter().all(|&o| self.occurrences[o] == Occ::Ended) {
                    let reason = format!("`{}` was never sent", inject_name(model, owner));
                    self.judge(e, Outcome::Void, base, "deadline", None);
                    effects.push(Effect::Void {
                        expectation: e,
                        reason,
                    });
                    changed = true;
                }
            }
            if !changed {
                return effects;
            }
        }
    }

    fn eval(&self, model: &Model, c: &Cond) -> Tri {
        let judged = |e: usize| self.expectations[e].judged.as_ref().map(|j| j.outcome);
        match c {
            Cond::Never => Tri::No,
            Cond::Met(e) => match judged(*e) {
                Some(Outcome::Met) => Tri::Yes,
                Some(_) => Tri::No,
                None => Tri::Unknown,
            },
            Cond::Missed(e) => match judged(*e) {
                Some(Outcome::Missed) => Tri::Yes,
                Some(_) => Tri::No,
                None => Tri::Unknown,
            },
            Cond::SentKey(o, _) => match self.occurrences[*o] {
                Occ::Sent => Tri::Yes,
                Occ::Ended => Tri::No,
                Occ::Unknown => Tri::Unknown,
            },
            // Any occurrence of the inject sent: yes; all ended without: no.
            Cond::SentInject(i) => {
                any(model.occurrences_of[*i]
                    .iter()
                    .map(|&o| match self.occurrences[o] {
                        Occ::Sent => Tri::Yes,
                        Occ::Ended => Tri::No,
                        Occ::Unknown => Tri::Unknown,
                    }))
            }
            Cond::Any(cs) => any(cs.iter().map(|c| self.eval(model, c))),
            Cond::All(cs) => not(any(cs.iter().map(|c| not(self.eval(model, c))))),
        }
    }

    /// Which part of a condition that holds made it hold (for `any`, the first part
    /// that does), as written.
    fn why(&self, model: &Model, c: &Cond) -> String {
        let exp = |e: &usize| model.expectations[*e].id.clone();
        match c {
            Cond::Met(e) => format!("met: {}", exp(e)),
            Cond::Missed(e) => {
                let how = match &self.expectations[*e].judged {
                    Some(j) if j.by == "deadline" => " (deadline passed)",
                    _ => "",
                };
                format!("missed: {}{how}", exp(e))
            }
            Cond::SentKey(_, key) => format!("sent: {key}"),
            Cond::SentInject(i) => format!("sent: {}", inject_name(model, *i)),
            Cond::Any(cs) => cs
                .iter()
                .find(|c| self.eval(model, c) == Tri::Yes)
                .map(|c| self.why(model, c))
                .unwrap_or_default(),
            Cond::All(cs) => format!(
                "all: [{}]",
                cs.iter()
                    .map(|c| self.why(model, c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Cond::Never => String::new(),
        }
    }

    /// The state a journal's lines leave behind (in order: a triggered line's base is
    /// its instant as the clock then stood). `keys` maps occurrence keys to indices.
    pub fn replay<'a>(
        model: &Model,
        occurrences: usize,
        key_index: &dyn Fn(&str) -> Option<usize>,
        events: impl IntoIterator<Item = &'a Event>,
        assumptions: Vec<Assumption>,
        clock: &mut dyn ReplayClock,
    ) -> State {
        let mut state = State::new(model, occurrences, assumptions);
        let inject_of = |id: &str| model.conditionals.iter().position(|c| c.id == id);
        for event in events {
            clock.take_in(event);
            match event {
                Event::Sent { key, sent_at, .. } => {
                    if let Some(o) = key_index(key) {
                        state.occurrences[o] = Occ::Sent;
                        // Its deadline, in case the run stopped before its `due` line (a
                        // `due` line that follows says it exactly).
                        for (e, m) in model.expectations.iter().enumerate() {
                            if let (Some(owner), Deadline::Within(d)) = (m.owner, m.deadline)
                                && model.occurrences_of[owner].contains(&o)
                                && state.expectations[e].due.is_none()
                            {
                                state.expectations[e].due =
                                    Some(clock.base(*sent_at) + model.scaled(d));
                            }
                        }
                    }
                }
                Event::Skipped { key, .. } | Event::Failed { key, .. } => {
                    if let Some(o) = key_index(key)
                        && state.occurrences[o] != Occ::Sent
                    {
                        state.occurrences[o] = Occ::Ended;
                    }
                }
                Event::Control {
                    at,
                    action: Action::Met(id, note) | Action::Missed(id, note),
                    source,
                    by,
                    ..
                } => {
                    if let Some(e) = model.expectation(id)
                        && state.expectations[e].judged.is_none()
                    {
                        let met = matches!(
                            event,
                            Event::Control {
                                action: Action::Met(..),
                                ..
                            }
                        );
                        let outcome = if met { Outcome::Met } else { Outcome::Missed };
                        state.judge(e, outcome, *at, source.name(), note.clone());
                        if let Some(j) = state.expectations[e].judged.as_mut() {
                            j.who.clone_from(by);
                        }
                        if *source == Source::Assumed
                            && let Some(a) =
                                state.assumptions.iter().position(|a| a.expectation == e)
                        {
                            state.assumed[a] = true;
                        }
                    }
                }
                Event::Control {
                    action:
                        Action::Undo {
                            judgment: Some(which),
                            ..
                        },
                    ..
                } => {
                    if let Some(e) = which
                        .split_once(':')
                        .and_then(|(_, id)| model.expectation(id))
                        && state.expectations[e].judged.is_some()
                    {
                        state.on_unjudge(model, e);
                    }
                }
                Event::Due {
                    expectation, due, ..
                } => {
                    if let Some(e) = model.expectation(expectation) {
                        state.expectations[e].due =
                            Some(crate::timeline::moved(*due, -clock.shift()));
                    }
                }
                Event::Expired { expectation, at } => {
                    if let Some(e) = model.expectation(expectation)
                        && state.expectations[e].judged.is_none()
                    {
                        state.judge(e, Outcome::Missed, *at, "deadline", None);
                    }
                }
                Event::Void {
                    expectation, at, ..
                } => {
                    if let Some(e) = model.expectation(expectation)
                        && state.expectations[e].judged.is_none()
                    {
                        state.judge(e, Outcome::Void, *at, "deadline", None);
                    }
                }
                Event::Triggered {
                    inject,
                    because,
                    at,
                } => {
                    if let Some(c) = inject_of(inject) {
                        state.conditionals[c] =
                            ConditionalState::Triggered(clock.base(*at), because.clone());
                    }
                }
                Event::NotTriggered {
                    inject, because, ..
                } => {
                    if let Some(c) = inject_of(inject) {
                        state.not_triggered(model, c, because.clone());
                    }
                }
                _ => {}
            }
        }
        state
    }
}

/// The clock a replay follows: the journal's actions move instants (holds, shifts,
/// undos), and a triggered line's base is its instant as the clock then stood. The
/// engine's clock state is one; this module, below the engine, knows it only so.
pub trait ReplayClock {
    /// Take in one journaled event (only actions change the clock).
    fn take_in(&mut self, event: &Event);
    /// The base instant (before holds and shifts) of wall-clock instant `at`.
    fn base(&self, at: DateTime<Utc>) -> DateTime<Utc>;
    /// The total move of everything not yet fired.
    fn shift(&self) -> TimeDelta;
}

fn inject_name(model: &Model, inject: usize) -> String {
    model.inject_ids[inject].clone()
}

/// Read `--assume`: `met:ID[@OFFSET]` and `missed:ID[@OFFSET]`, comma-separated, or
/// `all-met` / `all-missed` (for every expectation not named otherwise).
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
                let (id, at) = match rest.split_once('@') {
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

/// The journal's event for an effect, at wall-clock `at` with the clock's `shift`.
pub fn effect_event(
    model: &Model,
    state: &State,
    effect: &Effect,
    at: DateTime<Utc>,
    shift: TimeDelta,
) -> Event {
    let exp = |e: &usize| model.expectations[*e].id.clone();
    match effect {
        Effect::Due { expectation, due } => Event::Due {
            expectation: exp(expectation),
            due: crate::timeline::moved(*due, shift),
            at,
        },
        Effect::Assumed { expectation, met } => {
            let id = exp(expectation);
            Event::Control {
                at: state.expectations[*expectation]
                    .judged
                    .as_ref()
                    .map_or(at, |j| j.at),
                action: if *met {
                    Action::Met(id, None)
                } else {
                    Action::Missed(id, None)
                },
                moved_ms: None,
                source: Source::Assumed,
                by: None,
            }
        }
        Effect::Expired { expectation } => Event::Expired {
            expectation: exp(expectation),
            at,
        },
        Effect::Void {
            expectation,
            reason,
        } => Event::Void {
            expectation: exp(expectation),
            reason: reason.clone(),
            at,
        },
        Effect::Trigger {
            conditional,
            because,
            ..
        } => Event::Triggered {
            inject: model.conditionals[*conditional].id.clone(),
            because: because.clone(),
            at,
        },
        Effect::NotTriggered {
            conditional,
            because,
        } => Event::NotTriggered {
            inject: model.conditionals[*conditional].id.clone(),
            because: because.clone(),
            at,
        },
    }
}

/// An expectation as the page, `ctl status` and the terminal show it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ExpectationView {
    pub id: String,
    pub action: String,
    pub team: Option<String>,
    /// Its deadline as the clock now stands; `None` until its inject is sent.
    pub due: Option<DateTime<Utc>>,
    /// `met`, `missed`, `expired` or `void`; `None` while open.
    pub outcome: Option<Verdict>,
    pub by: Option<String>,
    pub at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

/// A contingency as the page and `ctl status` show it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ContingencyView {
    pub id: String,
    pub condition: String,
    /// `armed`, `triggered` or `not triggered`.
    pub state: Standing,
    pub because: Option<String>,
}

/// Where a run's branches stand, for people.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Views {
    pub expectations: Vec<ExpectationView>,
    pub contingencies: Vec<ContingencyView>,
}

impl Views {
    /// The views of `state`, deadlines moved by `shift`.
    pub fn of(model: &Model, state: &State, shift: TimeDelta) -> Views {
        Views {
            expectations: model
                .expectations
                .iter()
                .zip(&state.expectations)
                .map(|(m, s)| ExpectationView {
                    id: m.id.clone(),
                    action: m.action.clone(),
                    team: m.team.clone(),
                    // What is past stays past: an expired deadline stays where it
                    // expired, whatever holds and shifts came after.
                    due: match &s.judged {
                        Some(j) if j.verdict() == Verdict::Expired => Some(j.at),
                        _ => s.due.map(|d| crate::timeline::moved(d, shift)),
                    },
                    outcome: s.judged.as_ref().map(Judged::verdict),
                    by: s
                        .judged
                        .as_ref()
                        .map(|j| j.who.clone().unwrap_or_else(|| j.by.clone())),
                    at: s.judged.as_ref().map(|j| j.at),
                    note: s.judged.as_ref().and_then(|j| j.note.clone()),
                })
                .collect(),
            contingencies: model
                .conditionals
                .iter()
                .zip(&state.conditionals)
                .map(|(m, s)| {
                    let (state, because) = s.standing();
                    ContingencyView {
                        id: m.id.clone(),
                        condition: m.text.clone(),
                        state,
                        because: because.map(String::from),
                    }
                })
                .collect(),
        }
    }

    /// The open expectation with the nearest deadline (unknown deadlines last).
    pub fn next_open(&self) -> Option<&ExpectationView> {
        self.expectations
            .iter()
            .filter(|e| e.outcome.is_none())
            .min_by_key(|e| e.due.unwrap_or(DateTime::<Utc>::MAX_UTC))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

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
}
