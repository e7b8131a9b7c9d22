//! Events to where each occurrence stands: one fold for the live board, a resume and
//! the report, with one status vocabulary.
//!
//! A [`Fold`] keeps one [`Slot`] per occurrence key; each [`Event`] updates its key's
//! slot (the latest outcome wins: a deliberate re-send with `--only` starts again).
//! [`Fold::totals`] counts them and takes the lateness percentiles, so the run's summary
//! and the report say the same. It never decides anything: the engine does.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::event::Event;

/// Where an occurrence stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Status {
    /// Nothing has happened to it yet.
    #[default]
    Pending,
    /// Its request started and no outcome is recorded: in flight while a run is live,
    /// uncertain (it may or may not have arrived) once the run has stopped.
    Uncertain,
    Sent,
    Failed,
    Skipped,
    /// A contingency inject whose condition can no longer hold: it never fires.
    NotTriggered,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Uncertain => "uncertain",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::NotTriggered => "not triggered",
        }
    }
}

/// One occurrence's facts so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Slot {
    pub status: Status,
    /// Its instant, as the latest event planned it.
    pub planned: Option<DateTime<Utc>>,
    /// When its request started (sent), or when it failed or was skipped.
    pub at: Option<DateTime<Utc>>,
    pub lateness_ms: Option<f64>,
    pub late: bool,
    pub possible_duplicate: bool,
    pub attempts: Option<u32>,
    pub http_status: Option<u16>,
    pub message_id: Option<Box<str>>,
    /// Why it failed, or why it was skipped.
    pub error: Option<Box<str>>,
    /// Its latest request was marked as going out (`started`).
    pub started: bool,
    /// Journaled as `sending` but proven never started (see [`Fold::unstarted`]).
    pub unstarted: bool,
    /// An attempt of its latest send may have reached the server.
    pub reached: bool,
    /// Skipped, then unskipped to go at this instant (before holds and shifts).
    pub rescheduled: Option<DateTime<Utc>>,
}

impl Slot {
    /// Take in one event of this slot's key.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::Sending { planned, .. } => {
                self.planned = Some(*planned);
                self.status = Status::Uncertain;
                self.started = false;
                self.reached = false;
            }
            Event::Started { .. } => self.started = true,
            // Unskipped after its skip, to go at a time given: pending again.
            Event::Rescheduled { due, .. } => {
                self.status = Status::Pending;
                self.rescheduled = Some(*due);
                self.error = None;
            }
            // A refusal proves the attempt did not arrive: until the next attempt's
            // `started`, nothing of it is out, unless an earlier one may have arrived.
            Event::Attempt { reached, .. } => {
                self.reached |= *reached;
                if !self.reached {
                    self.started = false;
                }
            }
            Event::Sent {
                status,
                message_id,
                planned,
                sent_at,
                lateness_ms,
                attempts,
                possible_duplicate,
                late,
                ..
            } => {
                self.status = Status::Sent;
                self.planned = Some(*planned);
                self.at = Some(*sent_at);
                self.lateness_ms = *lateness_ms;
                self.late = *late;
                self.possible_duplicate = *possible_duplicate;
                self.attempts = Some(*attempts);
                self.http_status = Some(*status);
                self.message_id = Some(message_id.as_str().into());
                self.error = None;
            }
            Event::Failed {
                status,
                error,
                planned,
                at,
                attempts,
                ..
            } => {
                self.status = Status::Failed;
                self.planned = Some(*planned);
                self.at = Some(*at);
                self.attempts = Some(*attempts);
                self.http_status = *status;
                self.error = Some(error.as_str().into());
            }
            Event::Skipped {
                reason,
                planned,
                at,
                ..
            } => {
                self.status = Status::Skipped;
                self.planned = Some(*planned);
                self.at = Some(*at);
                self.error = Some(reason.as_str().into());
            }
            Event::NotTriggered { because, at, .. } => {
                self.status = Status::NotTriggered;
                self.at = Some(*at);
                self.error = Some(because.as_str().into());
            }
            Event::Control { .. }
            | Event::Note { .. }
            | Event::Due { .. }
            | Event::Expired { .. }
            | Event::Void { .. }
            | Event::Triggered { .. }
            | Event::AdHoc { .. }
            | Event::Amended { .. }
            | Event::Applied { .. } => {}
        }
    }

    /// Its status as the report words it: a sent one that may have arrived twice is a
    /// "possible duplicate".
    pub fn word(&self) -> &'static str {
        match self.status {
            Status::Sent if self.possible_duplicate => "possible duplicate",
            s => s.name(),
        }
    }
}

/// Counts of occurrences by where they stand.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Totals {
    pub occurrences: usize,
    pub sent: usize,
    pub possible_duplicates: usize,
    pub failed: usize,
    pub skipped: usize,
    pub uncertain: usize,
    pub pending: usize,
    pub late: usize,
    /// Contingency occurrences whose condition never held.
    pub not_triggered: usize,
}

/// Lateness of the sends (request start minus planned instant), in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Lateness {
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

/// The `q` quantile (nearest rank) of sorted values; `None` when there are none.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    (!sorted.is_empty())
        .then(|| sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1])
}

/// Every key's slot, in the order keys were first seen (or seeded).
#[derive(Debug, Default)]
pub struct Fold {
    /// Key to slot, hashed with foldhash: looked up twice per send on a live board.
    index: foldhash::HashMap<String, usize>,
    keys: Vec<String>,
    slots: Vec<Slot>,
    /// Whether an event of a key not seeded adds it (else it is ignored).
    grow: bool,
}

impl Fold {
    /// A fold that takes in every key it hears of.
    pub fn new() -> Fold {
        Fold {
            grow: true,
            ..Fold::default()
        }
    }

    /// A fold of these keys only, all pending; events of other keys are ignored.
    pub fn of_keys(keys: impl ExactSizeIterator<Item = String>) -> Fold {
        let mut fold = Fold {
            index: foldhash::HashMapExt::with_capacity(keys.len()),
            keys: Vec::with_capacity(keys.len()),
            slots: Vec::with_capacity(keys.len()),
            grow: false,
        };
        for key in keys {
            fold.seed(key);
        }
        fold
    }

    /// Add `key` as pending, unless it is there already; its index.
    pub fn seed(&mut self, key: String) -> usize {
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.slots.len();
        self.index.insert(key.clone(), i);
        self.keys.push(key);
        self.slots.push(Slot::default());
        i
    }

    /// Take in one event; the index of the slot it changed, if any.
    pub fn apply(&mut self, event: &Event) -> Option<usize> {
        if let Event::NotTriggered { inject, .. } = event {
            // Every occurrence of the inject: `ID`, `ID#N`, `ID@TEAM`, `ID#N@TEAM`.
            let mut last = None;
            for (i, key) in self.keys.iter().enumerate() {
                if crate::action::of_part(key, inject) {
                    self.slots[i].apply(event);
                    last = Some(i);
                }
            }
            return last;
        }
        let key = event.key()?;
        let i = match self.index.get(key) {
            Some(&i) => i,
            None if self.grow => self.seed(key.to_string()),
            None => return None,
        };
        self.slots[i].apply(event);
        Some(i)
    }

    /// Make pending every uncertain slot without a `started` mark for which `proven(i)`
    /// says its absence proves the request never went out.
    pub fn unstarted(&mut self, proven: impl Fn(usize) -> bool) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if slot.status == Status::Uncertain && !slot.started && proven(i) {
                slot.status = Status::Pending;
                slot.unstarted = true;
            }
        }
    }

    pub fn index_of(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }

    pub fn get(&self, key: &str) -> Option<&Slot> {
        self.index_of(key).map(|i| &self.slots[i])
    }

    pub fn slot(&self, i: usize) -> &Slot {
        &self.slots[i]
    }

    pub fn key(&self, i: usize) -> &str {
        &self.keys[i]
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Every key with its slot, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Slot)> {
        self.keys.iter().map(String::as_str).zip(&self.slots)
    }

    /// Counts and lateness over every slot.
    pub fn totals(&self) -> (Totals, Lateness) {
        totals(self.slots.iter())
    }
}

/// Counts and lateness over these slots (all of a fold's, or the part a run fired).
pub fn totals<'a>(slots: impl Iterator<Item = &'a Slot>) -> (Totals, Lateness) {
    let mut totals = Totals::default();
    let mut lateness: Vec<f64> = Vec::new();
    for slot in slots {
        totals.occurrences += 1;
        match slot.status {
            Status::Sent => {
                totals.sent += 1;
                totals.possible_duplicates += usize::from(slot.possible_duplicate);
            }
            Status::Failed => totals.failed += 1,
            Status::Skipped => totals.skipped += 1,
            Status::Uncertain => totals.uncertain += 1,
            Status::Pending => totals.pending += 1,
            Status::NotTriggered => totals.not_triggered += 1,
        }
        if let Some(l) = slot.lateness_ms {
            lateness.push(l);
            totals.late += usize::from(slot.late);
        }
    }
    lateness.sort_by(f64::total_cmp);
    let pick = |q: f64| percentile(&lateness, q);
    let lateness = Lateness {
        p50_ms: pick(0.50),
        p95_ms: pick(0.95),
        p99_ms: pick(0.99),
        max_ms: lateness.last().copied(),
    };
    (totals, lateness)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 28, 9, 0, s).unwrap()
    }

    #[test]
    fn the_latest_outcome_wins_and_totals_count_every_status() {
        let sent = |key: &str, late: bool, dup: bool| Event::Sent {
            key: key.into(),
            status: 200,
            message_id: format!("m-{key}"),
            planned: at(0),
            sent_at: at(1),
            lateness_ms: Some(if late { 1500.0 } else { 0.5 }),
            attempts: 1,
            possible_duplicate: dup,
            late,
        };
        let mut fold = Fold::of_keys(["a", "b", "c", "d", "e", "f"].map(String::from).into_iter());
        let events = [
            Event::Sending {
                key: "a".into(),
                planned: at(0),
                at: at(0),
            },
            sent("a", false, false),
            Event::Sending {
                key: "b".into(),
                planned: at(0),
                at: at(0),
            },
            sent("c", true, true),
            Event::Skipped {
                key: "d".into(),
                reason: "late".into(),
                planned: at(0),
                at: at(2),
            },
            Event::Failed {
                key: "e".into(),
                status: Some(400),
                error: "bad".into(),
                response: None,
                planned: at(0),
                at: at(3),
                attempts: 1,
                maybe_delivered: false,
            },
            sent("zz", false, false),
        ];
        for e in &events {
            fold.apply(e);
        }
        assert_eq!(fold.len(), 6, "a key outside the seeded ones is ignored");
        assert_eq!(fold.get("a").unwrap().word(), "sent");
        assert_eq!(fold.get("b").unwrap().word(), "uncertain");
        assert_eq!(fold.get("c").unwrap().word(), "possible duplicate");
        assert_eq!(fold.get("d").unwrap().error.as_deref(), Some("late"));
        let (totals, lateness) = fold.totals();
        assert_eq!(
            totals,
            Totals {
                occurrences: 6,
                sent: 2,
                possible_duplicates: 1,
                failed: 1,
                skipped: 1,
                uncertain: 1,
                pending: 1,
                late: 1,
                not_triggered: 0,
            }
        );
        assert_eq!(lateness.p50_ms, Some(0.5));
        assert_eq!(lateness.max_ms, Some(1500.0));
        let mut open = Fold::new();
        open.apply(&sent("zz", false, false));
        assert_eq!(open.key(0), "zz");
    }
}
