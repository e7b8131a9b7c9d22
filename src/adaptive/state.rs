//! Where a run stands, and the state machine's steps: each fact in (a send, an end
//! without a send, a judgment, a deadline, an assumed judgment), the effects out.

use chrono::{DateTime, Utc};

use super::model::{
    Assumption, Cond, ConditionalState, Effect, ExpectationState, Judged, Model, Outcome, Timer,
    inject_name,
};
use crate::action::Source;
use crate::scenario::Deadline;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) enum Occ {
    #[default]
    Unknown,
    Sent,
    /// Ended without a send: skipped, failed, not triggered.
    Ended,
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
    pub(super) occurrences: Vec<Occ>,
    pub(super) assumptions: Vec<Assumption>,
    /// Assumptions already carried out.
    pub(super) assumed: Vec<bool>,
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
        if owner_of.is_some() {
            for (i, e) in model.expectations.iter().enumerate() {
                let state = &mut self.expectations[i];
                if model.owned_by[i].contains(&occ)
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

    pub(super) fn judge(
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

    pub(super) fn not_triggered(&mut self, model: &Model, c: usize, because: String) {
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
                let occs = &model.owned_by[e];
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
}
