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
        let when = if first <= now {
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
