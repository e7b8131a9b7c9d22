//! What an action would do, considered before it is done: the preview of each
//! action (its words, its list, whether it needs a confirmation), or why it is refused.

use chrono::{DateTime, Utc};

use super::control::{Ask, Consequence, Cursor, Preview};
use super::words::rfc;
use super::{Dispatch, Engine, Item, LatePolicy, moved};
use crate::action::{Action, Source};
use crate::adaptive::ConditionalState;
use crate::human;

/// A judgment whose branch would fire sooner than this after it needs a confirmation.
pub(super) const SOON: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// One occurrence still to fire: fixed (its index among the run's items) or triggered
/// (its place among the triggered ones), at its instant as the clock now stands.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pending {
    pub(super) occ: usize,
    pub(super) at: DateTime<Utc>,
    pub(super) fixed: Option<usize>,
    pub(super) extra: Option<usize>,
    pub(super) skipped: bool,
}

/// What an action, once considered, would do.
pub(super) struct Considered {
    pub(super) preview: Preview,
    /// For a shift: the occurrences it would move into the past (they go at once or are
    /// skipped, as its `late` says).
    pub(super) past: Vec<Pending>,
}

impl Considered {
    /// An action that does what its preview says, and nothing more.
    pub(super) fn plain(
        action: &Action,
        text: String,
        confirm: bool,
        list: Vec<Consequence>,
    ) -> Considered {
        Considered {
            preview: Preview::new(action, text, confirm, list),
            past: Vec::new(),
        }
    }
}

impl<D: Dispatch> Engine<D> {
    /// What `action` would do now, or why it is refused.
    pub(super) fn consider(
        &self,
        action: &Action,
        ask: &Ask,
        items: &[Item],
        cursor: &Cursor,
        now: DateTime<Utc>,
    ) -> Result<Considered, String> {
        let plain = |text, confirm, list| Considered::plain(action, text, confirm, list);
        let pending = self.pending(items, cursor);
        let clock = &cursor.clock;
        match action {
            Action::Note { .. } => Ok(plain("takes a note".into(), false, Vec::new())),
            Action::Rate { .. } => Ok(plain("rates an objective".into(), false, Vec::new())),
            Action::Send { .. } | Action::Amend { .. } | Action::Apply { .. } => Err(
                "an ad hoc inject, an amendment or an apply is considered when it is made".into(),
            ),
            Action::Hold => match clock.held_since {
                Some(since) => Err(format!(
                    "already held since {}",
                    self.when(since, &cursor.clock)
                )),
                None => Ok(plain(
                    "holds the clock: nothing fires until the hold is released".into(),
                    false,
                    Vec::new(),
                )),
            },
            Action::Resume => self.consider_resume(action, &pending, cursor, now),
            Action::Shift(ms) => self.consider_shift(action, *ms, ask.late, &pending, cursor, now),
            Action::Skip(key) => self.consider_skip(action, key, &pending, cursor),
            Action::Retry(key) => {
                let Some(occ) = self.retryable(key, cursor) else {
                    return Err(self.not_failed(key, items, cursor));
                };
                let maybe = cursor
                    .failed
                    .lock()
                    .ok()
                    .and_then(|f| f.get(&occ).copied())
                    .unwrap_or(false);
                let mut text = format!("sends {} again now", self.name(occ));
                if maybe {
                    text.push_str(
                        ": its last attempt may have reached the server, so players may see it twice",
                    );
                }
                Ok(plain(
                    text,
                    maybe,
                    vec![self.consequence(occ, "sent at once", None, Some(now))],
                ))
            }
            Action::Unskip(key) => self.consider_unskip(action, key, ask, &pending, cursor, now),
            Action::Fire(key) => self.consider_fire(action, key, ask, items, cursor, now),
            Action::Met(id, _) | Action::Missed(id, _) => {
                let met = matches!(action, Action::Met(..));
                if ask.correct {
                    let e = cursor
                        .branch
                        .as_ref()
                        .and_then(|b| b.model.expectation(id))
                        .ok_or_else(|| self.unknown_expectation(cursor, id))?;
                    return self.consider_unjudge(action, e, Some(met), cursor, now);
                }
                self.consider_judgment(action, id, met, cursor, now)
            }
            Action::End => self.consider_end(action, &pending, cursor),
            Action::Undo { .. } => match self.last_judgment(cursor) {
                Some(j) => self.consider_unjudge(action, j.expectation, None, cursor, now),
                None => self.consider_undo(action, &pending, cursor, now),
            },
        }
    }

    /// A release: everything pending moves by the hold's length (asks after a long hold).
    fn consider_resume(
        &self,
        action: &Action,
        pending: &[Pending],
        cursor: &Cursor,
        now: DateTime<Utc>,
    ) -> Result<Considered, String> {
        let plain = |text, confirm, list| Considered::plain(action, text, confirm, list);
        let clock = &cursor.clock;
        let Some(since) = clock.held_since else {
            return Err("not held".into());
        };
        let held = now - since;
        let live: Vec<&Pending> = pending.iter().filter(|p| !p.skipped).collect();
        let list = live
            .iter()
            .map(|p| self.consequence(p.occ, "moves", Some(p.at), Some(moved(p.at, held))))
            .collect();
        let next = live.first().map_or(String::new(), |p| {
            format!(
                " (next: {} at {})",
                self.name(p.occ),
                self.clock_time(moved(p.at, held))
            )
        });
        Ok(plain(
            format!(
                "releases the hold of {}: {} move {} later{next}",
                human::duration(held),
                human::count(live.len(), "pending occurrence", "pending occurrences"),
                human::duration(held)
            ),
            held.to_std().unwrap_or_default() > self.config.late_max,
            list,
        ))
    }

    /// A skip: one occurrence, or every pending one of an inject (asks for several).
    fn consider_skip(
        &self,
        action: &Action,
        key: &str,
        pending: &[Pending],
        cursor: &Cursor,
    ) -> Result<Considered, String> {
        let plain = |text, confirm, list| Considered::plain(action, text, confirm, list);
        let clock = &cursor.clock;
        if let Some(s) = clock.skipped_by.iter().find(|s| s.key == key) {
            return Err(format!(
                "`{key}` is already skipped (by {} at {})",
                s.by.as_deref().unwrap_or("someone"),
                self.when(s.at, &cursor.clock)
            ));
        }
        let named: Vec<&Pending> = pending
            .iter()
            .filter(|p| !p.skipped && self.names(p.occ, key))
            .collect();
        if named.is_empty() {
            // Skipped already, by its inject's id.
            if let Some(s) = pending
                .iter()
                .find(|p| p.skipped && self.names(p.occ, key))
                .and_then(|p| clock.skipped_by.iter().find(|s| self.names(p.occ, &s.key)))
            {
                return Err(format!(
                    "`{key}` is already skipped: `{}` was skipped by {} at {}",
                    s.key,
                    s.by.as_deref().unwrap_or("someone"),
                    self.when(s.at, &cursor.clock)
                ));
            }
            return Err(self.not_pending(key, cursor));
        }
        let list: Vec<Consequence> = named
            .iter()
            .map(|p| self.consequence(p.occ, "skipped", Some(p.at), None))
            .collect();
        let text = if named.len() == 1 {
            format!(
                "skips {} (due {})",
                self.name(named[0].occ),
                self.when(named[0].at, &cursor.clock)
            )
        } else {
            format!(
                "skips {} of {key}: {}",
                human::count(named.len(), "pending occurrence", "pending occurrences"),
                self.listing(named.iter().map(|p| (p.occ, p.at)))
            )
        };
        Ok(plain(text, named.len() > 1, list))
    }

    /// An unskip: of one skipped when its instant came (now or at a time given), or
    /// of a skip still to take effect.
    fn consider_unskip(
        &self,
        action: &Action,
        key: &str,
        ask: &Ask,
        pending: &[Pending],
        cursor: &Cursor,
        now: DateTime<Utc>,
    ) -> Result<Considered, String> {
        let plain = |text, confirm, list| Considered::plain(action, text, confirm, list);
        let clock = &cursor.clock;
        let mut after = clock.clone();
        let passed = self.passed_named(key, cursor);
        if ask.at.is_some() && passed.is_empty() {
            return Err(format!(
                "--at and --in are for an occurrence skipped when its instant came; `{key}` has none (unskip it without them)"
            ));
        }
        if !passed.is_empty() {
            // Skipped when their instant came: they go now, or at the time given.
            let (due, when, effect) = match ask.at {
                Some(when) => {
                    let due = self.due_of(when, cursor, now);
                    if due <= clock.held_since.unwrap_or(now) {
                        return Err(format!(
                            "{} is already past: give a time to come, or leave --at out to send it now",
                            self.when(due, &cursor.clock)
                        ));
                    }
                    (
                        due,
                        format!("at {}", self.when(due, &cursor.clock)),
                        "fires",
                    )
                }
                None => (now, "now".to_string(), "sent at once"),
            };
            let names: Vec<String> = passed.iter().map(|&o| self.name(o)).collect();
            return Ok(plain(
                format!(
                    "sends {} {when}: skipped when {} came",
                    names.join(", "),
                    if passed.len() == 1 {
                        "its instant"
                    } else {
                        "their instants"
                    }
                ),
                // Sent at once, or several: asked first.
                ask.at.is_none() || passed.len() > 1,
                passed
                    .iter()
                    .map(|&o| self.consequence(o, effect, None, Some(due)))
                    .collect(),
            ));
        }
        if !self.names_any_occurrence(key) {
            return Err(format!("no occurrence `{key}`{}", self.did_you_mean(key)));
        }
        if !after.unskip(key) {
            return Err(format!("`{key}` is not skipped"));
        }
        let back: Vec<&Pending> = pending
            .iter()
            .filter(|p| p.skipped && !self.skipped_by(&after, p.occ))
            .collect();
        let list = back
            .iter()
            .map(|p| self.consequence(p.occ, "fires", Some(p.at), Some(p.at)))
            .collect();
        Ok(plain(
            format!(
                "unskips {key}: {} at {} instant{} again",
                human::count(back.len(), "occurrence fires", "occurrences fire"),
                if back.len() == 1 { "its" } else { "their" },
                if back.len() == 1 { "" } else { "s" }
            ),
            back.len() > 1,
            list,
        ))
    }

    /// An end: what will never be sent, and what is left open.
    fn consider_end(
        &self,
        action: &Action,
        pending: &[Pending],
        cursor: &Cursor,
    ) -> Result<Considered, String> {
        let plain = |text, confirm, list| Considered::plain(action, text, confirm, list);
        let live: Vec<&Pending> = pending.iter().filter(|p| !p.skipped).collect();
        let open = cursor.branch.as_ref().map_or(0, |b| {
            b.state
                .expectations
                .iter()
                .filter(|e| e.judged.is_none())
                .count()
        });
        let mut list: Vec<Consequence> = live
            .iter()
            .map(|p| self.consequence(p.occ, "never sent", Some(p.at), None))
            .collect();
        if let Some(b) = &cursor.branch {
            for (m, s) in b.model.expectations.iter().zip(&b.state.expectations) {
                if s.judged.is_none() {
                    list.push(Consequence {
                        key: m.id.clone(),
                        effect: "left open".into(),
                        subject: m.action.clone(),
                        ..Consequence::default()
                    });
                }
            }
        }
        let text = if live.is_empty() && open == 0 {
            "ends the exercise: nothing is left to send or judge; the run stops and writes its summary".to_string()
        } else {
            let mut parts = Vec::new();
            if !live.is_empty() {
                parts.push(format!(
                    "{} will not be sent (next: {} at {})",
                    human::count(
                        live.len(),
                        "occurrence not yet sent",
                        "occurrences not yet sent"
                    ),
                    self.name(live[0].occ),
                    self.when(live[0].at, &cursor.clock)
                ));
            }
            if open > 0 {
                parts.push(format!(
                    "{} still open stay open (unjudged; a resume can judge them)",
                    human::count(open, "expected action", "expected actions")
                ));
            }
            format!(
                "ends the exercise now: {} (a resume can take it up again)",
                parts.join("; ")
            )
        };
        Ok(plain(text, true, list))
    }

    /// A shift by `ms`: every pending occurrence and open deadline moves; one moved into
    /// the past is refused unless `late` says what to do with it.
    pub(super) fn consider_shift(
        &self,
        action: &Action,
        ms: i64,
        late: Option<LatePolicy>,
        pending: &[Pending],
        cursor: &Cursor,
        now: DateTime<Utc>,
    ) -> Result<Considered, String> {
        let clock = &cursor.clock;
        let total = clock.shift.num_milliseconds().saturating_add(ms);
        if !crate::action::move_in_range(ms) || !crate::action::move_in_range(total) {
            return Err(format!(
                "a shift of {} would move the timeline more than 366 days in all",
                human::signed_ms(ms)
            ));
        }
        let by = chrono::TimeDelta::milliseconds(ms);
        // While held, the exercise's clock stands at the hold's start.
        let reference = clock.held_since.unwrap_or(now);
        let live: Vec<Pending> = pending.iter().filter(|p| !p.skipped).copied().collect();
        let past: Vec<Pending> = live
            .iter()
            .filter(|p| moved(p.at, by) < reference)
            .copied()
            .collect();
        if !past.is_empty() && late.is_none() {
            let earliest = past.iter().map(|p| p.at).min().unwrap_or(reference);
            let room = (earliest - reference).num_milliseconds().max(0) / 1000 * 1000;
            let largest = if room >= 1000 {
                format!(
                    "the largest shift earlier that keeps every one in the future is {}",
                    human::signed_ms(-room)
                )
            } else {
                format!(
                    "the next one, {}, is due {}: no earlier shift keeps it in the future",
                    self.name(past[0].occ),
                    if room > 0 { "in under a second" } else { "now" }
                )
            };
            return Err(format!(
                "a shift of {} would move {} into the past (the earliest would be due {} ago): {largest}; or say what happens to them with --late fire (sent at once) or --late skip (skipped as too late)",
                human::signed_ms(ms),
                human::count(past.len(), "pending occurrence", "pending occurrences"),
                human::duration(reference - moved(past[0].at, by)),
            ));
        }
        let past_effect = match late {
            Some(LatePolicy::Skip) => "skipped",
            _ => "sent at once",
        };
        let mut list: Vec<Consequence> = live
            .iter()
            .map(|p| {
                let to = moved(p.at, by);
                let effect = if to < reference { past_effect } else { "moves" };
                self.consequence(p.occ, effect, Some(p.at), Some(to))
            })
            .collect();
        let mut expiring = 0;
        if let Some(b) = &cursor.branch {
            for (m, s) in b.model.expectations.iter().zip(&b.state.expectations) {
                if s.judged.is_some() {
                    continue;
                }
                if let Some(due) = s.due {
                    let from = moved(due, clock.shift);
                    let to = moved(from, by);
                    let expires = to < reference;
                    expiring += usize::from(expires);
                    list.push(Consequence {
                        key: m.id.clone(),
                        effect: if expires { "expires" } else { "deadline moves" }.into(),
                        subject: m.action.clone(),
                        from: Some(rfc(from)),
                        to: Some(rfc(to)),
                        body: None,
                    });
                }
            }
        }
        let mut text = format!(
            "moves {} {}",
            human::count(live.len(), "pending occurrence", "pending occurrences"),
            human::moved_ms(ms)
        );
        // A shift is wall-clock time: say what it is in the scenario's time.
        if self.timeline().speed != 1.0 && !self.config.max_speed {
            text.push_str(&format!(
                " of real time ({} of scenario time at speed {})",
                human::duration_ms((ms as f64 * self.timeline().speed) as i64),
                self.timeline().speed
            ));
        }
        if !past.is_empty() {
            let earliest = past
                .iter()
                .map(|p| moved(p.at, by))
                .min()
                .unwrap_or(reference);
            text.push_str(&format!(
                ": {} would be due in the past (earliest {} ago) and would be {}",
                past.len(),
                human::duration(reference - earliest),
                if late == Some(LatePolicy::Skip) {
                    "skipped as too late"
                } else {
                    "sent at once"
                }
            ));
        } else if let Some(first) = live.first() {
            text.push_str(&format!(
                " (next: {} at {})",
                self.name(first.occ),
                self.clock_time(moved(first.at, by))
            ));
        }
        if expiring > 0 {
            text.push_str(&format!(
                "; {} would expire",
                human::count(expiring, "expected action", "expected actions")
            ));
        }
        Ok(Considered {
            preview: Preview::new(action, text, true, list),
            past,
        })
    }

    /// Fire now: a pending occurrence (no confirmation), an armed contingency (its
    /// condition judged by the firing, when it is one judgment), or, forced, one whose
    /// condition can no longer hold.
    pub(super) fn consider_fire(
        &self,
        action: &Action,
        key: &str,
        ask: &Ask,
        items: &[Item],
        cursor: &Cursor,
        now: DateTime<Utc>,
    ) -> Result<Considered, String> {
        let plain = |text, confirm, list| Considered::plain(action, text, confirm, list);
        if let Some(k) = self.find(items, cursor, key) {
            let occ = items[k].occ;
            return Ok(plain(
                format!(
                    "sends {} now (it was due {})",
                    self.name(occ),
                    self.when(moved(items[k].fire_at, cursor.clock.shift), &cursor.clock)
                ),
                false,
                vec![self.consequence(occ, "sent at once", None, Some(now))],
            ));
        }
        if let Some((occ, extra)) = self.find_contingent(cursor, key) {
            if extra.is_some() {
                return Ok(plain(
                    format!("sends {} now", self.name(occ)),
                    false,
                    vec![self.consequence(occ, "sent at once", None, Some(now))],
                ));
            }
            let b = cursor.branch.as_ref().expect("a contingency has branches");
            let c = b
                .model
                .conditionals
                .iter()
                .find(|c| c.occurrences.contains(&occ))
                .expect("its contingency");
            let mut list = vec![self.consequence(occ, "sent at once", None, Some(now))];
            let mut text = format!(
                "sends {} now, before its condition `{}` holds",
                self.name(occ),
                c.text
            );
            if let Some((e, met)) = c.judgment() {
                let word = crate::adaptive::Verdict::judged(met).word();
                let id = &b.model.expectations[e].id;
                text.push_str(&format!(": this judges {id} {word}"));
                list.push(Consequence {
                    key: id.clone(),
                    effect: format!("judged {word}"),
                    subject: b.model.expectations[e].action.clone(),
                    ..Consequence::default()
                });
                let mut trial = b.state.clone();
                let base = cursor.clock.base(now);
                if let Ok(effects) =
                    trial.on_judge(&b.model, e, met, (now, base), Source::Command, None)
                {
                    for effect in effects {
                        if let crate::adaptive::Effect::NotTriggered { conditional, .. } = effect {
                            let other = &b.model.conditionals[conditional];
                            text.push_str(&format!(" and disarms {}", other.id));
                            list.push(Consequence {
                                key: other.id.clone(),
                                effect: "not triggered".into(),
                                ..Consequence::default()
                            });
                        }
                    }
                }
            }
            return Ok(plain(text, true, list));
        }
        // A contingency that can no longer fire: refused, unless forced.
        if let Some(b) = &cursor.branch
            && let Some((c, state)) = b
                .model
                .conditionals
                .iter()
                .zip(&b.state.conditionals)
                .find(|(c, _)| c.id == key || self.names_any(&c.occurrences, key))
            && let ConditionalState::NotTriggered(because) = state
        {
            let occ = c
                .occurrences
                .iter()
                .copied()
                .find(|o| !b.done.contains(o) && self.names(*o, key));
            let sent = self.alternatives_sent(c, cursor);
            let Some(occ) = occ.filter(|_| ask.force) else {
                return Err(format!(
                    "{} will not fire: {because}{sent}; pass --force to send it anyway",
                    c.id
                ));
            };
            return Ok(plain(
                format!("sends {} now although {because}{sent}", self.name(occ)),
                true,
                vec![self.consequence(occ, "sent at once", None, Some(now))],
            ));
        }
        Err(self.not_pending(key, cursor))
    }

    /// What other contingencies on the same expectation already sent: `; x went at ...`.
    pub(super) fn alternatives_sent(
        &self,
        c: &crate::adaptive::ConditionalModel,
        cursor: &Cursor,
    ) -> String {
        let Some(b) = &cursor.branch else {
            return String::new();
        };
        let Some((e, _)) = c.judgment() else {
            return String::new();
        };
        let mut out = String::new();
        for other in &b.model.conditionals {
            if other.id == c.id || other.judgment().is_none_or(|(o, _)| o != e) {
                continue;
            }
            for &occ in &other.occurrences {
                if let Some((_, at)) = cursor.went.iter().find(|(o, _)| *o == occ) {
                    out.push_str(&format!(
                        "; {} went at {}",
                        self.name(occ),
                        self.when(*at, &cursor.clock)
                    ));
                }
            }
        }
        out
    }
}
