//! An inject written during the run, sent: checked against the running scenario
//! ([`crate::adhoc`]), previewed with its exact bodies, journaled whole (durably, before
//! any of it is sent), joined to the run's timeline, then sent now or put in its place
//! among the occurrences to come.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc;

use super::control::{Ask, Consequence, Cursor, Preview, Reply, When};
use super::words::rfc;
use super::{Dispatch, Engine, Item, Prepared, moved};
use crate::action::{Action, Source};
use crate::event::Event;

impl<D: Dispatch> Engine<D> {
    /// Send the ad hoc inject `inject` (from `file`), as asked.
    pub(super) async fn send_adhoc(
        &self,
        (inject, file): (&str, &str),
        ask: &Ask,
        (source, by): (Source, Option<String>),
        cursor: &mut Cursor,
        tx: &mpsc::Sender<Prepared<D>>,
    ) -> std::io::Result<Reply> {
        let now = self.clock.now();
        let current = self.timeline();
        let (scenario_now, at) = asked_time(&current, cursor, ask, now);
        let adhoc = match crate::adhoc::prepare(&current, file, inject, scenario_now, at, now) {
            Ok(a) => a,
            Err(why) => return Ok(Reply::Refused(why.trim_end().to_string())),
        };
        let t = &adhoc.timeline;
        let shift = cursor.clock.shift;
        // With an expected action or a condition, the run's branches grow: the run is
        // rebuilt with it (as a resume would), and it goes from there.
        let joined = adhoc
            .occurrences
            .clone()
            .next()
            .map(|occ| t.inject(&t.occurrences[occ]));
        let branched = joined.is_some_and(|i| i.expect.is_some() || i.condition.is_some());
        let condition = joined
            .and_then(|i| i.condition.as_ref())
            .map(|c| c.condition.text());
        let after = adhoc
            .occurrences
            .clone()
            .next()
            .map(|occ| crate::human::duration_ms(t.occurrences[occ].offset.as_millis() as i64));
        // What it expects, in the words the page and the report use.
        let expects = joined.and_then(|i| i.expect).map(|e| {
            let e = &t.scenario.expectations[e];
            format!(
                "; it expects `{}`: {}, {}",
                e.id,
                e.action,
                crate::plan::deadline_text(&t.scenario, e)
            )
        });
        // Each occurrence: when it goes (now, or at its instant as the clock stands).
        let goes: Vec<(usize, chrono::DateTime<Utc>)> = adhoc
            .occurrences
            .clone()
            .map(|occ| {
                let at = moved(t.fire_at(&t.occurrences[occ]).to_utc(), shift);
                (occ, at.max(now))
            })
            .collect();
        let held = branched && cursor.clock.held_since.is_some();
        let items: Vec<Consequence> = goes
            .iter()
            .map(|&(occ, at)| adhoc_consequence(t, occ, (at, now), condition.as_deref(), held))
            .collect();
        let first = goes.first().map_or(now, |(_, at)| *at);
        // A time given that has passed: it goes now, and the preview says why.
        let passed = adhoc.occurrences.clone().next().is_some_and(|occ| {
            moved(t.fire_at(&t.occurrences[occ]).to_utc(), shift)
                < now - chrono::TimeDelta::seconds(1)
        });
        let when = if first <= now && passed {
            "now (the time it gives has passed)".to_string()
        } else if first <= now {
            "now".to_string()
        } else {
            format!("at {}", self.when(first, &cursor.clock))
        };
        let more = match goes.len() {
            1 => String::new(),
            n => format!(" ({n} occurrences, the first {when})"),
        };
        let mut text = if let Some(c) = &condition {
            format!(
                "arms the ad hoc contingency `{}`: it is sent {} after its condition holds ({c})",
                adhoc.id,
                after.as_deref().unwrap_or("")
            )
        } else if more.is_empty() {
            format!("sends the ad hoc inject `{}` {when}", adhoc.id)
        } else {
            format!("sends the ad hoc inject `{}`{more}", adhoc.id)
        };
        text.push_str(expects.as_deref().unwrap_or(""));
        let action = Action::Send {
            inject: inject.to_string(),
            file: file.to_string(),
        };
        let mut preview = Preview::new(&action, text, true, items);
        preview.timezone = current.scenario.timezone.map(|z| z.name().to_string());
        if let Some(reply) = super::actions::not_yet(&preview, ask) {
            return Ok(reply);
        }
        // Journaled whole before anything of it goes; the run's timeline takes it in
        // first, so that whoever hears of it finds its occurrences.
        let maker = crate::journal::PlanRows::new(t, self.config.max_speed);
        let rows = adhoc
            .occurrences
            .clone()
            .map(|occ| maker.render(&t.occurrences[occ]).row)
            .collect();
        let id = adhoc.id.clone();
        let declared =
            branched.then(|| Box::new(crate::journal::declared(&adhoc.timeline.scenario)));
        self.timeline.set(Arc::new(adhoc.timeline));
        self.emit(Event::AdHoc {
            at: now,
            id: id.clone(),
            inject: adhoc.yaml,
            rows,
            declared,
            source,
            by,
        })
        .await?;
        if branched {
            cursor.replan = true;
            let held = cursor.clock.held_since.is_some();
            return Ok(Reply::Done(match &condition {
                Some(c) => format!(
                    "{id} armed: it is sent {} after its condition holds ({c})",
                    after.as_deref().unwrap_or("")
                ),
                None if held => format!("{id} goes when the hold is released"),
                None if first <= now => format!("{id} sent"),
                None => format!("{id} goes {when}"),
            }));
        }
        let t = self.timeline();
        let mut at_once = Vec::new();
        for &(occ, at) in &goes {
            let planned = t.fire_at(&t.occurrences[occ]).to_utc();
            if at <= now {
                at_once.push(Item {
                    fire_at: now,
                    ..Item::new(occ, planned)
                });
            } else {
                cursor.insert_extra(Item::new(occ, planned));
            }
        }
        if !at_once.is_empty() {
            self.go_now(&at_once, cursor, tx, now).await?;
        }
        Ok(Reply::Done(if first <= now {
            format!("{id} sent")
        } else {
            format!("{id} goes {when}")
        }))
    }
}

impl<D: Dispatch> Engine<D> {
    /// Amend the pending occurrence `key` with `fields` (from `file`), as asked: its
    /// body and instant as they would be, shown old to new, then, confirmed, journaled
    /// and put in its place.
    pub(super) async fn amend_occurrence(
        &self,
        (key, fields, file): (&str, &str, &str),
        ask: &Ask,
        (source, by): (Source, Option<String>),
        items: &[Item],
        cursor: &mut Cursor,
        tx: &mpsc::Sender<Prepared<D>>,
    ) -> std::io::Result<Reply> {
        let now = self.clock.now();
        let current = self.timeline();
        let Some((occ, item, fixed, extra)) = self.still_to_go(key, items, cursor) else {
            return Ok(Reply::Refused(self.why_not_amended(key, cursor)));
        };
        // A triggered contingency's, among the added ones: refused as an armed one is.
        if current.is_contingent(&current.occurrences[occ]) {
            return Ok(Reply::Refused(self.why_not_amended(key, cursor)));
        }
        let (scenario_now, at) = asked_time(&current, cursor, ask, now);
        let amendment =
            match crate::adhoc::amend(&current, occ, file, fields, (scenario_now, at), now) {
                Ok(a) => a,
                Err(why) => return Ok(Reply::Refused(why.trim_end().to_string())),
            };
        let t = &amendment.timeline;
        let shift = cursor.clock.shift;
        let (old_o, new_o) = (&current.occurrences[occ], &t.occurrences[occ]);
        let old_at = moved(current.fire_at(old_o).to_utc(), shift);
        let new_at = moved(t.fire_at(new_o).to_utc(), shift).max(now);
        let (old_body, new_body) = (
            current.body(old_o).unwrap_or_default(),
            t.body(new_o).unwrap_or_default(),
        );
        let mut changes = body_changes(&old_body, &new_body);
        if old_at != new_at {
            changes.push(format!(
                "instant {} -> {}",
                self.when(old_at, &cursor.clock),
                if new_at <= now {
                    "now".to_string()
                } else {
                    self.when(new_at, &cursor.clock)
                }
            ));
        }
        if changes.is_empty() {
            return Ok(Reply::Refused(format!(
                "the amendment changes nothing of {key}: its body and instant stay as they are (give the fields to change with --file, or a new time with --at / --in)"
            )));
        }
        let action = Action::Amend {
            key: key.to_string(),
            fields: fields.to_string(),
            file: file.to_string(),
        };
        let mut preview = Preview::new(
            &action,
            format!("amends {key}: {}", changes.join("; ")),
            true,
            vec![Consequence {
                key: key.to_string(),
                effect: if new_at <= now {
                    "amended, sent at once"
                } else {
                    "amended"
                }
                .into(),
                subject: crate::message::short_subject(&new_body),
                from: Some(rfc(old_at)),
                to: Some(rfc(new_at)),
                body: Some(serde_json::Value::Object(new_body)),
            }],
        );
        preview.timezone = current.scenario.timezone.map(|z| z.name().to_string());
        if let Some(reply) = super::actions::not_yet(&preview, ask) {
            return Ok(reply);
        }
        let before = crate::journal::PlanRows::new(&current, self.config.max_speed)
            .render(old_o)
            .row;
        let after = crate::journal::PlanRows::new(t, self.config.max_speed)
            .render(new_o)
            .row;
        let planned = t.fire_at(new_o).to_utc();
        self.timeline.set(Arc::new(amendment.timeline));
        self.emit(Event::Amended {
            at: now,
            key: key.to_string(),
            id: amendment.id,
            inject: amendment.yaml,
            fields: amendment.fields,
            before: Box::new(before),
            after: Box::new(after),
            source,
            by,
        })
        .await?;
        // Its old place does nothing; it goes at its new one, its body built anew.
        match (fixed, extra) {
            (Some(k), _) => {
                cursor.fired.insert(k);
            }
            (None, Some(i)) => {
                cursor.extra.remove(i);
            }
            (None, None) => {}
        }
        let renewed = Item {
            fire_at: planned,
            planned,
            body: None,
            ..item
        };
        if new_at <= now {
            let now_item = Item {
                fire_at: now,
                ..renewed
            };
            self.go_now(std::slice::from_ref(&now_item), cursor, tx, now)
                .await?;
            return Ok(Reply::Done(format!("{key} amended and sent")));
        }
        cursor.insert_extra(renewed);
        Ok(Reply::Done(format!(
            "{key} amended: it goes at {}",
            self.when(new_at, &cursor.clock)
        )))
    }
}

impl<D: Dispatch> Engine<D> {
    /// Why `key` cannot be amended: a contingency's, several occurrences (named), or
    /// nothing pending by that key.
    fn why_not_amended(&self, key: &str, cursor: &Cursor) -> String {
        let current = self.timeline();
        let named: Vec<&str> = current
            .occurrences
            .iter()
            .filter(|o| crate::action::of_inject(&o.key, key))
            .map(|o| o.key.as_str())
            .collect();
        let contingent = current
            .occurrences
            .iter()
            .any(|o| (o.key == key || current.id_of(o) == key) && current.is_contingent(o));
        if contingent {
            format!(
                "{key} is a contingency's: its instant follows its condition, and it cannot be amended yet (skip it, and send a new inject with `ctl send`)"
            )
        } else if named.len() > 1 {
            let more = if named.len() > 3 { ", ..." } else { "" };
            format!(
                "`{key}` names {} occurrences: amend one of them by its key ({}{more}), as `ctl status` lists them",
                named.len(),
                named
                    .iter()
                    .take(3)
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            self.not_pending(key, cursor)
        }
    }

    /// The occurrence `key` names exactly, still to go: fixed (with its place among the
    /// fixed items) or added (ad hoc, triggered: with its place among those).
    fn still_to_go(
        &self,
        key: &str,
        items: &[Item],
        cursor: &Cursor,
    ) -> Option<(usize, Item, Option<usize>, Option<usize>)> {
        let current = self.timeline();
        let exact = |occ: usize| current.occurrences[occ].key == key;
        let fixed = (cursor.next..items.len())
            .filter(|k| !cursor.fired.contains(k))
            .find(|k| exact(items[*k].occ));
        let extra = cursor.extra.iter().position(|i| exact(i.occ));
        match (fixed, extra) {
            (Some(k), _) => Some((items[k].occ, items[k].clone(), fixed, None)),
            (None, Some(i)) => Some((cursor.extra[i].occ, cursor.extra[i].clone(), None, extra)),
            (None, None) => None,
        }
    }
}

/// What sending an ad hoc inject does to its occurrence `occ` (going at `at`): armed
/// when it is a contingency (on `condition`), sent at once, at its instant, or (rebuilt
/// with its branches while `held`) when the hold is released.
fn adhoc_consequence(
    t: &crate::timeline::Timeline,
    occ: usize,
    (at, now): (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
    condition: Option<&str>,
    held: bool,
) -> Consequence {
    let o = &t.occurrences[occ];
    let body = t.body(o).ok();
    let subject = body
        .as_ref()
        .map(crate::message::short_subject)
        .unwrap_or_default();
    let body = body.map(serde_json::Value::Object);
    if let Some(c) = condition {
        return Consequence {
            key: o.key.clone(),
            effect: format!(
                "armed: sent {} after its condition holds ({c})",
                crate::human::duration_ms(o.offset.as_millis() as i64)
            ),
            subject,
            from: None,
            to: None,
            body,
        };
    }
    Consequence {
        key: o.key.clone(),
        effect: match (held, at <= now) {
            (true, _) => "sent when the hold is released",
            (false, true) => "sent at once",
            (false, false) => "sent",
        }
        .into(),
        subject,
        from: None,
        to: Some(rfc(at)),
        body,
    }
}

/// The scenario time it is `now` (holds and shifts taken out, sped up as the run is),
/// and the scenario time `ask` gives, if it gives one (`--at`, or `--in` wall-clock
/// time from now).
fn asked_time(
    t: &crate::timeline::Timeline,
    cursor: &Cursor,
    ask: &Ask,
    now: chrono::DateTime<Utc>,
) -> (std::time::Duration, Option<std::time::Duration>) {
    let scenario_now = (cursor.clock.base(now) - t.t0.to_utc())
        .to_std()
        .unwrap_or_default()
        .mul_f64(t.speed);
    let at = ask.at.map(|w| match w {
        When::Offset(d) => d,
        When::In(d) => scenario_now + d.mul_f64(t.speed),
    });
    (scenario_now, at)
}

/// Each body field an amendment changes, old to new: `likes (none) -> 7`.
fn body_changes(
    old: &serde_json::Map<String, serde_json::Value>,
    new: &serde_json::Map<String, serde_json::Value>,
) -> Vec<String> {
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|n| n.as_str() != "ts" && old.get(*n) != new.get(*n))
        .map(|n| {
            let (a, b) = shown_apart(old.get(n), new.get(n));
            format!("{n} {a} -> {b}")
        })
        .collect()
}

/// Two values of a field as a person compares them: whole when short, else each
/// around where they first differ, quoted whole (`"…at 09:30 on Quay Street"`).
fn shown_apart(a: Option<&serde_json::Value>, b: Option<&serde_json::Value>) -> (String, String) {
    let text = |v: Option<&serde_json::Value>| {
        v.map(|v| {
            v.as_str()
                .map_or_else(|| v.to_string(), |s| format!("\"{s}\""))
        })
    };
    let (a, b) = (text(a), text(b));
    let (Some(x), Some(y)) = (&a, &b) else {
        let none = || "(none)".to_string();
        return (a.unwrap_or_else(none), b.unwrap_or_else(none));
    };
    const ROOM: usize = 60;
    if x.chars().count() <= ROOM && y.chars().count() <= ROOM {
        return (x.clone(), y.clone());
    }
    // From a little before the first difference, in characters.
    let same = x.chars().zip(y.chars()).take_while(|(p, q)| p == q).count();
    let from = same.saturating_sub(15);
    // The value's own opening quote is kept when it starts there; `"…` when it does not.
    let cut = |s: &str| {
        let n = s.chars().count();
        let body: String = s.chars().skip(from).take(ROOM).collect();
        let head = if from > 0 { "\"…" } else { "" };
        let tail = if from + ROOM < n { "…\"" } else { "" };
        format!("{head}{body}{tail}")
    };
    (cut(x), cut(y))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn long_values_are_shown_around_where_they_differ() {
        let a = json!(
            "Send me your situation report by 2026-12-02T09:30:00+00:00, with the gate status"
        );
        let b = json!(
            "Send me your situation report by 2026-12-02T09:45:00+00:00, with the gate status"
        );
        let (x, y) = super::shown_apart(Some(&a), Some(&b));
        assert!(
            x.starts_with("\"…") && x.contains("09:30") && x.ends_with('"'),
            "{x}"
        );
        assert!(y.contains("09:45"), "{y}");
        let (x, y) = super::shown_apart(None, Some(&json!(7)));
        assert_eq!((x.as_str(), y.as_str()), ("(none)", "7"));
        let (x, _) = super::shown_apart(Some(&json!("short")), Some(&json!("other")));
        assert_eq!(x, "\"short\"");
    }
}
