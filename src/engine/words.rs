//! Occurrences found by the keys people give, and said in their words: names with
//! subjects, instants as local time and exercise time, refusals that say why.

use chrono::{DateTime, Utc};

use super::control::{ClockState, Consequence, Cursor};
use super::previews::Pending;
use super::{Dispatch, Engine, Item, moved};
use crate::adaptive::ConditionalState;

impl<D: Dispatch> Engine<D> {
    /// The failed occurrence `key` names (its key, or an inject id with one failed).
    pub(super) fn retryable(&self, key: &str, cursor: &Cursor) -> Option<usize> {
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
                .find(|o| self.timeline().occurrences[*o].key == key),
        }
    }

    /// Why `key` cannot be retried.
    pub(super) fn not_failed(&self, key: &str, items: &[Item], cursor: &Cursor) -> String {
        let failed: Vec<String> = cursor.failed.lock().map_or(Vec::new(), |f| {
            f.keys()
                .filter(|o| self.names(**o, key))
                .map(|o| self.timeline().occurrences[*o].key.clone())
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
    pub(super) fn passed_named(&self, key: &str, cursor: &Cursor) -> Vec<usize> {
        let mut out: Vec<usize> = cursor
            .passed
            .iter()
            .copied()
            .filter(|o| self.names(*o, key) && !cursor.went.iter().any(|(w, _)| w == o))
            .collect();
        out.dedup();
        out
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
    pub(super) fn find_contingent(
        &self,
        cursor: &Cursor,
        key: &str,
    ) -> Option<(usize, Option<usize>)> {
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
    pub(super) fn pending(&self, items: &[Item], cursor: &Cursor) -> Vec<Pending> {
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
    pub(super) fn skipped_by(&self, c: &ClockState, occ: usize) -> bool {
        let o = &self.timeline().occurrences[occ];
        c.skips(&o.key, self.timeline().id_of(o))
    }

    /// Whether `key` names occurrence `occ`: its key or its inject's id.
    pub(super) fn names(&self, occ: usize, key: &str) -> bool {
        let o = &self.timeline().occurrences[occ];
        o.key == key || self.timeline().id_of(o) == key
    }

    /// The wall-clock instant a person's time names: scenario time from T0 as the clock
    /// now stands (holds and shifts), or from now.
    pub(super) fn due_of(
        &self,
        when: super::When,
        cursor: &Cursor,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        match when {
            super::When::Offset(d) => moved(
                self.timeline().t0.to_utc() + crate::timeline::scaled(d, self.timeline().speed),
                cursor.clock.shift,
            ),
            super::When::In(d) => now + chrono::TimeDelta::from_std(d).unwrap_or_default(),
        }
    }

    /// Whether `key` names any occurrence of the timeline.
    pub(super) fn names_any_occurrence(&self, key: &str) -> bool {
        (0..self.timeline().occurrences.len()).any(|o| self.names(o, key))
    }

    pub(super) fn names_any(&self, occs: &[usize], key: &str) -> bool {
        occs.iter().any(|o| self.names(*o, key))
    }

    /// Why `key` names nothing to act on: it went (when), it is not in this run, or
    /// there is no such occurrence (did you mean).
    pub(super) fn not_pending(&self, key: &str, cursor: &Cursor) -> String {
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
            .timeline()
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
    pub(super) fn did_you_mean(&self, key: &str) -> String {
        let timeline = self.timeline();
        let ids = timeline.scenario.injects.iter().map(|i| i.id.as_str());
        let keys = timeline.occurrences.iter().map(|o| o.key.as_str());
        crate::diag::suggest(key, ids.chain(keys)).map_or(String::new(), |h| format!(" ({h})"))
    }

    /// An occurrence as a person knows it: `gauge#2 "River at 4.2 m"`.
    pub(super) fn name(&self, occ: usize) -> String {
        let o = &self.timeline().occurrences[occ];
        let subject = self.subject(occ);
        if subject.is_empty() {
            o.key.clone()
        } else {
            format!("{} \"{subject}\"", o.key)
        }
    }

    /// Its subject, title or text, as the page and the plan show it.
    pub(super) fn subject(&self, occ: usize) -> String {
        self.timeline().subject(&self.timeline().occurrences[occ])
    }

    pub(super) fn consequence(
        &self,
        occ: usize,
        effect: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Consequence {
        Consequence {
            key: self.timeline().occurrences[occ].key.clone(),
            effect: effect.into(),
            subject: self.subject(occ),
            from: from.map(rfc),
            to: to.map(rfc),
            body: None,
        }
    }

    /// Up to five occurrences with their instants, and how many more.
    pub(super) fn listing(&self, occs: impl Iterator<Item = (usize, DateTime<Utc>)>) -> String {
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
    pub(super) fn when(&self, at: DateTime<Utc>, clock: &ClockState) -> String {
        // The exercise's time at that instant: less the holds and shifts so far.
        let run = (moved(at, -clock.shift) - self.timeline().t0.to_utc()).to_std();
        let t_plus = match run {
            Ok(d) => crate::plan::show_offset(std::time::Duration::from_secs(
                (d.as_secs_f64() * self.timeline().speed).round() as u64,
            )),
            Err(_) => "before T0".into(),
        };
        format!("{} ({t_plus})", self.clock_time(at))
    }

    /// `10:02:13` in the scenario's zone (its offset's, without one).
    pub(super) fn clock_time(&self, at: DateTime<Utc>) -> String {
        match self.timeline().scenario.timezone {
            Some(tz) => at.with_timezone(&tz).format("%H:%M:%S").to_string(),
            None => at
                .with_timezone(self.timeline().t0.offset())
                .format("%H:%M:%S")
                .to_string(),
        }
    }
}

pub(super) fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
