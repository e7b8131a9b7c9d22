//! Judgments considered and taken back: what a judgment sets off, a correction or an
//! undo of one (while its branch sent nothing), and an undo of the last clock action or
//! skip.

use chrono::{DateTime, Utc};

use super::adaptive::PersonsJudgment;
use super::control::{Consequence, Cursor};
use super::previews::{Considered, Pending, SOON};
use super::{Dispatch, Engine, moved};
use crate::action::{Action, Source};
use crate::adaptive::ConditionalState;
use crate::human;

impl<D: Dispatch> Engine<D> {
    /// A judgment: its branch, and a confirmation when that would fire within a minute.
    pub(super) fn consider_judgment(
        &self,
        action: &Action,
        id: &str,
        met: bool,
        cursor: &Cursor,
        now: DateTime<Utc>,
    ) -> Result<Considered, String> {
        let Some(b) = cursor.branch.as_ref() else {
            return Err("this scenario has no expected actions to judge".into());
        };
        let Some(e) = b.model.expectation(id) else {
            return Err(b.model.unknown_expectation(id));
        };
        if let Some(prior) = &b.state.expectations[e].judged {
            return Err(format!(
                "`{id}` was already judged {} (by {} at {}); the first judgment stands and this one was not made (to change it while its branch has sent nothing: `--correct`)",
                prior.word(),
                prior.who.as_deref().unwrap_or(&prior.by),
                self.when(prior.at, &cursor.clock)
            ));
        }
        let word = crate::adaptive::Verdict::judged(met).word();
        let mut trial = b.state.clone();
        let base = cursor.clock.base(now);
        let mut list = Vec::new();
        let mut soon = false;
        let mut follows = Vec::new();
        if let Ok(effects) = trial.on_judge(&b.model, e, met, (now, base), Source::Command, None) {
            for effect in effects {
                match effect {
                    crate::adaptive::Effect::Trigger {
                        conditional, base, ..
                    } => {
                        let c = &b.model.conditionals[conditional];
                        for &occ in c.occurrences.iter().filter(|o| !b.done.contains(o)) {
                            let o = &self.timeline().occurrences[occ];
                            let at = moved(base + b.model.scaled(o.offset), cursor.clock.shift);
                            // While held, nothing fires until the hold is released.
                            let wait = at - cursor.clock.held_since.map_or(now, |h| h.min(now));
                            soon |= wait < SOON && cursor.clock.held_since.is_none();
                            follows.push(format!(
                                "{} fires {}",
                                self.name(occ),
                                if wait <= chrono::TimeDelta::zero() {
                                    "at once".to_string()
                                } else {
                                    format!("in {}", human::duration(wait))
                                }
                            ));
                            list.push(self.consequence(occ, "fires", None, Some(at)));
                        }
                    }
                    crate::adaptive::Effect::NotTriggered { conditional, .. } => {
                        let c = &b.model.conditionals[conditional];
                        follows.push(format!("{} will not fire", c.id));
                        list.push(Consequence {
                            key: c.id.clone(),
                            effect: "not triggered".into(),
                            ..Consequence::default()
                        });
                    }
                    _ => {}
                }
            }
        }
        let mut text = if follows.is_empty() {
            format!("judges {id} {word}")
        } else {
            format!("judges {id} {word}: {}", follows.join(", "))
        };
        // Judged before the inject that asks for the action went: most likely a slip.
        let early = match (b.model.expectations[e].owner, b.state.expectations[e].due) {
            (Some(owner), None) => {
                let inject = &self.timeline().scenario.injects[owner];
                text.push_str(&format!(
                    "; careful: `{}`, the inject that asks for it, has not gone yet",
                    inject.id
                ));
                true
            }
            _ => false,
        };
        Ok(Considered::plain(action, text, soon || early, list))
    }

    /// The person's judgment that `undo` would take back: the last one made in this part
    /// of the run, when it is later than the last clock action or skip.
    pub(super) fn last_judgment(&self, cursor: &Cursor) -> Option<PersonsJudgment> {
        let last = cursor.branch.as_ref()?.judgments.last()?.clone();
        match cursor.clock.undoable.last() {
            Some(clock) if clock.at > last.at => None,
            _ => Some(last),
        }
    }

    pub(super) fn unknown_expectation(&self, cursor: &Cursor, id: &str) -> String {
        match &cursor.branch {
            Some(b) => b.model.unknown_expectation(id),
            None => "this scenario has no expected actions to judge".into(),
        }
    }

    /// Taking a judgment of `e` back (and, correcting it, judging it `met` anew): what
    /// follows, or why not (not judged by a person in this part of the run; its branch
    /// went out).
    pub(super) fn consider_unjudge(
        &self,
        action: &Action,
        e: usize,
        correct_to: Option<bool>,
        cursor: &Cursor,
        now: DateTime<Utc>,
    ) -> Result<Considered, String> {
        let b = cursor
            .branch
            .as_ref()
            .ok_or("this scenario has no expected actions")?;
        let id = &b.model.expectations[e].id;
        let Some(PersonsJudgment { at, by, met, .. }) = b
            .judgments
            .iter()
            .rev()
            .find(|j| j.expectation == e)
            .cloned()
        else {
            return Err(match &b.state.expectations[e].judged {
                None => format!("`{id}` is not judged yet: judge it without --correct"),
                Some(j) => format!(
                    "`{id}` was {} by {} at {}, not by a person in this part of the run: it cannot be taken back",
                    j.word(),
                    j.by,
                    self.when(j.at, &cursor.clock)
                ),
            });
        };
        let word = |met: bool| crate::adaptive::Verdict::judged(met).word();
        if correct_to == Some(met) {
            return Err(format!(
                "`{id}` was already judged {} (by {} at {})",
                word(met),
                by.as_deref().unwrap_or("someone"),
                self.when(at, &cursor.clock)
            ));
        }
        let what = format!(
            "the judgment of {id} ({}, by {} at {})",
            word(met),
            by.as_deref().unwrap_or("someone"),
            self.when(at, &cursor.clock)
        );
        let mut trial = b.state.clone();
        let rearmed = trial.on_unjudge(&b.model, e);
        let mut list = vec![Consequence {
            key: id.clone(),
            effect: "open again".into(),
            subject: b.model.expectations[e].action.clone(),
            ..Consequence::default()
        }];
        let mut parts = Vec::new();
        for (c, before) in &rearmed {
            let cm = &b.model.conditionals[*c];
            if let ConditionalState::Triggered(..) = before {
                if let Some((occ, went)) = cm
                    .occurrences
                    .iter()
                    .find_map(|o| cursor.went.iter().find(|(w, _)| w == o))
                {
                    return Err(format!(
                        "cannot take back {what}: its branch {} went out at {}; nothing was changed (undo takes back the latest action only, so the ones before it stay too)",
                        self.name(*occ),
                        self.when(*went, &cursor.clock)
                    ));
                }
                parts.push(format!("{} will not fire", cm.id));
            } else {
                parts.push(format!("{} is armed again", cm.id));
            }
            list.push(Consequence {
                key: cm.id.clone(),
                effect: "armed again".into(),
                ..Consequence::default()
            });
        }
        let mut text = match correct_to {
            None => format!("takes back {what}: it is open again"),
            Some(m) => format!("corrects {what} to {}", word(m)),
        };
        if !parts.is_empty() {
            text.push_str(&format!("; {}", parts.join(", ")));
        }
        if let Some(m) = correct_to {
            // And what the new judgment sets off, judged on the state without the old one.
            let mut after = cursor
                .branch
                .as_ref()
                .map(|b| b.state.clone())
                .unwrap_or_default();
            after.on_unjudge(&b.model, e);
            let base = cursor.clock.base(now);
            if let Ok(effects) = after.on_judge(&b.model, e, m, (now, base), Source::Command, None)
            {
                for effect in effects {
                    if let crate::adaptive::Effect::Trigger { conditional, .. } = effect {
                        let cm = &b.model.conditionals[conditional];
                        text.push_str(&format!("; {} fires", cm.id));
                        list.push(Consequence {
                            key: cm.id.clone(),
                            effect: "fires".into(),
                            ..Consequence::default()
                        });
                    }
                }
            }
        } else if let Some(due) = trial.expectations[e].due {
            let due = moved(due, cursor.clock.shift);
            text.push_str(&if due <= now {
                "; its deadline has passed, so it expires at once".to_string()
            } else {
                format!("; its deadline is in {}", human::duration(due - now))
            });
        }
        Ok(Considered::plain(action, text, true, list))
    }

    /// Undo the last clock action or skip, while nothing it caused went out.
    pub(super) fn consider_undo(
        &self,
        action: &Action,
        pending: &[Pending],
        cursor: &Cursor,
        now: DateTime<Utc>,
    ) -> Result<Considered, String> {
        let clock = &cursor.clock;
        let Some(last) = clock.undoable.last() else {
            return Err(
                "nothing to undo: no hold, release, shift, skip or unskip in this run".into(),
            );
        };
        let what = self.undo_words(cursor);
        if last.at < cursor.began {
            return Err(format!(
                "cannot undo {what}: it was done before this run was resumed"
            ));
        }
        let after = clock.undone().expect("something to undo");
        let touches = |occ: usize| match &last.action {
            Action::Skip(k) | Action::Unskip(k) => self.names(occ, k),
            _ => true,
        };
        let went: Vec<&(usize, DateTime<Utc>)> = cursor
            .went
            .iter()
            .filter(|(occ, at)| *at >= last.at && touches(*occ))
            .collect();
        if !went.is_empty() {
            return Err(format!(
                "cannot undo {what}: since then {} went out ({}); nothing was changed (undo takes back the latest action only, so the ones before it stay too)",
                human::count(went.len(), "occurrence", "occurrences"),
                self.listing(went.iter().map(|(o, at)| (*o, *at)))
            ));
        }
        // Skips: the occurrences it skipped that already passed their instant stay skipped.
        if let Action::Skip(k) = &last.action {
            let passed = cursor
                .passed
                .iter()
                .filter(|occ| self.names(**occ, k))
                .count();
            if passed > 0 && !pending.iter().any(|p| self.names(p.occ, k)) {
                return Err(format!(
                    "cannot undo {what}: it already took effect ({} skipped at {} instant{})",
                    human::count(passed, "occurrence was", "occurrences were"),
                    if passed == 1 { "its" } else { "their" },
                    if passed == 1 { "" } else { "s" }
                ));
            }
        }
        let reference = after.held_since.unwrap_or(now);
        let mut list = Vec::new();
        let mut late = 0;
        for p in pending {
            let to = moved(p.at, after.shift - clock.shift);
            let skipped = self.skipped_by(&after, p.occ);
            let effect = if skipped && !p.skipped {
                "skipped"
            } else if p.skipped && !skipped {
                "fires again"
            } else if skipped {
                continue;
            } else if to < reference {
                late += 1;
                "sent at once"
            } else if to != p.at {
                "moves"
            } else {
                continue;
            };
            list.push(self.consequence(p.occ, effect, Some(p.at), Some(to)));
        }
        let mut text = format!("undoes {what}");
        let delta = (after.shift - clock.shift).num_milliseconds();
        if delta != 0 {
            text.push_str(&format!(
                ": {} move {}",
                human::count(
                    pending.iter().filter(|p| !p.skipped).count(),
                    "pending occurrence",
                    "pending occurrences"
                ),
                human::moved_ms(delta)
            ));
        }
        if after.held_since.is_some() != clock.held_since.is_some() {
            text.push_str(if after.held_since.is_some() {
                "; the clock is held again"
            } else {
                "; the clock runs again"
            });
        }
        if late > 0 {
            text.push_str(&format!(
                "; {} would be due in the past and would go at once (or be skipped if later than --late-max)",
                late
            ));
        }
        let confirm = !matches!(last.action, Action::Skip(_) | Action::Unskip(_)) || list.len() > 1;
        Ok(Considered::plain(action, text, confirm, list))
    }

    /// The last undoable action in words: `the shift of 2m earlier by dana at 10:02:13`.
    pub(super) fn undo_words(&self, cursor: &Cursor) -> String {
        let Some(last) = cursor.clock.undoable.last() else {
            return "nothing".into();
        };
        let what = match &last.action {
            Action::Hold => "the hold".to_string(),
            Action::Resume => format!(
                "the release of the hold (after {})",
                human::duration_ms(last.moved_ms.unwrap_or(0))
            ),
            Action::Shift(ms) => format!("the shift of {}", human::moved_ms(*ms)),
            Action::Skip(k) => format!("the skip of {k}"),
            Action::Unskip(k) => format!("the unskip of {k}"),
            other => other.name().to_string(),
        };
        format!(
            "{what} by {} at {}",
            last.by.as_deref().unwrap_or("someone"),
            self.when(last.at, &cursor.clock)
        )
    }
}
