//! The engine's side of branches ([`crate::adaptive`]): contingency occurrences added as
//! they trigger, deadlines and assumed judgments waited for like occurrences, sends
//! that matter reported back from the senders, judgments carried out, and every step
//! journaled in the producer's order (so a resume rebuilds exactly this state).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::{Dispatch, Engine, Item, Ready, control::Cursor, emit_queued, moved};
use crate::action::Source;
use crate::adaptive::{Effect, Model, State, effect_event};

/// What a send of a watched occurrence came to: its index, and when its request started
/// if it was sent (`None`: it failed).
pub type Outcome = (usize, Option<DateTime<Utc>>);

#[derive(Clone)]
/// A run's branches: the model, where they stand (a resume's replayed state), and the
/// contingency occurrences already triggered and still to fire.
pub struct Branching {
    pub model: Arc<Model>,
    pub state: State,
    /// Triggered occurrences still to fire (a resume's), in any order.
    pub extra: Vec<Item>,
    /// Contingency occurrences already done (sent, failed, skipped, uncertain, or
    /// outside `--only`): a trigger never fires them.
    pub done: HashSet<usize>,
}

impl Branching {
    /// A run's branches from the journal's events so far (none for a fresh run):
    /// judgments, deadlines and triggers replayed, the triggered occurrences not yet
    /// done (by `prior`, the journal's fold) to fire, and those outside `in_run` never.
    pub fn resume<'a>(
        timeline: &crate::timeline::Timeline,
        model: Arc<Model>,
        events: impl IntoIterator<Item = &'a crate::event::Event>,
        prior: &crate::fold::Fold,
        in_run: &HashSet<&str>,
        assumptions: Vec<crate::adaptive::Assumption>,
    ) -> Branching {
        let index: foldhash::HashMap<&str, usize> = timeline
            .occurrences
            .iter()
            .enumerate()
            .map(|(i, o)| (o.key.as_str(), i))
            .collect();
        let state = State::replay(
            &model,
            timeline.occurrences.len(),
            &|k| index.get(k).copied(),
            events,
            assumptions,
            &mut super::ClockState::default(),
        );
        let mut done = HashSet::new();
        for c in &model.conditionals {
            for &occ in &c.occurrences {
                let key = timeline.occurrences[occ].key.as_str();
                let started = prior
                    .get(key)
                    .is_some_and(|s| s.status != crate::fold::Status::Pending);
                if started || !in_run.contains(key) {
                    done.insert(occ);
                }
            }
        }
        let mut extra = Vec::new();
        for (c, s) in model.conditionals.iter().zip(&state.conditionals) {
            if let crate::adaptive::ConditionalState::Triggered(base, _) = s {
                for &occ in c.occurrences.iter().filter(|o| !done.contains(o)) {
                    let o = &timeline.occurrences[occ];
                    extra.push(Item {
                        planned: timeline.fire_at(o).to_utc(),
                        watched: model.watched[occ],
                        ..Item::new(occ, *base + model.scaled(o.offset))
                    });
                }
            }
        }
        Branching {
            model,
            state,
            extra,
            done,
        }
    }
}

/// The producer's branches during a run.
pub(super) struct BranchCursor {
    pub(super) model: Arc<Model>,
    pub(super) state: State,
    pub(super) done: HashSet<usize>,
    /// Watched occurrences handed to the senders and not yet heard of.
    pub(super) in_flight: usize,
    /// Where the senders report watched outcomes (taken by the producer's loop).
    pub(super) outcomes: Option<mpsc::UnboundedReceiver<Outcome>>,
    /// People's judgments in this part of the run, latest last (what `undo` can take
    /// back): the expectation, when, by whom, met or not.
    pub(super) judgments: Vec<PersonsJudgment>,
}

/// A judgment a person made in this part of the run.
#[derive(Clone, Debug)]
pub(super) struct PersonsJudgment {
    /// The expectation's index.
    pub(super) expectation: usize,
    pub(super) at: DateTime<Utc>,
    pub(super) by: Option<String>,
    pub(super) met: bool,
}

impl BranchCursor {
    /// The cursor, and the triggered occurrences a resume has still to fire.
    pub(super) fn new(
        b: Branching,
        outcomes: mpsc::UnboundedReceiver<Outcome>,
    ) -> (BranchCursor, Vec<Item>) {
        let c = BranchCursor {
            model: b.model,
            state: b.state,
            done: b.done,
            in_flight: 0,
            outcomes: Some(outcomes),
            judgments: Vec::new(),
        };
        (c, b.extra)
    }
}

impl<D: Dispatch> Engine<D> {
    /// Journal `effects` (in order, one `fsync` for all) and fire what they trigger.
    /// `at` is the wall-clock instant of the step that decided them.
    pub(super) async fn branch_effects(
        &self,
        cursor: &mut Cursor,
        effects: Vec<Effect>,
        at: DateTime<Utc>,
    ) -> std::io::Result<()> {
        let Some(b) = cursor.branch.as_mut() else {
            return Ok(());
        };
        if effects.is_empty() {
            return Ok(());
        }
        let mut last = 0;
        let model = b.model.clone();
        let mut triggered = Vec::new();
        for effect in &effects {
            let event = effect_event(&b.model, &b.state, effect, at, cursor.clock.shift);
            last = emit_queued(&self.journal, &*self.events, event)?;
            if let Effect::Trigger {
                conditional, base, ..
            } = effect
            {
                for &occ in &model.conditionals[*conditional].occurrences {
                    if b.done.contains(&occ) {
                        continue;
                    }
                    let o = &self.timeline().occurrences[occ];
                    let item = Item {
                        watched: b.model.watched[occ],
                        ..Item::new(occ, *base + b.model.scaled(o.offset))
                    };
                    // `ts` follows the actual instant: planned as if triggered at T0.
                    let item = Item {
                        planned: self.timeline().fire_at(o).to_utc(),
                        ..item
                    };
                    triggered.push(item);
                }
            }
        }
        for item in triggered {
            cursor.insert_extra(item);
        }
        self.journal.durable(last).await
    }

    /// A group went to the senders (`prepared`, the rest skipped or failed at once):
    /// count the watched ones in flight, mark contingency occurrences done, and take in
    /// the ends of watched ones that never went.
    pub(super) async fn dispatched(
        &self,
        cursor: &mut Cursor,
        group: &[Item],
        prepared: &[Ready<D>],
    ) -> std::io::Result<()> {
        let Some(b) = cursor.branch.as_mut() else {
            return Ok(());
        };
        let went: HashSet<usize> = prepared.iter().map(|(i, _)| i.occ).collect();
        let mut effects = Vec::new();
        let now = self.clock.now();
        let base = cursor.clock.base(now);
        for item in group {
            if b.model.is_conditional(&self.timeline(), item.occ) {
                b.done.insert(item.occ);
            }
            if !item.watched {
                continue;
            }
            if went.contains(&item.occ) {
                b.in_flight += 1;
            } else {
                effects.extend(b.state.on_ended(&b.model, item.occ, base));
            }
        }
        self.branch_effects(cursor, effects, now).await
    }

    /// A watched send's outcome came back from a sender.
    pub(super) async fn heard(&self, cursor: &mut Cursor, outcome: Outcome) -> std::io::Result<()> {
        let Some(b) = cursor.branch.as_mut() else {
            return Ok(());
        };
        b.in_flight = b.in_flight.saturating_sub(1);
        let (occ, sent_at) = outcome;
        let (effects, at) = match sent_at {
            Some(at) => {
                let inject = self.timeline().occurrences[occ].origin;
                let base = cursor.clock.base(at);
                (b.state.on_sent(&b.model, occ, Some(inject), base), at)
            }
            None => {
                let now = self.clock.now();
                (b.state.on_ended(&b.model, occ, cursor.clock.base(now)), now)
            }
        };
        self.branch_effects(cursor, effects, at).await
    }

    /// Judge an expectation (met or missed) for a person; the reply.
    pub(super) async fn judge(
        &self,
        cursor: &mut Cursor,
        id: &str,
        met: bool,
        note: Option<String>,
        source: Source,
        event: crate::event::Event,
    ) -> std::io::Result<Result<String, String>> {
        let Some(b) = cursor.branch.as_mut() else {
            return Ok(Err("this scenario has no expected actions to judge".into()));
        };
        let Some(e) = b.model.expectation(id) else {
            return Ok(Err(b.model.unknown_expectation(id)));
        };
        let now = self.clock.now();
        let base = cursor.clock.base(now);
        let word = crate::adaptive::Verdict::judged(met).word();
        match b
            .state
            .on_judge(&b.model, e, met, (now, base), source, note)
        {
            Err(prior) => {
                // The first judgment stands: this one is refused, journaled nowhere.
                let _ = event;
                Ok(Err(format!(
                    "`{id}` was already judged {} (by {}, {}); the first judgment stands and this one was not made (to change it while its branch has sent nothing: `--correct`)",
                    prior.word(),
                    prior.who.as_deref().unwrap_or(&prior.by),
                    prior.at.format("%H:%M:%S")
                )))
            }
            Ok(effects) => {
                let triggered: Vec<String> = effects
                    .iter()
                    .filter_map(|e| match e {
                        Effect::Trigger { conditional, .. } => {
                            Some(b.model.conditionals[*conditional].id.clone())
                        }
                        _ => None,
                    })
                    .collect();
                let by = match &event {
                    crate::event::Event::Control { by, .. } => by.clone(),
                    _ => None,
                };
                if let Some(j) = b.state.expectations[e].judged.as_mut() {
                    j.who.clone_from(&by);
                }
                if source != Source::Assumed {
                    b.judgments.push(PersonsJudgment {
                        expectation: e,
                        at: now,
                        by,
                        met,
                    });
                }
                let seq = emit_queued(&self.journal, &*self.events, event)?;
                self.journal.durable(seq).await?;
                self.branch_effects(cursor, effects, now).await?;
                let follows = if triggered.is_empty() {
                    String::new()
                } else {
                    format!("; triggered {}", triggered.join(", "))
                };
                Ok(Ok(format!("{id} judged {word}{follows}")))
            }
        }
    }

    /// The next added occurrence's instant (moved by the clock), if any.
    pub(super) fn next_extra(cursor: &Cursor) -> Option<DateTime<Utc>> {
        cursor
            .extra
            .first()
            .map(|i| moved(i.fire_at, cursor.clock.shift))
    }
}
