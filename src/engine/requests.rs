//! Requests made ready: late ones decided, bodies built (or taken as serialized before
//! the run), `sending` journaled; connections opened ahead of a group.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::*;

fn show(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}

impl<D: Dispatch> Engine<D> {
    /// How many connections to have open before a group of `size` (none with
    /// `--no-preconnect` or at `--speed max`): as many as it sends at once, at most
    /// `--concurrency`. Those already open count ([`Dispatch::preconnect`]).
    pub(super) fn connections_for(&self, size: usize) -> usize {
        if !self.config.preconnect || self.config.max_speed {
            return 0;
        }
        size.min(self.config.concurrency.max(1))
    }

    /// Have `n` connections open, giving up at `deadline` (the group's preparation).
    pub(super) async fn preconnect(&self, n: usize, deadline: DateTime<Utc>) {
        let budget = (deadline - self.clock.now()).to_std().unwrap_or_default();
        let opened = tokio::time::timeout(budget, self.dispatch.preconnect(n))
            .await
            .is_ok();
        if !opened {
            tracing::debug!(
                "opening {n} connections took longer than the time before the next group"
            );
        }
    }

    /// Decide late ones, make the requests ready (from bodies serialized before the run,
    /// or built now), journal `sending` for the rest; returns them and the sequence
    /// number to wait for (durable) before sending any of them, so that the `fsync`
    /// overlaps the wait for the instant, or (at `--speed max`) the sending of the groups
    /// before it.
    pub(super) async fn prepare(
        &self,
        group: &[Item],
        clock: &ClockState,
    ) -> std::io::Result<(Vec<Ready<D>>, u64)> {
        let now = self.clock.now();
        let mut ready = Vec::with_capacity(group.len());
        let mut durable = 0;
        let timeline = self.timeline();
        for item in group {
            let occ = &timeline.occurrences[item.occ];
            let late_by = (now - item.fire_at).to_std().unwrap_or(Duration::ZERO);
            let inject_id = timeline.id_of(occ);
            let skip = if clock.skips(&occ.key, inject_id) {
                // Who skipped it, by name when the journal knows it.
                let by = clock
                    .skipped_by
                    .iter()
                    .rev()
                    .find(|s| s.key == occ.key || s.key == *inject_id)
                    .and_then(|s| s.by.clone());
                Some(format!(
                    "skipped by {}",
                    by.as_deref().unwrap_or("the controller")
                ))
            } else if self.config.max_speed {
                None
            } else if late_by > self.config.late_max {
                Some(format!(
                    "too late: {} past its instant (--late-max {})",
                    show(late_by),
                    show(self.config.late_max)
                ))
            } else if late_by > LATE_GRACE && self.config.late == LatePolicy::Skip {
                Some(format!(
                    "late: {} past its instant (--late skip)",
                    show(late_by)
                ))
            } else {
                None
            };
            if let Some(reason) = skip {
                self.emit(Event::Skipped {
                    key: occ.key.clone(),
                    reason,
                    planned: item.fire_at,
                    at: now,
                })
                .await?;
                continue;
            }
            let request = match self.request(item) {
                Ok(request) => request,
                Err(error) => {
                    self.emit(Event::Failed {
                        key: occ.key.clone(),
                        status: None,
                        error: format!("cannot build the body: {error}"),
                        response: None,
                        planned: item.fire_at,
                        at: now,
                        attempts: 0,
                        maybe_delivered: false,
                    })
                    .await?;
                    continue;
                }
            };
            let sending = Event::Sending {
                key: occ.key.clone(),
                planned: item.fire_at,
                at: now,
            };
            durable = emit_queued(&self.journal, &*self.events, sending)?;
            ready.push((item.clone(), request));
        }
        Ok((ready, durable))
    }

    /// The request for `item` as it goes now: its body serialized before the run while
    /// that is still exact, else built, with `ts` moved with its instant (holds, shifts,
    /// fire-now) unless the scenario pins it, and the team redirected when asked; the
    /// build's problems, joined, when it cannot be built.
    pub(super) fn request(&self, item: &Item) -> Result<D::Ready, String> {
        let timeline = self.timeline();
        if let Some(json) = &item.body
            && item.fire_at == item.planned
            && self.config.redirect_team.is_none()
        {
            let to = timeline.endpoint(&timeline.occurrences[item.occ]);
            return Ok(self.dispatch.ready_json(to, json.clone()));
        }
        let occ = &timeline.occurrences[item.occ];
        let mut body = timeline.body(occ).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| e.message)
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        // Whole seconds of the instants themselves, not of their difference: `ts` is the
        // second the occurrence goes in.
        let moved = item.fire_at.timestamp() - item.planned.timestamp();
        if moved != 0
            && !timeline.ts_pinned(timeline.inject(occ))
            && let Some(ts) = body.get("ts").and_then(Value::as_i64)
        {
            body.insert("ts".into(), Value::from(ts + moved));
        }
        let mut to = timeline.endpoint(occ);
        if let Some(team) = &self.config.redirect_team {
            body.insert("type".into(), Value::String("team".into()));
            body.insert("team_id".into(), team.clone());
            body.remove("player_email");
            // A message to a position or a role goes to the team instead, as a message.
            if matches!(
                to,
                crate::message::Endpoint::Position | crate::message::Endpoint::Role
            ) {
                body.remove("position");
                body.remove("role");
                to = crate::message::Endpoint::Messages;
            }
        }
        Ok(self.dispatch.ready(to, body))
    }
}
