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

use super::adaptive::PersonsJudgment;
use super::control::{Ask, Cursor, Preview, Reply};
use super::previews::Pending;
use super::{Dispatch, Engine, Item, LatePolicy, Prepared, moved};
use crate::action::{Action, Source};
use crate::adaptive::ConditionalState;
use crate::event::Event;
use crate::human;

impl<D: Dispatch> Engine<D> {
    /// Carry out an action of the white cell's improvising: an ad hoc inject, an
    /// amendment, a changed scenario.
    async fn improvise(
        &self,
        action: &Action,
        ask: &Ask,
        (source, by): (Source, Option<String>),
        items: &[Item],
        cursor: &mut Cursor,
        tx: &mpsc::Sender<Prepared<D>>,
    ) -> std::io::Result<Reply> {
        match action {
            Action::Send { inject, file } => {
                self.send_adhoc((inject, file), ask, (source, by), cursor, tx)
                    .await
            }
            Action::Apply { file, text } => {
                self.apply_scenario((file, text), ask, (source, by), cursor)
                    .await
            }
            Action::Amend { key, fields, file } => {
                self.amend_occurrence((key, fields, file), ask, (source, by), items, cursor, tx)
                    .await
            }
            _ => Ok(Reply::Refused(format!(
                "`{}` is not improvised",
                action.name()
            ))),
        }
    }

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
        if let Action::Note { .. } | Action::Rate { .. } = action {
            return self.note(action, source, by, cursor).await;
        }
        if let Action::Undo { judgment: None, .. } = action
            && let Some(last) = self.apply_to_undo(cursor)
        {
            return self.undo_apply(last, ask, (source, by), cursor).await;
        }
        if let Action::Send { .. } | Action::Apply { .. } | Action::Amend { .. } = action {
            return self
                .improvise(&action, ask, (source, by), items, cursor, tx)
                .await;
        }
        let considered = match self.consider(&action, ask, items, cursor, now) {
            Ok(c) => c,
            Err(why) => return Ok(Reply::Refused(why)),
        };
        let mut preview = considered.preview;
        preview.timezone = self
            .timeline()
            .scenario
            .timezone
            .map(|z| z.name().to_string());
        if let Some(reply) = not_yet(&preview, ask) {
            return Ok(reply);
        }
        let event = |action: Action, moved_ms: Option<i64>| Event::Control {
            at: now,
            action,
            moved_ms,
            source,
            by: by.clone(),
        };
        match &action {
            Action::Note { .. }
            | Action::Rate { .. }
            | Action::Send { .. }
            | Action::Amend { .. }
            | Action::Apply { .. } => {
                unreachable!("taken above")
            }
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
                let occ_key = self.timeline().occurrences[occ].key.clone();
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
                let unskip = event(action.clone(), None);
                self.unskip(key, ask, unskip, items, cursor, tx, now).await
            }
            Action::Undo { .. } => {
                if let Some(PersonsJudgment { expectation: e, .. }) = self.last_judgment(cursor) {
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

    /// Unskip `key`: one skipped when its instant came goes now or at the time given
    /// (journaled with it); a skip still to take effect is undone. `unskip` is its
    /// journal line.
    #[expect(
        clippy::too_many_arguments,
        reason = "the producer's state, passed through"
    )]
    async fn unskip(
        &self,
        key: &str,
        ask: &Ask,
        unskip: Event,
        items: &[Item],
        cursor: &mut Cursor,
        tx: &mpsc::Sender<Prepared<D>>,
        now: DateTime<Utc>,
    ) -> std::io::Result<Reply> {
        // Skipped already (its instant passed, or too late): it goes now.
        let passed = self.passed_named(key, cursor);
        if let (false, Some(when)) = (passed.is_empty(), ask.at) {
            // At a time given: journaled with it, so a resume keeps it.
            let due = moved(self.due_of(when, cursor, now), -cursor.clock.shift);
            cursor.passed.retain(|o| !passed.contains(o));
            self.carry(cursor, unskip.clone()).await?;
            for &occ in &passed {
                let o = &self.timeline().occurrences[occ];
                self.emit(Event::Rescheduled {
                    key: o.key.clone(),
                    due,
                    at: now,
                })
                .await?;
                let item = Item {
                    planned: self.timeline().fire_at(o).to_utc(),
                    // An ad hoc occurrence is past the model's: watched by no branch.
                    watched: cursor
                        .branch
                        .as_ref()
                        .is_some_and(|b| b.model.watched.get(occ).copied().unwrap_or(false)),
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
            self.carry(cursor, unskip.clone()).await?;
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
        self.carry(cursor, unskip.clone()).await?;
        Ok(Reply::Done(format!("{key} will fire")))
    }

    /// Journal a clock action durably, then set the clock by it (as a replay does).
    pub(super) async fn carry(&self, cursor: &mut Cursor, event: Event) -> std::io::Result<()> {
        self.emit(event.clone()).await?;
        cursor.clock.apply(&event);
        Ok(())
    }

    /// A note for the report, about an occurrence, an expected action or objectives if
    /// named; or a rating of an objective, journaled as a note with its rating.
    pub(super) async fn note(
        &self,
        action: Action,
        source: Source,
        by: Option<String>,
        cursor: &Cursor,
    ) -> std::io::Result<Reply> {
        let (text, key, expectation, objectives, tag, rating) = match action {
            Action::Note {
                text,
                key,
                expectation,
                objectives,
                tag,
            } => (text, key, expectation, objectives, tag, None),
            Action::Rate {
                objective,
                rating,
                note,
            } => (
                note.unwrap_or_default(),
                None,
                None,
                vec![objective],
                None,
                Some(rating),
            ),
            _ => unreachable!("a note or a rating"),
        };
        for o in &objectives {
            if let Some(why) = self.unknown_objective(o) {
                return Ok(Reply::Refused(why));
            }
        }
        if let Some(k) = &key
            && !self
                .timeline()
                .occurrences
                .iter()
                .any(|o| &o.key == k || self.timeline().id_of(o) == k)
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
        let done = match rating {
            Some(r) => format!(
                "rated {} {} ({}){}",
                objectives.join(""),
                r.letter(),
                r.words(),
                by.as_deref().map_or(String::new(), |b| format!(", by {b}"))
            ),
            None => "note taken".into(),
        };
        self.emit(Event::Note {
            at: self.clock.now(),
            text,
            key,
            expectation,
            objectives,
            tag,
            rating,
            source,
            by,
        })
        .await?;
        Ok(Reply::Done(done))
    }

    /// Why objective `id` cannot be named: not in the scenario's `objectives:`.
    fn unknown_objective(&self, id: &str) -> Option<String> {
        let s = &self.timeline().scenario;
        if s.objective(id).is_some() {
            return None;
        }
        let ids: Vec<&str> = s.objectives.iter().map(|o| o.id.as_str()).collect();
        Some(if ids.is_empty() {
            "this scenario has no objectives (add `objectives:` to it)".into()
        } else {
            // Ids are case-sensitive: the same letters in another case first.
            let hint = ids
                .iter()
                .find(|o| o.eq_ignore_ascii_case(id))
                .map(|o| format!("did you mean `{o}`? (ids are case-sensitive)"))
                .or_else(|| crate::diag::suggest(id, ids.iter().copied()))
                .map_or(String::new(), |h| format!("; {h}"));
            format!(
                "no objective `{id}`{hint} (the objectives are {})",
                ids.join(", ")
            )
        })
    }

    /// Take back the judgment of expectation `id`: journaled as an undo naming it, its
    /// contingencies armed again (their triggered occurrences out of the queue). What
    /// was taken back, in words.
    pub(super) async fn undo_judgment(
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
        let Some(i) = b.judgments.iter().rposition(|j| j.expectation == e) else {
            return Ok(String::new());
        };
        let PersonsJudgment {
            at,
            by: judged_by,
            met,
            ..
        } = b.judgments.remove(i);
        let word = crate::adaptive::Verdict::judged(met).word();
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

    /// Carry out what a shift's `late` says for the occurrences it moved into the past:
    /// sent at once as one group, or journaled as skipped. The reply's tail.
    pub(super) async fn late_now(
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
                let occ = &self.timeline().occurrences[item.occ];
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
        let _ = tx
            .send(Prepared {
                at: now,
                ready: prepared,
                durable,
                started,
            })
            .await;
        Ok(())
    }

    /// Fire now, as considered: judge the expectation a contingency's condition is, and
    /// send the occurrence at once.
    pub(super) async fn fire(
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
            if self
                .judge(cursor, &id, met, note, source, event)
                .await?
                .is_ok()
            {
                let word = crate::adaptive::Verdict::judged(met).word();
                judged = format!(" (and judged {id} {word}, so its other branch will not fire)");
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
        let timeline = self.timeline();
        let occ_key = timeline.occurrences[item.occ].key.clone();
        let inject_id = timeline.id_of(&timeline.occurrences[item.occ]);
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

    /// An item that goes now for occurrence `occ`: its fixed one (with its planned
    /// instant), or a contingency's.
    pub(super) fn item_now(
        &self,
        occ: usize,
        items: &[Item],
        cursor: &Cursor,
        now: DateTime<Utc>,
    ) -> Item {
        match items.iter().find(|i| i.occ == occ) {
            Some(i) => Item {
                fire_at: now,
                body: None,
                ..i.clone()
            },
            None => self.contingent_item(occ, cursor, now),
        }
    }

    pub(super) fn contingent_item(&self, occ: usize, cursor: &Cursor, now: DateTime<Utc>) -> Item {
        let o = &self.timeline().occurrences[occ];
        Item {
            planned: self.timeline().fire_at(o).to_utc(),
            // An ad hoc occurrence is past the model's: watched by no branch.
            watched: cursor
                .branch
                .as_ref()
                .is_some_and(|b| b.model.watched.get(occ).copied().unwrap_or(false)),
            ..Item::new(occ, now)
        }
    }

    /// The occurrence of a not-triggered contingency that `key` names, not yet done.
    pub(super) fn forced(&self, cursor: &Cursor, key: &str) -> Option<usize> {
        let b = cursor.branch.as_ref()?;
        b.model
            .conditionals
            .iter()
            .zip(&b.state.conditionals)
            .filter(|(_, s)| matches!(s, ConditionalState::NotTriggered(_)))
            .flat_map(|(c, _)| c.occurrences.iter().copied())
            .find(|&occ| !b.done.contains(&occ) && self.names(occ, key))
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
}

/// A preview that is all an action may do now: asked for, or needing a confirmation it
/// lacks, or confirmed for consequences that have changed since (the new preview, said
/// so). Otherwise the action goes ahead.
pub(super) fn not_yet(preview: &Preview, ask: &Ask) -> Option<Reply> {
    if ask.preview {
        return Some(Reply::Preview(preview.clone()));
    }
    if !preview.confirm {
        return None;
    }
    match ask.confirmed.as_deref() {
        None => Some(Reply::Preview(preview.clone())),
        Some(id) if !id.is_empty() && id != preview.id => {
            let mut changed = preview.clone();
            changed.text = format!(
                "{} (what it would do changed since the preview you confirmed)",
                changed.text
            );
            Some(Reply::Preview(changed))
        }
        Some(_) => None,
    }
}
