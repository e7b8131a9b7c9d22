//! The state machine and the journal: the event each effect is journaled as, and the
//! state a journal's lines leave behind on a resume.

use chrono::{DateTime, TimeDelta, Utc};

use super::model::{Assumption, ConditionalState, Effect, Model, Outcome};
use super::state::{Occ, State};
use crate::action::{Action, Source};
use crate::event::Event;
use crate::scenario::Deadline;

impl State {
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
                            if let (Some(_), Deadline::Within(d)) = (m.owner, m.deadline)
                                && model.owned_by[e].contains(&o)
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
                    action: action @ (Action::Met(id, note) | Action::Missed(id, note)),
                    source,
                    by,
                    ..
                } => {
                    if let Some(e) = model.expectation(id)
                        && state.expectations[e].judged.is_none()
                    {
                        let met = matches!(action, Action::Met(..));
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
