//! An inject written during the run, sent: checked against the running scenario
//! ([`crate::adhoc`]), previewed with its exact bodies, journaled whole (durably, before
//! any of it is sent), joined to the run's timeline, then sent now or put in its place
//! among the occurrences to come.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc;

use super::control::{Ask, Consequence, Cursor, Preview, Reply, When};
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
        // The scenario time it is: holds and shifts taken out, sped up as the run is.
        let scenario_now = (cursor.clock.base(now) - current.t0.to_utc())
            .to_std()
            .unwrap_or_default()
            .mul_f64(current.speed);
        let at = ask.at.map(|w| match w {
            When::Offset(d) => d,
            When::In(d) => scenario_now + d.mul_f64(current.speed),
        });
        let adhoc = match crate::adhoc::prepare(&current, file, inject, scenario_now, at, now) {
            Ok(a) => a,
            Err(why) => return Ok(Reply::Refused(why.trim_end().to_string())),
        };
        let t = &adhoc.timeline;
        let shift = cursor.clock.shift;
        // Each occurrence: when it goes (now, or at its instant as the clock stands).
        let goes: Vec<(usize, chrono::DateTime<Utc>)> = adhoc
            .occurrences
            .clone()
            .map(|occ| {
                let at = moved(t.fire_at(&t.occurrences[occ]).to_utc(), shift);
                (occ, at.max(now))
            })
            .collect();
        let rfc =
            |at: chrono::DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let items: Vec<Consequence> = goes
            .iter()
            .map(|&(occ, at)| {
                let o = &t.occurrences[occ];
                let body = t.body(o).ok();
                Consequence {
                    key: o.key.clone(),
                    effect: if at <= now { "sent at once" } else { "sent" }.into(),
                    subject: body
                        .as_ref()
                        .map(crate::message::short_subject)
                        .unwrap_or_default(),
                    from: None,
                    to: Some(rfc(at)),
                    body: body.map(serde_json::Value::Object),
                }
            })
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
        let text = if more.is_empty() {
            format!("sends the ad hoc inject `{}` {when}", adhoc.id)
        } else {
            format!("sends the ad hoc inject `{}`{more}", adhoc.id)
        };
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
        self.timeline.set(Arc::new(adhoc.timeline));
        self.emit(Event::AdHoc {
            at: now,
            id: id.clone(),
            inject: adhoc.yaml,
            rows,
            source,
            by,
        })
        .await?;
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
            let several = current
                .occurrences
                .iter()
                .filter(|o| crate::action::of_inject(&o.key, key))
                .count()
                > 1;
            return Ok(Reply::Refused(if several {
                format!(
                    "`{key}` names several occurrences: amend one of them by its key (`{key}#2`, `{key}@blue`), as `ctl status` lists them"
                )
            } else {
                self.not_pending(key, cursor)
            }));
        };
        if current.is_contingent(&current.occurrences[occ]) {
            return Ok(Reply::Refused(format!(
                "{key} is a contingency's: its instant follows its condition; it cannot be amended yet (skip it, and send a new inject with `ctl send`)"
            )));
        }
        let scenario_now = (cursor.clock.base(now) - current.t0.to_utc())
            .to_std()
            .unwrap_or_default()
            .mul_f64(current.speed);
        let at = ask.at.map(|w| match w {
            When::Offset(d) => d,
            When::In(d) => scenario_now + d.mul_f64(current.speed),
        });
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
                "the amendment changes nothing of {key}: its body and instant stay as they are"
            )));
        }
        let rfc =
            |at: chrono::DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
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

/// Each body field an amendment changes, old to new: `likes (none) -> 7`.
fn body_changes(
    old: &serde_json::Map<String, serde_json::Value>,
    new: &serde_json::Map<String, serde_json::Value>,
) -> Vec<String> {
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    let show = |v: Option<&serde_json::Value>| {
        v.map_or("(none)".to_string(), |v| {
            let text = v
                .as_str()
                .map_or_else(|| v.to_string(), |s| format!("\"{s}\""));
            crate::message::short(&text)
        })
    };
    names
        .into_iter()
        .filter(|n| n.as_str() != "ts" && old.get(*n) != new.get(*n))
        .map(|n| format!("{n} {} -> {}", show(old.get(n)), show(new.get(n))))
        .collect()
}
