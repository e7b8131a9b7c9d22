//! Live actions carried out by the producer, each considered first: what it would do, in
//! words and as a list ([`Preview`]), whether that needs a person's confirmation (it
//! changes more than the one thing it names, or sends or skips anything at once), and
//! why it is refused when it is. A preview asked for changes nothing; an action that
//! needs a confirmation and has none answers with its preview; a confirmation naming a
//! preview whose consequences have changed since answers with the new one.
//!
//! Every change to the clock goes through [`ClockState::apply`] of the journaled event,
//! as a resume's replay does, so that a live run and its resume agree.

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::control::{Ask, ClockState, Consequence, Cursor, Preview, Reply};
use super::{Dispatch, Engine, Item, LatePolicy, Prepared, moved};
use crate::action::{Action, Source};
use crate::branch::ConditionalState;
use crate::event::Event;
use crate::human;

/// A judgment whose branch would fire sooner than this after it needs a confirmation.
const SOON: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// One occurrence still to fire: fixed (its index among the run's items) or triggered
/// (its place among the triggered ones), at its instant as the clock now stands.
#[derive(Clone, Copy, Debug)]
struct Pending {
    occ: usize,
    at: DateTime<Utc>,
    fixed: Option<usize>,
    extra: Option<usize>,
    skipped: bool,
}

/// What an action, once considered, would do.
struct Considered {
    preview: Preview,
    /// For a shift: the occurrences it would move into the past (they go at once or are
    /// skipped, as its `late` says).
    past: Vec<Pending>,
}

impl Considered {
    /// An action that does what its preview says, and nothing more.
    fn plain(action: &Action, text: String, confirm: bool, list: Vec<Consequence>) -> Considered {
        Considered {
            preview: Preview::new(action, text, confirm, list),
            past: Vec::new(),
        }
    }
}

impl<D: Dispatch> Engine<D> {
    /// Carry out one action as asked; the reply says what happened, why not, or what
    /// it would do.
    pub(super) async fn apply(
        &self,
        action: Action,
        ask: &Ask,
        (source, by): (Source, Option<String>),
        items: &[Item],
        cursor: &mut Cursor,
        tx: &mpsc::Sender<Prepared<D>>,
    ) -> std::io::Result<Reply> {
        let now = self.clock.now();
        if let Action::Note { .. } = action {
            return self.note(action, source, by, cursor).await;
        }
        let considered = match self.consider(&action, ask, items, cursor, now) {
            Ok(c) => c,
            Err(why) => return Ok(Reply::Refused(why)),
        };
        let mut preview = considered.preview;
        preview.timezone = self
            .timeline
            .scenario
            .timezone
            .map(|z| z.name().to_string());
        if ask.preview {
            return Ok(Reply::Preview(preview));
        }
        if preview.confirm {
            match ask.confirmed.as_deref() {
                None => return Ok(Reply::Preview(preview)),
                Some(id) if !id.is_empty() && id != preview.id => {
                    let mut changed = preview;
                    changed.text = format!(
                        "{} (what it would do changed since the preview you confirmed)",
                        changed.text
                    );
                    return Ok(Reply::Preview(changed));
                }
                Some(_) => {}
            }
        }
        let event = |action: Action, moved_ms: Option<i64>| Event::Control {
            at: now,
            action,
            moved_ms,
            source,
            by: by.clone(),
        };
        match &action {
            Action::Note { .. } => unreachable!("taken above"),
            Action::End => {
                self.emit(event(action.clone(), None)).await?;
                cursor.ended = true;
                cursor.ended_by = by.clone();
                cursor.stopped = true;
                let left = self.pending(items, cursor).iter().any(|p| !p.skipped);
                Ok(Reply::Done(if left {
                    "ended: nothing more fires (a resume can take it up again)".into()
                } else {
                    "ended: the exercise is over, nothing was left to send".into()
                }))
            }
            Action::Met(id, note) | Action::Missed(id, note) => {
                let met = matches!(action, Action::Met(..));
                let mut corrected = String::new();
                if ask.correct {
                    let what = self.undo_judgment(cursor, id, (source, by.clone())).await?;
                    corrected = format!(" (corrected: {what} taken back)");
                }
                let e = event(action.clone(), None);
                let reply = self.judge(cursor, id, met, note.clone(), source, e).await?;
                Ok(match reply {
                    Ok(m) => Reply::Done(format!("{m}{corrected}")),
                    Err(m) => Reply::Refused(m),
                })
            }
            Action::Fire(key) => self.fire(key, ask, (source, by), items, cursor, tx).await,
            Action::Retry(key) => {
                let Some(occ) = self.retryable(key, cursor) else {
                    return Ok(Reply::Refused(self.not_failed(key, items, cursor)));
                };
                // Never twice: no longer failed until this send fails too.
                if let Ok(mut f) = cursor.failed.lock() {
                    f.remove(&occ);
                }
                let occ_key = self.timeline.occurrences[occ].key.clone();
                self.emit(event(Action::Retry(occ_key.clone()), None))
                    .await?;
                let item = self.item_now(occ, items, cursor, now);
                self.go_now(std::slice::from_ref(&item), cursor, tx, now)
                    .await?;
                Ok(Reply::Done(format!("{occ_key} sent again")))
            }
            Action::Hold => {
                self.carry(cursor, event(Action::Hold, None)).await?;
                Ok(Reply::Done(
                    "held: nothing fires until the hold is released".into(),
                ))
            }
            Action::Resume => {
                let since = cursor.clock.held_since.unwrap_or(now);
                // Bounded like a shift: a clock that jumped years cannot take the
                // timeline out of range.
                let room = crate::action::MAX_MOVE_MS - cursor.clock.shift.num_milliseconds();
                let held = (now - since).num_milliseconds().clamp(0, room.max(0));
                self.carry(cursor, event(Action::Resume, Some(held)))
                    .await?;
                Ok(Reply::Done(format!(
                    "released after {}: everything not yet fired moves {}",
                    human::duration_ms(held),
                    human::moved_ms(held)
                )))
            }
            Action::Shift(ms) => {
                self.carry(cursor, event(Action::Shift(*ms), Some(*ms)))
                    .await?;
                let past = considered.past;
                let tail = self.late_now(&past, ask.late, items, cursor, tx).await?;
                Ok(Reply::Done(format!(
                    "shifted: everything not yet fired moves {}{tail}",
                    human::moved_ms(*ms)
                )))
            }
            Action::Skip(key) => {
                self.carry(cursor, event(action.clone(), None)).await?;
                Ok(Reply::Done(match preview.items.len() {
                    1 => format!("{key} will be skipped (`ctl unskip {key}` undoes it)"),
                    n => format!(
                        "skipped: the {n} pending occurrences of {key} will not be sent (`ctl unskip {key}` undoes it)"
                    ),
                }))
            }
            Action::Unskip(key) => {
                // Skipped already (its instant passed, or too late): it goes now.
                let passed = self.passed_named(key, cursor);
                if let (false, Some(when)) = (passed.is_empty(), ask.at) {
                    // At a time given: journaled with it, so a resume keeps it.
                    let due = moved(self.due_of(when, cursor, now), -cursor.clock.shift);
                    cursor.passed.retain(|o| !passed.contains(o));
                    self.carry(cursor, event(action.clone(), None)).await?;
                    for &occ in &passed {
                        let o = &self.timeline.occurrences[occ];
                        self.emit(Event::Rescheduled {
                            key: o.key.clone(),
                            due,
                            at: now,
                        })
                        .await?;
                        let item = Item {
                            planned: self.timeline.fire_at(o).to_utc(),
                            watched: cursor.branch.as_ref().is_some_and(|b| b.model.watched[occ]),
                            ..Item::new(occ, due)
                        };
                        cursor.insert_extra(item);
                    }
                    return Ok(Reply::Done(format!(
                        "{} skipped before will go at {}",
                        human::count(passed.len(), "occurrence", "occurrences"),
                        self.when(moved(due, cursor.clock.shift), &cursor.clock)
                    )));
                }
                if !passed.is_empty() {
                    cursor.passed.retain(|o| !passed.contains(o));
                    self.carry(cursor, event(action.clone(), None)).await?;
                    let group: Vec<Item> = passed
                        .iter()
                        .map(|&occ| self.item_now(occ, items, cursor, now))
                        .collect();
                    self.go_now(&group, cursor, tx, now).await?;
                    return Ok(Reply::Done(format!(
                        "{} skipped before, sent now",
                        human::count(group.len(), "occurrence", "occurrences")
                    )));
                }
                self.carry(cursor, event(action.clone(), None)).await?;
                Ok(Reply::Done(format!("{key} will fire")))
            }
            Action::Undo { .. } => {
                if let Some((e, ..)) = self.last_judgment(cursor) {
                    let id = cursor
                        .branch
                        .as_ref()
                        .map_or(String::new(), |b| b.model.expectations[e].id.clone());
                    let what = self
                        .undo_judgment(cursor, &id, (source, by.clone()))
                        .await?;
                    return Ok(Reply::Done(format!("undone: {what}")));
                }
                let what = self.undo_words(cursor);
                let undo = Action::Undo {
                    what: Some(what.clone()),
                    judgment: None,
                };
                self.carry(cursor, event(undo, None)).await?;
                Ok(Reply::Done(format!("undone: {what}")))
            }
        }
    }

    /// Journal a clock action durably, then set the clock by it (as a replay does).
    async fn carry(&self, cursor: &mut Cursor, event: Event) -> std::io::Result<()> {
        self.emit(event.clone()).await?;
        cursor.clock.apply(&event);
        Ok(())
    }

    /// A note for the report, about an occurrence or an expected action if named.
    async fn note(
        &self,
        action: Action,
        source: Source,
        by: Option<String>,
        cursor: &Cursor,
    ) -> std::io::Result<Reply> {
        let Action::Note {
            text,
            key,
            expectation,
        } = action
        else {
            unreachable!("a note")
        };
        if let Some(k) = &key
            && !self
                .timeline
                .occurrences
                .iter()
                .any(|o| &o.key == k || &self.timeline.inject(o).id == k)
        {
            return Ok(Reply::Refused(format!(
                "no occurrence or inject `{k}`{}",
                self.did_you_mean(k)
            )));
        }
        if let Some(e) = &expectation {
            match cursor.branch.as_ref() {
                Some(b) if b.model.expectation(e).is_some() => {}
                Some(b) => return Ok(Reply::Refused(b.model.unknown_expectation(e))),
                None => {
                    return Ok(Reply::Refused(
                        "this scenario has no expected actions".into(),
                    ));
                }
            }
        }
        self.emit(Event::Note {
            at: self.clock.now(),
            text,
            key,
            expectation,
            source,
            by,
        })
        .await?;
        Ok(Reply::Done("note taken".into()))
    }

    /// What `action` would do now, or why it is refused.
    fn consider(
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
            Action::Resume => {
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
            Action::Shift(ms) => self.consider_shift(action, *ms, ask.late, &pending, cursor, now),
            Action::Skip(key) => {
                if let Some(s) = clock.skipped_by.iter().find(|s| &s.key == key) {
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
            Action::Unskip(key) => {
                let mut after = clock.clone();
                let passed = self.passed_named(key, cursor);
                if let (false, Some(when)) = (passed.is_empty(), ask.at) {
                    let due = self.due_of(when, cursor, now);
                    if due <= clock.held_since.unwrap_or(now) {
                        return Err(format!(
                            "{} is already past: give a time to come, or leave --at out to send it now",
                            self.when(due, &cursor.clock)
                        ));
                    }
                    return Ok(plain(
                        format!(
                            "sends {} at {}: skipped when {} came",
                            passed
                                .iter()
                                .map(|&o| self.name(o))
                                .collect::<Vec<_>>()
                                .join(", "),
                            self.when(due, &cursor.clock),
                            if passed.len() == 1 {
                                "its instant"
                            } else {
                                "their instants"
                            }
                        ),
                        passed.len() > 1,
                        passed
                            .iter()
                            .map(|&o| self.consequence(o, "fires", None, Some(due)))
                            .collect(),
                    ));
                }
                if ask.at.is_some() && passed.is_empty() {
                    return Err(format!(
                        "--at and --in are for an occurrence skipped when its instant came; `{key}` has none (unskip it without them)"
                    ));
                }
                if !passed.is_empty() {
                    return Ok(plain(
                        format!(
                            "sends {} now: skipped when {} came",
                            passed
                                .iter()
                                .map(|&o| self.name(o))
                                .collect::<Vec<_>>()
                                .join(", "),
                            if passed.len() == 1 {
                                "its instant"
                            } else {
                                "their instants"
                            }
                        ),
                        true,
                        passed
                            .iter()
                            .map(|&o| self.consequence(o, "sent at once", None, Some(now)))
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
            Action::End => {
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
                            "{} still open will be left void",
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
            Action::Undo { .. } => match self.last_judgment(cursor) {
                Some((e, ..)) => self.consider_unjudge(action, e, None, cursor, now),
                None => self.consider_undo(action, &pending, cursor, now),
            },
        }
    }

    /// A shift by `ms`: every pending occurrence and open deadline moves; one moved into
    /// the past is refused unless `late` says what to do with it.
    fn consider_shift(
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
        if self.timeline.speed != 1.0 && !self.config.max_speed {
            text.push_str(&format!(
                " of real time ({} of scenario time at speed {})",
                human::duration_ms((ms as f64 * self.timeline.speed) as i64),
                self.timeline.speed
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
    fn consider_fire(
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
                let word = if met { "met" } else { "missed" };
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
                        if let crate::branch::Effect::NotTriggered { conditional, .. } = effect {
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
    fn alternatives_sent(&self, c: &crate::branch::ConditionalModel, cursor: &Cursor) -> String {
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

    /// A judgment: its branch, and a confirmation when that would fire within a minute.
    fn consider_judgment(
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
        let word = if met { "met" } else { "missed" };
        let mut trial = b.state.clone();
        let base = cursor.clock.base(now);
        let mut list = Vec::new();
        let mut soon = false;
        let mut follows = Vec::new();
        if let Ok(effects) = trial.on_judge(&b.model, e, met, (now, base), Source::Command, None) {
            for effect in effects {
                match effect {
                    crate::branch::Effect::Trigger {
                        conditional, base, ..
                    } => {
                        let c = &b.model.conditionals[conditional];
                        for &occ in c.occurrences.iter().filter(|o| !b.done.contains(o)) {
                            let o = &self.timeline.occurrences[occ];
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
                    crate::branch::Effect::NotTriggered { conditional, .. } => {
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
                let inject = &self.timeline.scenario.injects[owner];
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
    fn last_judgment(
        &self,
        cursor: &Cursor,
    ) -> Option<(usize, DateTime<Utc>, Option<String>, bool)> {
        let last = cursor.branch.as_ref()?.judgments.last()?.clone();
        match cursor.clock.undoable.last() {
            Some(clock) if clock.at > last.1 => None,
            _ => Some(last),
        }
    }

    fn unknown_expectation(&self, cursor: &Cursor, id: &str) -> String {
        match &cursor.branch {
            Some(b) => b.model.unknown_expectation(id),
            None => "this scenario has no expected actions to judge".into(),
        }
    }

    /// Taking a judgment of `e` back (and, correcting it, judging it `met` anew): what
    /// follows, or why not (not judged by a person in this part of the run; its branch
    /// went out).
    fn consider_unjudge(
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
        let Some((_, at, by, met)) = b.judgments.iter().rev().find(|j| j.0 == e).cloned() else {
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
        let word = |met: bool| if met { "met" } else { "missed" };
        if correct_to == Some(met) {
            return Err(format!(
                "`{id}` is judged {} already (by {} at {})",
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
                    if let crate::branch::Effect::Trigger { conditional, .. } = effect {
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

    /// Take back the judgment of expectation `id`: journaled as an undo naming it, its
    /// contingencies armed again (their triggered occurrences out of the queue). What
    /// was taken back, in words.
    async fn undo_judgment(
        &self,
        cursor: &mut Cursor,
        id: &str,
        (source, by): (Source, Option<String>),
    ) -> std::io::Result<String> {
        let Some(b) = cursor.branch.as_mut() else {
            return Ok(String::new());
        };
        let Some(e) = b.model.expectation(id) else {
            return Ok(String::new());
        };
        let Some(i) = b.judgments.iter().rposition(|j| j.0 == e) else {
            return Ok(String::new());
        };
        let (_, at, judged_by, met) = b.judgments.remove(i);
        let word = if met { "met" } else { "missed" };
        let what = format!(
            "the judgment of {id} ({word}, by {} at {})",
            judged_by.as_deref().unwrap_or("someone"),
            self.when(at, &cursor.clock)
        );
        self.emit(Event::Control {
            at: self.clock.now(),
            action: Action::Undo {
                what: Some(what.clone()),
                judgment: Some(format!("{word}:{id}")),
            },
            moved_ms: None,
            source,
            by,
        })
        .await?;
        let Some(b) = cursor.branch.as_mut() else {
            return Ok(what);
        };
        let model = b.model.clone();
        let rearmed = b.state.on_unjudge(&model, e);
        for (c, _) in rearmed {
            let occs = &model.conditionals[c].occurrences;
            cursor.extra.retain(|item| !occs.contains(&item.occ));
        }
        Ok(what)
    }

    /// Undo the last clock action or skip, while nothing it caused went out.
    fn consider_undo(
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

    /// How the run ended, for every open page: `ended by dana at 10:42:13 (T+..)`,
    /// `completed at ...`, `stopped at ...`.
    pub(super) fn ending_words(&self, cursor: &Cursor) -> String {
        let now = self.clock.now();
        if cursor.ended {
            let by = cursor.ended_by.as_deref().unwrap_or("a director");
            format!("ended by {by} at {}", self.when(now, &cursor.clock))
        } else if cursor.stopped {
            format!(
                "stopped at {} (interrupted; a resume takes it up)",
                self.when(now, &cursor.clock)
            )
        } else {
            format!("completed at {}", self.when(now, &cursor.clock))
        }
    }

    /// The last undoable action in words: `the shift of 2m earlier by dana at 10:02:13`.
    fn undo_words(&self, cursor: &Cursor) -> String {
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

    /// Carry out what a shift's `late` says for the occurrences it moved into the past:
    /// sent at once as one group, or journaled as skipped. The reply's tail.
    async fn late_now(
        &self,
        past: &[Pending],
        late: Option<LatePolicy>,
        items: &[Item],
        cursor: &mut Cursor,
        tx: &mpsc::Sender<Prepared<D>>,
    ) -> std::io::Result<String> {
        if past.is_empty() {
            return Ok(String::new());
        }
        let now = self.clock.now();
        let mut group = Vec::with_capacity(past.len());
        let mut extras: Vec<usize> = past.iter().filter_map(|p| p.extra).collect();
        extras.sort_unstable();
        for p in past {
            let item = match (p.fixed, p.extra) {
                (Some(k), _) => {
                    cursor.fired.insert(k);
                    items[k].clone()
                }
                (None, Some(i)) => cursor.extra[i].clone(),
                (None, None) => continue,
            };
            group.push(item);
        }
        for i in extras.into_iter().rev() {
            cursor.extra.remove(i);
        }
        if late == Some(LatePolicy::Skip) {
            let shift = cursor.clock.shift;
            for item in &group {
                let occ = &self.timeline.occurrences[item.occ];
                self.emit(Event::Skipped {
                    key: occ.key.clone(),
                    reason: "shifted into the past (--late skip)".into(),
                    planned: moved(item.fire_at, shift),
                    at: now,
                })
                .await?;
                cursor.passed.push(item.occ);
            }
            self.dispatched(cursor, &group, &[]).await?;
            return Ok(format!(
                "; {} shifted into the past skipped",
                human::count(group.len(), "occurrence", "occurrences")
            ));
        }
        let group: Vec<Item> = group
            .into_iter()
            .map(|i| Item {
                fire_at: now,
                body: None,
                ..i
            })
            .collect();
        let n = group.len();
        self.go_now(&group, cursor, tx, now).await?;
        Ok(format!(
            "; {} shifted into the past sent at once",
            human::count(n, "occurrence", "occurrences")
        ))
    }

    /// Prepare `group` and hand it to the senders at once (fire now, a shift's late ones).
    pub(super) async fn go_now(
        &self,
        group: &[Item],
        cursor: &mut Cursor,
        tx: &mpsc::Sender<Prepared<D>>,
        now: DateTime<Utc>,
    ) -> std::io::Result<()> {
        let (prepared, durable) = self.prepare(group, &cursor.clock).await?;
        cursor.note_went(prepared.iter().map(|(i, _)| i), now);
        self.dispatched(cursor, group, &prepared).await?;
        let started = self.started_line(&prepared, now);
        let _ = tx.send((now, prepared, durable, started)).await;
        Ok(())
    }

    /// Fire now, as considered: judge the expectation a contingency's condition is, and
    /// send the occurrence at once.
    async fn fire(
        &self,
        key: &str,
        ask: &Ask,
        (source, by): (Source, Option<String>),
        items: &[Item],
        cursor: &mut Cursor,
        tx: &mpsc::Sender<Prepared<D>>,
    ) -> std::io::Result<Reply> {
        let now = self.clock.now();
        let mut judged = String::new();
        // An armed contingency on one judgment: that judgment first (so its alternative
        // is disarmed), then this one goes as triggered.
        if self.find(items, cursor, key).is_none()
            && let Some((occ, None)) = self.find_contingent(cursor, key)
            && let Some(b) = cursor.branch.as_ref()
            && let Some(c) = b
                .model
                .conditionals
                .iter()
                .find(|c| c.occurrences.contains(&occ))
            && let Some((e, met)) = c.judgment()
        {
            let id = b.model.expectations[e].id.clone();
            let note = Some(format!("judged by firing {} by hand", c.id));
            let action = if met {
                Action::Met(id.clone(), note.clone())
            } else {
                Action::Missed(id.clone(), note.clone())
            };
            let event = Event::Control {
                at: now,
                action,
                moved_ms: None,
                source,
                by: by.clone(),
            };
            if let Ok(m) = self.judge(cursor, &id, met, note, source, event).await? {
                judged = format!(" ({m})");
            }
        }
        let fixed = self.find(items, cursor, key);
        let contingent = match fixed {
            None => self.find_contingent(cursor, key),
            Some(_) => None,
        };
        let item = match (fixed, contingent) {
            (Some(k), _) => {
                cursor.fired.insert(k);
                Item {
                    fire_at: now,
                    body: None,
                    ..items[k].clone()
                }
            }
            (None, Some((occ, extra))) => {
                if let Some(i) = extra {
                    cursor.extra.remove(i);
                }
                self.contingent_item(occ, cursor, now)
            }
            (None, None) => {
                // Forced: a contingency whose condition can no longer hold.
                let forced = ask.force.then(|| self.forced(cursor, key)).flatten();
                match forced {
                    Some(occ) => self.contingent_item(occ, cursor, now),
                    None => return Ok(Reply::Refused(self.not_pending(key, cursor))),
                }
            }
        };
        let occ_key = self.timeline.occurrences[item.occ].key.clone();
        let inject_id = &self
            .timeline
            .inject(&self.timeline.occurrences[item.occ])
            .id;
        if cursor.clock.skips(&occ_key, inject_id) {
            cursor.clock.unskip(&occ_key);
        }
        // Journaled with the occurrence it fired, whatever key or id named it.
        self.emit(Event::Control {
            at: now,
            action: Action::Fire(occ_key.clone()),
            moved_ms: None,
            source,
            by,
        })
        .await?;
        self.go_now(std::slice::from_ref(&item), cursor, tx, now)
            .await?;
        Ok(Reply::Done(format!("{occ_key} fired{judged}")))
    }

    /// The failed occurrence `key` names (its key, or an inject id with one failed).
    fn retryable(&self, key: &str, cursor: &Cursor) -> Option<usize> {
        let failed = cursor.failed.lock().ok()?;
        let named: Vec<usize> = failed
            .keys()
            .copied()
            .filter(|o| self.names(*o, key))
            .collect();
        match named.as_slice() {
            [one] => Some(*one),
            _ => named
                .iter()
                .copied()
                .find(|o| self.timeline.occurrences[*o].key == key),
        }
    }

    /// Why `key` cannot be retried.
    fn not_failed(&self, key: &str, items: &[Item], cursor: &Cursor) -> String {
        let failed: Vec<String> = cursor.failed.lock().map_or(Vec::new(), |f| {
            f.keys()
                .filter(|o| self.names(**o, key))
                .map(|o| self.timeline.occurrences[*o].key.clone())
                .collect()
        });
        if failed.len() > 1 {
            return format!(
                "`{key}` names several failed occurrences ({}): retry one by its key",
                failed.join(", ")
            );
        }
        if let Some((occ, at)) = cursor.went.iter().rev().find(|(o, _)| self.names(*o, key)) {
            return format!(
                "`{key}` has not failed: {} went at {} (a failed send can be retried; one sent is not sent twice)",
                self.name(*occ),
                self.when(*at, &cursor.clock)
            );
        }
        if !self.names_any_occurrence(key) {
            return format!("no occurrence `{key}`{}", self.did_you_mean(key));
        }
        if let Some(p) = self
            .pending(items, cursor)
            .into_iter()
            .find(|p| self.names(p.occ, key))
        {
            return format!(
                "`{key}` has not failed: it has not been sent yet (due {})",
                self.when(p.at, &cursor.clock)
            );
        }
        format!("`{key}` has not failed in this run")
    }

    /// Occurrences `key` names that were skipped when their instant came (not since sent).
    fn passed_named(&self, key: &str, cursor: &Cursor) -> Vec<usize> {
        let mut out: Vec<usize> = cursor
            .passed
            .iter()
            .copied()
            .filter(|o| self.names(*o, key) && !cursor.went.iter().any(|(w, _)| w == o))
            .collect();
        out.dedup();
        out
    }

    /// An item that goes now for occurrence `occ`: its fixed one (with its planned
    /// instant), or a contingency's.
    fn item_now(&self, occ: usize, items: &[Item], cursor: &Cursor, now: DateTime<Utc>) -> Item {
        match items.iter().find(|i| i.occ == occ) {
            Some(i) => Item {
                fire_at: now,
                body: None,
                ..i.clone()
            },
            None => self.contingent_item(occ, cursor, now),
        }
    }

    fn contingent_item(&self, occ: usize, cursor: &Cursor, now: DateTime<Utc>) -> Item {
        let o = &self.timeline.occurrences[occ];
        Item {
            planned: self.timeline.fire_at(o).to_utc(),
            watched: cursor.branch.as_ref().is_some_and(|b| b.model.watched[occ]),
            ..Item::new(occ, now)
        }
    }

    /// The occurrence of a not-triggered contingency that `key` names, not yet done.
    fn forced(&self, cursor: &Cursor, key: &str) -> Option<usize> {
        let b = cursor.branch.as_ref()?;
        b.model
            .conditionals
            .iter()
            .zip(&b.state.conditionals)
            .filter(|(_, s)| matches!(s, ConditionalState::NotTriggered(_)))
            .flat_map(|(c, _)| c.occurrences.iter().copied())
            .find(|&occ| !b.done.contains(&occ) && self.names(occ, key))
    }

    /// The first fixed item not yet prepared that `key` (an occurrence key or inject
    /// id) names.
    pub(super) fn find(&self, items: &[Item], cursor: &Cursor, key: &str) -> Option<usize> {
        (cursor.next..items.len())
            .filter(|k| !cursor.fired.contains(k))
            .find(|k| self.names(items[*k].occ, key))
    }

    /// The first contingency occurrence `key` names that is still to fire: triggered
    /// (with its place among the triggered items) or armed (its condition not decided).
    fn find_contingent(&self, cursor: &Cursor, key: &str) -> Option<(usize, Option<usize>)> {
        if let Some(i) = cursor
            .extra
            .iter()
            .position(|item| self.names(item.occ, key))
        {
            return Some((cursor.extra[i].occ, Some(i)));
        }
        let b = cursor.branch.as_ref()?;
        b.model
            .conditionals
            .iter()
            .zip(&b.state.conditionals)
            .filter(|(_, s)| **s == ConditionalState::Armed)
            .flat_map(|(c, _)| c.occurrences.iter().copied())
            .find(|&occ| !b.done.contains(&occ) && self.names(occ, key))
            .map(|occ| (occ, None))
    }

    /// Every occurrence still to fire, at its instant as the clock stands, in order.
    fn pending(&self, items: &[Item], cursor: &Cursor) -> Vec<Pending> {
        let shift = cursor.clock.shift;
        let skipped = |occ: usize| self.skipped_by(&cursor.clock, occ);
        let mut out: Vec<Pending> = (cursor.next..items.len())
            .filter(|k| !cursor.fired.contains(k))
            .map(|k| Pending {
                occ: items[k].occ,
                at: moved(items[k].fire_at, shift),
                fixed: Some(k),
                extra: None,
                skipped: skipped(items[k].occ),
            })
            .collect();
        out.extend(cursor.extra.iter().enumerate().map(|(i, item)| Pending {
            occ: item.occ,
            at: moved(item.fire_at, shift),
            fixed: None,
            extra: Some(i),
            skipped: skipped(item.occ),
        }));
        out.sort_by_key(|p| (p.at, p.occ));
        out
    }

    /// Whether the clock `c` skips occurrence `occ`.
    fn skipped_by(&self, c: &ClockState, occ: usize) -> bool {
        let o = &self.timeline.occurrences[occ];
        c.skips(&o.key, &self.timeline.inject(o).id)
    }

    /// Whether `key` names occurrence `occ`: its key or its inject's id.
    fn names(&self, occ: usize, key: &str) -> bool {
        let o = &self.timeline.occurrences[occ];
        o.key == key || self.timeline.inject(o).id == key
    }

    /// The wall-clock instant a person's time names: scenario time from T0 as the clock
    /// now stands (holds and shifts), or from now.
    fn due_of(&self, when: super::When, cursor: &Cursor, now: DateTime<Utc>) -> DateTime<Utc> {
        match when {
            super::When::Offset(d) => moved(
                self.timeline.t0.to_utc() + crate::timeline::scaled(d, self.timeline.speed),
                cursor.clock.shift,
            ),
            super::When::In(d) => now + chrono::TimeDelta::from_std(d).unwrap_or_default(),
        }
    }

    /// Whether `key` names any occurrence of the timeline.
    fn names_any_occurrence(&self, key: &str) -> bool {
        (0..self.timeline.occurrences.len()).any(|o| self.names(o, key))
    }

    fn names_any(&self, occs: &[usize], key: &str) -> bool {
        occs.iter().any(|o| self.names(*o, key))
    }

    /// Why `key` names nothing to act on: it went (when), it is not in this run, or
    /// there is no such occurrence (did you mean).
    fn not_pending(&self, key: &str, cursor: &Cursor) -> String {
        let went: Vec<&(usize, DateTime<Utc>)> = cursor
            .went
            .iter()
            .filter(|(occ, _)| self.names(*occ, key))
            .collect();
        if let Some((occ, at)) = went.last() {
            return format!(
                "`{key}` has no occurrence left to fire: {} already went at {}",
                self.name(*occ),
                self.when(*at, &cursor.clock)
            );
        }
        if let Some(occ) = cursor.passed.iter().rev().find(|o| self.names(**o, key)) {
            return format!(
                "`{key}` has no occurrence left to fire: {} was skipped",
                self.name(*occ)
            );
        }
        if self
            .timeline
            .occurrences
            .iter()
            .enumerate()
            .any(|(i, _)| self.names(i, key))
        {
            return format!(
                "`{key}` has no occurrence left to fire in this run (already sent, skipped or failed, or left out by --only)"
            );
        }
        format!("no occurrence `{key}`{}", self.did_you_mean(key))
    }

    /// ` (did you mean `x`?)` for a key or inject id close to `key`, else nothing.
    fn did_you_mean(&self, key: &str) -> String {
        let ids = self.timeline.scenario.injects.iter().map(|i| i.id.as_str());
        let keys = self.timeline.occurrences.iter().map(|o| o.key.as_str());
        crate::diag::suggest(key, ids.chain(keys)).map_or(String::new(), |h| format!(" ({h})"))
    }

    /// An occurrence as a person knows it: `gauge#2 "River at 4.2 m"`.
    fn name(&self, occ: usize) -> String {
        let o = &self.timeline.occurrences[occ];
        let subject = self.subject(occ);
        if subject.is_empty() {
            o.key.clone()
        } else {
            format!("{} \"{subject}\"", o.key)
        }
    }

    /// Its subject, title or text, as the page and the plan show it.
    fn subject(&self, occ: usize) -> String {
        self.timeline.subject(&self.timeline.occurrences[occ])
    }

    fn consequence(
        &self,
        occ: usize,
        effect: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Consequence {
        Consequence {
            key: self.timeline.occurrences[occ].key.clone(),
            effect: effect.into(),
            subject: self.subject(occ),
            from: from.map(rfc),
            to: to.map(rfc),
        }
    }

    /// Up to five occurrences with their instants, and how many more.
    fn listing(&self, occs: impl Iterator<Item = (usize, DateTime<Utc>)>) -> String {
        let all: Vec<(usize, DateTime<Utc>)> = occs.collect();
        let mut parts: Vec<String> = all
            .iter()
            .take(5)
            .map(|(o, at)| format!("{} at {}", self.name(*o), self.clock_time(*at)))
            .collect();
        if all.len() > 5 {
            parts.push(format!("and {} more", all.len() - 5));
        }
        parts.join(", ")
    }

    /// A wall-clock instant as a person reads it: `10:02:13 (T+00:02:00)`, local time
    /// in the scenario's zone and the exercise clock (scenario time).
    fn when(&self, at: DateTime<Utc>, clock: &ClockState) -> String {
        // The exercise's time at that instant: less the holds and shifts so far.
        let run = (moved(at, -clock.shift) - self.timeline.t0.to_utc()).to_std();
        let t_plus = match run {
            Ok(d) => crate::plan::show_offset(std::time::Duration::from_secs(
                (d.as_secs_f64() * self.timeline.speed) as u64,
            )),
            Err(_) => "before T0".into(),
        };
        format!("{} ({t_plus})", self.clock_time(at))
    }

    /// `10:02:13` in the scenario's zone (its offset's, without one).
    fn clock_time(&self, at: DateTime<Utc>) -> String {
        match self.timeline.scenario.timezone {
            Some(tz) => at.with_timezone(&tz).format("%H:%M:%S").to_string(),
            None => at
                .with_timezone(self.timeline.t0.offset())
                .format("%H:%M:%S")
                .to_string(),
        }
    }
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
